"""The edge-learning rule written literally in plain Python: the definition the kernels must match.

`learning_kernels.fit_kernel` is tested bit for bit against `fit` here (weights, thresholds,
plasticity, counts, random state, winners) on random models and samples (STYLE.md §2). The rule
and its parameters are documented in `learning.py`; this file follows its steps one for one and
draws the same random numbers in the same order. It is slow (pure Python) and is never used to
run a model.
"""

from __future__ import annotations

import math

import numpy as np

MASK64 = (1 << 64) - 1


class SplitMix64:
    """splitmix64 (Steele, Lea & Flood 2014) on Python integers, sharing the kernels' state array."""

    def __init__(self, state: np.ndarray) -> None:
        self.array = state
        self.state = int(state[0])

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        self.array[0] = np.uint64(self.state)
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def subset(self, items: list[int], k: int) -> list[int]:
        """A uniform random k-subset (partial Fisher-Yates, as the kernel)."""
        items = list(items)
        for i in range(k):
            j = i + self.below(len(items) - i)
            items[i], items[j] = items[j], items[i]
        return items[:k]


def init_columns(weights: np.ndarray, start: int, num_weights: int, rng_state: np.ndarray) -> None:
    rng = SplitMix64(rng_state)
    n_in, units = weights.shape
    for j in range(start, units):
        weights[:, j] = 0
        for row in rng.subset(list(range(n_in)), num_weights):
            weights[row, j] = 1


def fit(features: np.ndarray, labels: np.ndarray, weights: np.ndarray, thr: np.ndarray,
        plast: np.ndarray, learn_count: np.ndarray, counts: np.ndarray, rng_state: np.ndarray,
        group_size: int, num_weights: int, competition: float, initial_p: float, min_p: float,
        decay: float, rule: int, winners: np.ndarray) -> None:
    """Same arguments and effects as `learning_kernels.fit_kernel` (arrays updated in place)."""
    rng = SplitMix64(rng_state)
    n_in, units = weights.shape
    for s in range(len(features)):
        winners[s] = -1
        x = [int(v) for v in features[s]]
        active = [i for i in range(n_in) if x[i]]
        if not active:  # step 1: an empty sample teaches nothing
            continue
        # step 2: candidates
        lo, hi = (0, units) if labels[s] < 0 else (labels[s] * group_size, (labels[s] + 1) * group_size)
        cand = [j for j in range(lo, hi) if plast[j] > 0.0]
        pot = {j: sum(int(weights[i, j]) for i in active) for j in cand}
        learned = [j for j in cand if thr[j] > 0]
        fresh = [j for j in cand if thr[j] == 0]
        # step 3: the winner (max() keeps the first of equal potentials: the lowest index)
        best_learned = max(learned, key=lambda j: pot[j]) if learned else -1
        best_fresh = max(fresh, key=lambda j: pot[j]) if fresh else -1
        win = best_fresh
        if best_learned >= 0:
            t = int(thr[best_learned])
            theta = t + (1.0 - competition) * (num_weights + 1 - t)
            if best_fresh < 0 or pot[best_learned] >= theta:
                win = best_learned
        if win < 0:
            continue
        # step 4: the update
        if rule == 1:
            for i in active:
                counts[i, win] += 1
            keys = []
            for i in range(n_in):
                u = (rng.next() >> 11) * (1.0 / 9007199254740992.0)
                keys.append(float(counts[i, win]) + 0.5 * float(weights[i, win]) + 0.25 * u)
            top = sorted(range(n_in), key=lambda i: -keys[i])[:num_weights]
            weights[:, win] = 0
            weights[top, win] = 1
            p_after = sum(x[i] for i in top)
        else:
            gain = [i for i in range(n_in) if x[i] and weights[i, win] == 0]
            loss = [i for i in range(n_in) if not x[i] and weights[i, win] != 0]
            movable = min(len(gain), len(loss))
            n_swap = min(movable, int(math.floor(float(plast[win]) * movable + 0.5)))
            to_gain, to_lose = rng.subset(gain, n_swap), rng.subset(loss, n_swap)
            for i in to_gain:
                weights[i, win] = 1
            for i in to_lose:
                weights[i, win] = 0
            p_after = pot[win] + n_swap
        # step 5: plasticity and learning threshold
        plast[win] = max(min_p, float(plast[win]) - decay * initial_p)
        thr[win] = max(int(thr[win]), 1, int(math.ceil((1.0 - float(plast[win])) * p_after)))
        learn_count[win] += 1
        winners[s] = win
