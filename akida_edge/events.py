"""The one event dtype of the project (DESIGN.md §2) and the helpers every stage shares.

An event is one change at one place: `t` (µs, int64), `x`, `y` (pixel or band/axis position),
`c` (channel: colour, microphone band, accelerometer axis...), `p` (polarity, +1 ON / -1 OFF).
Rank-order coding adds `rank` (0 = first, strongest) and `value` (the n-bit input value the
event carries into an `InputData` layer); see `RANKED_EVENT_DTYPE` and `akida_edge.encoders.roc`.

Event arrays handed between stages are sorted by `t` (stable: events with equal `t` keep the order
their producer gave them). `slice_time` relies on it; `merge` and `sort_by_time` establish it.

Dense tensors for an `InputData` layer (`to_dense`) are (H, W, C) uint8 arrays with values in
[0, 2^bits - 1]. With ``polarity="split"`` (the default) every event channel `c` becomes two tensor
channels, ``2c`` for ON and ``2c + 1`` for OFF, so a grey event camera (c = 0) gives C = 2; with
``polarity="merge"`` the polarity is ignored and tensor channel = `c`.
"""

from __future__ import annotations

import numpy as np

from akida_edge.errors import InputDataError

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("c", "<u2"), ("p", "i1")])
RANKED_EVENT_DTYPE = np.dtype(EVENT_DTYPE.descr + [("rank", "<u4"), ("value", "u1")])

POLARITY_MODES = ("split", "merge")
DENSE_MODES = ("count", "any", "value")


def empty(n: int = 0, ranked: bool = False) -> np.ndarray:
    """An event array of length n (zeroed)."""
    return np.zeros(n, RANKED_EVENT_DTYPE if ranked else EVENT_DTYPE)


def _check_events(events: np.ndarray, what: str = "events") -> None:
    if not isinstance(events, np.ndarray) or events.dtype not in (EVENT_DTYPE, RANKED_EVENT_DTYPE):
        got = getattr(events, "dtype", type(events).__name__)
        raise InputDataError(
            f"{what} must be a 1-D array of akida_edge.events.EVENT_DTYPE or RANKED_EVENT_DTYPE, "
            f"got {got}; build them with akida_edge.events.empty(n)"
        )
    if events.ndim != 1:
        raise InputDataError(f"{what} must be 1-D, got shape {events.shape}")


def is_time_sorted(events: np.ndarray) -> bool:
    """True when `events['t']` never decreases."""
    t = events["t"]
    return bool(t.size < 2 or np.all(t[1:] >= t[:-1]))


def sort_by_time(events: np.ndarray) -> np.ndarray:
    """A copy sorted by `t`; stable, so events with equal `t` keep their order."""
    _check_events(events)
    return events[np.argsort(events["t"], kind="stable")]


def slice_time(events: np.ndarray, t0_us: int, t1_us: int, *, check_sorted: bool = True) -> np.ndarray:
    """The events with t0_us <= t < t1_us (half-open), as a view.

    Two binary searches (`np.searchsorted`) on the sorted `t`, so O(log n). With
    ``check_sorted=True`` the order is verified first (O(n)); pass False on hot paths whose
    producer guarantees sorted output (the DVS emulator and `merge` do).
    """
    _check_events(events)
    if check_sorted and not is_time_sorted(events):
        raise InputDataError("slice_time needs events sorted by t; sort them with events.sort_by_time(ev)")
    if t1_us < t0_us:
        raise InputDataError(f"slice_time window is reversed: t0_us={t0_us} > t1_us={t1_us}")
    t = events["t"]
    i0 = int(np.searchsorted(t, t0_us, side="left"))
    i1 = int(np.searchsorted(t, t1_us, side="left"))
    return events[i0:i1]


def merge(*arrays: np.ndarray) -> np.ndarray:
    """One time-sorted array from several (stable: at equal `t`, earlier arguments come first).

    All arrays must share one dtype (plain or ranked); inputs need not be sorted.
    """
    if not arrays:
        return empty(0)
    for i, a in enumerate(arrays):
        _check_events(a, f"merge argument {i}")
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise InputDataError("merge got plain and ranked event arrays; merge arrays of one dtype only")
    out = np.concatenate(arrays)
    return out[np.argsort(out["t"], kind="stable")]


def channel_index(events: np.ndarray, polarity: str = "split") -> np.ndarray:
    """Tensor channel of each event: ``2c`` (ON) / ``2c + 1`` (OFF) when split, else ``c``."""
    if polarity not in POLARITY_MODES:
        raise InputDataError(f"polarity={polarity!r} is not one of {POLARITY_MODES}")
    c = events["c"].astype(np.int64)
    if polarity == "split":
        return 2 * c + (events["p"] < 0)
    return c


def flat_index(events: np.ndarray, shape: tuple[int, int, int], polarity: str = "split") -> np.ndarray:
    """Index of each event in the flattened (H, W, C) tensor: ``(y * W + x) * C + channel``.

    Raises `InputDataError` when an event falls outside `shape`.
    """
    h, w, ch = _check_shape(shape)
    if events.size == 0:
        return np.zeros(0, np.int64)
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    c = channel_index(events, polarity)
    bad = (x >= w) | (y >= h) | (c >= ch)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputDataError(
            f"event {i} (x={x[i]}, y={y[i]}, channel={c[i]}) lies outside the tensor shape {shape} "
            f"(polarity={polarity!r}); enlarge the shape or drop the event"
        )
    return (y * w + x) * ch + c


def _check_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3 or any(int(s) < 1 for s in shape):
        raise InputDataError(f"tensor shape must be (H, W, C) with positive sizes, got {shape}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def to_dense(
    events: np.ndarray,
    shape: tuple[int, int, int],
    bits: int = 8,
    *,
    mode: str = "count",
    polarity: str = "split",
) -> np.ndarray:
    """Events -> the dense (H, W, C) uint8 tensor an `InputData` layer with `bits` input bits wants.

    Several events at one place are combined by `mode`:

    - ``"count"``: the number of events there, saturated at 2^bits - 1 (saturation, not wrap);
    - ``"any"``: 1 where at least one event fell (a binary spike map, whatever `bits` is);
    - ``"value"``: the largest `value` there (ranked events only). Rank-order values fall with
      rank, so this is the value of the best-ranked event at that place. Values must fit `bits`.

    Places without events are 0 ("no event"). Time is ignored: slice the window first with
    `slice_time`. Channel layout: see the module docstring (`polarity`).
    """
    _check_events(events)
    if bits not in (1, 2, 4, 8):
        raise InputDataError(f"bits={bits} is not an InputData width; use 1, 2, 4 or 8")
    if mode not in DENSE_MODES:
        raise InputDataError(f"to_dense mode={mode!r} is not one of {DENSE_MODES}")
    h, w, ch = _check_shape(shape)
    n = h * w * ch
    vmax = (1 << bits) - 1
    idx = flat_index(events, (h, w, ch), polarity)
    if mode == "count":
        flat = np.minimum(np.bincount(idx, minlength=n), vmax).astype(np.uint8)
    elif mode == "any":
        flat = np.zeros(n, np.uint8)
        flat[idx] = 1
    else:
        if events.dtype != RANKED_EVENT_DTYPE:
            raise InputDataError("to_dense mode='value' needs ranked events (RANKED_EVENT_DTYPE) from roc")
        values = events["value"]
        if values.size and int(values.max()) > vmax:
            raise InputDataError(
                f"event value {int(values.max())} does not fit bits={bits} (max {vmax}); "
                f"rank with RocParams(bits={bits}) or raise bits"
            )
        flat = np.zeros(n, np.uint8)
        np.maximum.at(flat, idx, values)
    return flat.reshape(h, w, ch)
