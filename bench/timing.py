"""Timing helpers shared by the suites: best-of-N wall time, thread pinning."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best (minimum) wall time of `number` calls of `fn`, over `repeat` runs, in seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best
