"""numba kernels of edge learning (the rule itself is documented in `learning.py`).

Kernels hold no policy (STYLE.md §3): `learning.py` validates, converts dtypes and allocates;
every setting arrives as an argument; randomness is a splitmix64 state in a one-element uint64
array, advanced in place, so a run is reproducible from the stored state alone.
All integer arithmetic is exact; the only floats are plasticity (float64) and the two products
that use it, rounded on purpose (`floor(x + 0.5)` for the swap count, `ceil` for the threshold).
"""

from __future__ import annotations

import numpy as np

from akida_edge.numba_config import kernel

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@kernel()
def _next_u64(rng_state: np.ndarray) -> np.uint64:
    """splitmix64 (Steele, Lea & Flood 2014): advance the state and return 64 random bits."""
    rng_state[0] += _GOLDEN  # uint64 wrap-around is intended
    z = rng_state[0]
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@kernel()
def _below(rng_state: np.ndarray, n: int) -> int:
    """A random integer in [0, n) (modulo bias < n / 2^64, negligible for n < 2^20)."""
    return int(_next_u64(rng_state) % np.uint64(n))


@kernel()
def _shuffle_prefix(items: np.ndarray, count: int, k: int, rng_state: np.ndarray) -> None:
    """Partial Fisher-Yates: items[:k] becomes a uniform random k-subset of items[:count]."""
    for i in range(k):
        j = i + _below(rng_state, count - i)
        items[i], items[j] = items[j], items[i]


@kernel()
def init_columns(weights: np.ndarray, start: int, num_weights: int, rng_state: np.ndarray) -> None:
    """Give columns start.. of `weights` (n_in, units) exactly `num_weights` ones at random rows."""
    n_in, units = weights.shape
    rows = np.empty(n_in, np.int64)
    for j in range(start, units):
        for i in range(n_in):
            rows[i] = i
            weights[i, j] = 0
        _shuffle_prefix(rows, n_in, num_weights, rng_state)
        for k in range(num_weights):
            weights[rows[k], j] = 1


@kernel()
def fit_kernel(features: np.ndarray, labels: np.ndarray, weights: np.ndarray, thr: np.ndarray,
               plast: np.ndarray, learn_count: np.ndarray, counts: np.ndarray, rng_state: np.ndarray,
               group_size: int, num_weights: int, competition: float, initial_p: float,
               min_p: float, decay: float, rule: int, winners: np.ndarray) -> None:
    """Learn the samples one after another (in order); winners[s] = neuron that learned, or -1.

    features (N, n_in) uint8 0/1; labels (N,) int64, -1 = unlabelled (all neurons compete);
    weights (n_in, units) uint8; thr (units,) int32; plast (units,) float64; learn_count int32;
    counts (n_in, units) int32, used by rule 1 only. rule 0: the AKD1000 swap; rule 1: counts.
    """
    n, n_in = features.shape
    units = weights.shape[1]
    active = np.empty(n_in, np.int64)
    gain = np.empty(n_in, np.int64)  # active inputs without a weight
    loss = np.empty(n_in, np.int64)  # weights on inactive inputs
    pot = np.zeros(units, np.int64)
    for s in range(n):
        winners[s] = -1
        a = 0
        for i in range(n_in):
            if features[s, i]:
                active[a] = i
                a += 1
        if a == 0:
            continue  # nothing to learn from an empty sample
        lo, hi = 0, units
        if labels[s] >= 0:
            lo = labels[s] * group_size
            hi = lo + group_size
        # potential = popcount(x AND w), over the candidates only
        for j in range(lo, hi):
            pot[j] = 0
        for k in range(a):
            row = active[k]
            for j in range(lo, hi):
                pot[j] += weights[row, j]
        best_learned, best_fresh = -1, -1
        for j in range(lo, hi):
            if plast[j] <= 0.0:
                continue  # plasticity 0: this neuron no longer learns
            if thr[j] > 0:
                if best_learned < 0 or pot[j] > pot[best_learned]:
                    best_learned = j
            elif best_fresh < 0 or pot[j] > pot[best_fresh]:
                best_fresh = j
        win = best_fresh
        if best_learned >= 0:
            t = thr[best_learned]
            theta = t + (1.0 - competition) * (num_weights + 1 - t)
            if best_fresh < 0 or pot[best_learned] >= theta:
                win = best_learned
        if win < 0:
            continue
        if rule == 1:
            p_after = _learn_counts(features, s, weights, counts, win, num_weights, rng_state)
        else:
            p_after = _learn_swap(features, s, weights, win, pot[win], plast[win], gain, loss,
                                  rng_state)
        plast[win] = max(min_p, plast[win] - decay * initial_p)
        new_thr = max(1, int(np.ceil((1.0 - plast[win]) * p_after)))
        if new_thr > thr[win]:
            thr[win] = new_thr
        learn_count[win] += 1
        winners[s] = win


@kernel()
def _learn_swap(features: np.ndarray, s: int, weights: np.ndarray, win: int, pot: int, plast: float,
                gain: np.ndarray, loss: np.ndarray, rng_state: np.ndarray) -> int:
    """The AKD1000 rule's update; returns the winner's potential after it."""
    n_in = weights.shape[0]
    # move a plasticity-sized share of the ones from inactive to active inputs
    n_gain, n_loss = 0, 0
    for i in range(n_in):
        if features[s, i]:
            if weights[i, win] == 0:
                gain[n_gain] = i
                n_gain += 1
        elif weights[i, win] != 0:
            loss[n_loss] = i
            n_loss += 1
    movable = min(n_gain, n_loss)
    n_swap = min(movable, int(np.floor(plast * movable + 0.5)))
    _shuffle_prefix(gain, n_gain, n_swap, rng_state)
    _shuffle_prefix(loss, n_loss, n_swap, rng_state)
    for k in range(n_swap):
        weights[gain[k], win] = 1
        weights[loss[k], win] = 0
    return pot + n_swap


@kernel()
def _learn_counts(features: np.ndarray, s: int, weights: np.ndarray, counts: np.ndarray, win: int,
                  num_weights: int, rng_state: np.ndarray) -> int:
    """The counts rule's update: count the sample's active inputs, then put the neuron's
    num_weights ones on its most counted inputs (ties: inputs already holding a one first, then
    at random). Returns the winner's potential after it."""
    n_in = weights.shape[0]
    key = np.empty(n_in, np.float64)
    for i in range(n_in):
        if features[s, i]:
            counts[i, win] += 1
        # count first; then an existing one (0.5); then a random tie-break in [0, 0.25)
        u = float(_next_u64(rng_state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        key[i] = counts[i, win] + 0.5 * weights[i, win] + 0.25 * u
    order = np.argsort(-key)
    for i in range(n_in):
        weights[i, win] = 0
    p_after = 0
    for k in range(num_weights):
        weights[order[k], win] = 1
        p_after += features[s, order[k]]
    return p_after
