"""The engine's batch split (`engine/batch_split.py`): parts in a shared thread pool, also after a fork."""

from __future__ import annotations

from multiprocessing import get_context

import numpy as np

from akida_edge.engine import batch_split


def _run(part: np.ndarray, counts: np.ndarray) -> np.ndarray:
    counts[0, 0] += part.shape[0]
    return part * 2


def _split_sum(seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).integers(0, 100, (40, 3))
    return batch_split.run_split(_run, x, 1, workers=2)


def test_parts_run_in_order_and_their_counts_add_up():
    x = np.random.default_rng(1).integers(0, 100, (40, 3))
    out, counts = batch_split.run_split(_run, x, 1, workers=2)
    np.testing.assert_array_equal(out, x * 2)
    assert counts[0, 0] == 40 and counts.shape == (1, 3)


def test_a_process_forked_after_a_split_batch_runs_its_own():
    """The parent's pool is inherited without its threads: the child must not wait on them."""
    parent = _split_sum(2)  # the parent's pool now exists and has threads
    assert batch_split._pool is not None
    with get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_split_sum, (2,)).get(timeout=60)  # hung forever before the fix
    np.testing.assert_array_equal(child[0], parent[0])
    np.testing.assert_array_equal(child[1], parent[1])
