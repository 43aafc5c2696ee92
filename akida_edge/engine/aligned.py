"""Arrays whose data start on a 64-byte boundary (a cache line; one AVX-512 register).

NumPy's arrays start wherever `malloc` puts them: 16-byte aligned, so three times in four not
on a cache line. The kernels load 32 or 64 bytes at a time (`kernels_gemm`: 16-lane rows of the
weights; the activations' packed bytes); on a misaligned array every such load of weights spans
two cache lines. Measured (session 26, the bench's conv stack at 100 % input, 16 samples, one
core, CPU time, one process): the packed weights alone (`program.Program.wf`) on a 64-byte
boundary 1.35-1.38 ms, 16, 32 or 48 bytes past one 1.70-1.74 ms; the other buffers (activations,
im2col rows, potentials) moved alone changed nothing. Where `malloc` put the weights
decided which of two speeds a process ran at (sessions 24-25 saw the engine "bimodal by process").
The engine's own buffers and packed weights are allocated here, once per plan (an allocation
costs ≈ 2 µs, ten times `np.empty`'s: the per-call output arrays stay NumPy's); a caller's input
array is used as given.
"""

from __future__ import annotations

import math

import numpy as np

ALIGN = 64  # bytes


def empty(shape: int | tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """`np.empty(shape, dtype)` whose data start on an `ALIGN`-byte boundary (C order)."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def zeros(shape: int | tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """`np.zeros(shape, dtype)`, aligned as `empty`."""
    out = empty(shape, dtype)
    out[...] = 0
    return out


def copy(a: np.ndarray, dtype: type | np.dtype) -> np.ndarray:
    """a as an aligned C-ordered array of `dtype` (values cast as `np.asarray` would)."""
    out = empty(np.shape(a), dtype)
    out[...] = a
    return out


def padded(a: np.ndarray) -> np.ndarray:
    """1-D a followed by zeros up to a whole number of `ALIGN`-byte lines, so that the next array
    packed after it in an aligned array (`concatenate`) starts on a line too."""
    per_line = ALIGN // a.itemsize
    extra = -a.size % per_line
    return np.concatenate([a, np.zeros(extra, a.dtype)]) if extra else a


def concatenate(arrays: list[np.ndarray], dtype: type | np.dtype) -> np.ndarray:
    """The 1-D arrays one after the other in one aligned array of `dtype`."""
    out = empty(sum(a.size for a in arrays), dtype)
    np.concatenate(arrays, out=out, casting="same_kind")
    return out
