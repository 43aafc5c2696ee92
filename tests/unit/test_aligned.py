"""`engine.aligned`: arrays on a 64-byte boundary with NumPy's shapes, dtypes and values."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.engine import aligned

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64, np.float32])
@pytest.mark.parametrize("shape", [1, 7, (3, 5), (2, 3, 4, 5), 0])
def test_arrays_start_on_a_cache_line_with_numpy_shapes(dtype, shape):
    for _ in range(8):  # malloc's addresses vary: several allocations of each
        e, z = aligned.empty(shape, dtype), aligned.zeros(shape, dtype)
        for a in (e, z):
            assert a.ctypes.data % aligned.ALIGN == 0 or a.size == 0
            assert a.shape == np.empty(shape).shape and a.dtype == dtype and a.flags.c_contiguous
            assert a.flags.writeable
        assert not z.any()


def test_copy_and_concatenate_keep_the_values(rng):
    a = rng.integers(-8, 8, size=(3, 3, 5, 7))
    c = aligned.copy(a.transpose(2, 0, 1, 3), np.float32)
    assert c.ctypes.data % aligned.ALIGN == 0 and c.flags.c_contiguous
    np.testing.assert_array_equal(c, a.transpose(2, 0, 1, 3).astype(np.float32))
    parts = [rng.integers(-100, 100, size=n).astype(np.float32) for n in (5, 1, 13)]
    joined = aligned.concatenate(parts, np.float32)
    assert joined.ctypes.data % aligned.ALIGN == 0
    np.testing.assert_array_equal(joined, np.concatenate(parts))


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32])
@pytest.mark.parametrize("n", [1, 15, 16, 33, 64])
def test_padded_ends_on_a_line_and_keeps_the_values(dtype, n):
    a = np.arange(1, n + 1, dtype=dtype)
    p = aligned.padded(a)
    assert p.nbytes % aligned.ALIGN == 0 and p.nbytes - a.nbytes < aligned.ALIGN
    np.testing.assert_array_equal(p[:n], a)
    assert not p[n:].any()
