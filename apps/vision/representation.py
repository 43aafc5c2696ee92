"""Events -> gesture-model input: one code path for emulated cameras, video files and EVT recordings.

A gesture is seen through a sliding **window** of `window_ms` (800 ms), a new one every `hop_ms`
(100 ms). Its tensor is (H, W, C) uint8 with C = `bins` **time slices** as channels:

1. **Crop and bin.** The sensor (H_s, W_s) is centre-cropped to a square of side S = min(H_s, W_s)
   (x0 = (W_s − S) // 2, y0 = (H_s − S) // 2; events outside it are ignored), then mapped to the
   model's (H, W) by x_out = (x − x0)·W // S, y_out = (y − y0)·H // S (integer arithmetic: each
   output pixel gathers ⌊S/W⌋ or ⌈S/W⌉ sensor columns, so any sensor size works, e.g. VGA 640×480
   -> a 480×480 crop -> 64×64 with 7.5 sensor pixels per output pixel on average).
2. **Time slices.** The window [t_start, t_end) is cut into `bins` slices with edges
   e_k = t_start + ⌊k·(t_end − t_start)/bins⌋; channel k holds the events with e_k ≤ t < e_(k+1)
   (channel 0 is the oldest). **Polarity is merged**: ON and OFF events count alike. The direction
   of a motion is carried by the order of the slices, and a moving edge gives ON events on one side
   and OFF events on the other depending on its contrast with the background, which the model
   should not have to learn.
3. **ROC per slice** (`akida_edge.encoders.roc_windows.rank_places`, the same ranking as
   `encoders.roc.rank_events`): the places of one slice are ranked by their number of events
   (ties: first event first) and given `bits`-bit values in ``"linear"`` mode,
   value_r = 1 + ⌊(v_max − 1)(K − 1 − r)/(K − 1)⌋, v_max = 2^bits − 1: with 2 bits the busiest
   third of the active pixels reads 3, the next third 2, the quietest third 1; 0 means no event.
   All active places are kept (no truncation): the motion's extent is the signal.

`ViewStream` gives, window by window, exactly `clip_tensor` of the same events (the tests check it)
while holding only the events of the open slice and the last `bins` slice tensors (bounded memory):
the slice grid is shared by all windows because the hop is a whole number of slices
(`ViewParams` requires it). Its windows end at t_origin + window_us + k·hop_us, k = 0, 1, …, with
t_origin the first event's time (or the first `t_now_us`, or `t0_us` when given).

`video_events` turns frames (an iterable or a video file) into events with the project's DVS
emulator (`akida_edge.encoders.dvs`); `akida_edge.drivers.evt` reads Prophesee recordings. Both
then go through `clip_tensor` / `ViewStream`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from akida_edge.encoders.roc import RocParams
from akida_edge.encoders.roc_windows import dense_windows, rank_places
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import EVENT_DTYPE, _check_events, is_time_sorted


@dataclass(frozen=True)
class ViewParams:
    """How the model sees events: input size (H, W), time slices (= channels), window, hop, bits.

    Stored in the model file's metadata (``"view"``), so the model decides its own view.
    `window_ms` must split into `bins` whole-µs slices and `hop_ms` must be a whole number of slices.
    """

    size: tuple[int, int] = (64, 64)
    bins: int = 8
    window_ms: int = 800
    hop_ms: int = 100
    bits: int = 2

    def __post_init__(self) -> None:
        size = tuple(self.size)
        if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                                 for s in size):
            raise ConfigError(f"ViewParams.size={self.size!r}: give (height, width), positive integers")
        object.__setattr__(self, "size", (int(size[0]), int(size[1])))
        for name in ("bins", "window_ms", "hop_ms"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"ViewParams.{name}={v!r}: a positive integer")
        if self.bits not in (1, 2, 4) or isinstance(self.bits, bool):
            raise ConfigError(f"ViewParams.bits={self.bits!r}: the model's input bits, 1, 2 or 4")
        if self.window_us % self.bins:
            raise ConfigError(f"ViewParams.window_ms={self.window_ms}: must split into bins={self.bins} "
                              "slices of whole µs")
        if self.hop_us % self.slice_us:
            raise ConfigError(f"ViewParams.hop_ms={self.hop_ms}: must be a multiple of the slice "
                              f"({self.slice_us / 1000:g} ms = window_ms / bins)")

    @property
    def window_us(self) -> int:
        return int(self.window_ms) * 1000

    @property
    def hop_us(self) -> int:
        return int(self.hop_ms) * 1000

    @property
    def slice_us(self) -> int:
        """Length of one time slice (one channel), µs."""
        return self.window_us // int(self.bins)

    @property
    def tensor_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one window's tensor."""
        return self.size[0], self.size[1], int(self.bins)

    @property
    def roc(self) -> RocParams:
        return RocParams(bits=int(self.bits), mode="linear")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ViewParams:
        """The inverse of `to_dict`; unknown keys are a `ConfigError` (a newer model file)."""
        if not isinstance(d, dict):
            raise ConfigError(f"view parameters must be a mapping, got {type(d).__name__}")
        known = {"size", "bins", "window_ms", "hop_ms", "bits"}
        extra = sorted(set(d) - known)
        if extra:
            raise ConfigError(f"view parameters: unknown key(s) {', '.join(extra)}; known: {sorted(known)}")
        kw = dict(d)
        if "size" in kw:
            kw["size"] = tuple(kw["size"])
        return cls(**kw)


def _check_sensor(sensor_shape: tuple[int, int]) -> tuple[int, int]:
    if len(sensor_shape) != 2 or any(int(s) < 1 for s in sensor_shape):
        raise InputDataError(f"sensor_shape={sensor_shape!r}: give (height, width), positive integers")
    return int(sensor_shape[0]), int(sensor_shape[1])


def places(events: np.ndarray, sensor_shape: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray,
                                                                                             np.ndarray]:
    """(mask of the events inside the square centre crop, their flat output place y_out·W + x_out)."""
    h_s, w_s = _check_sensor(sensor_shape)
    side = min(h_s, w_s)
    y0, x0 = (h_s - side) // 2, (w_s - side) // 2
    x = events["x"].astype(np.int64) - x0
    y = events["y"].astype(np.int64) - y0
    inside = (x >= 0) & (x < side) & (y >= 0) & (y < side)
    h, w = size
    return inside, (y[inside] * h // side) * w + x[inside] * w // side


def _slices_to_tensor(slice_id: np.ndarray, place: np.ndarray, n_slices: int,
                      params: ViewParams) -> np.ndarray:
    """(n_slices, H, W) uint8: the ROC of each slice's events (slice ids non-decreasing)."""
    h, w = params.size
    first, _rank, value = rank_places(slice_id, place, params.roc)
    return dense_windows(slice_id[first], place[first], value, n_slices, (h, w))


def clip_tensor(events: np.ndarray, sensor_shape: tuple[int, int], params: ViewParams,
                t_start_us: int, t_end_us: int) -> np.ndarray:
    """The (H, W, bins) uint8 tensor of the events in [t_start_us, t_end_us) (module docstring).

    Events outside the window or the crop are ignored; within a slice, ties in count go to the
    place whose first event comes first in the input (give events sorted by t, as sources do).
    """
    _check_events(events)
    t0, t1 = int(t_start_us), int(t_end_us)
    bins = int(params.bins)
    if t1 - t0 < bins:
        raise InputDataError(f"clip_tensor: window [{t0}, {t1}) µs is shorter than {bins} µs (one per slice)")
    t = events["t"]
    in_time = (t >= t0) & (t < t1)
    ev = events[in_time]
    inside, place = places(ev, sensor_shape, params.size)
    edges = t0 + (np.arange(bins + 1, dtype=np.int64) * (t1 - t0)) // bins
    slice_id = np.searchsorted(edges, ev["t"][inside], side="right") - 1
    order = np.argsort(slice_id, kind="stable")
    slices = _slices_to_tensor(slice_id[order], place[order], bins, params)
    return np.ascontiguousarray(slices.transpose(1, 2, 0))


class ViewStream:
    """Streaming `clip_tensor`: push events (sorted by t) as they come, get each completed window.

    Holds the places of the open slice's events and the last `bins` slice tensors, nothing more.
    """

    def __init__(self, sensor_shape: tuple[int, int], params: ViewParams | None = None,
                 t0_us: int | None = None) -> None:
        self.sensor_shape = _check_sensor(sensor_shape)
        self.params = params or ViewParams()
        self._t0 = None if t0_us is None else int(t0_us)
        self.reset()

    def reset(self) -> None:
        """Forget everything (the next event or clock starts a new slice grid)."""
        self.t_origin_us: int | None = self._t0
        self._next_slice = 0  # index of the open slice
        self._pending: list[np.ndarray] = []  # flat places of the open slice's events, in arrival order
        self._slices: deque[np.ndarray] = deque(maxlen=int(self.params.bins))

    @property
    def pending_events(self) -> int:
        """Events held for the open slice."""
        return int(sum(p.size for p in self._pending))

    @property
    def nbytes(self) -> int:
        """Bytes held between calls (pending places and the slice ring)."""
        return sum(p.nbytes for p in self._pending) + sum(s.nbytes for s in self._slices)

    def push(self, events: np.ndarray, t_now_us: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Windows completed by `events` and the clock `t_now_us` (every event with t < t_now_us
        has been pushed). Returns (tensors (n, H, W, bins) uint8, window end times (n,) int64 µs)."""
        _check_events(events)
        p = self.params
        empty = np.zeros((0, *p.tensor_shape), np.uint8), np.zeros(0, np.int64)
        if not is_time_sorted(events):
            raise InputDataError("ViewStream.push needs events sorted by t (EVT files and the DVS do so)")
        if self.t_origin_us is None:
            self.t_origin_us = int(events["t"][0]) if events.size else (
                None if t_now_us is None else int(t_now_us))
            if self.t_origin_us is None:
                return empty
        origin, s_us = self.t_origin_us, p.slice_us
        open_start = origin + self._next_slice * s_us
        if events.size and int(events["t"][0]) < open_start:
            raise InputDataError(f"event at t={int(events['t'][0])} µs is earlier than the open slice "
                                 f"(starting {open_start} µs); events must arrive in time order")
        t_end = max(int(events["t"][-1]) if events.size else origin,
                    origin if t_now_us is None else int(t_now_us))
        n_close = max(0, (t_end - origin) // s_us - self._next_slice)  # slices whose end <= t_end
        inside, place = places(events, self.sensor_shape, p.size)
        rel = (events["t"][inside] - origin) // s_us - self._next_slice  # 0 = the open slice
        if n_close == 0:
            if place.size:
                self._pending.append(place)
            return empty
        old = np.concatenate(self._pending) if self._pending else np.zeros(0, np.int64)
        closing = rel < n_close
        ids = np.concatenate([np.zeros(old.size, np.int64), rel[closing]])
        plc = np.concatenate([old, place[closing]])
        self._pending = [place[~closing]] if (~closing).any() else []
        closed = _slices_to_tensor(ids, plc, int(n_close), p)
        hop_slices, bins = p.hop_us // s_us, int(p.bins)
        tensors, ends = [], []
        for j in range(int(n_close)):
            m = self._next_slice + j
            self._slices.append(closed[j])
            first = m - bins + 1
            if first >= 0 and first % hop_slices == 0:
                tensors.append(np.stack(self._slices, axis=-1))
                ends.append(origin + (m + 1) * s_us)
        self._next_slice += int(n_close)
        if not tensors:
            return empty
        return np.stack(tensors), np.asarray(ends, np.int64)


def video_events(frames: Iterable[np.ndarray] | str | os.PathLike, fps: float | None,
                 dvs_preset: str = "clean", seed: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """All DVS events of a frame sequence or a video file, and the sensor shape (H, W).

    Frame i is at t = round(i·10^6/fps) µs; colour frames are converted to grey (BT.601, OpenCV).
    A path is read with OpenCV; `fps=None` then takes the container's rate (25 when it has none).
    The emulator is `akida_edge.encoders.dvs.DvsEmulator(dvs_preset, seed=seed)`.
    """
    import cv2

    from akida_edge.encoders.dvs import DvsEmulator

    cap = None
    if isinstance(frames, (str, os.PathLike)):
        from akida_edge.drivers.camera import open_capture

        cap = open_capture(str(frames))
        if fps is None:
            rate = cap.get(cv2.CAP_PROP_FPS)
            fps = float(rate) if rate and np.isfinite(rate) and 0 < rate < 1000 else 25.0

        def _read():
            while True:
                ok, frame = cap.read()
                if not ok or frame is None:
                    return
                yield frame
        source: Iterable[np.ndarray] = _read()
    else:
        source = frames
    if fps is None or not fps > 0:
        raise InputDataError(f"video_events: fps={fps!r} must be positive for frames given as arrays")
    parts, emulator = [], None
    try:
        for i, frame in enumerate(source):
            f = np.asarray(frame)
            if f.ndim == 3:
                f = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
            if emulator is None:
                emulator = DvsEmulator(dvs_preset, shape=f.shape[:2], seed=seed)
            parts.append(emulator.step(f, int(round(i * 1e6 / fps))))
    finally:
        if cap is not None:
            cap.release()
    if emulator is None:
        raise InputDataError("video_events: no frames")
    events = np.concatenate(parts) if parts else np.zeros(0, EVENT_DTYPE)
    return events, emulator.shape
