"""Rank order coding (ROC): within one window, order the places by strength, keep the first ones,
and give each kept place an n-bit value that falls with its rank.

Rank order coding (Thorpe & Gautrais 1998, "Rank Order Coding", in *Computational Neuroscience:
Trends in Research*, Bower ed., Plenum, pp. 113-118) carries information in the *order* in which a
population fires, at most one spike per neuron. A receiving neuron i desensitised by feed-forward
shunting inhibition computes

    activation_i = sum_j mod^rank(j) * w_ji,   0 < mod < 1,

so its activation is maximal when the inputs arrive in the order of its weights (Thorpe, Delorme &
VanRullen 2001, "Spike-based strategies for rapid processing", Neural Networks 14: "maximum
activation will only be produced when the afferent inputs are activated in the order of their
synaptic weights"; the notation above is the usual one, its exact page in the 1998 chapter is not
checked here). The first spikes therefore carry most of the information: with a retina-like filter
bank "more than 80% of the input information can be decoded by the time only up to 10%" of the
cells have fired (Bhattacharya & Furber, IJCNN 2009). That is why keeping only the first N (or the
first fraction) of a window loses little.

What this module does, per window (a frame's events, an audio hop, a vibration block):

- **Strength.** Events: the number of events at each place (or the sum of a supplied per-event
  magnitude, `weights`); a place is (y, x, tensor channel) with the channel layout of
  `akida_edge.events.to_dense` (``polarity="split"``: ON and OFF are separate places). Dense
  feature maps: the value itself; values <= 0 are "no event" and never ranked.
- **Rank.** Strongest first. Ties are broken deterministically: events by first appearance in the
  input order (the earlier first event wins, as the input is sorted by t), feature maps by flat
  C-order index (the lower index wins).
- **Keep.** The first K = min(active, `max_events`, ceil(`keep_fraction` x active)) places; the
  rest are dropped (not coded as zeros of a dense tensor: they are simply absent).
- **Value.** With vmax = 2^bits - 1 for the model's input bits (1, 2, 4 or 8):
  ``"modulation"``: value_r = max(1, round_half_up(vmax x mod^r)) (the mod^rank weighting above,
  quantised); ``"linear"``: value_r = 1 + floor((vmax - 1)(K - 1 - r)/(K - 1)) (vmax at rank 0,
  1 at the last kept rank). Values never increase with rank, rank 0 gets vmax, and a kept place
  never gets 0, which means "no event" to an `InputData` layer.
- **Output.** A ranked event list (`RANKED_EVENT_DTYPE`, in rank order, each place's first event
  with its `rank` and `value`), or the dense (H, W, C) uint8 tensor with the values scattered in
  (``to_dense(ranked, shape, bits, mode="value")`` of the event list, exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import (
    POLARITY_MODES,
    RANKED_EVENT_DTYPE,
    _check_events,
    _check_shape,
    flat_index,
    to_dense,
)
from akida_edge.numba_config import kernel

MODES = ("modulation", "linear")
OUTPUTS = ("events", "dense")


@dataclass(frozen=True)
class RocParams:
    """Rank-order coding settings: input `bits` of the model, value `mode`, truncation."""

    bits: int = 4
    mode: str = "modulation"
    mod: float = 0.9
    max_events: int | None = None
    keep_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.bits not in (1, 2, 4, 8) or isinstance(self.bits, bool):
            raise ConfigError(f"RocParams.bits={self.bits!r}: use the model's input bits, 1, 2, 4 or 8")
        if self.mode not in MODES:
            raise ConfigError(f"RocParams.mode={self.mode!r}: use one of {', '.join(MODES)}")
        if not (isinstance(self.mod, (int, float)) and 0.0 < self.mod < 1.0):
            raise ConfigError(f"RocParams.mod={self.mod!r}: the modulation factor must lie in (0, 1)")
        if self.max_events is not None and (isinstance(self.max_events, bool) or
                                            not isinstance(self.max_events, (int, np.integer)) or
                                            self.max_events < 1):
            raise ConfigError(f"RocParams.max_events={self.max_events!r}: an integer >= 1, or None for all")
        if self.keep_fraction is not None and not (isinstance(self.keep_fraction, (int, float))
                                                   and 0.0 < self.keep_fraction <= 1.0):
            raise ConfigError(f"RocParams.keep_fraction={self.keep_fraction!r}: a number in (0, 1], or None")

    def n_keep(self, n_active: int) -> int:
        """How many of `n_active` ranked places are kept."""
        k = int(n_active)
        if self.keep_fraction is not None:
            k = min(k, math.ceil(round(self.keep_fraction * n_active, 9)))  # round: 0.1*30 is 3, not 4
        if self.max_events is not None:
            k = min(k, int(self.max_events))
        return k


def rank_values(n_kept: int, params: RocParams) -> np.ndarray:
    """The uint8 value of ranks 0..n_kept-1 (see the module docstring), never 0, non-increasing."""
    vmax = (1 << params.bits) - 1
    r = np.arange(n_kept, dtype=np.int64)
    if params.mode == "linear":
        if n_kept <= 1:
            return np.full(n_kept, vmax, np.uint8)
        return (1 + ((vmax - 1) * (n_kept - 1 - r)) // (n_kept - 1)).astype(np.uint8)
    values = np.ones(n_kept, np.uint8)
    # Beyond r_one every value is 1 (vmax * mod^r < 1.5): compute the powers only up to there.
    r_one = min(n_kept, int(math.ceil(math.log(1.5 / vmax) / math.log(params.mod))) + 2 if vmax > 1 else 1)
    q = np.floor(vmax * np.power(params.mod, r[:r_one].astype(np.float64)) + 0.5)
    values[:r_one] = np.maximum(q, 1).astype(np.uint8)
    return values


# ----------------------------------------------------------------------------------------- events


@kernel()
def _strength_kernel(x, y, c, p, h, w, ch, split, weights, use_weights):
    """Places in order of first appearance, with their first event and strength.

    A place is (y * w + x) * ch + channel, channel = 2c + (p < 0) when `split`, else c. Returns
    (appear, first, count, strength, bad): per appearing place its index, first event index,
    event count and summed weight (empty without weights); `bad` is the index of the first
    event outside the grid, or -1. The per-place scratch is one int32 count (cache friendly).
    """
    n_loc = h * w * ch
    count_at = np.zeros(n_loc, np.int32)
    slot_at = np.empty(n_loc if use_weights else 0, np.int32)  # valid where count_at > 0
    appear = np.empty(x.shape[0], np.int64)
    first = np.empty(x.shape[0], np.int64)
    strength = np.zeros(x.shape[0] if use_weights else 0, np.float64)
    m = 0
    for j in range(x.shape[0]):
        xj = np.int64(x[j])
        yj = np.int64(y[j])
        cj = np.int64(c[j])
        if split:
            cj = 2 * cj + (1 if p[j] < 0 else 0)
        if xj >= w or yj >= h or cj >= ch:
            return appear[:m], first[:m], np.zeros(0, np.int64), strength[:0], j
        lj = (yj * w + xj) * ch + cj
        if count_at[lj] == 0:
            if use_weights:
                slot_at[lj] = m
            appear[m] = lj
            first[m] = j
            m += 1
        count_at[lj] += 1
        if use_weights:
            strength[slot_at[lj]] += weights[j]
    count = np.empty(m, np.int64)
    for a in range(m):
        count[a] = count_at[appear[a]]
    return appear[:m], first[:m], count, strength[:m], -1


@kernel()
def _order_by_count(count):
    """Stable counting sort of positions 0..m-1 by count, descending."""
    m = count.shape[0]
    cmax = 0
    for a in range(m):
        if count[a] > cmax:
            cmax = count[a]
    start = np.zeros(cmax + 2, np.int64)
    for a in range(m):
        start[cmax - count[a] + 1] += 1
    for b in range(cmax + 1):
        start[b + 1] += start[b]
    order = np.empty(m, np.int64)
    for a in range(m):
        b = cmax - count[a]
        order[start[b]] = a
        start[b] += 1
    return order


@kernel()
def _emit_kernel(t, x, y, c, p, first, order, values, o_t, o_x, o_y, o_c, o_p, o_rank, o_value):
    """Ranked output: for rank r, the first event of place order[r] with rank and value."""
    for r in range(o_t.shape[0]):
        j = first[order[r]]
        o_t[r] = t[j]
        o_x[r] = x[j]
        o_y[r] = y[j]
        o_c[r] = c[j]
        o_p[r] = p[j]
        o_rank[r] = r
        o_value[r] = values[r]


def _check_weights(events: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    _check_events(events)
    if weights is None:
        return np.zeros(0)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != events.shape or not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
        raise InputDataError(
            f"ROC weights must be finite, >= 0 and one per event ({events.size}); got shape {w.shape}"
        )
    return w


def _finish(ranked: np.ndarray, shape: tuple[int, int, int], params: RocParams, polarity: str,
            output: str) -> np.ndarray:
    if output == "events":
        return ranked
    return to_dense(ranked, shape, params.bits, mode="value", polarity=polarity)


def rank_events(
    events: np.ndarray, shape: tuple[int, int, int], params: RocParams, *,
    weights: np.ndarray | None = None, polarity: str = "split", output: str = "events",
) -> np.ndarray:
    """Rank-order code one window of events (numba). See the module docstring.

    Parameters
    ----------
    events : EVENT_DTYPE or RANKED_EVENT_DTYPE array, one window (sorted by t for time tie-breaks).
    shape : (H, W, C) of the place grid / output tensor (C counts ON and OFF when split).
    params : truncation, value mode and input bits.
    weights : optional per-event magnitude (>= 0); strength is then its sum per place instead of
        the event count (a place with events stays active even if its sum is 0: it ranks last).
        Ties in strength keep first-appearance order either way.
    output : ``"events"`` (ranked list, rank order) or ``"dense"`` ((H, W, C) uint8 tensor).
    """
    if output not in OUTPUTS:
        raise InputDataError(f"ROC output={output!r}: use one of {', '.join(OUTPUTS)}")
    w = _check_weights(events, weights)
    h, wd, ch = _check_shape(shape)
    if polarity not in POLARITY_MODES:
        raise InputDataError(f"polarity={polarity!r} is not one of {POLARITY_MODES}")
    fields = (events["x"], events["y"], events["c"], events["p"])
    appear, first, count, strength, bad = _strength_kernel(
        *fields, h, wd, ch, polarity == "split", w, weights is not None)
    if bad >= 0:
        flat_index(events[bad:bad + 1], shape, polarity)  # raises the one-line error naming the event
    if weights is None:
        order = _order_by_count(count)
    else:
        order = np.argsort(-strength, kind="stable")
    k = params.n_keep(appear.size)
    ranked = np.empty(k, RANKED_EVENT_DTYPE)
    _emit_kernel(*(events[f] for f in ("t", "x", "y", "c", "p")), first, order[:k],
                 rank_values(k, params), *(ranked[f] for f in RANKED_EVENT_DTYPE.names))
    return _finish(ranked, shape, params, polarity, output)


def rank_events_numpy(events: np.ndarray, shape: tuple[int, int, int], params: RocParams, *,
                      weights: np.ndarray | None = None, polarity: str = "split",
                      output: str = "events") -> np.ndarray:
    """Vectorised NumPy twin of `rank_events` (identical output; the benchmark baseline)."""
    if output not in OUTPUTS:
        raise InputDataError(f"ROC output={output!r}: use one of {', '.join(OUTPUTS)}")
    w = _check_weights(events, weights)
    loc = flat_index(events, shape, polarity)
    places, first, count = np.unique(loc, return_index=True, return_counts=True)
    if weights is None:
        strength = count.astype(np.float64)
    else:
        strength = np.bincount(loc, weights=w, minlength=int(places.max(initial=0)) + 1)[places]
    by_appearance = np.argsort(first, kind="stable")
    order = by_appearance[np.argsort(-strength[by_appearance], kind="stable")]
    k = params.n_keep(places.size)
    src = events[first[order[:k]]]
    ranked = np.zeros(k, RANKED_EVENT_DTYPE)
    for name in ("t", "x", "y", "c", "p"):
        ranked[name] = src[name]
    ranked["rank"] = np.arange(k)
    ranked["value"] = rank_values(k, params)
    return _finish(ranked, shape, params, polarity, output)


# ------------------------------------------------------------------------------------ feature maps


def rank_features(
    features: np.ndarray, params: RocParams, *, t_us: int = 0, output: str = "events"
) -> np.ndarray:
    """Rank-order code a dense feature map (strength = value; <= 0 means no event).

    `features` is (N,), (H, W) or (H, W, C). Ranked events carry x, y, c from the position
    ((N,): x = index; (H, W): y, x, c = 0), p = +1 and t = `t_us`; ``output="dense"`` gives a
    uint8 array of the same shape with the values scattered in. Ties: lower flat index first.
    """
    if output not in OUTPUTS:
        raise InputDataError(f"ROC output={output!r}: use one of {', '.join(OUTPUTS)}")
    f = np.asarray(features)
    if f.ndim not in (1, 2, 3) or f.size == 0 or not np.issubdtype(f.dtype, np.number):
        raise InputDataError(
            f"ROC features must be a non-empty numeric (N,), (H, W) or (H, W, C) array; got {f.shape}"
        )
    flat = f.reshape(-1).astype(np.float64)
    if not np.all(np.isfinite(flat)):
        raise InputDataError("ROC features must be finite (no NaN or inf)")
    active = np.flatnonzero(flat > 0)
    order = active[np.argsort(-flat[active], kind="stable")]
    k = params.n_keep(order.size)
    kept = order[:k]
    values = rank_values(k, params)
    if output == "dense":
        dense = np.zeros(f.size, np.uint8)
        dense[kept] = values
        return dense.reshape(f.shape)
    shape3 = f.shape if f.ndim == 3 else (f.shape + (1,) if f.ndim == 2 else (1,) + f.shape + (1,))
    y, x, c = np.unravel_index(kept, shape3)
    if max(shape3) > np.iinfo(np.uint16).max:
        raise InputDataError(f"ROC feature map {f.shape} is too large for uint16 event coordinates")
    ranked = np.zeros(k, RANKED_EVENT_DTYPE)
    ranked["t"] = int(t_us)
    ranked["x"], ranked["y"], ranked["c"] = x, y, c
    ranked["p"] = 1
    ranked["rank"] = np.arange(k)
    ranked["value"] = values
    return ranked
