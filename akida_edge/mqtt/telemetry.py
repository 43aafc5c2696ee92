"""Telemetry figures: *measured* host figures and *estimated* chip figures, flat, units in keys.

Host figures are read from Linux where the machine has them and simply left out otherwise:
CPU (`/proc/stat`, share of all cores, and this process from `os.times`, share of one core),
memory (`/proc/meminfo` MemAvailable; from `/proc/self/status` the process's RSS and its private
part `RssAnon`: RSS also counts the pages of mapped libraries, as many as the page cache happens to
hold, so it moved between 234 and 328 MB for the same daemon, the shipped config, on one machine,
while `RssAnon` stayed at 129-148 MB: a fresh install's libraries sit whole in the page cache),
temperature (the hottest `/sys/class/thermal/thermal_zone*/temp`) and RAPL package energy
(`/sys/class/powercap/intel-rapl:N/energy_uj`, usually root-only; wraps at `max_energy_range_uj`).
Chip figures come from the pipelines' `Activity` records (the power model's estimates): they
are labelled `chip_figures: "estimated"`; host figures `host_figures: "measured"`.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from typing import Any

import numpy as np

from akida_edge.engine.power import CHIP_STATIC_MW
from akida_edge.pipelines.base import Activity


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


class PipelineMeter:
    """Accumulates one pipeline's `Activity` between two telemetry reports (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        self.total_energy_uj = 0.0
        self.total_static_uj = 0.0
        self.detections = 0
        self.last_progress = time.monotonic()

    def _reset(self) -> None:
        self.inferences = self.events = self.synops = 0
        self.energy_uj = 0.0
        self.static_uj = 0.0
        self.power_mw: float | None = None
        self.latencies: list[float] = []

    def add(self, a: Activity) -> None:
        with self._lock:
            self.inferences += a.inferences
            self.events += a.events
            self.synops += a.synops
            self.energy_uj += a.chip_energy_uj
            self.total_energy_uj += a.chip_energy_uj
            self.static_uj += a.chip_static_uj
            self.total_static_uj += a.chip_static_uj
            if a.chip_power_mw is not None:
                self.power_mw = a.chip_power_mw
            if len(self.latencies) < 100_000:
                self.latencies.extend(a.latency_ms)
            self.last_progress = time.monotonic()

    def take(self) -> dict[str, Any]:
        with self._lock:
            out = {"inferences": self.inferences, "events": self.events, "synops": self.synops,
                   "energy_uj": self.energy_uj, "power_mw": self.power_mw,
                   "latencies": self.latencies, "total_energy_uj": self.total_energy_uj,
                   "static_uj": self.static_uj, "total_static_uj": self.total_static_uj}
            self._reset()
        return out


class HostProbe:
    """Measured host figures as deltas between two calls of `sample()`."""

    def __init__(self) -> None:
        self._t = time.monotonic()
        self._cpu = self._proc_stat()
        self._times = os.times()
        self._rapl = self._rapl_uj()
        self.host_energy_j = 0.0

    @staticmethod
    def _proc_stat() -> tuple[int, int] | None:
        text = _read("/proc/stat")
        if not text:
            return None
        v = [int(x) for x in text.splitlines()[0].split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v) - idle, sum(v)

    @staticmethod
    def _rapl_uj() -> dict[str, tuple[int, int]]:
        out = {}
        for d in glob.glob("/sys/class/powercap/intel-rapl:[0-9]*"):
            if d.count(":") != 1:
                continue
            e, m = _read(f"{d}/energy_uj"), _read(f"{d}/max_energy_range_uj")
            if e and m:
                out[d] = (int(e), int(m))
        return out

    def sample(self) -> dict[str, Any]:
        now = time.monotonic()
        dt = max(now - self._t, 1e-6)
        out: dict[str, Any] = {"host_figures": "measured"}
        cpu = self._proc_stat()
        if cpu and self._cpu and cpu[1] > self._cpu[1]:
            out["cpu_ratio"] = round((cpu[0] - self._cpu[0]) / (cpu[1] - self._cpu[1]), 4)
        t = os.times()
        out["process_cpu_pct"] = round(100.0 * ((t.user - self._times.user) + (t.system - self._times.system))
                                       / dt, 2)
        mem = _read("/proc/meminfo")
        if mem:
            kv = {ln.split(":")[0]: int(ln.split()[1]) for ln in mem.splitlines() if len(ln.split()) >= 2}
            if kv.get("MemTotal") and "MemAvailable" in kv:
                out["mem_ratio"] = round(1.0 - kv["MemAvailable"] / kv["MemTotal"], 4)
        status = _read("/proc/self/status")
        if status:
            for ln in status.splitlines():
                if ln.startswith("VmRSS:"):
                    out["rss_mb"] = round(int(ln.split()[1]) / 1024.0, 1)
                elif ln.startswith("RssAnon:"):  # private memory: heap, arrays, compiled code
                    out["rss_anon_mb"] = round(int(ln.split()[1]) / 1024.0, 1)
        zones = (_read(p) for p in glob.glob("/sys/class/thermal/thermal_zone*/temp"))
        temps = [int(x) / 1000.0 for x in zones if x and x.strip().lstrip("-").isdigit()]
        if temps:
            out["soc_temp_c"] = max(temps)
        rapl = self._rapl_uj()
        if rapl and self._rapl:
            joules = 0.0
            for d, (e, m) in rapl.items():
                e0 = self._rapl.get(d, (e, m))[0]
                joules += ((e - e0) % m if m else e - e0) / 1e6
            self.host_energy_j += joules
            out["host_power_w"] = round(joules / dt, 3)
            out["host_energy_j"] = round(self.host_energy_j, 3)
        self._t, self._cpu, self._times, self._rapl = now, cpu, t, rapl
        return out


def chip_energy_uj(energies: list[float], statics: list[float]) -> float:
    """The one chip's energy from its pipelines' energies and their static shares: each pipeline's
    dynamic energy, plus the static floor once. The pipelines run side by side, so the floor is
    the largest of their static shares (each covers the time its pipeline ran), not their sum."""
    return sum(e - s for e, s in zip(energies, statics, strict=True)) + max(statics, default=0.0)


def pipeline_figures(samples: dict[str, dict[str, Any]], dt_s: float) -> dict[str, Any]:
    """Sum the pipelines' samples over `dt_s` seconds into the flat telemetry keys.

    inferences_per_s = Σ inferences / dt; latency p50/p95 over every inference's latency (ms);
    chip_power_mw: all pipelines share one (virtual) chip, so its static floor counts once:
    CHIP_STATIC_MW + Σ (reported power − CHIP_STATIC_MW, else energy_uj / dt / 1000) when any
    pipeline reports power; energies likewise (`chip_energy_uj`: dynamic parts plus the floor
    once): per inference (µJ) = that energy / Σ inferences, and `chip_energy_j` since the start.
    """
    dt = max(dt_s, 1e-6)
    inf = sum(s["inferences"] for s in samples.values())
    lat = [x for s in samples.values() for x in s["latencies"]]
    energy = chip_energy_uj([s["energy_uj"] for s in samples.values()],
                            [s["static_uj"] for s in samples.values()])
    reported = [s["power_mw"] for s in samples.values() if s["power_mw"] is not None]
    power = sum(s["energy_uj"] / dt / 1000.0 for s in samples.values() if s["power_mw"] is None)
    if reported:
        power += CHIP_STATIC_MW + sum(max(p - CHIP_STATIC_MW, 0.0) for p in reported)
    out: dict[str, Any] = {
        "chip_figures": "estimated",
        "inferences_per_s": round(inf / dt, 3),
        "events_per_s": round(sum(s["events"] for s in samples.values()) / dt, 1),
        "synops_per_s": round(sum(s["synops"] for s in samples.values()) / dt, 1),
        "chip_power_mw": round(power, 4),
        "chip_energy_j": round(chip_energy_uj([s["total_energy_uj"] for s in samples.values()],
                                              [s["total_static_uj"] for s in samples.values()]) / 1e6, 6),
    }
    if inf:
        out["chip_energy_uj_per_inference"] = round(energy / inf, 4)
    if lat:
        p50, p95 = np.percentile(np.asarray(lat, dtype=np.float64), [50, 95])
        out["inference_ms_p50"], out["inference_ms_p95"] = round(float(p50), 3), round(float(p95), 3)
    return out
