"""A model's compiled run plan for one batch size: the hot path of `execute.forward`.

Built once per (model layers, batch size, thread) by `execute`: every layer gets a runner, a
closure with its geometry, kernels and buffers bound (intermediate outputs, depthwise sums,
potentials, im2col rows, all preallocated), so a forward is one loop of runner calls with no
validation, no allocation but the final output, and no per-layer Python beyond picking the path
from the previous layer's events. Weights in kernel form still come from `prepared` (identity
checks on the live variables), thresholds and act_step are read live, so `set_variable` between
two forwards takes effect as before.

Measured (CPU time, DS-CNN KWS, batch 1, one core, loaded machine): the kernels and BLAS calls
alone ~170 µs; the per-layer wrappers around them added ~90 µs per forward, the plan ~15 µs.

Models the one-call program covers (`program.py`) run there; these runners serve the others.
Runners exist for the float32-exact layers (`kernels.f32_ok`: convolutions with the dense path
above `dense_above`, separable layers) and FullyConnected; any other layer runs through the
generic `fallback` (the validating wrappers of `kernels.py`), with identical results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from akida_edge.engine import aligned
from akida_edge.engine import kernels as K
from akida_edge.engine.kernels_conv import dense_layer_kernel, im2col_kernel
from akida_edge.engine.kernels_f32 import depthwise_f32_kernel, output_f32_kernel, pointwise_f32_kernel
from akida_edge.engine.kernels_gemm import gemm_f32

Runner = Callable[[np.ndarray, np.ndarray, int, float], np.ndarray]
_NO_RAW = np.zeros((0, 0, 0, 0), np.int64)
_NO_U8 = np.zeros((0, 0, 0, 0), np.uint8)
_NO_XP = np.zeros((0, 0), np.float32)


def _outputs(n: int, shape: tuple[int, int, int], mode: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(out, out_u8, out_raw): uint8 activations, or int64 p − T in `MODE_RAW`."""
    dtype = np.int64 if mode == K.MODE_RAW else np.uint8
    out = np.empty((n, *shape), dtype)
    return (out, _NO_U8, out) if mode == K.MODE_RAW else (out, out, _NO_RAW)


class _Buffers:
    """A plan's arrays, shared between its runners by role, shape and dtype: the scratch of every
    layer (depthwise sums, potentials, im2col rows) is one array, and layer outputs alternate
    between two, so a batch's working set stays that of one layer (at batch 256 per-layer
    buffers would add up to ~80 MB and fall out of the cache)."""

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, role: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        key = (role, shape, np.dtype(dtype).str)
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = aligned.empty(shape, dtype)  # on a cache line (`aligned`)
        return arr

    def outputs(self, i: int, n: int, shape: tuple[int, int, int], mode: int) -> tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
        """Layer i's kept output buffers (one of two, alternating with the layer before)."""
        if mode == K.MODE_RAW:
            out = self.get(f"out{i % 2}", (n, *shape), np.int64)
            return out, _NO_U8, out
        out = self.get(f"out{i % 2}", (n, *shape), np.uint8)
        return out, out, _NO_RAW


def _conv_runner(step: Any, cache: list, n: int, last: bool, prepared: Callable, fallback: Runner,
                 buf: _Buffers, i: int) -> Runner:
    layer = step.layer
    v = layer.variables
    kh, kw, c, f = v["weights"].shape
    oh, ow, _ = step.pot_shape
    (pad_y, pad_x), (sy, sx) = step.pad, step.stride
    amax, mode, pool, pad_value = 2**layer.spec.act_bits - 1, step.mode, step.pool, step.pad_value
    cols = buf.get("cols", (n * oh * ow, kh * kw * c), np.float32)
    pot = buf.get("pot", (n, oh, ow, f), np.float32)
    pot2 = pot.reshape(n * oh * ow, f)
    size = n * step.input_size
    keep = buf.outputs(i, n, step.out_shape, mode)
    # a convolution whose events would be gathered has its own crossing (`K.GATHER_DENSE_SCALE`)
    scale = K.GATHER_DENSE_SCALE if K.gather_ok(True, mode, sy, sx, pad_value, f, kh, kw) else 1.0

    def run(x: np.ndarray, counts: np.ndarray, in_events: int, dense_above: float) -> np.ndarray:
        nz = in_events if in_events >= 0 else int(np.count_nonzero(x))
        if nz <= dense_above * scale * size:  # sparse: gather or scatter the events (generic path)
            return fallback(x, counts, nz, dense_above)
        out, out_u8, out_raw = _outputs(n, step.out_shape, mode) if last else keep
        w = prepared(step, cache)[0]
        im2col_kernel(x, pad_value, pad_y, pad_x, sy, sx, kh, kw, f, oh, ow, cols, counts)
        gemm_f32(cols, w.reshape(kh * kw * c, f), pot2)
        output_f32_kernel(pot, v["threshold"], v["act_step"], amax, mode, pool, out_u8, out_raw, counts)
        return out

    return run


def _separable_runner(step: Any, cache: list, n: int, last: bool, prepared: Callable, buf: _Buffers,
                      i: int) -> Runner:
    layer = step.layer
    v = layer.variables
    oh, ow, f = step.pot_shape
    c = layer.input_shape[2]
    (pad_y, pad_x), (sy, sx) = step.pad, step.stride
    amax, mode, pool = 2**layer.spec.act_bits - 1, step.mode, step.pool
    dw = buf.get("dw", (n, oh, ow, c), np.float32)
    dw2 = dw.reshape(n * oh * ow, c)
    pot = buf.get("pot", (n, oh, ow, f), np.float32)
    pot2 = pot.reshape(n * oh * ow, f)
    size = n * step.input_size
    keep = buf.outputs(i, n, step.out_shape, mode)
    stride_1 = step.stride == (1, 1)

    def run(x: np.ndarray, counts: np.ndarray, in_events: int, dense_above: float) -> np.ndarray:
        nz = in_events if in_events >= 0 else int(np.count_nonzero(x))
        dense_ok = dense_above <= 1.0
        rows = stride_1 and dense_ok and nz > K.ROWS_ABOVE * size
        out, out_u8, out_raw = _outputs(n, step.out_shape, mode) if last else keep
        w_dw, w_tile, w_pw = prepared(step, cache)
        nonzero = depthwise_f32_kernel(x, w_dw, w_tile, pad_y, pad_x, sy, sx, rows, f, dw, _NO_XP, counts)
        if dense_ok and nonzero > K.PW_BLAS_ABOVE * dw.size:
            gemm_f32(dw2, w_pw, pot2)
        else:
            pointwise_f32_kernel(dw, w_pw, pot)
        output_f32_kernel(pot, v["threshold"], v["act_step"], amax, mode, pool, out_u8, out_raw, counts)
        return out

    return run


def _dense_runner(step: Any, cache: list, n: int, last: bool, prepared: Callable, buf: _Buffers,
                  i: int) -> Runner:
    layer = step.layer
    v = layer.variables
    amax, mode = 2**layer.spec.act_bits - 1, step.mode
    pot = np.empty((1, 1, layer.spec.units), step.acc_dtype)
    keep = buf.outputs(i, n, step.out_shape, mode)

    def run(x: np.ndarray, counts: np.ndarray, in_events: int, dense_above: float) -> np.ndarray:
        out, out_u8, out_raw = _outputs(n, step.out_shape, mode) if last else keep
        dense_layer_kernel(x.reshape(n, step.input_size), prepared(step, cache), v["threshold"],
                           v["act_step"], amax, mode, pot, out_u8, out_raw, counts)
        return out

    return run


def compile_plan(steps: list, caches: list[list], n: int, prepared: Callable,
                 fallback: Callable[..., np.ndarray]) -> list[Runner]:
    """One runner per step for batches of `n` samples (see the module docstring).

    `prepared(step, cache)` gives a step's weights in kernel form; `fallback(step, x, counts, cache,
    in_events, dense_above)` runs any step generically.
    """
    runners: list[Runner] = []
    buf = _Buffers()
    for i, (step, cache) in enumerate(zip(steps, caches, strict=True)):
        last = i == len(steps) - 1

        def generic(x: np.ndarray, counts: np.ndarray, in_events: int, dense_above: float,
                    step: Any = step, cache: list = cache) -> np.ndarray:
            return fallback(step, x, counts, cache, in_events, dense_above)

        if step.kind == "dense":
            runners.append(_dense_runner(step, cache, n, last, prepared, buf, i))
        elif step.kind == "separable" and step.f32:
            runners.append(_separable_runner(step, cache, n, last, prepared, buf, i))
        elif step.kind == "conv" and step.f32:
            runners.append(_conv_runner(step, cache, n, last, prepared, generic, buf, i))
        else:
            runners.append(generic)
    return runners

