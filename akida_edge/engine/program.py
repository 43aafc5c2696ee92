"""A model's compiled plan as ONE numba call per forward: the batch-1 hot path.

`compile_program(steps, caches, n, prepared)` packs every layer of a plan whose processing layers
are all float32-exact convolutions and separable layers (`kernels.f32_ok`) and FullyConnected
layers (any other model keeps the per-layer runners of `plan.py`) into flat arrays:

- `geo` (L, G) int64: per layer its kind, output-stage mode, geometry and offsets (`_G_*`);
- `wf` float32: the weights in kernel form (`kernels.prepare_conv` / `prepare_separable`),
  `wi` int32: FullyConnected weights (their int64 sums are exact whatever the bound), `wh` int16:
  the depthwise, tiled and pair-packed pointwise weights of separable layers within
  `kernels.pair_ok` (int16 depthwise sums, the pointwise product on int16 pairs: `kernels_gemm_i16`);
- `thr` int32 and `step` float32: every layer's thresholds and act_step, end to end;
- preallocated buffers: two uint8 activation arrays used in turn, the im2col rows, depthwise sums
  and potentials (float32), the FullyConnected potentials (int64), per separable layer its
  zero-bordered copy of a sample (`depthwise_f32_kernel`), and int16 depthwise sums and copies
  for the pair path,

and `run_program` walks the layers in numba, calling the same kernels as the runners with the same
per-layer path rules (dense or event stages from the previous layer's events, thresholds passed
as arguments), so results and activity are identical; only the Python between the kernels is
gone. Measured (CPU time, DS-CNN KWS batch 1, one core, loaded machine): the kernels alone
~133 µs, a forward through the runners ~225 µs (the difference is Python and numba dispatch:
about 14 calls per forward, each unboxing its arrays).

Variables are packed once and repacked when `set_variable` replaces one (identity checks, as
`execute._prepared` does for the weights); the packed thresholds and act_step arrays are made
read-only like the weights, so an in-place write raises instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from akida_edge.engine import aligned
from akida_edge.engine import kernels as K
from akida_edge.engine.kernels_avg import avg_product_kernel
from akida_edge.engine.kernels_compact import count_nonzero
from akida_edge.engine.kernels_conv import conv_layer_kernel, dense_layer_kernel, im2col_kernel
from akida_edge.engine.kernels_f32 import depthwise_f32_kernel, output_f32_kernel, pointwise_f32_kernel
from akida_edge.engine.kernels_gather import conv_gather_kernel, gather_ok, gather_silent_kernel
from akida_edge.engine.kernels_gemm import gemm_act_f32, gemm_f32
from akida_edge.engine.kernels_gemm_i16 import gemm_act_i16, gemm_i16, pack_pairs
from akida_edge.engine.output_stage import MODE_ACT, MODE_AVG, act_params_f32
from akida_edge.numba_config import kernel

# layer kinds (arguments, never globals inside kernels)
_INPUT, _CONV, _SEP, _DENSE = 0, 1, 2, 3
# columns of `geo`
(_G_KIND, _G_MODE, _G_H, _G_W, _G_C, _G_KH, _G_KW, _G_F, _G_OH, _G_OW, _G_PY, _G_PX, _G_SY, _G_SX,
 _G_PADV, _G_AMAX, _G_YH, _G_YW, _G_YC, _G_W1, _G_W2, _G_W3, _G_T, _G_XP, _G_PAIR, _G_H1, _G_H2, _G_H3,
 _G_POOL) = range(29)
_G = _G_POOL + 4


@kernel(inline="always")
def _dense(a, b, w_avg, pot, thr, act_step, amax, mode, pool, dst, out_raw, cnt, gemm, gemm_act):
    """The dense product a @ b into the layer's output: with global average pooling, the pooled
    sums' product with w_avg (C, F) float32 (`kernels_avg`); without pooling, through the
    activation straight from the registers (`gemm_act`, F a multiple of 16); else into pot
    (`gemm`) and the output stage. `gemm`, `gemm_act`: `gemm_f32`, `gemm_act_f32` for float32
    operands, `gemm_i16`, `gemm_act_i16` for int16 sums and pair-packed weights."""
    f = w_avg.shape[1]
    if mode == MODE_AVG:  # pooled sums first, then one vector-matrix product per sample
        avg_product_kernel(a, w_avg, a.shape[0] // max(dst.shape[0], 1), thr, act_step, amax, dst, cnt)
        return
    if mode == MODE_ACT and f % 16 == 0:
        q32 = act_params_f32(thr, act_step, amax)
        cnt[2] += gemm_act(a, b, q32, dst.reshape((a.shape[0], f)))
        return
    gemm(a, b, pot.reshape((a.shape[0], f)))
    output_f32_kernel(pot, thr, act_step, amax, mode, pool, dst, out_raw, cnt)


@kernel()
def _product(a, b, pot, thr, act_step, amax, mode, pool, dst, out_raw, cnt):
    """`_dense` of float32 a (P, K) and b (K, F)."""
    _dense(a, b, b, pot, thr, act_step, amax, mode, pool, dst, out_raw, cnt, gemm_f32, gemm_act_f32)


@kernel()
def _product_pairs(a, b, w_pw, pot, thr, act_step, amax, mode, pool, dst, out_raw, cnt):
    """`_dense` of int16 depthwise sums a (P, C) with the pointwise weights as int16 pairs b
    (`kernels_gemm_i16.pack_pairs`; w_pw the same weights (C, F) float32, for the pooled product)."""
    _dense(a, b, w_pw, pot, thr, act_step, amax, mode, pool, dst, out_raw, cnt, gemm_i16, gemm_act_i16)


@kernel()
def run_program(x, geo, wf, wi, wh, thr, step, act0, act1, cols, dwb, dwh, potb, poti, xpb, xph, out_u8,
                out_raw, counts, dense_above, gather_above, rows_above, pw_above):
    """Every layer of `geo` on x (N, H, W, C) uint8; the last writes out_u8 (or out_raw in
    `MODE_RAW`). Adds each layer's activity to counts[i]. The path rules are those of `plan.py`
    (`gather_above`: a gathered convolution's dense crossing, `kernels.GATHER_DENSE_SCALE`)."""
    n = x.shape[0]
    if n == 0:  # nothing to run (and the buffers of an empty batch hold no sample)
        return
    flat_x = x.reshape(x.size)
    src_is_x = True  # the first processing layer reads x itself (no copy)
    src_is_0 = True
    in_events = -1
    last = geo.shape[0] - 1
    for i in range(geo.shape[0]):
        g = geo[i]
        kind = g[_G_KIND]
        h, wd, c = g[_G_H], g[_G_W], g[_G_C]
        size = n * h * wd * c
        src = x if src_is_x else (act0 if src_is_0 else act1)[:size].reshape((n, h, wd, c))
        if kind == _INPUT:
            nz = count_nonzero(flat_x[:size])
            counts[i, 0] += nz
            counts[i, 2] += nz
            in_events = nz
            continue
        nz = in_events
        if nz < 0:
            nz = count_nonzero(src.reshape(size))
        yh, yw, yc = g[_G_YH], g[_G_YW], g[_G_YC]
        dst = out_u8
        if i < last:
            dst = (act1 if src_is_0 else act0)[:n * yh * yw * yc].reshape((n, yh, yw, yc))
        mode, amax = g[_G_MODE], g[_G_AMAX]
        f = g[_G_F]
        t0 = g[_G_T]
        thr_i, step_i = thr[t0:t0 + f], step[t0:t0 + f]
        pool = g[_G_POOL:_G_POOL + 4]
        cnt = counts[i]
        before = cnt[2]
        if kind == _DENSE:
            n_in = h * wd * c
            w = wi[g[_G_W1]:g[_G_W1] + n_in * f].reshape((n_in, f))
            dense_layer_kernel(src.reshape((n, n_in)), w, thr_i, step_i, amax, mode,
                               poti[:f].reshape((1, 1, f)), dst, out_raw, cnt)
        else:
            kh, kw, oh, ow = g[_G_KH], g[_G_KW], g[_G_OH], g[_G_OW]
            py, px, sy, sx = g[_G_PY], g[_G_PX], g[_G_SY], g[_G_SX]
            pot = potb[:n * oh * ow * f].reshape((n, oh, ow, f))
            if kind == _CONV:
                kk = kh * kw * c
                w1 = g[_G_W1]
                gather = gather_ok(True, mode, sy, sx, g[_G_PADV], f, kh, kw)
                if nz > (gather_above if gather else dense_above) * size:  # dense: fields as rows, a product
                    rows = cols[:n * oh * ow * kk].reshape((n * oh * ow, kk))
                    im2col_kernel(src, g[_G_PADV], py, px, sy, sx, kh, kw, f, oh, ow, rows, cnt)
                    _product(rows, wf[w1:w1 + kk * f].reshape((kk, f)), pot, thr_i, step_i, amax, mode, pool,
                             dst, out_raw, cnt)
                elif gather and nz == 0:  # a silent input: act(0) everywhere, no scan
                    gather_silent_kernel(thr_i, step_i, amax, dst, cnt)
                elif gather:  # events gathered per output
                    conv_gather_kernel(src, wf[w1:w1 + kk * f].reshape((kk, f)), kh, kw, py, px, thr_i,
                                       step_i, amax, dst, cnt)
                else:  # events scattered sample by sample
                    w2 = g[_G_W2]
                    conv_layer_kernel(src, wf[w2:w2 + kk * f].reshape((c, kh * kw * f)), kh, kw, g[_G_PADV],
                                      py, px, sy, sx, thr_i, step_i, amax, mode, pool, pot[0], dst, out_raw,
                                      cnt, True)
            else:
                w1, w2, w3 = g[_G_W1], g[_G_W2], g[_G_W3]
                w_dw = wf[w1:w1 + kh * kw * c].reshape((kh, kw, c))
                w_tile = wf[w2:w2 + kh * kw * ow * c].reshape((kh, kw, ow * c))
                w_pw = wf[w3:w3 + c * f].reshape((c, f))
                dense_ok = dense_above <= 1.0
                sweep = sy == 1 and sx == 1 and dense_ok and nz > rows_above * size
                dw = dwb[:n * oh * ow * c].reshape((n, oh, ow, c))
                xo = g[_G_XP]
                xn = (oh + kh - 1) * (ow + kw - 1) * c
                pair = g[_G_PAIR] != 0  # int16 depthwise sums, int16-pair product (`kernels.pair_ok`)
                n16 = n if pair else 0  # the int16 buffers are empty in a program without such layers
                d16 = dwh[:n16 * oh * ow * c].reshape((n16, oh, ow, c))
                h1, h2, h3 = g[_G_H1], g[_G_H2], g[_G_H3]
                if pair:
                    xp16 = xph[xo:xo + xn].reshape((oh + kh - 1, (ow + kw - 1) * c))
                    nonzero = depthwise_f32_kernel(src, wh[h1:h1 + kh * kw * c].reshape((kh, kw, c)),
                                                   wh[h2:h2 + kh * kw * ow * c].reshape((kh, kw, ow * c)),
                                                   py, px, sy, sx, sweep, f, d16, xp16, cnt)
                else:
                    xp = xpb[xo:xo + xn].reshape((oh + kh - 1, (ow + kw - 1) * c))
                    nonzero = depthwise_f32_kernel(src, w_dw, w_tile, py, px, sy, sx, sweep, f, dw, xp, cnt)
                dense = dense_ok and nonzero > pw_above * dw.size
                if dense and pair:
                    b16 = wh[h3:h3 + c * f].reshape((c // 2, f, 2))
                    _product_pairs(d16.reshape((n * oh * ow, c)), b16, w_pw, pot, thr_i, step_i, amax, mode,
                                   pool, dst, out_raw, cnt)
                elif dense:
                    _product(dw.reshape((n * oh * ow, c)), w_pw, pot, thr_i, step_i, amax, mode, pool, dst,
                             out_raw, cnt)
                else:
                    if pair:  # few non-zero sums: the event loop, over float32 copies
                        flat16, flat32 = d16.reshape(d16.size), dw.reshape(dw.size)
                        for t in range(flat16.shape[0]):
                            flat32[t] = flat16[t]
                    pointwise_f32_kernel(dw, w_pw, pot)
                    output_f32_kernel(pot, thr_i, step_i, amax, mode, pool, dst, out_raw, cnt)
        in_events = cnt[2] - before
        src_is_0 = not src_is_0
        src_is_x = False


@kernel()
def run_chunks(x, chunk, geo, wf, wi, wh, thr, step, act0, act1, cols, dwb, dwh, potb, poti, xpb, xph, out_u8,
               out_raw, counts, dense_above, gather_above, rows_above, pw_above):
    """`run_program` on x (N, H, W, C) in chunks of `chunk` samples (the batch size the buffers
    were allocated for), every layer on one chunk before the next: one call per forward instead
    of one per chunk (each Python-side call of `run_program` costs its argument unboxing, ~20 µs).
    The empty one of out_u8 / out_raw stays empty when sliced."""
    n = x.shape[0]
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        run_program(x[a:b], geo, wf, wi, wh, thr, step, act0, act1, cols, dwb, dwh, potb, poti, xpb, xph,
                    out_u8[a:b], out_raw[a:b], counts, dense_above, gather_above, rows_above, pw_above)


def _supported(steps: list) -> bool:
    """Whether `run_program` can run these steps: float32-exact convolution and separable layers
    and FullyConnected layers, an InputData layer only first (and not alone), p − T only from the
    last layer."""
    if steps[-1].kind == "input":
        return False
    for i, step in enumerate(steps):
        if step.kind == "input" and i > 0:
            return False
        if step.kind in ("conv", "separable") and not step.f32:
            return False
        if step.mode == K.MODE_RAW and i < len(steps) - 1:
            return False
    return True


class Program:
    """The packed plan of (steps, batch size n): call it as `run(x, counts) -> output`; a batch of
    more than n samples runs in chunks of n within the one call (`run_chunks`)."""

    def __init__(self, steps: list, caches: list[list], n: int, prepared: Callable) -> None:
        self.steps, self.caches, self.n, self.prepared = steps, caches, n, prepared
        geo = np.zeros((len(steps), _G), np.int64)
        act = cols = dw = pot = units = 1
        xp = 0
        for i, step in enumerate(steps):
            h, w, c = step.layer.input_shape
            yh, yw, yc = step.out_shape
            g = geo[i]
            g[[_G_H, _G_W, _G_C, _G_YH, _G_YW, _G_YC]] = h, w, c, yh, yw, yc
            act = max(act, n * h * w * c, n * yh * yw * yc)
            if step.kind == "input":
                g[_G_KIND] = _INPUT
                continue
            spec = step.layer.spec
            oh, ow, f = step.pot_shape
            g[_G_MODE], g[_G_AMAX], g[_G_F], g[_G_OH], g[_G_OW] = step.mode, 2**spec.act_bits - 1, f, oh, ow
            g[_G_POOL:_G_POOL + 4] = step.pool
            if step.kind == "dense":
                g[_G_KIND] = _DENSE
                units = max(units, f)
                continue
            (kh, kw), (py, px), (sy, sx) = spec.kernel_size, step.pad, step.stride
            g[[_G_KH, _G_KW, _G_PY, _G_PX, _G_SY, _G_SX, _G_PADV]] = kh, kw, py, px, sy, sx, step.pad_value
            g[_G_KIND] = _CONV if step.kind == "conv" else _SEP
            pot = max(pot, n * oh * ow * f)
            if step.kind == "conv":
                cols = max(cols, n * oh * ow * kh * kw * c)
            else:
                dw = max(dw, n * oh * ow * c)
                g[_G_XP] = xp  # each separable layer its own zero-bordered copy (`depthwise_f32_kernel`)
                g[_G_PAIR] = step.pair
                xp += (oh + kh - 1) * (ow + kw - 1) * c
        self.geo = geo
        # every buffer and the packed weights on a cache line (`aligned`: a misaligned weight array
        # made the dense stages 1.3x slower)
        self.act0, self.act1 = aligned.empty(act, np.uint8), aligned.empty(act, np.uint8)
        self.cols, self.dwb = aligned.empty(cols, np.float32), aligned.empty(dw, np.float32)
        self.potb, self.poti = aligned.empty(pot, np.float32), aligned.empty(units, np.int64)
        self.xpb = aligned.zeros(max(xp, 1), np.float32)
        pairs = any(step.pair for step in steps)  # int16 sums and zero-bordered copies (`pair_ok`)
        self.dwh = aligned.empty(dw if pairs else 1, np.int16)
        self.xph = aligned.zeros(max(xp, 1) if pairs else 1, np.int16)
        self._pack(self._current())

    def _current(self) -> list[Any]:
        """The arrays the packed data come from (prepared weights, thresholds, act_step)."""
        key: list[Any] = []
        for step, cache in zip(self.steps, self.caches, strict=True):
            if step.kind != "input":
                v = step.layer.variables
                key += [self.prepared(step, cache), v["threshold"], v["act_step"]]
        return key

    def _pack(self, key: list[Any]) -> None:
        wf: list[np.ndarray] = []
        wi: list[np.ndarray] = []
        wh: list[np.ndarray] = []
        thr: list[np.ndarray] = []
        steps: list[np.ndarray] = []
        nf = ni = nt = nh = 0
        it = iter(key)
        for i, step in enumerate(self.steps):
            if step.kind == "input":
                continue
            prep, t, s = next(it), next(it), next(it)
            t.flags.writeable = False  # read live no more: an in-place write must raise
            s.flags.writeable = False
            g = self.geo[i]
            g[_G_T] = nt
            thr.append(t.astype(np.int32).ravel())
            steps.append(s.astype(np.float32).ravel())
            nt += t.size
            if step.kind == "dense":
                g[_G_W1] = ni
                wi.append(aligned.padded(np.asarray(prep, np.int32).ravel()))
                ni += wi[-1].size
                continue
            for col, arr in zip((_G_W1, _G_W2, _G_W3), prep, strict=False):
                g[col] = nf
                wf.append(aligned.padded(np.asarray(arr, np.float32).ravel()))
                nf += wf[-1].size
            if step.pair:  # the same weights as int16: depthwise, tiled, pointwise pairs
                arrays = (prep[0], prep[1], pack_pairs(prep[2]))
                for col, arr in zip((_G_H1, _G_H2, _G_H3), arrays, strict=True):
                    g[col] = nh
                    wh.append(aligned.padded(np.asarray(arr, np.int16).ravel()))
                    nh += wh[-1].size
        self.wf = aligned.concatenate(wf, np.float32) if wf else aligned.zeros(1, np.float32)
        self.wi = aligned.concatenate(wi, np.int32) if wi else aligned.zeros(1, np.int32)
        self.wh = aligned.concatenate(wh, np.int16) if wh else aligned.zeros(1, np.int16)
        self.thr = np.concatenate(thr) if thr else np.zeros(1, np.int32)
        self.step = np.concatenate(steps) if steps else np.ones(1, np.float32)
        self.key = key

    def __call__(self, x: np.ndarray, counts: np.ndarray, dense_above: float) -> np.ndarray:
        key = self._current()
        if any(a is not b for a, b in zip(key, self.key, strict=True)):
            self._pack(key)
        last = self.steps[-1]
        shape = (x.shape[0], *last.out_shape)
        if last.mode == K.MODE_RAW:
            out = out_raw = np.empty(shape, np.int64)
            out_u8 = np.empty((0, 0, 0, 0), np.uint8)
        else:
            out = out_u8 = np.empty(shape, np.uint8)
            out_raw = np.empty((0, 0, 0, 0), np.int64)
        gather_above = dense_above * K.GATHER_DENSE_SCALE  # gathered convolutions' crossing (kernels.py)
        run_chunks(x, max(self.n, 1), self.geo, self.wf, self.wi, self.wh, self.thr, self.step, self.act0,
                   self.act1, self.cols, self.dwb, self.dwh, self.potb, self.poti, self.xpb, self.xph, out_u8,
                   out_raw, counts, dense_above, gather_above, K.ROWS_ABOVE, K.PW_BLAS_ABOVE)
        return out


def compile_program(steps: list, caches: list[list], n: int, prepared: Callable) -> Program | None:
    """The one-call program of these steps for batches of n, or None where `run_program` does not
    cover a layer (the per-layer runners then run the model)."""
    return Program(steps, caches, n, prepared) if _supported(steps) else None
