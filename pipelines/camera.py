"""The camera pipeline: motion activity (`mode = "motion"`, the default) or gestures (`mode = "gestures"`).

`options.mode` picks what the camera pipeline computes. ``"gestures"`` runs the vision app's
gesture model (`akida_edge.pipelines.vision`, built from here); ``"motion"`` is described below.

Camera, video file or synthetic scene frames → grey frames (`frontends.video`, resized to
`width`×`height`, optional target `fps`) → DVS emulator (`encoders.dvs`, preset `dvs`) → the frame's
events rank-order coded (`encoders.roc`, `roc_bits`, `roc_keep_fraction`) into the dense input of a
small *motion map* model on the virtual AKD1000 (InputData (H, W, 2) → Convolutional 3×3, 4 filters,
max pool 2×2 → Convolutional 3×3, 1 filter; fixed all-ones weights: each output is a count of nearby
events, so synaptic work and power follow the events, and a still scene costs the static floor).

Decoder (`MotionDecoder`): the event rate over the last `window_ms`, normalised per pixel,

    r = Σ events in window / (window_s · W · H)        [events / pixel / s]

starts a motion episode when r ≥ `threshold` (the pipeline's `threshold`) and ends it when r has
stayed below `release_ratio`·threshold for `debounce_ms` (hysteresis and hold time: one episode,
one `start` and one `end` detection, label `motion`, field `phase`). The retained state carries
the current rate, the ROC-ranked places of the last frame and the centroid of the motion map; it
is published every `state_interval_s` and at every start/end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from akida_edge.config import PipelineConfig
from akida_edge.drivers import check_dataclass, make_source
from akida_edge.drivers.base import Chunk
from akida_edge.pipelines.base import Detection
from akida_edge.pipelines.compose import MAX_FRAME_GAP_US, Composed, DeviceStage, Encoded, FrameTimeline

MODES = ("motion", "gestures")


@dataclass(frozen=True)
class Options:
    """The `options` table of a camera pipeline."""

    width: int = 160
    height: int = 120
    fps: float | None = None  # target frame rate; None: every frame
    dvs: str = "clean"  # DVS preset: "clean" or "noisy" (v2e's)
    dvs_seed: int = 0
    window_ms: float = 1000.0  # event-rate window
    release_ratio: float = 0.5  # the episode ends below release_ratio · threshold ...
    roc_bits: int = 4  # input bits of the motion map model
    roc_keep_fraction: float = 1.0  # ROC: share of the active places kept per frame
    on_chip: bool = True  # run the motion map on the virtual AKD1000 (power estimate)
    state_interval_s: float = 1.0
    mode: str = "motion"  # "motion" (this module) or "gestures" (pipelines/vision.py)
    # gestures mode only (pipelines/vision.py; defaults: apps/vision/segment.py):
    smooth: int = 2  # windows averaged
    refractory_ms: float = 800.0  # after a gesture, no other for this long
    learned: bool = True  # also recognise the gestures learned on this device
    state_dir: str = ""  # learned gestures (the config loader fills in the daemon's state dir)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode = {self.mode!r}: use one of {', '.join(repr(m) for m in MODES)}")
        if not 1 <= self.smooth <= 50:
            raise ValueError(f"smooth must lie in 1..50 windows, got {self.smooth}")
        if not 0 <= self.refractory_ms <= 60_000:
            raise ValueError(f"refractory_ms must lie in 0..60000, got {self.refractory_ms}")
        if not (8 <= self.width <= 1024 and 8 <= self.height <= 1024):
            raise ValueError(f"width and height must lie in 8..1024, got {self.width}x{self.height}")
        if self.fps is not None and not 0.1 <= self.fps <= 1000:
            raise ValueError(f"fps must lie in 0.1..1000, got {self.fps}")
        if self.dvs not in ("clean", "noisy"):
            raise ValueError(f"dvs = {self.dvs!r}: use 'clean' or 'noisy'")
        if not 10 <= self.window_ms <= 60_000:
            raise ValueError(f"window_ms must lie in 10..60000, got {self.window_ms}")
        if not 0 < self.release_ratio <= 1:
            raise ValueError(f"release_ratio must lie in (0, 1], got {self.release_ratio}")
        if self.roc_bits not in (1, 2, 4, 8):
            raise ValueError(f"roc_bits must be 1, 2, 4 or 8, got {self.roc_bits}")
        if not 0 < self.roc_keep_fraction <= 1:
            raise ValueError(f"roc_keep_fraction must lie in (0, 1], got {self.roc_keep_fraction}")
        if not 0.1 <= self.state_interval_s <= 3600:
            raise ValueError(f"state_interval_s must lie in 0.1..3600, got {self.state_interval_s}")


#: Options only one mode reads: setting one in the other mode is refused (it would do nothing).
MODE_KEYS = {"motion": ("window_ms", "roc_bits", "roc_keep_fraction", "on_chip"),
             "gestures": ("smooth", "refractory_ms", "learned")}


def threshold_rule(table: Any) -> tuple[float | None, Any]:
    """(default threshold, its check) for the mode the `options` table selects (the config loader
    calls this): gestures — a minimum score in (0, 1], default `segment.SegmentParams`'s; motion —
    a rate in events/pixel/s with the generic bounds."""
    if isinstance(table, dict) and table.get("mode") == "gestures":
        from akida_edge.apps.vision.segment import SegmentParams
        from akida_edge.pipelines.vision import check_threshold

        return SegmentParams().threshold, check_threshold
    return None, None


def check_options(table: Any, where: str) -> Options:
    """The validated `Options` (the config loader calls this for `validate-config`)."""
    from akida_edge.errors import ConfigError

    options = check_dataclass(Options, table, where)
    for mode, keys in MODE_KEYS.items():
        given = [k for k in keys if isinstance(table, dict) and k in table]
        if given and options.mode != mode:
            raise ConfigError(f"{where}.{given[0]} does nothing in {options.mode} mode (a {mode} option); "
                              f"remove it, or set {where}.mode = \"{mode}\"")
    return options


def motion_map_model(height: int, width: int, input_bits: int) -> Any:
    """The fixed motion map (module docstring): all-ones weights, thresholds 0, act_step 1."""
    from akida_edge.engine import layers as L
    from akida_edge.engine.model import Model

    m = Model()
    m.add(L.InputData(input_shape=(height, width, 2), input_bits=input_bits, name="events"))
    m.add(L.Convolutional(kernel_size=(3, 3), filters=4, padding="same", weights_bits=4, act_bits=4,
                          pool_type="max", pool_size=(2, 2), name="motion_pool"))
    m.add(L.Convolutional(kernel_size=(3, 3), filters=1, padding="same", weights_bits=4, act_bits=4,
                          name="motion_map"))
    for layer in m.layers[1:]:
        layer.set_variable("weights", np.ones_like(layer.get_variable("weights")))
    return m


class MotionDecoder:
    """Event rate over a window, with hysteresis and a hold time (module docstring)."""

    def __init__(self, threshold: float, pixels: int, window_ms: float, release_ratio: float,
                 hold_ms: float, state_interval_s: float) -> None:
        self.threshold = float(threshold)
        self.pixels = pixels
        self.window_us = window_ms * 1e3
        self.release_ratio = release_ratio
        self.hold_us = hold_ms * 1e3
        self.state_interval_us = state_interval_s * 1e6
        self.window: deque[tuple[int, int]] = deque()
        self.window_events = 0
        self.t_first: int | None = None
        self.active = False
        self.episode_start_us = 0  # scene time (`Encoded.t_us`)
        self.episode_peak = 0.0
        self.below_since: int | None = None
        self.last_state_us: int | None = None
        self.episodes = 0

    def rate(self, t_us: int, events: int) -> tuple[float, float]:
        """Add a frame's events; (events/s, events/pixel/s) over the window."""
        if self.t_first is None:
            self.t_first = t_us
        self.window.append((t_us, events))
        self.window_events += events
        while self.window and self.window[0][0] <= t_us - self.window_us:
            self.window_events -= self.window.popleft()[1]
        span_us = min(self.window_us, max(t_us - self.t_first, 1))
        rate_hz = self.window_events / (span_us * 1e-6)
        return rate_hz, rate_hz / self.pixels

    def __call__(self, enc: Encoded, outputs: np.ndarray | None,
                 ts_ms: int) -> tuple[list[Detection], dict | None]:
        rate_hz, rate_px = self.rate(enc.t_us, enc.events)
        facts = {"event_rate_hz": round(rate_hz, 1), "event_rate_px_hz": round(rate_px, 5),
                 "ranked_places": enc.info.get("ranked_places", 0)}
        if outputs is not None and outputs.any():
            ys, xs = np.nonzero(outputs[..., 0])
            w = outputs[ys, xs, 0].astype(np.float64)
            facts["centroid_x"] = round(float((xs * w).sum() / w.sum() + 0.5) / outputs.shape[1], 3)
            facts["centroid_y"] = round(float((ys * w).sum() / w.sum() + 0.5) / outputs.shape[0], 3)
        detections = []
        if not self.active and rate_px >= self.threshold:
            self.active, self.below_since = True, None
            self.episode_start_us, self.episode_peak = enc.t_us, rate_px
            self.episodes += 1
            detections.append(Detection("motion", rate_px, ts_ms, "motion", {"phase": "start", **facts}))
        elif self.active:
            self.episode_peak = max(self.episode_peak, rate_px)
            if rate_px >= self.release_ratio * self.threshold:
                self.below_since = None
            elif self.below_since is None:
                self.below_since = enc.t_us
            elif enc.t_us - self.below_since >= self.hold_us:
                self.active = False
                duration_ms = round((enc.t_us - self.episode_start_us) / 1000)  # scene time
                detections.append(Detection("motion", self.episode_peak, ts_ms, "motion",
                                            {"phase": "end", "duration_ms": duration_ms,
                                             "peak_event_rate_px_hz": round(self.episode_peak, 5), **facts}))
        state = None
        due = self.last_state_us is None or enc.t_us - self.last_state_us >= self.state_interval_us
        if detections or due:
            self.last_state_us = enc.t_us
            state = {"motion": "ON" if self.active else "OFF", "threshold": self.threshold, **facts}
        return detections, state


class CameraPipeline(Composed):
    """`Composed` with a video front-end, the DVS + ROC encoder, the motion map and `MotionDecoder`."""

    def __init__(self, cfg: PipelineConfig, options: Options) -> None:
        # the encoders' kernels are imported (compiled, on a cold cache) when a pipeline is built,
        # not when a config is validated (`daemon`: a cold first start compiles in a child process)
        from akida_edge.encoders.dvs import DvsEmulator
        from akida_edge.encoders.roc import RocParams
        from akida_edge.frontends.video import GreyParams, GreyState

        self.cfg = cfg
        self.options = o = options
        self.grey_params = GreyParams(fps=o.fps, width=o.width, height=o.height)
        self.grey_state = GreyState()
        self.emulator = DvsEmulator(o.dvs, shape=(o.height, o.width), seed=o.dvs_seed)
        self.roc = RocParams(bits=o.roc_bits, keep_fraction=o.roc_keep_fraction)
        self.motion = MotionDecoder(cfg.threshold, o.width * o.height, o.window_ms, o.release_ratio,
                                    cfg.debounce_ms, o.state_interval_s)
        device = None
        if o.on_chip:
            device = DeviceStage(motion_map_model(o.height, o.width, o.roc_bits), "motion_map")
        # the emulator and the decoder run on scene time: a gap between frames longer than 1 s, twice
        # the rate window and twice the target frame interval is a step of a live clock, left out
        max_gap_us = max(MAX_FRAME_GAP_US, 2 * o.window_ms * 1e3, 2e6 / o.fps if o.fps else 0)
        super().__init__(cfg.name, self._open, self._frontend, self._encoder, self.motion, device,
                         FrameTimeline(round(max_gap_us)))
        self._warm()

    def _warm(self) -> None:
        """Compile / load the emulator's and the ranking's kernels on a tiny throwaway sensor, so
        the first frames do not carry it in their latency."""
        from akida_edge.encoders.dvs import DvsEmulator
        from akida_edge.encoders.roc import rank_events

        emulator = DvsEmulator(self.options.dvs, shape=(8, 8), seed=0)
        frames = np.zeros((2, 8, 8), np.uint8)
        frames[1, 2:6, 2:6] = 200
        for k, frame in enumerate(frames):  # a still frame too: numba types its empty event fields
            events = emulator.step(frame, k * 33_333)  # as contiguous, another compile
            rank_events(events, (8, 8, 2), self.roc, output="dense")

    def _open(self):
        return make_source(self.cfg.source.type, **self.cfg.source.options).open()

    def _frontend(self, chunk: Chunk) -> tuple[np.ndarray, int] | None:
        from akida_edge.frontends.video import grey_step

        grey, self.grey_state = grey_step(chunk.data, chunk.t_us, self.grey_state, self.grey_params)
        return None if grey is None else (grey, chunk.t_us)

    def _encoder(self, features: tuple[np.ndarray, int], t_us: int) -> Encoded:
        from akida_edge.encoders.roc import rank_events

        grey, _ = features  # t_us: scene time (`FrameTimeline`), never back nor across a clock's step
        events = self.emulator.step(grey, t_us)
        shape = (self.options.height, self.options.width, 2)
        tensor = rank_events(events, shape, self.roc, output="dense")
        return Encoded(t_us, int(events.size), tensor, {"ranked_places": int(np.count_nonzero(tensor))})

    def set_threshold(self, value: float) -> None:
        self.motion.threshold = float(value)

    def describe(self) -> dict[str, Any]:
        o = self.options
        out = {"model": "motion_map" if self.device is not None else "none",
               "sensor": f"{o.width}x{o.height}", "dvs": o.dvs, "threshold_unit": "events/pixel/s"}
        if self.device is not None:
            out["nps"] = self.device.nps
        return out


def check_model(cfg: PipelineConfig) -> None:
    """An `AkidaEdgeError` (one line) when a gesture camera's `cfg.model` is not a gesture model of
    the app's classes (`validate-config`; motion mode refuses the key when the config is read)."""
    if cfg.model and cfg.options.get("mode", "motion") == "gestures":
        from akida_edge.apps.vision.app import check_gesture_classes
        from akida_edge.apps.vision.gesture_model import GestureModel

        check_gesture_classes(GestureModel.load(cfg.model), cfg.model)


def build(cfg: PipelineConfig) -> Any:
    """The camera pipeline of a `[[pipelines]]` entry with `type = "camera"`: `CameraPipeline`
    (motion) or `vision.GesturePipeline` (gestures)."""
    options = check_options(cfg.options, f"pipelines.{cfg.name}.options")
    if options.mode == "gestures":
        from akida_edge.pipelines.vision import GesturePipeline

        return GesturePipeline(cfg, options)
    if cfg.model:
        raise ValueError(f"pipeline {cfg.name!r}: model = {cfg.model!r} does nothing in motion mode (a "
                         "fixed motion map); remove it, or set options.mode = \"gestures\"")
    return CameraPipeline(cfg, options)
