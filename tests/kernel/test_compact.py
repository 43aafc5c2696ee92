"""Event compaction four channels at a time (`kernels_compact.compact4`): the permuted (AVX2) and
the lane-by-lane form, forced, against a NumPy listing of the non-zero channels, on random
positions of every density, channel counts that are multiples of 4, and offsets of both signs;
and the permutation table. The line compaction by byte masks (`compact_row`: `nonzero_mask`, the
fixed steps of `emit4` up to `EMIT_SLOTS` events per block, `compact4` above) in each block width
and with several blocks per position, along rows or (as the gather kernel) columns, its position
starts included; `emit4` alone on every mask of up to `EMIT_SLOTS` bits; the input event count by
byte masks (`count_nonzero`)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine.kernels_compact import (
    EMIT_SLOTS,
    HAS_PERMD,
    PACK4,
    compact_row,
    count_nonzero,
    emit4,
    make_compact4,
    nonzero_mask,
)

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


@numba.njit(cache=False)
def _lines(x, ev, pstart, width, rows, wd, channels, base, pstep, fstep, by_column):
    """The compaction of a (rows, wd, channels) map one call per line: per row (positions in
    row-major order), or per column as the gather kernel runs it (column-major order)."""
    e = 0
    lines, length = (wd, rows) if by_column else (rows, wd)
    xstep = wd * channels if by_column else channels
    for r in range(lines):
        line_base = base + r * length * pstep
        x0 = r * channels if by_column else r * wd * channels
        if width == 32:
            e = compact_row(32, x, ev, PACK4, pstart, r * length, length, channels, e, line_base, pstep,
                            fstep, x0, xstep)
        elif width == 16:
            e = compact_row(16, x, ev, PACK4, pstart, r * length, length, channels, e, line_base, pstep,
                            fstep, x0, xstep)
        else:
            e = compact_row(8, x, ev, PACK4, pstart, r * length, length, channels, e, line_base, pstep,
                            fstep, x0, xstep)
    pstart[rows * wd] = e
    return e


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), width=st.sampled_from([8, 16, 32]), blocks=st.integers(1, 3),
       rows=st.integers(1, 4), wd=st.integers(1, 9),
       density=st.sampled_from([0.0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.7, 1.0]),
       base=st.integers(-2**20, 2**20), fstep=st.sampled_from([256, 4096, 16 * 256]),
       by_column=st.booleans())
def test_line_compaction_lists_the_events_and_position_starts(seed, width, blocks, rows, wd, density, base,
                                                              fstep, by_column):
    rng = np.random.default_rng(seed)
    channels = width * blocks
    positions = rows * wd
    x = rng.integers(1, 256, size=positions * channels).astype(np.uint8)
    x[rng.random(x.size) >= density] = 0
    pstep = channels * fstep + 7 * 256  # positions apart by more than their channels
    order = x.reshape(rows, wd, channels).transpose(1, 0, 2) if by_column else x.reshape(rows, wd, channels)
    flat = order.reshape(-1).astype(np.int64)  # the positions in the order they are listed
    idx = np.flatnonzero(flat)
    pos, c = idx // channels, idx % channels
    want = base + pos * pstep + c * fstep + flat[idx]
    want_starts = np.searchsorted(pos, np.arange(positions + 1))
    ev = np.full(x.size + 3, -1, np.int64)
    pstart = np.full(positions + 1, -1, np.int64)
    n = _lines(x, ev, pstart, width, rows, wd, channels, base, pstep, fstep, by_column)
    assert n == want.size
    assert np.array_equal(ev[:n], want)
    assert np.array_equal(pstart, want_starts)


@numba.njit(cache=False)
def _emit(x, ev, x0, m, e0, base, fstep):
    return emit4(x, ev, x0, m, e0, base, fstep)


@numba.njit(cache=False)
def _mask(x, x0, width):
    if width == 32:
        return nonzero_mask(x, x0, 32)
    if width == 16:
        return nonzero_mask(x, x0, 16)
    return nonzero_mask(x, x0, 8)


def test_emit_lists_every_mask_of_few_bits(rng):
    """Every mask of 1 to `EMIT_SLOTS` bits among 32 channels (a sample of them): exactly its
    channels' entries in order, the returned end past them; the byte mask of the same block."""
    masks = [sum(1 << int(c) for c in rng.choice(32, k, replace=False))
             for k in range(1, EMIT_SLOTS + 1) for _ in range(100)]
    masks += [1 << k for k in range(32)] + [(1 << 31) | 1, 0b1111 << 28, 0b1111]
    for m in masks:
        bits = [c for c in range(32) if int(m) >> c & 1]
        x = np.zeros(40, np.uint8)
        x[3 + np.array(bits)] = rng.integers(1, 256, size=len(bits))
        assert _mask(x, 3, 32) == int(m)
        assert _mask(x, 3, 16) == int(m) & 0xFFFF
        assert _mask(x, 3, 8) == int(m) & 0xFF
        ev = np.full(10, -1, np.int64)
        end = _emit(x, ev, 3, int(m), 2, -5000, 512)
        assert end == 2 + len(bits)
        want = [-5000 + c * 512 + int(x[3 + c]) for c in bits]
        assert ev[2:end].tolist() == want
        assert (ev[:2] == -1).all() and (ev[2 + EMIT_SLOTS:] == -1).all()  # nothing outside the slots


@numba.njit(cache=False)
def _count(x):
    return count_nonzero(x)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 300), offset=st.integers(0, 40),
       density=st.sampled_from([0.0, 0.03, 0.1, 0.5, 1.0]))
def test_count_is_the_non_zero_bytes(seed, size, offset, density):
    """Sizes below, at and past multiples of 32, on a slice at any alignment."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 256, size=size + offset).astype(np.uint8)
    x[rng.random(x.size) >= density] = 0
    assert _count(x[offset:]) == np.count_nonzero(x[offset:])
