"""Discovery, running and formatting of the benchmark suites."""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import re
import subprocess
import time
from types import ModuleType
from typing import IO, Any

from akida_edge.errors import AkidaEdgeError

_HELPERS = {"runner", "timing", "record"}
# optional dependencies a suite may need, and the setup.sh option that installs each
_OPTIONAL = {"onnx": "--dev", "onnxruntime": "--dev", "torch": "--train"}


def suite_names() -> list[str]:
    """The suites, WITHOUT importing them: a suite is the module ``bench/<name>.py`` whose
    ``SUITE`` equals its file name (so building the CLI parser never imports cv2, numba or apps)."""
    import akida_edge.bench as pkg

    return sorted(info.name for info in pkgutil.iter_modules(pkg.__path__)
                  if not info.name.startswith("_") and info.name not in _HELPERS)


def _missing_optional(name: str, exc: ImportError) -> AkidaEdgeError | None:
    """The one-line error for a suite that needs an optional dependency that is not installed."""
    root = (exc.name or "").split(".")[0]
    if root not in _OPTIONAL:
        return None
    return AkidaEdgeError(f"benchmark suite {name} needs {root}, an optional dependency that is not "
                          f"installed; bash scripts/setup.sh {_OPTIONAL[root]} installs it")


def load_suite(name: str) -> ModuleType:
    """Import the suite `name` (its module's ``SUITE`` must equal its file name)."""
    try:
        module = importlib.import_module(f"akida_edge.bench.{name}")
    except ImportError as exc:
        raise (_missing_optional(name, exc) or exc) from exc
    if getattr(module, "SUITE", None) != name:
        raise AkidaEdgeError(f"bench/{name}.py must set SUITE = {name!r} (a suite is named after its file)")
    return module


#: CPU flags that decide which machine code numpy, numba and onnxruntime run: on an AVX-512 CPU they
#: dispatch other kernels than on an AVX2 one, whose float results can differ in the last bits
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16")
CPUINFO = "/proc/cpuinfo"


def machine() -> dict[str, Any]:
    """The machine the figures come from (they mean nothing without it). A virtual machine's model
    name may say only "AMD EPYC", so the CPU's family and model numbers and its SIMD flags are
    recorded too (family 25 is AMD Zen 3/4, 26 Zen 5)."""
    cpu = platform.processor() or platform.machine()
    info: dict[str, str] = {}
    try:
        with open(CPUINFO, encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if not key and info:  # the first processor's block is enough
                    break
                info.setdefault(key, value.strip())
    except OSError:
        pass
    cpu = info.get("model name", cpu)
    out: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}
    if "cpu family" in info:
        out["cpu_family_model"] = f"{info['cpu family']}/{info.get('model', '?')}"
    if "flags" in info:
        flags = set(info["flags"].split())
        out["simd"] = [f for f in SIMD_FLAGS if f in flags]
    out["software"] = software()
    return out


#: Python packages whose versions can move figures: numerics, kernels, the neural voices' runtime,
#: video decoding, training (a fresh install moved the figures on neural-voice and enrollment clips
#: by a few clips, docs/kws-learning.md §28)
PACKAGES = ("numpy", "numba", "llvmlite", "onnxruntime", "opencv-python-headless", "torch")
#: Programs the speech figures come from
TOOLS = {"espeak-ng": ["espeak-ng", "--version"], "sox": ["sox", "--version"]}


def software() -> dict[str, str]:
    """Versions of `PACKAGES` and `TOOLS` ('missing' when absent): figures of synthesized speech and
    of floating-point front-ends can move a little with them."""
    from importlib import metadata

    out: dict[str, str] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    for name, cmd in TOOLS.items():
        try:
            text = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out[name] = "missing"
            continue
        version = re.search(r"\d+\.\d+[\w.+~-]*", text)
        out[name] = version.group(0) if version else "unknown"
    return out


def run_suites(names: list[str], progress: IO[str] | None = None) -> dict[str, Any]:
    known = suite_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AkidaEdgeError(
            f"unknown benchmark suite {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    results: dict[str, Any] = {}
    for name in names or known:
        module = load_suite(name)
        if progress:
            print(f"bench: running {name} ...", file=progress, flush=True)
        t0 = time.perf_counter()
        try:
            figures = module.run(progress=progress)
        except ImportError as exc:
            raise (_missing_optional(name, exc) or exc) from exc
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
    cpu = m.get("cpu")
    if m.get("cpu_family_model"):
        cpu = f"{cpu} (family/model {m['cpu_family_model']}; {' '.join(m.get('simd', [])) or 'no AVX'})"
    lines.append(f"machine: {cpu}, {m.get('cores')} cores, Python {m.get('python')}")
    if m.get("software"):
        lines.append("software: " + ", ".join(f"{k} {v}" for k, v in m["software"].items()))
    return "\n".join(lines)
