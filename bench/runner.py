"""Discovery, running and formatting of the benchmark suites."""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import time
from types import ModuleType
from typing import IO, Any

from akida_edge.errors import AkidaEdgeError


def _suite_modules() -> dict[str, ModuleType]:
    import akida_edge.bench as pkg

    suites: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name in {"runner", "timing"}:
            continue
        module = importlib.import_module(f"akida_edge.bench.{info.name}")
        name = getattr(module, "SUITE", None)
        if name:
            suites[name] = module
    return suites


def suite_names() -> list[str]:
    return sorted(_suite_modules())


def machine() -> dict[str, Any]:
    """The machine the figures come from (they mean nothing without it)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def run_suites(names: list[str], progress: IO[str] | None = None) -> dict[str, Any]:
    modules = _suite_modules()
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise AkidaEdgeError(
            f"unknown benchmark suite {', '.join(unknown)}; choose from {', '.join(sorted(modules))}"
        )
    results: dict[str, Any] = {}
    for name in names or sorted(modules):
        if progress:
            print(f"bench: running {name} ...", file=progress, flush=True)
        t0 = time.perf_counter()
        figures = modules[name].run(progress=progress)
        figures["suite_seconds"] = round(time.perf_counter() - t0, 2)
        results[name] = figures
    results["machine"] = machine()
    return results


def format_table(results: dict[str, Any]) -> str:
    lines = []
    for suite, figures in results.items():
        if suite == "machine":
            continue
        lines.append(f"[{suite}]")
        for key, value in figures.items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            lines.append(f"  {key:<32} {value}")
    m = results.get("machine", {})
    lines.append(f"machine: {m.get('cpu')} ({m.get('cores')} cores), Python {m.get('python')}")
    return "\n".join(lines)
