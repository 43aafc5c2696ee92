"""Timing helpers shared by the suites: best-of-N wall time, thread pinning."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(
    fn: Callable[[], object], repeat: int = 5, number: int = 1, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Best (minimum) time of `number` calls of `fn`, over `repeat` runs, in seconds per call.

    `clock` is wall time by default; ``time.thread_time`` gives the calling thread's CPU time (what
    one core gives when the machine is shared).
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        for _ in range(number):
            fn()
        best = min(best, (clock() - t0) / number)
    return best
