"""float32 stages of layers whose partial sums are integers below 2^23 (`kernels.f32_ok`).

float32 then holds every input, depthwise sum, potential and partial sum exactly, whatever the
summation order, and the output stage can use the float32 activation (`output_stage.act_f32`,
one multiply instead of a float64 division). The stages, each over a whole batch:

- `depthwise_f32_kernel`: exact depthwise sums d[n, oy, ox, c] (float32), by sweeping whole rows
  (stride 1, inputs not nearly silent) or by scattering the events; returns their non-zeros;
- `pointwise_f32_kernel`: the event path of the pointwise product,
  p[oy, ox, :] = Σ_c d[oy, ox, c] · w_pw[c, :] eight channels at a time (`product8`), skipping
  the eights whose sums are all zero; dense sums go to one `kernels_gemm.gemm_f32` product;
- `output_f32_kernel`: activation, max pooling (`act_f32`), global-average pooling or p − T.

Dense pointwise products (measured as CPU time on the DS-CNN separable layer, 125 positions ×
64 → 64 channels, one core, AVX2): `gemm_f32` ~12 µs; OpenBLAS's sgemm ~15 µs with its call; the
eight-way numba loop ~21 µs (one load and one store of p[k] per eight products, mul + add as
fastmath stays off); a one-product-at-a-time scatter ~50 µs; scalar accumulators that LLVM's SLP
vectoriser was meant to pack ~160 µs; an int16 pairwise (pmaddwd-shaped) loop ~80 µs (LLVM did
not form vpmaddwd on ymm). Formed explicitly (`kernels_gemm_i16`: int16 pairs in a register block,
which LLVM lowers to vpmaddwd) it is ~1.5× faster than `gemm_f32`; separable layers within
`kernels.pair_ok` use it, with int16 depthwise sums from the same `depthwise_f32_kernel`.
A 6×16 tile of sums kept in registers is what wins; LLVM does not
register-block a loop nest, hence `gemm_f32`'s explicit block.

Each stage adds its activity to `counts` = [input events, synaptic ops, output events] exactly as
the other paths (`activity.py`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from akida_edge.engine.kernels_compact import count_range
from akida_edge.engine.kernels_copy import copy_into
from akida_edge.engine.kernels_sweep import lanes, sweep3x3, weight_blocks
from akida_edge.engine.kernels_taps import fans, taps
from akida_edge.engine.output_stage import (
    MODE_ACT,
    MODE_MAX,
    _act_params,
    _stage,
    _steps16,
    act_params_f32,
    stage_f32,
)
from akida_edge.numba_config import kernel


@kernel(inline="always")
def product8(d, w, prow):
    """prow[:] = Σ_c d[c] · w[c, :], eight channels per pass; a pass whose eight sums are all zero
    is skipped (events only). Exact: integers whose partial sums stay below 2^23."""
    f = prow.shape[0]
    c_in = d.shape[0]
    c8 = c_in - c_in % 8
    for k in range(f):
        prow[k] = 0.0
    for c in range(0, c8, 8):
        d0, d1, d2, d3 = d[c], d[c + 1], d[c + 2], d[c + 3]
        d4, d5, d6, d7 = d[c + 4], d[c + 5], d[c + 6], d[c + 7]
        if d0 == 0 and d1 == 0 and d2 == 0 and d3 == 0 and d4 == 0 and d5 == 0 and d6 == 0 and d7 == 0:
            continue
        w0, w1, w2, w3 = w[c], w[c + 1], w[c + 2], w[c + 3]
        w4, w5, w6, w7 = w[c + 4], w[c + 5], w[c + 6], w[c + 7]
        for k in range(f):
            prow[k] += ((d0 * w0[k] + d1 * w1[k]) + (d2 * w2[k] + d3 * w3[k])) + (
                (d4 * w4[k] + d5 * w5[k]) + (d6 * w6[k] + d7 * w7[k]))
    for c in range(c8, c_in):
        d0 = d[c]
        if d0 == 0:
            continue
        w0 = w[c]
        for k in range(f):
            prow[k] += d0 * w0[k]


@kernel(inline="always")
def depthwise_rows_f32(xs, xp, w_tile, w_blocks, pad_y, pad_x, fy, fx, dw):
    """One sample's depthwise sums dw (OH, OW·C) by row sweeps (stride 1); returns (events, ops,
    non-zero sums).

    xs (H, W, C) uint8 is copied once into the zero-bordered xp (OH + kh − 1, (OW + kw − 1)·C)
    float32 (its border, never written, stays zero between samples), so every tap of an output row
    is one contiguous slice: d[oy, t] = Σ_ky Σ_kx xp[oy + ky, kx·C + t] · w_tile[ky, kx, t]. A 3 × 3
    kernel takes all nine taps per block of sums in registers and counts the non-zero sums there
    (`kernels_sweep.sweep3x3`); other kernels add one tap per pass over the row.

    Measured (DS-CNN separable layer, 16 samples of 25 × 320 int16 sums, one core, Zen 5): the
    tap loop ~55 µs with three taps per pass (one load and store of the sums per three taps; nine
    taps per pass in a numba loop do not vectorise: LLVM gives up on the run-time alias checks),
    see `kernels_sweep` for the nine in registers."""
    h, wd, c_in = xs.shape
    kh, kw = w_tile.shape[0], w_tile.shape[1]
    oh, span = dw.shape
    hp, wpc = xp.shape
    events = 0
    ops = 0
    ncol = min(wd, wpc // c_in - pad_x)
    xf = xs.reshape(h * wd * c_in)  # no view per row or position: each costs two atomic reference counts
    for iy in range(h):
        row = iy * wd * c_in
        for ix in range(wd):  # the events by byte masks, per input column (its fan-out)
            nz = count_range(xf, row + ix * c_in, row + (ix + 1) * c_in)
            events += nz
            ops += nz * fy[iy] * fx[ix]
        if iy + pad_y < hp:  # the row's inputs some output sees, to xp's dtype (float32, or int16)
            copy_into(xs, xp, row, (iy + pad_y) * wpc + pad_x * c_in, ncol * c_in)
    if w_blocks.shape[0] > 0:  # 3 × 3, C a multiple of the lanes: nine taps in registers, counted there
        nonzero = 0
        for oy in range(oh):
            nonzero += sweep3x3(xp, w_blocks, dw, oy, c_in, span // c_in)
        return events, ops, nonzero
    dw[:] = 0.0
    for oy in range(oh):
        out = dw[oy]
        for ky in range(kh):
            row = xp[oy + ky]
            for kx in range(kw):
                src = row[kx * c_in:kx * c_in + span]
                wts = w_tile[ky, kx]
                for t in range(span):
                    out[t] += src[t] * wts[t]
    return events, ops, count_sums(dw)


@kernel(inline="always")
def count_sums(dw):
    """The non-zero values of dw (any shape, C-contiguous)."""
    flat = dw.reshape(dw.size)
    nz = np.int32(0)  # int32 lanes (8 per AVX2 register, as the float32 sums); < 2^31 per sample
    for t in range(flat.shape[0]):
        nz += np.int32(flat[t] != 0)
    return nz


@kernel()
def depthwise_events_f32(xs, w_dw, ytab, xtab, idx, dw):
    """One sample's depthwise sums dw (OH, OW, C) by scattering its events; returns (events, ops)."""
    h, wd, c_in = xs.shape
    kh, kw = w_dw.shape[0], w_dw.shape[1]
    dw[:] = 0.0
    events = 0
    ops = 0
    for iy in range(h):
        for ix in range(wd):
            xrow = xs[iy, ix]
            nz = 0
            for c in range(c_in):
                nz += xrow[c] != 0
            if nz == 0:
                continue
            events += nz
            j = 0
            for c in range(c_in):
                idx[j] = c
                j += xrow[c] != 0
            for ky in range(kh):
                oy = ytab[iy, ky]
                if oy < 0:
                    continue
                for kx in range(kw):
                    ox = xtab[ix, kx]
                    if ox < 0:
                        continue
                    ops += nz
                    out = dw[oy, ox]
                    wrow = w_dw[ky, kx]
                    if 4 * nz >= c_in:  # many events: all channels at once (zeros add nothing)
                        for c in range(c_in):  # uint8 · float32 is float32 (int16: exact int64)
                            out[c] += xrow[c] * wrow[c]
                    else:
                        for t in range(nz):
                            c = idx[t]
                            out[c] += xrow[c] * wrow[c]
    return events, ops


# Explicit signatures (STYLE.md §4): compiled (or loaded from the cache) at import, so no layer
# stalls on a first call; the wrappers and the plan pass exactly these types (C-contiguous arrays).
# A separable layer right after InputData reads the caller's array, which may be read-only.
_U8_4 = "uint8[:, :, :, ::1]"
_F32_4 = "float32[:, :, :, ::1]"


def _dw_args(t: nb.types.Type) -> tuple:
    return (t[:, :, ::1], t[:, :, ::1], nb.int64, nb.int64, nb.int64, nb.int64, nb.boolean, nb.int64,
            t[:, :, :, ::1], t[:, ::1], nb.types.int64[::1])


# float32 sums, or int16 ones (the pair path of `kernels_gemm_i16`, where `kernels.pair_ok` bounds them)
@kernel(*(nb.int64(nb.types.Array(nb.uint8, 4, "C", readonly=ro), *_dw_args(t))
          for ro in (False, True) for t in (nb.float32, nb.int16)))
def depthwise_f32_kernel(x, w_dw, w_tile, pad_y, pad_x, sy, sx, rows, f, dw, xp, counts):
    """Depthwise sums of the batch x (N, H, W, C) uint8 into dw (N, OH, OW, C) float32 (or int16:
    16 lanes per AVX2 instruction, where the sums fit); returns their non-zeros. Row sweeps when
    `rows` (stride 1 only), else scattered events. Adds the events, the depthwise fan-out and the
    pointwise fan-out (`f` per non-zero sum) to counts.

    xp: the row sweeps' zero-bordered copy of a sample (OH + kh − 1, (OW + kw − 1)·C), kept by the
    caller for this layer and zero when first given (only its interior is ever written), or an
    empty (0, 0) array: allocated here."""
    n_s, h, wd, c_in = x.shape
    kh, kw = w_dw.shape[0], w_dw.shape[1]
    oh, ow = dw.shape[1], dw.shape[2]
    ytab = taps(h, pad_y, kh, sy, oh)
    xtab = taps(wd, pad_x, kw, sx, ow)
    fy, fx = fans(ytab), fans(xtab)
    rows = rows and sy == 1 and sx == 1
    if rows and xp.shape[0] == 0:
        xp = np.zeros((oh + kh - 1, (ow + kw - 1) * c_in), dw.dtype)
    width = lanes(dw)
    blocks = c_in // width if rows and kh == 3 and kw == 3 and c_in % width == 0 else 0
    w_blocks = np.empty((blocks, 9, width), dw.dtype)  # `sweep3x3`'s weights, or none
    weight_blocks(w_dw, w_blocks)
    idx = np.empty(c_in, np.int64)
    events = 0
    ops = 0
    nonzero = 0
    for n in range(n_s):
        if rows:
            ev, op, nz = depthwise_rows_f32(x[n], xp, w_tile, w_blocks, pad_y, pad_x, fy, fx,
                                            dw[n].reshape(oh, ow * c_in))
        else:
            ev, op = depthwise_events_f32(x[n], w_dw, ytab, xtab, idx, dw[n])
            nz = count_sums(dw[n])
        events += ev
        ops += op
        nonzero += nz
    counts[0] += events
    counts[1] += ops + nonzero * f
    return nonzero


@kernel(f"void({_F32_4}, float32[:, ::1], {_F32_4})")
def pointwise_f32_kernel(dw, w_pw, pot):
    """Event path of the pointwise product: pot[n, oy, ox, :] = Σ_c dw[n, oy, ox, c] · w_pw[c, :]
    over the non-zero eights of sums (`product8`), float32 (exact integers)."""
    for n in range(dw.shape[0]):
        for oy in range(dw.shape[1]):
            for ox in range(dw.shape[2]):
                product8(dw[n, oy, ox], w_pw, pot[n, oy, ox])


# thresholds and act_step may be read-only: the one-call program (`program.py`) locks the arrays it packed
_THR = [nb.types.Array(nb.int32, 1, "C", readonly=ro) for ro in (False, True)]
_STEP = [nb.types.Array(nb.float32, 1, "C", readonly=ro) for ro in (False, True)]


@kernel(*(nb.void(nb.types.float32[:, :, :, ::1], thr, step, nb.int64, nb.int64, nb.types.int64[::1],
                  nb.types.uint8[:, :, :, ::1], nb.types.int64[:, :, :, ::1], nb.types.int64[::1])
          for thr in _THR for step in _STEP))
def output_f32_kernel(pot, thr, act_step, amax, mode, pool, out_u8, out_raw, counts):
    """The output stage of every sample of float32 potentials pot (N, OH, OW, F), |p| < 2^23:
    `act_f32` for activation and max pooling, the exact integer stage otherwise."""
    q32 = act_params_f32(thr, act_step, amax)
    s16, cap = _steps16(act_step, amax)
    q = _act_params(thr, s16, amax)
    events = 0
    for n in range(pot.shape[0]):
        if mode == MODE_ACT or mode == MODE_MAX:
            events += stage_f32(pot[n], n, q32, mode, pool, out_u8)
        else:
            events += _stage(pot[n], n, q, s16, cap, thr, mode, pool, out_u8, out_raw)
    counts[2] += events
