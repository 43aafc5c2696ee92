"""Splitting a batch over the cores: contiguous parts run in one shared thread pool.

The kernels release the GIL, so a batch runs as `workers` contiguous parts in parallel threads,
one part per usable core (`numba_config.batch_workers`, or `AKIDA_EDGE_THREADS`), each part
adding its activity to its own counts array; the parts' outputs are concatenated in order and
their counts summed (integers: the same totals as one pass). A batch of fewer than `MIN_SPLIT`
samples per worker runs in the calling thread, where a split costs more than it saves. While
the pool runs, BLAS is held to one thread (`numba_config.blas_threads`): the pool already
occupies the cores.

A process forked after a batch ran (a `multiprocessing` fork pool, as the data set builders and
`bench learn` use) inherits the pool object but not its threads: the child forgets it at the fork
(`os.register_at_fork`) and builds its own on its first split batch, instead of waiting forever on
threads that do not exist.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from akida_edge import numba_config

MIN_SPLIT = 4  # samples per worker below which splitting a batch costs more than it saves

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: the parent's pool has no threads here (module docstring)."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def split_workers(n: int) -> int:
    """Threads a batch of n samples is split over: 1 (the calling thread) below 2·`MIN_SPLIT`."""
    return min(numba_config.batch_workers(), n // MIN_SPLIT) if n >= 2 * MIN_SPLIT else 1


def executor(workers: int) -> ThreadPoolExecutor:
    """The process's engine thread pool, rebuilt when the number of workers changes."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers != workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="akida-edge-engine")
        return _pool


def run_split(run: Callable[[np.ndarray, np.ndarray], np.ndarray], x: np.ndarray, count_rows: int,
              workers: int) -> tuple[np.ndarray, np.ndarray]:
    """run(part, counts) on `workers` contiguous parts of x in the pool; the outputs concatenated
    in order and the (count_rows, 3) int64 counts summed over the parts."""
    n = x.shape[0]
    bounds = np.linspace(0, n, workers + 1).astype(int)
    parts = [(x[a:b], np.zeros((count_rows, 3), np.int64))
             for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    with numba_config.blas_threads(1):  # the pool already occupies the cores
        futures = [executor(workers).submit(run, part, c) for part, c in parts]
        outs = [f.result() for f in futures]
    return np.concatenate(outs), sum(c for _, c in parts)
