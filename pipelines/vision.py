"""The camera pipeline's gesture mode (`type = "camera"`, `options.mode = "gestures"`).

Camera, video file or synthetic scene frames → grey frames (`frontends.video`, resized to
`width`×`height`, optional target `fps`) → DVS emulator (`encoders.dvs`, preset `dvs`) →
`apps.vision.app.GestureStream`: a window of the model's `window_ms` every `hop_ms` (the model
file's view), the gesture model on the virtual AKD1000 plus the gestures learned on this device,
segmentation (`apps.vision.segment`: `smooth` windows averaged, the pipeline's `threshold` as the
minimum score, hysteresis at `release_ratio`·threshold, `refractory_ms`). It lives apart from
`camera.py` (the motion mode) because its unit of work is a window per hop, not a frame.

Detections: `kind = "gesture"`, `label`, `score`, `ts` = the gesture's end (epoch ms, capture
clock), and `t_start_ms` / `t_end_ms` (epoch ms). Activity per frame: the windows classified,
their host latency, the events, the model's synaptic ops and the *estimated* chip energy. A
window without events is not run on the chip (`Recognizer.probabilities`): it costs the static
floor only, so with a still scene the estimated chip power is the static floor.

Commands (`handle_command`, MQTT `request/pipeline`): `learn` a gesture from the windows of the
last detection (`source: "last_detection"`: the window that fired and the `LEARN_WINDOWS` − 1
before it, e.g. to rename a gesture the model confuses), `forget`, and list the `learned` ones —
the same learning path as `akida-edge vision learn`, saved in the pipeline's state dir.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np

from akida_edge.config import PipelineConfig
from akida_edge.drivers import make_source
from akida_edge.errors import AkidaEdgeError, InputDataError
from akida_edge.pipelines.base import Activity, Detection, learning_label, saved_or_restored
from akida_edge.pipelines.compose import MAX_FRAME_GAP_US, FrameTimeline, idle_activity, read_chunks

LEARN_WINDOWS = 3


def check_threshold(value: float) -> str | None:
    """Why `value` is not a gesture threshold (None when it is one)."""
    if not 0.0 < value <= 1.0:
        return "in gestures mode the threshold is a gesture's minimum score; use a value in (0, 1]"
    return None


class GesturePipeline:
    """Frames → events → gestures (module docstring); `options` is `camera.Options`."""

    def __init__(self, cfg: PipelineConfig, options: Any) -> None:
        from akida_edge.apps.vision.app import Recognizer
        from akida_edge.frontends.video import GreyParams

        problem = check_threshold(cfg.threshold)
        if problem:
            raise ValueError(f"pipeline {cfg.name!r}: threshold = {cfg.threshold}: {problem}")
        self.name, self.cfg, self.options = cfg.name, cfg, options
        self.recognizer = Recognizer(cfg.model or None, options.state_dir or None, learned=options.learned)
        self.mapping = self.recognizer.gm.model.map()
        self.params = self.recognizer.segment_params(threshold=cfg.threshold, smooth=options.smooth,
                                                     release_ratio=options.release_ratio,
                                                     refractory_ms=options.refractory_ms)
        self.grey_params = GreyParams(fps=options.fps, width=options.width, height=options.height)
        self.lock = threading.Lock()  # guards the stream and the learned store
        self.stream = None
        self._recent: deque = deque(maxlen=LEARN_WINDOWS)  # the newest model inputs
        self.last_windows: tuple[str, np.ndarray] | None = None  # (label, inputs) of the last detection

    def warm_run(self) -> None:
        """Compile (or load) the kernels that building does not reach (`python -m akida_edge.warm`:
        see `AnomalyPipeline.warm_run`): the run's DVS emulator, event view and ranking, on a
        bright square crossing a seeded noise scene through a stream of its own, and, when the
        pipeline learns, a first `learn` command's (`learn.warm_learning`: the base prototypes
        rendered and a gesture learned from noise, in a state directory of its own; ~1.5 s)."""
        from akida_edge.apps.vision.app import GestureStream
        from akida_edge.apps.vision.learn import warm_learning
        from akida_edge.encoders.dvs import DvsEmulator

        o = self.options
        rng = np.random.default_rng(0)
        emulator = DvsEmulator(o.dvs, shape=(o.height, o.width), seed=o.dvs_seed)
        stream = GestureStream(self.recognizer, (o.height, o.width), self.params)
        scene = rng.integers(40, 80, (o.height, o.width)).astype(np.uint8)
        frame_us = 33_333
        for k in range(2 * self.recognizer.view.window_us // frame_us + 2):
            frame = scene.copy()
            x = k * 4 % max(o.width - 8, 1)
            frame[o.height // 3: o.height // 3 + 8, x: x + 8] = 230
            stream.push(emulator.step(frame, k * frame_us), k * frame_us)
        stream.flush()
        if self.options.learned:
            warm_learning(self.recognizer.gm)

    def set_threshold(self, value: float) -> None:
        import dataclasses

        problem = check_threshold(value)
        if problem:
            raise ValueError(f"threshold = {value}: {problem}")
        with self.lock:
            self.params = dataclasses.replace(self.params, threshold=float(value))
            if self.stream is not None:
                self.stream.segmenter.params = self.params

    def describe(self) -> dict[str, Any]:
        from akida_edge.apps.vision.gesture_model import DEFAULT_MODEL

        o = self.options
        path = self.cfg.model or str(DEFAULT_MODEL)
        return {"model": path.rsplit("/", 1)[-1], "mode": "gestures", "nps": int(self.mapping.np_count),
                "model_sha256": getattr(self.recognizer.gm.model, "file_hash", None),
                "sensor": f"{o.width}x{o.height}", "dvs": o.dvs, "window_ms": self.params.window_ms,
                "hop_ms": self.params.hop_ms, "labels": [c for c in self.recognizer.classes if c]}

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        from akida_edge.apps.vision.app import GestureStream
        from akida_edge.encoders.dvs import DvsEmulator
        from akida_edge.frontends.video import GreyState, grey_step

        o = self.options
        emulator = DvsEmulator(o.dvs, shape=(o.height, o.width), seed=o.dvs_seed)
        grey_state = GreyState()
        with self.lock:
            self.stream = GestureStream(self.recognizer, (o.height, o.width), self.params)
        rate_hz = 1000.0 / self.params.hop_ms
        source = make_source(self.cfg.source.type, **self.cfg.source.options).open()
        timeline = FrameTimeline(max(MAX_FRAME_GAP_US, 2 * self.recognizer.view.window_us))
        last_state = -np.inf
        for chunk in read_chunks(source, stop_event):
            if chunk is None:
                yield idle_activity(source)  # alive while the source gives nothing (and why)
                continue
            grey, grey_state = grey_step(chunk.data, chunk.t_us, grey_state, self.grey_params)
            if grey is None:
                continue
            t_rel = timeline.advance(chunk.t_us)
            t_start = time.perf_counter()
            events = emulator.step(grey, t_rel)
            with self.lock:
                before, busy_before = self.stream.windows, self.stream.busy_windows
                found = self.stream.push(events, t_rel)
                windows = self.stream.windows - before
                busy = self.stream.busy_windows - busy_before
                self._remember(found)
            latency_ms = (time.perf_counter() - t_start) * 1e3
            yield self._activity(windows, busy, int(events.size), latency_ms, rate_hz, found,
                                 due=time.monotonic() - last_state >= o.state_interval_s)
            if found or time.monotonic() - last_state >= o.state_interval_s:
                last_state = time.monotonic()
            for g in found:
                yield self._detection(g, timeline.origin_epoch_us)

    def _activity(self, windows: int, busy: int, events: int, latency_ms: float, rate_hz: float,
                  found: list, due: bool) -> Activity:
        """The frame's work: `busy` of `windows` windows ran on the chip; each window costs the
        static share P_static / rate, a busy one also its dynamic energy (estimated)."""
        from akida_edge.engine.power import CHIP_STATIC_MW, power_report

        state = None
        if found or due:
            last = found[-1].label if found else None
            state = {"gesture": last or "none", "busy_windows": busy, "windows": windows}
        if windows == 0:
            return Activity(events=events, state=state)
        act = self.recognizer.last_activity if busy else None
        dyn_uj = synops = 0.0
        if act is not None:
            report = power_report(self.mapping, act, rate_hz)
            dyn_uj = report.dynamic_uj_per_inference * busy
            synops = sum(la.synaptic_ops for la in act.layers)
        static_uj = CHIP_STATIC_MW * 1e3 / rate_hz * windows
        return Activity(inferences=windows, latency_ms=(latency_ms / windows,) * windows, events=events,
                        synops=int(synops), chip_energy_uj=dyn_uj + static_uj, chip_static_uj=static_uj,
                        chip_power_mw=CHIP_STATIC_MW + dyn_uj / windows * rate_hz * 1e-3, state=state)

    def _remember(self, found: list) -> None:
        """Keep the newest model inputs, and those of the latest detection (locked)."""
        x = self.stream.last_inputs
        for w in x[-LEARN_WINDOWS:] if len(x) else ():
            self._recent.append(w)
        if found and self._recent:
            self.last_windows = (found[-1].label, np.stack(self._recent))

    def _detection(self, g: Any, t0_epoch_us: int) -> Detection:
        start_ms = int(round(t0_epoch_us / 1000 + g.t_start_ms))
        end_ms = int(round(t0_epoch_us / 1000 + g.t_end_ms))
        return Detection(g.label, float(g.score), end_ms, "gesture",
                         {"t_start_ms": start_ms, "t_end_ms": end_ms,
                          "latency_ms": round(max(time.time_ns() / 1e6 - end_ms, 0.0), 3)})

    # -- commands (the daemon's command thread) --------------------------------------------------
    def _restore_saved(self) -> None:
        """The learned gestures as saved (after a learn or forget the store refused; locked)."""
        from akida_edge.apps.vision.learn import LearnedGestures

        self.recognizer.learned = LearnedGestures(self.recognizer.gm, self.recognizer.state_dir)
        self.recognizer.classes_changed()

    def handle_command(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """`learn` / `forget` / `learned` (module docstring); a one-line `ValueError` otherwise."""
        from akida_edge.apps.vision.learn import check_name

        if command == "learn" and self.recognizer.learned is None and self.recognizer.learned_problem:
            with self.lock:  # another model's state that cannot be learned again: teach anew (kept)
                try:
                    self.recognizer.learn_afresh()
                except AkidaEdgeError:
                    pass
        learned = self.recognizer.learned
        label = learning_label(self.name, command, args, learned,
                               lambda v: check_name(v, self.recognizer.base_classes), "the gesture's name",
                               ("label", "source"))
        if label is None:
            with self.lock:
                return {"gestures": learned.gestures}
        if command == "forget":
            with self.lock:
                saved_or_restored(lambda: learned.forget(label), self._restore_saved, f"forgetting {label!r}")
                self.recognizer.classes_changed()
                return {"forgot": label, "gestures": learned.gestures}
        source = args.get("source", "last_detection")
        if source != "last_detection":
            raise InputDataError(f'source {str(source)[:40]!r}: the only source is "last_detection"')
        learned.prepare()  # the first learn's base examples, drawn while the camera keeps running
        with self.lock:
            last = self.last_windows
            if last is None:
                raise InputDataError(f"pipeline {self.name!r} has detected nothing yet; learn from files "
                                     "with 'akida-edge vision learn'")
            n = saved_or_restored(lambda: learned.learn(label, last[1]), self._restore_saved,
                                  f"learning {label!r}")
            self.recognizer.classes_changed()
            return {"learned": label, "windows": n, "source": f"last_detection ({last[0]})",
                    "gestures": learned.gestures}
