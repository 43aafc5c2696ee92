"""The recorded figures: the runs the README quotes, and a new run compared with them.

``bench/recorded.json`` holds, per suite, the figures of the run that the README's table quotes,
with the machine and software it ran on and its date. ``akida-edge bench --compare`` compares a run
with that record (``--baseline FILE``: with an earlier ``bench --json`` output instead): how many
figures equal it, which moved and by how much, and what of the machine and software differs.
Between sessions 21 and 22 the figures on neural-voice clips moved by a clip or two with the code
unchanged, on another machine and install (docs/kws-learning.md §28, docs/figures.md): a figure
that moved with the machine or install has to be told from one that moved with the code. Timings
move from run to run anyway. ``scripts/record_bench.py`` writes a run into the record.

Figures are compared as the table prints them (4 significant digits); ``suite_seconds`` (how long
the suite ran) is not a figure of the system and is left out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from akida_edge.errors import AkidaEdgeError

RECORD = Path(__file__).with_name("recorded.json")
#: run metadata, not figures of the system: never compared
IGNORED = frozenset({"suite_seconds"})


def flatten(figures: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric figures of a suite as ``{dotted.name: value}`` (nested tables such as
    ``accuracy_by_snr_db`` give ``accuracy_by_snr_db.clean``); text and flags are left out."""
    out: dict[str, float] = {}
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and name not in IGNORED:
            out[name] = float(value)
    return out


def run_figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{suite: figures}`` of a ``bench --json`` run (its ``machine`` and ``compared`` are not suites)."""
    return {name: figs for name, figs in results.items()
            if name not in ("machine", "compared") and isinstance(figs, dict)}


def load_data(data: Any, source: str) -> dict[str, dict[str, Any]]:
    """``{suite: {"figures", "machine", "date"}}`` from a record or from a plain ``bench --json`` run."""
    if not isinstance(data, dict):
        raise AkidaEdgeError(f"{source}: not a benchmark record (a JSON object from `akida-edge bench "
                             "--json` or bench/recorded.json is needed)")
    if "suites" in data:
        suites = data["suites"]
        if not isinstance(suites, dict) or not all(isinstance(s, dict) and isinstance(s.get("figures"), dict)
                                                   for s in suites.values()):
            raise AkidaEdgeError(f"{source}: 'suites' must map each suite to an object with 'figures'")
        return suites
    machine = data.get("machine", {})
    runs = {name: {"figures": figs, "machine": machine, "date": None}
            for name, figs in run_figures(data).items()}
    if not runs:
        raise AkidaEdgeError(f"{source}: no suite's figures in it (a JSON object from `akida-edge bench "
                             "--json` or bench/recorded.json is needed)")
    return runs


def load(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The recorded suites of `path` (default: the package's record); a missing or damaged file is
    one line naming it."""
    path = Path(path) if path is not None else RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if path == RECORD:
            raise AkidaEdgeError(f"{path}: the recorded figures are missing from the installed package; "
                                 "reinstall akida-edge, or give --baseline FILE") from None
        raise AkidaEdgeError(f"{path}: no such file (give the JSON of an earlier `akida-edge bench --json` "
                             "run, or leave --baseline out to compare with the recorded figures)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AkidaEdgeError(f"{path}: cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise AkidaEdgeError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); give the output "
                             "of `akida-edge bench --json`") from None
    return load_data(data, str(path))


def same(a: float, b: float) -> bool:
    """Equal as the table prints them (4 significant digits)."""
    return f"{a:.4g}" == f"{b:.4g}"


#: what of a run's ``machine`` can move its figures besides the code: the CPU (its SIMD decides the
#: kernels numpy, numba and onnxruntime run), the cores, Python and the software's versions
SETUP_KEYS = ("cpu", "cpu_family_model", "simd", "cores", "python")


def setup(machine: dict[str, Any]) -> dict[str, str]:
    """``{name: value as text}`` of `SETUP_KEYS` and of every software version in `machine`."""
    out = {k: (" ".join(v) if isinstance(v, list) else str(v))
           for k in SETUP_KEYS if (v := machine.get(k)) is not None}
    out.update({k: str(v) for k, v in machine.get("software", {}).items()})
    return out


def compare(results: dict[str, Any], recorded: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per suite of `results` that `recorded` has: ``equal`` (count), ``differ`` ({figure:
    [recorded, now]}), ``only_recorded`` / ``only_now`` (figure names) and ``setup`` ({name:
    [recorded, now]} where the machine or software differ, `setup`); suites not in the record are
    listed under ``not_recorded``."""
    out: dict[str, Any] = {}
    now_setup = setup(results.get("machine", {}))
    for suite, figures in run_figures(results).items():
        if suite not in recorded:
            out.setdefault("not_recorded", []).append(suite)
            continue
        then, now = flatten(recorded[suite]["figures"]), flatten(figures)
        shared = sorted(then.keys() & now.keys())
        rec_setup = setup(recorded[suite].get("machine", {}))
        out[suite] = {
            "date": recorded[suite].get("date"),
            "equal": sum(same(then[k], now[k]) for k in shared),
            "differ": {k: [then[k], now[k]] for k in shared if not same(then[k], now[k])},
            "only_recorded": sorted(then.keys() - now.keys()),
            "only_now": sorted(now.keys() - then.keys()),
            "setup": {k: [rec_setup.get(k, "not recorded"), now_setup.get(k, "not recorded")]
                      for k in sorted(rec_setup.keys() | now_setup.keys())
                      if rec_setup.get(k) != now_setup.get(k)},
        }
    return out


def _change(then: float, now: float) -> str:
    if then == 0 or not math.isfinite(then) or not math.isfinite(now):
        return f"{now - then:+.4g}"
    return f"{now - then:+.4g}, x{now / then:.3g}"


def format_comparison(cmp: dict[str, Any], source: str) -> str:
    lines = [f"compared with {source}:"]
    for suite, c in cmp.items():
        if suite == "not_recorded":
            continue
        when = f" of {c['date']}" if c.get("date") else ""
        lines.append(f"[{suite}] {c['equal']} figures equal the record{when}, {len(c['differ'])} differ")
        for name, (then, now) in c["differ"].items():
            lines.append(f"  {name:<40} {then:.4g} -> {now:.4g} ({_change(then, now)})")
        if c["only_recorded"]:
            lines.append(f"  not measured now: {', '.join(c['only_recorded'])}")
        if c["only_now"]:
            lines.append(f"  not in the record: {', '.join(c['only_now'])}")
        if c["setup"]:
            lines.append("  machine or software differs: " + ", ".join(
                f"{k} {now} (recorded {then})" for k, (then, now) in c["setup"].items()))
    if cmp.get("not_recorded"):
        lines.append(f"no recorded figures for: {', '.join(cmp['not_recorded'])}")
    return "\n".join(lines)


def merge(recorded: dict[str, dict[str, Any]], run: dict[str, dict[str, Any]], date: str) -> dict[str, Any]:
    """The recorded suites (as `load` gives them) with the suites of `run` (as `load` gives them)
    put in, dated `date`."""
    suites = {**recorded, **{name: {**entry, "date": date} for name, entry in run.items()}}
    return dict(sorted(suites.items()))
