"""One path from event streams to model input tensors: time windows -> binning -> ROC -> dense.

The same code takes a Prophesee recording (`akida_edge.drivers.evt`, chunks of events) and the
event-camera emulator's output (`akida_edge.encoders.dvs`, the events of each frame):

1. **Windows.** Time is cut into half-open windows [t_origin + k·window_us, t_origin +
   (k + 1)·window_us); t_origin is the first event's time (or `t0_us` when given), so the windows
   do not depend on how the stream was chunked. A window is emitted once the stream has reached
   its end (an event or a `t_now_us` at or past it), or by ``flush=True`` at the end of the
   stream; windows without events are emitted too (all zeros), so the rows follow real time.
   Only the events of the open window are kept between calls (bounded memory).
2. **Binning** to the model's resolution by integer factors fy = ceil(H/H_out), fx = ceil(W/W_out):
   x_out = x // fx, y_out = y // fy (e.g. 640×480 -> 64×48 with 10×10 bins; 1280×720 -> 64×36
   with 20×20). A bin's strength is the number of events that fell into it.
3. **ROC** of each window (`akida_edge.encoders.roc.rank_events`, numba): bins ranked by count,
   the first ones kept, n-bit values falling with rank.
4. **Dense**: (n_windows, H_out, W_out, C) uint8, C = 2 (ON, OFF) with ``polarity="split"`` or 1
   with ``"merge"``: the input of an `InputData` layer with `roc.bits` input bits.

Events must arrive sorted by t (both sources give them so); an event earlier than an emitted
window is an `InputDataError`, never silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from akida_edge.encoders.roc import RocParams, rank_events
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import EVENT_DTYPE, POLARITY_MODES, _check_events, is_time_sorted


@dataclass(frozen=True)
class EventWindowParams:
    """Sensor size (H, W), model resolution (H_out, W_out; None = the sensor's), window length in
    µs, ROC settings and polarity layout."""

    sensor_shape: tuple[int, int]
    out_shape: tuple[int, int] | None = None
    window_us: int = 33_333
    roc: RocParams = RocParams()
    polarity: str = "split"

    def __post_init__(self) -> None:
        for name in ("sensor_shape", "out_shape"):
            v = getattr(self, name)
            if v is None and name == "out_shape":
                continue
            if len(v) != 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in v):
                raise ConfigError(f"EventWindowParams.{name}={v!r}: give (height, width), positive integers")
        if isinstance(self.window_us, bool) or not isinstance(self.window_us, (int, np.integer)) \
                or self.window_us < 1:
            raise ConfigError(f"EventWindowParams.window_us={self.window_us!r}: an integer number of µs >= 1")
        if self.polarity not in POLARITY_MODES:
            raise ConfigError(f"EventWindowParams.polarity={self.polarity!r}: use one of {POLARITY_MODES}")

    @property
    def bins(self) -> tuple[int, int]:
        """(fy, fx): sensor pixels per output pixel along y and x."""
        h, w = self.sensor_shape
        ho, wo = self.out_shape or self.sensor_shape
        return math.ceil(h / ho), math.ceil(w / wo)

    @property
    def tensor_shape(self) -> tuple[int, int, int]:
        """(H_out, W_out, C) of one window's tensor."""
        ho, wo = self.out_shape or self.sensor_shape
        return int(ho), int(wo), 2 if self.polarity == "split" else 1


@dataclass(frozen=True)
class EventWindowState:
    """Origin of the window grid (None before the first event), index of the next window to emit,
    and the events of the open window."""

    t_origin_us: int | None = None
    next_window: int = 0
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, EVENT_DTYPE))


def bin_events(events: np.ndarray, params: EventWindowParams) -> np.ndarray:
    """A copy with x, y divided by the bin factors (events outside the sensor: `InputDataError`)."""
    h, w = params.sensor_shape
    if events.size and (int(events["x"].max()) >= w or int(events["y"].max()) >= h):
        raise InputDataError(
            f"an event lies outside the {w}x{h} sensor of "
            f"EventWindowParams.sensor_shape={params.sensor_shape}"
        )
    fy, fx = params.bins
    out = events.copy()
    if fx > 1:
        out["x"] //= fx
    if fy > 1:
        out["y"] //= fy
    return out


def event_windows_step(
    events: np.ndarray, state: EventWindowState, params: EventWindowParams, *,
    t_now_us: int | None = None, flush: bool = False,
) -> tuple[np.ndarray, np.ndarray, EventWindowState]:
    """Tensors of the windows completed by `events` (sorted by t) and the time `t_now_us`.

    Returns (tensors (n, H_out, W_out, C) uint8, window start times (n,) int64 µs, state).
    With ``flush=True`` the open window is emitted too (end of stream).
    """
    _check_events(events)
    if not is_time_sorted(events):
        raise InputDataError("event_windows_step needs events sorted by t (EVT files and the DVS do so)")
    shape = params.tensor_shape
    origin = state.t_origin_us
    if origin is None:
        origin = int(events["t"][0]) if events.size else t_now_us
    if origin is None:  # nothing seen yet and no clock
        return np.zeros((0, *shape), np.uint8), np.zeros(0, np.int64), state
    if events.size and int(events["t"][0]) < origin + state.next_window * params.window_us:
        raise InputDataError(
            f"event at t={int(events['t'][0])} µs is earlier than the open window "
            f"(starting {origin + state.next_window * params.window_us} µs); events must arrive in time order"
        )
    binned = bin_events(events, params)
    allev = np.concatenate([state.pending, binned]) if state.pending.size else binned
    t_end = max(int(allev["t"][-1]) if allev.size else origin, origin if t_now_us is None else int(t_now_us))
    n_done = (t_end - origin) // params.window_us  # windows whose end is <= t_end
    if flush and allev.size:
        n_done = max(n_done, (int(allev["t"][-1]) - origin) // params.window_us + 1)
    n_new = max(0, n_done - state.next_window)
    w = params.window_us
    edges = origin + (state.next_window + np.arange(n_new + 1, dtype=np.int64)) * w
    cut = np.searchsorted(allev["t"], edges, side="left")
    tensors = np.zeros((n_new, *shape), np.uint8)
    for k in range(n_new):
        part = allev[cut[k]:cut[k + 1]]
        if part.size:
            tensors[k] = rank_events(part, shape, params.roc, polarity=params.polarity, output="dense")
    pending = allev[cut[-1]:].copy() if n_new else allev
    new_state = EventWindowState(origin, state.next_window + n_new, pending)
    return tensors, edges[:-1], new_state
