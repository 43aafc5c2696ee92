"""Event compaction four channels at a time (`kernels_compact.compact4`): the permuted (AVX2) and
the lane-by-lane form, forced, against a NumPy listing of the non-zero channels, on random
positions of every density, channel counts that are multiples of 4, and offsets of both signs;
and the permutation table."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine.kernels_compact import HAS_PERMD, PACK4, make_compact4

pytestmark = pytest.mark.kernel

FORMS = [False, True] if HAS_PERMD else [False]


def _lister(permd: bool):
    compact = make_compact4(permd)

    @numba.njit(cache=False)
    def run(x, ev, table, channels, base, fstep):
        e = 0
        for p in range(x.size // channels):  # one call per position, as the gather kernel
            e = compact(x, ev, table, p * channels, channels // 4, e, base + p * 1000 * fstep, fstep)
        return e

    return run


_RUNNERS = {permd: _lister(permd) for permd in FORMS}


def _expected(x: np.ndarray, channels: int, base: int, fstep: int) -> np.ndarray:
    flat = x.astype(np.int64)
    idx = np.flatnonzero(flat)
    pos, c = idx // channels, idx % channels
    return base + pos * 1000 * fstep + c * fstep + flat[idx]


def test_table_moves_the_kept_lanes_to_the_front():
    for m in range(16):
        kept = [k for k in range(4) if m >> k & 1]
        pairs = PACK4[m].reshape(4, 2)
        assert np.array_equal(pairs[:len(kept), 0], 2 * np.array(kept, int))
        assert np.array_equal(pairs[:, 1], pairs[:, 0] + 1)


@pytest.mark.parametrize("permd", FORMS)
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels=st.sampled_from([4, 8, 16, 32, 64]),
       positions=st.integers(1, 40), density=st.sampled_from([0.0, 0.03, 0.1, 0.3, 0.7, 1.0]),
       base=st.integers(-2**20, 2**20), fstep=st.sampled_from([256, 4096, 16 * 256]))
def test_compaction_lists_the_non_zero_channels_in_order(permd, seed, channels, positions, density, base,
                                                         fstep):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 256, size=positions * channels).astype(np.uint8)
    x[rng.random(x.size) >= density] = 0
    want = _expected(x, channels, base, fstep)
    ev = np.full(x.size + 3, -1, np.int64)
    n = _RUNNERS[permd](x, ev, PACK4, channels, base, fstep)
    assert n == want.size
    assert np.array_equal(ev[:n], want)
