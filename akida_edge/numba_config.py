"""The one place that configures numba for akida-edge (STYLE.md §4).

Policy:

- every kernel is compiled with `cache=True` (compiled machine code is kept on disk next to the
  module, so a second process starts fast) and `nogil=True` (so a thread pool can run kernels on
  several cores at once: that is how batches use both cores);
- `fastmath` is off: the engine's results must be bit-exact, and the kernels are integer code;
- `parallel=True` is NOT used: combined with `cache=True` it ties the cached code to a thread
  count, and measurements showed that a two-worker thread pool over batch halves scales as well
  as `prange` on this engine (see `bench/engine.py`);
- settings reach kernels as arguments, never as module globals (numba freezes globals at
  compile time);
- loading a model warms its kernels once (`execute.warm`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numba

KERNEL_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "boundscheck": False}


def kernel(*signatures: Any, **overrides: Any) -> Callable:
    """`numba.njit` with the project policy; `overrides` may only tighten it (e.g. `inline`)."""
    bad = {k for k in overrides if k in ("fastmath", "parallel", "cache")}
    if bad:
        raise ValueError(f"numba policy: {sorted(bad)} may not be overridden per kernel")
    options = {**KERNEL_OPTIONS, **overrides}
    if signatures:
        return numba.njit(list(signatures) if len(signatures) > 1 else signatures[0], **options)
    return numba.njit(**options)


def batch_workers() -> int:
    """Threads a batch is split over: the usable cores, or `AKIDA_EDGE_THREADS` when set (≥ 1)."""
    env = os.environ.get("AKIDA_EDGE_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)
