"""The depthwise row sweep's nine taps in vectors (`kernels_sweep.sweep3x3`, `weight_blocks`), the
view-free copy (`kernels_copy.copy_into`), and `kernels_f32.depthwise_f32_kernel` with them (row
sweeps, 3 × 3, channel counts on and off the vector lanes) against NumPy's exact int64 sums and
against its own event path (sums, non-zero count and activity counts)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from akida_edge.engine.kernels import tile_depthwise
from akida_edge.engine.kernels_copy import copy_into
from akida_edge.engine.kernels_f32 import depthwise_f32_kernel
from akida_edge.engine.kernels_sweep import VECTOR_BYTES, sweep3x3, weight_blocks

pytestmark = pytest.mark.kernel

DTYPES = [np.float32, np.int16]


@numba.njit(cache=False)
def _sweep_rows(xp, w_blocks, out, c_in, ow):
    counts = np.zeros(out.shape[0], np.int64)
    for oy in range(out.shape[0]):
        counts[oy] = sweep3x3(xp, w_blocks, out, oy, c_in, ow)
    return counts


def _taps(xp: np.ndarray, w_dw: np.ndarray, oh: int, ow: int, c: int) -> np.ndarray:
    """NumPy's exact sums out[oy, ox·C + c] of the zero-bordered xp (oh + 2, (ow + 2)·C)."""
    x = xp.astype(np.int64).reshape(oh + 2, ow + 2, c)
    out = np.zeros((oh, ow, c), np.int64)
    for ky in range(3):
        for kx in range(3):
            out += x[ky:ky + oh, kx:kx + ow] * w_dw[ky, kx].astype(np.int64)
    return out.reshape(oh, ow * c)


def _blocks(w_dw: np.ndarray, dtype) -> np.ndarray:
    c = w_dw.shape[2]
    lanes = VECTOR_BYTES // np.dtype(dtype).itemsize
    out = np.empty((c // lanes, 9, lanes), dtype)
    weight_blocks(w_dw.astype(dtype), out)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 2, 4])  # times the lanes
@pytest.mark.parametrize("ow", [1, 2, 5])
def test_sweep_gives_the_exact_sums_and_their_count(dtype, channels, ow):
    rng = np.random.default_rng(7 * channels + ow)
    c = channels * VECTOR_BYTES // np.dtype(dtype).itemsize
    oh = 4
    xp = np.zeros((oh + 2, (ow + 2) * c), dtype)
    inner = rng.integers(0, 16, size=(oh, ow * c)) * (rng.random((oh, ow * c)) < 0.3)
    xp[1:-1, c:-c] = inner
    w_dw = rng.integers(-8, 8, size=(3, 3, c))
    out = np.full((oh, ow * c), 99, dtype)
    counts = _sweep_rows(xp, _blocks(w_dw, dtype), out, c, ow)
    expected = _taps(xp, w_dw, oh, ow, c)
    np.testing.assert_array_equal(out.astype(np.int64), expected)
    np.testing.assert_array_equal(counts, (expected != 0).sum(axis=1))


def test_int16_sums_wrap_back_to_the_exact_sum():
    """Partial sums beyond int16 (3 · 255 · 127) wrap, and the wrapped total is the exact one when
    it fits (as `kernels.pair_ok` guarantees for the depthwise sums)."""
    c, ow, oh = 32, 3, 3
    xp = np.full((oh + 2, (ow + 2) * c), 255, np.int16)
    w_dw = np.zeros((3, 3, c), np.int64)
    w_dw[0], w_dw[1] = 127, -127  # a row of + taps and one of − taps: partial sums to ±97 155
    w_dw[2, 2, :8] = 1  # the total: 255 on the first eight channels, 0 elsewhere
    out = np.zeros((oh, ow * c), np.int16)
    _sweep_rows(xp, _blocks(w_dw, np.int16), out, c, ow)
    expected = _taps(xp, w_dw, oh, ow, c)
    assert 3 * 255 * 127 >= 2**15 and set(np.unique(expected)) == {0, 255}
    np.testing.assert_array_equal(out.astype(np.int64), expected)


def test_weight_blocks_put_each_blocks_nine_taps_side_by_side():
    c = 64
    w_dw = np.arange(9 * c).reshape(3, 3, c) % 251 - 125
    blocks = _blocks(w_dw, np.int16)
    assert blocks.shape == (2, 9, 32)
    for g in range(2):
        for k in range(9):
            np.testing.assert_array_equal(blocks[g, k], w_dw[k // 3, k % 3, 32 * g:32 * g + 32])


@numba.njit(cache=False)
def _copy(src, dst, s0, d0, n):
    copy_into(src, dst, s0, d0, n)


@pytest.mark.parametrize("pair", [(np.uint8, np.float32), (np.uint8, np.int16), (np.float32, np.float32)])
@pytest.mark.parametrize("n", [0, 1, 5, 63, 64, 65, 200])
def test_copy_into_copies_the_run_and_nothing_else(pair, n):
    src_t, dst_t = pair
    rng = np.random.default_rng(n)
    src = rng.integers(0, 256, size=(3, 100)).astype(src_t)
    dst = np.full((2, 150), -1, dst_t)
    s0, d0 = 37, 41
    _copy(src, dst, s0, d0, n)
    expected = np.full(300, -1, dst_t)
    expected[d0:d0 + n] = src.reshape(-1)[s0:s0 + n]
    np.testing.assert_array_equal(dst.reshape(-1), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [16, 20, 32, 64])  # on the lanes (float32 16, int16 32) and off them
@pytest.mark.parametrize("kernel", [3, 5])
def test_row_sweeps_match_numpy_and_the_event_path(dtype, c, kernel):
    rng = np.random.default_rng(c + kernel)
    n, h, w, pad = 3, 7, 5, kernel // 2
    x = (rng.integers(0, 16, size=(n, h, w, c)) * (rng.random((n, h, w, c)) < 0.4)).astype(np.uint8)
    x[1] = 0  # a silent sample between two others: xp's interior must not keep the first's values
    w_dw = rng.integers(-8, 8, size=(kernel, kernel, c)).astype(dtype)
    w_tile = tile_depthwise(w_dw, w)
    xpad = np.zeros((n, h + 2 * pad, w + 2 * pad, c), np.int64)
    xpad[:, pad:pad + h, pad:pad + w] = x
    expected = sum(xpad[:, ky:ky + h, kx:kx + w] * w_dw[ky, kx].astype(np.int64)
                   for ky in range(kernel) for kx in range(kernel))
    results = {}
    for rows in (True, False):
        dw = np.full((n, h, w, c), 7, dtype)
        xp = np.zeros((h + kernel - 1, (w + kernel - 1) * c), dtype)
        counts = np.zeros(3, np.int64)
        nonzero = depthwise_f32_kernel(x, w_dw, w_tile, pad, pad, 1, 1, rows, 9, dw, xp, counts)
        np.testing.assert_array_equal(dw.astype(np.int64), expected)
        assert nonzero == np.count_nonzero(expected)
        results[rows] = counts.tolist()
    assert results[True] == results[False]
