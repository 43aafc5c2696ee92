"""The vision app: gestures in video files, event recordings and on a live camera.

Events → `representation.ViewStream` (a window of `view.window_ms` every `view.hop_ms`, binned to
the model's input) → the gesture model on the virtual AKD1000 (`model.GestureModel`, class
probabilities; plus the gestures learned on this device, `learn.py`) → `segment.Segmenter`
(smoothing, minimum score, hysteresis, refractory period) → `Gesture`s with their times in ms on
the recording's own clock (a video: from its first frame; an EVT recording: its timestamps).

Sources of events, one code path after them:

* a Prophesee EVT 2.0/3.0 ``.raw`` recording (`drivers.evt`, read in chunks: bounded memory);
* a video file (OpenCV), or live frames: grey frames, shrunk to the training scenes' scale,
  through the project's DVS emulator (`FrameEvents`).

A window with no event at all is not run on the chip: its probabilities are those of the empty
input, computed once (an event camera looking at a still scene costs nothing but the static
floor).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from akida_edge.apps.vision.segment import Gesture, Segmenter, SegmentParams
from akida_edge.errors import InputDataError
from akida_edge.events import EVENT_DTYPE

EVENT_SUFFIXES = (".raw",)
SENSOR_SIDE_PX = 128  # frames are shrunk to this shorter side before the emulator (`FrameEvents`)


def check_gesture_classes(gm: Any, path: str | Path | None = None) -> None:
    """`InputDataError` (one line) when a loaded `GestureModel` does not give the app's classes."""
    from akida_edge.apps.vision.labels import CLASSES

    if tuple(gm.labels) != CLASSES:
        raise InputDataError(f"{getattr(gm, 'path', path)}: a gesture model gives the classes {CLASSES}, "
                             f"this one {tuple(gm.labels)}; use a model made by akida_edge.apps.vision")


class Recognizer:
    """The loaded gesture model (warmed once), the gestures this device learned and the labels.

    `state_dir`: the per-device store (None: `AKIDA_EDGE_STATE_DIR` or the default directory);
    `learned=False` uses the base model only; `gm`: a loaded `GestureModel` instead of `path`. A
    learned state made for another model version is kept and ignored, with a warning on stderr."""

    def __init__(self, path: str | Path | None = None, state_dir: str | Path | None = None,
                 learned: bool = True, gm: Any = None) -> None:
        from akida_edge.apps.vision.labels import BACKGROUND

        if gm is None:
            from akida_edge.apps.vision.gesture_model import GestureModel

            gm = GestureModel.load(path)
        self.gm = gm
        self.base_classes = tuple(self.gm.labels)
        check_gesture_classes(gm, path)
        from akida_edge.engine import execute

        execute.warm(self.gm.model)  # compile / load the kernels now, not in the first window
        self.ignore = (BACKGROUND, "")
        self.view = self.gm.view
        self.learned = None
        self.state_dir = state_dir
        self.learned_problem = ""  # why the learned state is not used (empty when it is, or learned=False)
        self._empty: np.ndarray | None = None
        self.last_activity = None  # `Model.statistics` of the latest inputs run on the chip
        if learned:
            from akida_edge.apps.vision.learn import LearnedGestures
            from akida_edge.state import IncompatibleStateError

            try:
                self.learned = LearnedGestures(self.gm, state_dir)
            except IncompatibleStateError as exc:
                self.learned_problem = str(exc)
                print(f"akida-edge: warning: learned gestures not used: {exc}", file=sys.stderr)

    def learn_afresh(self) -> None:
        """When the learned state belongs to another model and cannot be learned again here (a
        state from before windows were kept), start a new one for this model, to teach gestures
        anew (`learn.LearnedGestures.afresh`: the old state is kept for its model); raises the
        problem when that is not so."""
        from akida_edge.apps.vision.learn import LearnedGestures
        from akida_edge.state import IncompatibleStateError

        if self.learned is not None or not self.learned_problem:
            return
        problem = IncompatibleStateError(self.learned_problem)
        self.learned = LearnedGestures.afresh(self.gm, self.state_dir, problem)
        self.learned_problem = ""

    @property
    def classes(self) -> tuple[str, ...]:
        """The base labels, then the learned ones ('' for a forgotten one)."""
        return self.base_classes + (tuple(self.learned.labels) if self.learned is not None else ())

    def segment_params(self, **overrides: float) -> SegmentParams:
        """`SegmentParams` on this model's window and hop, with `overrides`."""
        return SegmentParams(window_ms=float(self.view.window_ms), hop_ms=float(self.view.hop_ms),
                             **overrides)

    def probabilities(self, x_u8: np.ndarray) -> np.ndarray:
        """(n, len(classes)) class scores of model inputs (n, H, W, C) uint8: the base model's
        softmax, with learned gestures deciding where they win (`learn.LearnedGestures.decide`).
        Empty inputs (no event) take the empty input's row without running the model."""
        x = np.asarray(x_u8)
        n = len(x)
        out = np.zeros((n, len(self.classes)), np.float64)
        if n == 0:
            return out
        busy = x.reshape(n, -1).any(axis=1)
        if not busy.all():
            out[~busy] = self.empty_row()
        if busy.any():
            out[busy] = self._rows(x[busy])
        return out

    def empty_row(self) -> np.ndarray:
        """The scores of an input without events (computed once per class list)."""
        if self._empty is None or self._empty.size != len(self.classes):
            h, w = self.view.size
            self._empty = self._rows(np.zeros((1, h, w, self.view.bins), np.uint8))[0]
        return self._empty

    def _rows(self, x: np.ndarray) -> np.ndarray:
        p = np.asarray(self.gm.probabilities(x), np.float64)
        self.last_activity = self.gm.model.statistics  # the chip's work for these inputs
        if self.learned is None or not self.learned.gestures:
            return np.concatenate([p, np.zeros((len(p), len(self.classes) - p.shape[1]))], axis=1)
        return self.learned.decide(self.gm.features(x), p)

    def learned_thresholds(self, params: SegmentParams) -> dict[str, float]:
        """Minimum scores of the learned gestures: their score is a match (`learn.py`), whose floor
        `MATCH` already decided that they win, so the threshold is at most that floor."""
        if self.learned is None or not self.learned.gestures:
            return {}
        floor = min(params.threshold, self.learned.match)
        return {g: floor for g in self.learned.gestures}

    def classes_changed(self) -> None:
        """Call after learning or forgetting: the empty-input row is recomputed."""
        self._empty = None

    # -- whole recordings ---------------------------------------------------------------------------
    def stream(self, sensor_shape: tuple[int, int], params: SegmentParams | None = None,
               t0_us: int | None = None) -> GestureStream:
        """A `GestureStream`; `t0_us` anchors its window grid (default: the first event or clock)."""
        return GestureStream(self, sensor_shape, params or self.segment_params(), t0_us)

    def classify_file(self, path: str | Path, params: SegmentParams | None = None) -> list[Gesture]:
        """The gestures of a video file or an EVT ``.raw`` recording; a one-line error for a bad file."""
        path = check_file(path)
        if path.suffix.lower() in EVENT_SUFFIXES:
            return self._classify_evt(path, params)
        return self._classify_video(path, params)

    def _classify_evt(self, path: Path, params: SegmentParams | None) -> list[Gesture]:
        from akida_edge.drivers.evt import EvtConfig, EvtFileSource
        from akida_edge.errors import SourceError

        found: list[Gesture] = []
        source = EvtFileSource(EvtConfig(str(path)))
        stream = None
        try:
            source.open()
            for chunk in source:
                if stream is None and len(chunk.data):
                    # windows from the recording's start: the first one ends one hop after the
                    # first event, as a video's first window ends one hop after its first frame
                    t0 = max(0, int(chunk.data["t"][0]) - self.view.window_us + self.view.hop_us)
                    stream = self.stream((source.height, source.width), params, t0)
                if stream is not None:
                    found += stream.push(chunk.data)
        except SourceError as exc:  # names the file
            raise InputDataError(str(exc)) from None
        finally:
            source.close()
        if stream is None:  # "no gesture" would be a verdict on nothing (as a WAV without samples)
            raise InputDataError(f"{path}: holds no events (an empty recording)")
        return found + stream.flush()

    def _classify_video(self, path: Path, params: SegmentParams | None) -> list[Gesture]:
        from akida_edge.drivers.video_file import VideoFileConfig, VideoFileSource
        from akida_edge.errors import SourceError

        try:
            source = VideoFileSource(VideoFileConfig(str(path))).open()
        except SourceError as exc:  # names the file
            raise InputDataError(f"{exc}; give a video file or an EVT 2.0/3.0 .raw recording") from None
        frames = FrameEvents()
        stream: GestureStream | None = None
        found: list[Gesture] = []
        n_frames = 0
        try:
            for chunk in source:
                events = frames.step(chunk.data, chunk.t_us)
                n_frames += 1
                if stream is None:
                    stream = self.stream(frames.sensor_shape, params)
                found += stream.push(events, chunk.t_us)
        finally:
            source.close()
        if stream is None:
            raise InputDataError(f"{path}: holds no video frame (empty or not a video)")
        if n_frames < 2:  # a still image: events are changes between frames
            raise InputDataError(f"{path}: holds one frame (a still image): a gesture needs a video of "
                                 "two frames or more")
        _check_whole(source, f"{path}: ")
        return found + stream.flush()


def _check_whole(source: Any, prefix: str = "") -> None:
    """A one-line `InputDataError` when a video file read to its end was cut short (its gestures
    would be those of the part before the cut, with no word of the rest)."""
    why = source.shortfall()
    if why:
        raise InputDataError(f"{prefix}truncated ({why}); give the whole recording")


def check_file(path: str | Path) -> Path:
    """`path` as a Path when it names a regular file; a one-line `InputDataError` otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: no such file")
    if path.is_dir():
        raise InputDataError(f"{path} is a directory; give a video file or an EVT .raw recording")
    return path


def load_events(path: str | Path) -> tuple[np.ndarray, tuple[int, int]]:
    """All events of a short clip (a video through the DVS emulator, or an EVT recording) and the
    sensor shape (H, W), for learning; a one-line `InputDataError` for a bad file."""
    from akida_edge.errors import SourceError

    path = check_file(path)
    try:
        if path.suffix.lower() in EVENT_SUFFIXES:
            from akida_edge.drivers.evt import read_evt

            events, header = read_evt(path)
            return events, (header.height, header.width)
        from akida_edge.drivers.video_file import VideoFileConfig, VideoFileSource

        frames = FrameEvents()
        with VideoFileSource(VideoFileConfig(str(path))) as source:
            parts = [frames.step(chunk.data, chunk.t_us) for chunk in source]
        if not parts:
            raise InputDataError("holds no video frame (empty or not a video)")
        _check_whole(source)
        return np.concatenate(parts), frames.sensor_shape
    except SourceError as exc:  # names the file
        raise InputDataError(f"{exc}; give a video file or an EVT 2.0/3.0 .raw recording") from None
    except InputDataError as exc:
        raise InputDataError(f"{path}: {exc}") from None


class FrameEvents:
    """Frames → DVS events one frame at a time, for video files and live cameras.

    A frame is made grey (BT.601) and, when its shorter side exceeds `side_px`, shrunk (area
    averaging) so that the shorter side is `side_px`: the training scenes are 128 × 128
    (`dataset.SIZE`), so a VGA camera gives events at about the scale the model learned, and the
    emulator's cost does not grow with the camera's resolution. With ``side_px=None`` the emulator
    sees the frames as they are, exactly as `representation.video_events` does. Times are the
    frames' media or capture times (µs)."""

    def __init__(self, dvs_preset: str = "clean", seed: int = 0,
                 side_px: int | None = SENSOR_SIDE_PX) -> None:
        self.dvs_preset, self.seed, self.side_px = dvs_preset, seed, side_px
        self.emulator = None

    @property
    def sensor_shape(self) -> tuple[int, int]:
        return self.emulator.shape

    def step(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        from akida_edge.encoders.dvs import DvsEmulator
        from akida_edge.frontends.video import GreyParams, to_grey

        frame = np.asarray(frame)
        h, w = frame.shape[:2]
        params = GreyParams()
        if self.side_px is not None and min(h, w) > self.side_px:
            k = self.side_px / min(h, w)
            params = GreyParams(width=max(1, int(round(w * k))), height=max(1, int(round(h * k))))
        grey = to_grey(frame, params)
        if self.emulator is None or self.emulator.shape != grey.shape:
            self.emulator = DvsEmulator(self.dvs_preset, shape=grey.shape, seed=self.seed)
        if self.emulator.state.frame_count and t_us <= self.emulator.state.t_prev_us:
            t_us = self.emulator.state.t_prev_us + 1  # a looping replay restarts its media time
        return self.emulator.step(grey, int(t_us))


class GestureStream:
    """Streaming recognition: events in (sorted by time), gestures out (module docstring)."""

    def __init__(self, recognizer: Recognizer, sensor_shape: tuple[int, int], params: SegmentParams,
                 t0_us: int | None = None) -> None:
        from akida_edge.apps.vision.representation import ViewStream

        self.recognizer = recognizer
        self.view = ViewStream(tuple(sensor_shape), recognizer.view, t0_us)
        self.segmenter = Segmenter(recognizer.classes, recognizer.ignore, params)
        self.windows = 0  # windows classified
        self.busy_windows = 0  # of which had events (run on the chip)
        self.last_inputs = np.zeros((0,), np.uint8)  # the latest push's model inputs
        self.last_probabilities = np.zeros((0, len(recognizer.classes)))
        self.t_last_us: int | None = None  # the latest event or clock time pushed

    def push(self, events: np.ndarray, t_now_us: int | None = None) -> list[Gesture]:
        """Add events (and the time the source has reached, `t_now_us`); the gestures found."""
        x, t_end_us = self.view.push(events, t_now_us)
        latest = [int(events["t"][-1])] if len(events) else []
        latest += [t_now_us] if t_now_us is not None else []
        if latest:
            self.t_last_us = max(latest + ([self.t_last_us] if self.t_last_us is not None else []))
        self.last_inputs = x
        if len(x) == 0:
            return []
        self.segmenter.set_classes(self.recognizer.classes)
        self.segmenter.class_thresholds = self.recognizer.learned_thresholds(self.segmenter.params)
        p = self.recognizer.probabilities(x)
        self.last_probabilities = p
        self.windows += len(x)
        self.busy_windows += int(np.count_nonzero(np.asarray(x).reshape(len(x), -1).any(axis=1)))
        return self.segmenter.run(np.asarray(t_end_us, np.float64) / 1000.0, p)

    def flush(self) -> list[Gesture]:
        """The end of a recording: the windows that still hold its last events are classified (the
        clock is advanced by one window past the last time pushed)."""
        if self.t_last_us is None:
            return []
        return self.push(np.zeros(0, EVENT_DTYPE), self.t_last_us + self.recognizer.view.window_us)
