"""Rank order coding of many windows at once: one ROC per window (an audio hop, a vibration block,
a time slice of an event stream), and the stacked dense tensor of those windows.

`rank_places` is `akida_edge.encoders.roc.rank_events` applied to every window separately, in one
vectorised pass: within window w the places (any integer index, e.g. a flat (H, W, C) index) are
ranked by their number of events, strongest first, ties broken by first appearance; window w keeps
K_w = ``params.n_keep(active places of w)`` places, and the place of rank r gets
``rank_values(K_w, params)[r]`` (so in ``"linear"`` mode the values depend on each window's K_w,
in ``"modulation"`` mode only on r). The tests check it equals `rank_events` window by window.

`dense_windows` scatters the kept values into an (n_windows, *place_shape) uint8 tensor; zero
means "no event" to an `InputData` layer, as everywhere (`akida_edge.events.to_dense`).

Windows are independent, so a stream cut into blocks that each hold whole windows gives exactly
the ranks of the whole signal: no state is carried here (the delta modulator upstream carries it).
"""

from __future__ import annotations

import numpy as np

from akida_edge.encoders.roc import RocParams, rank_values
from akida_edge.errors import InputDataError


def _window_keep(n_active: np.ndarray, params: RocParams) -> np.ndarray:
    """K_w of every window (`params.n_keep` per distinct count: a handful of Python calls)."""
    distinct, inverse = np.unique(n_active, return_inverse=True)
    return np.asarray([params.n_keep(int(n)) for n in distinct], np.int64)[inverse]


def _values(rank: np.ndarray, k: np.ndarray, params: RocParams) -> np.ndarray:
    """`rank_values(k, params)[rank]` for ranks of windows keeping k places each, vectorised."""
    if rank.size == 0:
        return np.zeros(0, np.uint8)
    if params.mode == "modulation":
        return rank_values(int(rank.max()) + 1, params)[rank]
    vmax = (1 << params.bits) - 1
    span = np.maximum(k - 1, 1)
    linear = 1 + ((vmax - 1) * (k - 1 - rank)) // span
    return np.where(k <= 1, vmax, linear).astype(np.uint8)


def rank_places(
    window: np.ndarray, place: np.ndarray, params: RocParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of each window's events; one entry per kept place, in (window, rank) order.

    Parameters
    ----------
    window : (n,) integers >= 0, non-decreasing: the window of each event.
    place : (n,) integers >= 0: the place of each event (events at one place are counted).
    params : truncation, value mode and input bits (`RocParams`).

    Returns
    -------
    first : (k,) int64 index of each kept place's first event in the input.
    rank : (k,) int64 rank within its window (0 = strongest).
    value : (k,) uint8 n-bit value, never 0, non-increasing with rank within a window.
    """
    window = np.asarray(window, np.int64).reshape(-1)
    place = np.asarray(place, np.int64).reshape(-1)
    if window.shape != place.shape:
        raise InputDataError(f"rank_places: {window.size} window ids but {place.size} places")
    if window.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8)
    if window.min() < 0 or place.min() < 0:
        raise InputDataError("rank_places: window ids and places must be >= 0")
    if np.any(window[1:] < window[:-1]):
        raise InputDataError("rank_places: events must be grouped by window (window ids non-decreasing)")
    n_places = int(place.max()) + 1
    key = window * n_places + place
    _, first, count = np.unique(key, return_index=True, return_counts=True)
    win = window[first]
    # windows ascending, then count descending, then first appearance (the tie-break of rank_events)
    order = np.lexsort((first, -count, win))
    first, win = first[order], win[order]
    starts = np.flatnonzero(np.r_[True, win[1:] != win[:-1]])
    sizes = np.diff(np.r_[starts, win.size])
    rank = np.arange(win.size) - np.repeat(starts, sizes)
    k = np.repeat(_window_keep(sizes, params), sizes)
    kept = rank < k
    return first[kept], rank[kept], _values(rank[kept], k[kept], params)


def dense_windows(
    window: np.ndarray, place: np.ndarray, value: np.ndarray, n_windows: int,
    place_shape: tuple[int, ...],
) -> np.ndarray:
    """(n_windows, *place_shape) uint8 with `value` at (window, flat place); zeros elsewhere.

    A (window, place) pair must occur at most once (as `rank_places` gives them).
    """
    size = int(np.prod(place_shape))
    out = np.zeros(n_windows * size, np.uint8)
    window = np.asarray(window, np.int64)
    place = np.asarray(place, np.int64)
    if window.size and (window.max() >= n_windows or place.max() >= size):
        raise InputDataError(
            f"dense_windows: a place lies outside {n_windows} windows of shape {tuple(place_shape)}"
        )
    out[window * size + place] = value
    return out.reshape((n_windows, *place_shape))
