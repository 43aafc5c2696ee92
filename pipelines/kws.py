"""The keyword-spotting pipeline: the kws app's spotter on a live or replayed audio source.

16 kHz mono audio blocks (`microphone`, `audio_file`; the drivers resample and mix down) →
`apps.kws.app.Stream`: log-mel frames block by block, a 1-s window every `hop_ms` classified by
the shipped DS-CNN on the virtual AKD1000 (plus the words learned on this device), probabilities
smoothed over `smooth` windows, one detection per utterance at its peak, `refractory_ms` between
detections. The pipeline's `threshold` is the smoothed probability a keyword needs (settable at
run time). Detections are `kind = "keyword"`, `label` the word, `score` its probability, `ts` the
capture time of the peak window's centre.

Yields per processed block an `Activity` (the windows classified, their host latency, the model's
events and synaptic ops, the *estimated* chip energy at one window per hop) and the detections.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from akida_edge.apps.kws.app import DetectParams
from akida_edge.config import PipelineConfig
from akida_edge.drivers import check_dataclass, make_source
from akida_edge.pipelines.base import Activity, Detection
from akida_edge.pipelines.compose import MEDIA_TIME_LIMIT_US

#: The pipeline's `threshold` when the entry sets none: the kws app's measured operating point.
DEFAULT_THRESHOLD = DetectParams.threshold


def check_threshold(value: float) -> str | None:
    """Why `value` is not a kws threshold (None when it is one)."""
    if not 0.0 < value <= 1.0:
        return "a kws threshold is the smoothed keyword probability; use a value in (0, 1]"
    return None


@dataclass(frozen=True)
class Options:
    """The `options` table of a kws pipeline (defaults: the kws app's `DetectParams`)."""

    hop_ms: float = DetectParams.hop_ms
    smooth: int = DetectParams.smooth
    refractory_ms: float = DetectParams.refractory_ms
    learned: bool = True  # also spot the words learned on this device
    state_dir: str = ""  # learned words (the config loader fills in the daemon's state dir)

    def __post_init__(self) -> None:
        if not 20.0 <= self.hop_ms <= 1000.0:
            raise ValueError(f"hop_ms must lie in 20..1000, got {self.hop_ms}")
        if not 1 <= self.smooth <= 50:
            raise ValueError(f"smooth must lie in 1..50 windows, got {self.smooth}")
        if not 0 <= self.refractory_ms <= 60_000:
            raise ValueError(f"refractory_ms must lie in 0..60000, got {self.refractory_ms}")


def check_options(table: Any, where: str) -> Options:
    """The validated `Options` (the config loader calls this for `validate-config`)."""
    return check_dataclass(Options, table, where)


class KwsPipeline:
    """`Spotter` + `Stream` over a source (module docstring)."""

    def __init__(self, cfg: PipelineConfig, options: Options) -> None:
        from akida_edge.apps.kws.app import Spotter

        problem = check_threshold(cfg.threshold)
        if problem:
            raise ValueError(f"pipeline {cfg.name!r}: threshold = {cfg.threshold}: {problem}")
        self.name = cfg.name
        self.cfg = cfg
        self.options = options
        self.spotter = Spotter(cfg.model or None, options.state_dir or None, learned=options.learned)
        self.mapping = self.spotter.model.map()
        self.params = DetectParams(hop_ms=options.hop_ms, smooth=options.smooth, threshold=cfg.threshold,
                                   refractory_ms=options.refractory_ms)
        self.lock = threading.Lock()

    def set_threshold(self, value: float) -> None:
        problem = check_threshold(value)
        if problem:
            raise ValueError(f"threshold = {value}: {problem}")
        with self.lock:
            self.params = dataclasses.replace(self.params, threshold=float(value))
            if getattr(self, "stream", None) is not None:
                self.stream.params = self.params
                self.stream.detector.params = self.params

    def describe(self) -> dict[str, Any]:
        return {"model": self.spotter.path.name, "nps": int(self.mapping.np_count),
                "labels": [c for c in self.spotter.classes if c]}

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        from akida_edge.apps.kws.app import Stream
        from akida_edge.engine.power import power_report

        with self.lock:
            self.stream = Stream(self.spotter, self.params)
        source = make_source(self.cfg.source.type, **self.cfg.source.options).open()
        t0_us = None
        last_yield = time.monotonic()
        try:
            while not stop_event.is_set():
                chunk = source.read(timeout_s=0.5)
                if chunk is None:
                    if source.ended:
                        for d in self.stream.flush():
                            yield self._detection(d, t0_us or 0)
                        return
                    if time.monotonic() - last_yield >= 1.0:
                        last_yield = time.monotonic()
                        yield Activity()
                    continue
                if t0_us is None:  # epoch µs of the stream's first sample (media time mapped to now)
                    t0_us = chunk.t_us if chunk.t_us >= MEDIA_TIME_LIMIT_US else time.time_ns() // 1000
                before = self.stream._next
                t_start = time.perf_counter()
                with self.lock:
                    found = self.stream.push(chunk.data[:, 0] if chunk.data.ndim == 2 else chunk.data)
                latency_ms = (time.perf_counter() - t_start) * 1e3
                windows = (self.stream._next - before) // self.params.hop_frames
                act = self.spotter.model.statistics if windows else None
                report = power_report(self.mapping, act, rate_hz=1000.0 / self.params.hop_ms) if act else None
                last_yield = time.monotonic()
                yield Activity(  # the batch's activity counts are totals over its windows
                    inferences=int(windows), latency_ms=(latency_ms / max(windows, 1),) * int(windows),
                    events=0 if act is None else int(sum(la.input_events for la in act.layers[:1])),
                    synops=0 if act is None else int(sum(la.synaptic_ops for la in act.layers)),
                    chip_energy_uj=0.0 if report is None else report.energy_uj_per_inference * windows,
                    chip_power_mw=None if report is None else report.total_mw)
                for d in found:
                    yield self._detection(d, t0_us)
        finally:
            source.close()

    def _detection(self, d: Any, t0_us: int) -> Detection:
        ts_ms = int(round(t0_us / 1000 + d.t_ms))
        return Detection(d.label, float(d.score), ts_ms, "keyword",
                         {"latency_ms": round(max(time.time_ns() / 1e6 - ts_ms, 0.0), 3)})


def build(cfg: PipelineConfig) -> KwsPipeline:
    """The kws pipeline of a `[[pipelines]]` entry with `type = "kws"`."""
    return KwsPipeline(cfg, check_options(cfg.options, f"pipelines.{cfg.name}.options"))
