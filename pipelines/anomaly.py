"""The vibration anomaly pipeline: the anomaly app's on-device normal model on a live source.

Vibration blocks (any rate; resampled to the app's analysis rate in a stream) → the app's
streaming front-end (`frontends.vibration`, windows of `PARAMS.window_s` every `hop_s`) → feature
values → `apps.anomaly.detector.AnomalyDetector` (4-bit deviation encoder, backbone and learning
layer on the virtual AKD1000) → anomaly score per window → `EpisodeTracker` (`on_windows`
anomalous windows start an episode, `off_windows` normal ones end it).

Learning normal: the learned normal is loaded from the state store (`options.state_dir`; the
config loader sets it to the daemon's `[state] dir` unless the entry names another folder); when
there is none (or `relearn`), the first `learn_s` seconds of the source are learned as normal on
the device, calibrated and saved, then scoring starts (a store that refuses the save — full
disk, read-only — is logged and tried again every `SAVE_RETRY_S`; scoring goes on with the normal
in memory, and `describe()` says "learned, not saved"). A normal learned on another model or with
other encoder settings (a model upgrade) is kept, logged, and learned again the same way, instead
of failing the pipeline at every retry. The threshold is the calibrated one (the
`[[pipelines]] threshold` key is not used: scores are in [0, 1] and the calibration knows the
machine); `set_threshold` overrides it at run time.

Yields per window an `Activity` (one inference, latency, the model's events and synaptic ops, the
*estimated* chip energy at one window per hop) whose state is the retained `{"anomaly": "ON"|"OFF",
"score", "threshold"}` Home Assistant reads, and an `anomaly` detection (`phase` start/end) per
episode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from akida_edge.config import PipelineConfig
from akida_edge.drivers import check_dataclass, make_source
from akida_edge.pipelines.base import Activity, Detection
from akida_edge.pipelines.compose import idle_activity, read_chunks, stream_start_us

log = logging.getLogger(__name__)

SAVE_RETRY_S = 60.0  # a normal the store refused is saved again this often while scoring


@dataclass(frozen=True)
class Options:
    """The `options` table of an anomaly pipeline."""

    learn_s: float = 20.0  # learn this much running as normal when no normal is saved
    relearn: bool = False  # learn again at every start even when a normal is saved
    on_windows: int = 2
    off_windows: int = 4
    state_dir: str = ""  # learned-normal store (the config loader fills in the daemon's state dir)

    def __post_init__(self) -> None:
        if not 5.0 <= self.learn_s <= 86400:
            raise ValueError(f"learn_s must lie in 5..86400 s (at least 10 windows), got {self.learn_s}")
        if not (1 <= self.on_windows <= 1000 and 1 <= self.off_windows <= 1000):
            raise ValueError(f"on_windows and off_windows must lie in 1..1000, got {self.on_windows}, "
                             f"{self.off_windows}")


def check_options(table: Any, where: str) -> Options:
    """The validated `Options` (the config loader calls this for `validate-config`)."""
    return check_dataclass(Options, table, where)


class AnomalyPipeline:
    """Learn normal (when needed), then score windows and track episodes (module docstring)."""

    def __init__(self, cfg: PipelineConfig, options: Options) -> None:
        from akida_edge.apps.anomaly.detector import AnomalyDetector
        from akida_edge.engine.execute import warm
        from akida_edge.state import IncompatibleStateError, StateStore

        self.name = cfg.name
        self.cfg = cfg
        self.options = options
        self.detector = AnomalyDetector(cfg.model or None)
        self.store = StateStore(options.state_dir or None)
        try:
            self.loaded = False if options.relearn else self.detector.load(self.store)
        except IncompatibleStateError as exc:  # a model upgrade: this machine's normal is learned again
            log.warning("pipeline %s: %s; learning normal again from the first %g s of running", cfg.name,
                        exc, options.learn_s)
            self.loaded = False
        self.mapping = self.detector.model.map()
        warm(self.detector.model)
        self._override: float | None = None
        self.lock = threading.Lock()
        self.unsaved = False  # the normal in use was learned here and is not saved yet
        self._save_tried = 0.0  # monotonic time of the last save attempt

    def warm_run(self) -> None:
        """Compile (or load) the kernels of the run path that building does not reach — the
        front-end and its resampler, learning normal and scoring — on seeded noise, with a detector
        of its own (`python -m akida_edge.warm`, the daemon's child compile: the daemon then loads
        them from the cache instead of compiling them, and keeping the compiler's memory)."""
        from akida_edge.apps.anomaly import features
        from akida_edge.apps.anomaly.detector import AnomalyDetector

        rng = np.random.default_rng(0)
        p = features.PARAMS
        windows = []
        for rate in (features.RATE_HZ, features.RATE_HZ * 4 // 3):  # the second one is resampled
            n = int(rate * (p.window_s + (AnomalyDetector.MIN_WINDOWS + 10) * p.hop_s))
            noise = rng.normal(0.0, 0.1, (n, 1)).astype(np.float32)
            windows.append(features.WindowStream().push(noise, rate))
        detector = AnomalyDetector(self.cfg.model or None)
        detector.fit(windows[0])
        detector.score(windows[1][:1])

    def set_threshold(self, value: float) -> None:
        if not 0.0 <= value < 1.0:  # scores lie in [0, 1] and a window is anomalous when above it
            raise ValueError(f"threshold = {value}: an anomaly threshold is a score in [0, 1) (1 or more "
                             "would never flag a window); the calibrated one is in the retained state")
        with self.lock:
            self._override = float(value)
            if self.detector.threshold is not None:
                self.detector.threshold = self._override

    def current_threshold(self) -> float | None:
        """The threshold in use (the calibrated one, or `set_threshold`'s); None while learning
        (the daemon's `status` reports it instead of the config's unused `threshold` key)."""
        with self.lock:
            return self._override if self._override is not None else self.detector.threshold

    def describe(self) -> dict[str, Any]:
        normal = "learning" if not self.loaded else "learned, not saved" if self.unsaved else "loaded"
        return {"model": self.detector.backbone_path.name,
                "model_sha256": self.detector.backbone_sha256, "nps": int(self.mapping.np_count),
                "normal": normal}

    def _save_normal(self) -> None:
        """Save the normal just learned. A store that refuses (full disk, read-only, a path that
        is a file) does not stop scoring: the normal is used from memory, the error is logged
        once, and the save is tried again every `SAVE_RETRY_S` while the pipeline runs."""
        from akida_edge.errors import StateError

        first = not self.unsaved
        self._save_tried = time.monotonic()
        try:
            with self.lock:
                self.detector.save(self.store, extra={"files": [f"daemon:{self.name}"]})
        except StateError as exc:
            self.unsaved = True
            if first:
                log.error("pipeline %s: the learned normal could not be saved (%s); scoring with it from "
                          "memory, trying again every %.0f s (a restart before it is saved learns normal "
                          "again)", self.name, exc, SAVE_RETRY_S)
            return
        if not first:
            log.warning("pipeline %s: the learned normal is saved now (%s)", self.name,
                        self.store.path("anomaly"))
        self.unsaved = False

    def _windows(self, stop_event: threading.Event) -> Iterator[tuple[int, np.ndarray] | Activity]:
        """(capture time of the window start in epoch µs, feature values (1, axes, F)), or an idle
        `Activity` (`compose.idle_activity`) while the source gives nothing (e.g. a serial port
        reconnecting), so the daemon's runner keeps its watchdog alive and says why."""
        from akida_edge.apps.anomaly import features

        source = make_source(self.cfg.source.type, **self.cfg.source.options).open()
        stream = features.WindowStream()
        n_done, t0_us, pushed = 0, None, 0
        for chunk in read_chunks(source, stop_event):
            if chunk is None:
                yield idle_activity(source)
                continue
            t0_us = stream_start_us(t0_us, chunk, pushed)  # a live source's clock, chunk by chunk
            pushed += chunk.data.shape[0]
            for v in stream.push(chunk.data, chunk.rate_hz):
                yield t0_us + round(n_done * features.PARAMS.hop_s * 1e6), v[None]
                n_done += 1

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        from akida_edge.apps.anomaly import features
        from akida_edge.apps.anomaly.episodes import EpisodeTracker
        from akida_edge.engine.power import power_report

        hop_s, win_s = features.PARAMS.hop_s, features.PARAMS.window_s
        windows = self._windows(stop_event)
        if not self.loaded:
            learn = []
            for item in windows:
                if isinstance(item, Activity):
                    yield item
                    continue
                learn.append(item[1])
                yield Activity(state={"anomaly": "OFF", "learning": True,
                                      "learned_s": round(len(learn) * hop_s, 2)})
                # learn_s of running, and never fewer windows than a fit needs (learn_s = 5 gives 9)
                if len(learn) >= self.detector.MIN_WINDOWS \
                        and len(learn) * hop_s + (win_s - hop_s) >= self.options.learn_s:
                    break
            if len(learn) < self.detector.MIN_WINDOWS:  # stopped, or the source ended, too early
                if not stop_event.is_set():
                    log.warning("pipeline %s: its source ended after %d windows, before the %d a normal "
                                "needs; nothing learned", self.name, len(learn), self.detector.MIN_WINDOWS)
                return
            with self.lock:
                self.detector.fit(np.concatenate(learn))
                if self._override is not None:
                    self.detector.threshold = self._override
            self.loaded = True
            self._save_normal()
        tracker = EpisodeTracker(on_windows=self.options.on_windows, off_windows=self.options.off_windows)
        for item in windows:
            if self.unsaved and time.monotonic() - self._save_tried >= SAVE_RETRY_S:
                self._save_normal()
            if isinstance(item, Activity):
                yield item
                continue
            t_us, v = item
            t_start = time.perf_counter()
            with self.lock:
                score = float(self.detector.score(v)[0])
                flag = bool(self.detector.is_anomaly(np.array([score]))[0])
                threshold = float(self.detector.threshold)
            act = self.detector.model.statistics
            report = power_report(self.mapping, act, rate_hz=1.0 / hop_s) if act is not None else None
            latency_ms = (time.perf_counter() - t_start) * 1e3
            start_s = t_us / 1e6  # epoch seconds of the window start (capture time)
            episodes = tracker.step(start_s, start_s + win_s, score, flag)
            on = tracker.current is not None
            yield Activity(inferences=1, latency_ms=(latency_ms,),
                           events=0 if act is None else int(sum(la.input_events for la in act.layers[:1])),
                           synops=0 if act is None else int(sum(la.synaptic_ops for la in act.layers)),
                           chip_energy_uj=0.0 if report is None else report.energy_uj_per_inference,
                           chip_static_uj=0.0 if report is None else (
                               report.energy_uj_per_inference - report.dynamic_uj_per_inference),
                           chip_power_mw=None if report is None else report.total_mw,
                           state={"anomaly": "ON" if on else "OFF", "score": round(score, 4),
                                  "threshold": round(threshold, 4)})
            for kind, ep in episodes:
                ts_ms = int(round(ep.start_s * 1000)) if kind == "start" else int(round(ep.end_s * 1000))
                fields = {"phase": kind, "anomaly_score": round(score, 4), "threshold": round(threshold, 4)}
                if kind == "end":
                    fields["duration_ms"] = int(round((ep.end_s - ep.start_s) * 1000))
                yield Detection("anomaly", float(ep.peak_score), ts_ms, "anomaly", fields)


def check_model(cfg: PipelineConfig) -> None:
    """An `AkidaEdgeError` (one line) when `cfg.model` is not an anomaly backbone (`validate-config`)."""
    if cfg.model:
        from akida_edge.apps.anomaly.detector import AnomalyDetector

        AnomalyDetector(cfg.model)


def build(cfg: PipelineConfig) -> AnomalyPipeline:
    """The anomaly pipeline of a `[[pipelines]]` entry with `type = "anomaly"`."""
    return AnomalyPipeline(cfg, check_options(cfg.options, f"pipelines.{cfg.name}.options"))
