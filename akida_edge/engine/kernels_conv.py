"""Convolution and fully-connected kernel bodies of the virtual AKD1000 (bit-exact with
`reference.py`; policy, dtype choices and validation live in the wrappers of `kernels.py`).

- `conv_layer_kernel`: event path; scatters every event of a position into all the outputs its
  taps reach, p[oy, ox, :] += v · w[ky, kx, c, :], then runs the output stage (stride-1 layers
  without pooling gather instead where `kernels_gather.gather_ok` allows);
- `im2col_kernel`: dense path; receptive fields as rows for one float32 BLAS product;
- `dense_layer_kernel`: FullyConnected over flattened inputs.

Each adds the layer's activity to `counts` = [input events, synaptic ops, output events]
(definitions in `activity.py`).
"""

from __future__ import annotations

import numpy as np

from akida_edge.engine.kernels_copy import copy_into
from akida_edge.engine.kernels_taps import fans, sample_events, taps
from akida_edge.engine.output_stage import (
    MODE_ACT,
    MODE_MAX,
    act_f32,
    act_params_f32,
    act_rows_f32,
    output_stage_kernel,
    stage_f32,
)
from akida_edge.numba_config import kernel


@kernel(inline="always")
def _zero_row(q32, row):
    """row[k] = act(0) of channel k by the float32 activation (0 when T ≥ 0); returns its non-zeros."""
    nz = 0
    for k in range(row.shape[0]):
        y = act_f32(np.float32(0.0), q32[0, k], q32[1, k], q32[2, k])
        row[k] = np.uint8(y)
        nz += y > np.float32(0.0)
    return nz


@kernel()
def conv_layer_kernel(x, wt, kh, kw, pad_value, pad_y, pad_x, sy, sx, thr, act_step, amax, mode, pool,
                       pot, out_u8, out_raw, counts, f32=False):
    """Scatter every event (and non-zero padding) of each sample into pot (OH, OW, F).

    Rows/columns run over the padded extent [−pad, (OH−1)·s − pad + k) and the map; positions
    outside the map hold `pad_value` (0 skips them). Only real inputs count as events and synaptic
    ops. `wt` (C, kh·kw·F) holds each input channel's weights for all taps in one row, so a
    position's events first build their combined contribution to every tap,
    g[(ky, kx), :] = Σ_events v · w[ky, kx, c, :] (one long vectorised loop per event), then each
    tap adds its F values to the output it reaches (sums of integers: exact in the accumulator).
    `f32` (float32 potentials of a `kernels.f32_ok` layer): activation and max pooling use the
    float32 output stage (`output_stage.stage_f32`); a sample without events then costs its input
    scan and one copy of the act(0) row per output (its potentials are all zero: they are cleared
    once per call and after every sample that reached them), not a pass over every potential. In
    `MODE_ACT` no potential is cleared in advance: a row is cleared when the sample's events first
    reach it, and the stage runs only over the reached rows (`output_stage.act_rows_f32`); the
    others copy the act(0) row.
    """
    h, wd, c_in = x.shape[1], x.shape[2], x.shape[3]
    oh, ow, f = pot.shape[0], pot.shape[1], pot.shape[2]
    y_lo, x_lo = -pad_y, -pad_x
    # the padded extent, and every real input even when no window reaches it (its events count)
    y_hi = max((oh - 1) * sy - pad_y + kh, h)
    x_hi = max((ow - 1) * sx - pad_x + kw, wd)
    ytab = taps(y_hi - y_lo, pad_y + y_lo, kh, sy, oh)
    xtab = taps(x_hi - x_lo, pad_x + x_lo, kw, sx, ow)
    vals = np.empty(c_in, wt.dtype)  # one position's events: values (in the weights' dtype) ...
    chans = np.empty(c_in, np.int64)  # ... and channels
    glen = kh * kw * f
    g = np.empty(glen, wt.dtype)  # their contribution to every tap
    q32 = act_params_f32(thr, act_step, amax)
    fast_stage = f32 and (mode == MODE_ACT or mode == MODE_MAX)
    # a sample without events (nor non-zero padding) outputs act(0) everywhere: one row, copied
    row0 = np.empty(f, np.uint8)
    nz0 = _zero_row(q32, row0)
    # ... as one output row (OW·F bytes, plain range copies: a loop of F bytes per output vectorises badly)
    o_h, o_wf = out_u8.shape[1], out_u8.shape[2] * out_u8.shape[3]
    line0 = np.empty(o_wf, np.uint8)
    for j in range(o_wf // f):
        for k in range(f):
            line0[j * f + k] = row0[k]
    reached = np.zeros(oh, np.bool_)  # output rows the sample's events (or padding) reached
    row_stage = f32 and mode == MODE_ACT  # the stage over those rows only (`act_rows_f32`)
    if x.shape[0] > 0 and not row_stage:  # (an empty batch may come with an empty potentials buffer)
        pot[:] = 0  # cleared once, then after every sample whose events reached it
    for n in range(x.shape[0]):
        events = 0
        ops = 0
        active = pad_value != 0  # whether anything reaches the potentials
        y_end = y_hi
        if not active:
            flat = x[n].reshape(h * wd * c_in)
            seen = np.uint8(0)
            for t in range(flat.shape[0]):  # kept uint8 (32 lanes): `|=` would widen it to int64
                seen = np.uint8(seen | flat[t])
            if seen == 0:  # a silent sample: no position to visit
                y_end = y_lo
        for iy in range(y_lo, y_end):
            for ix in range(x_lo, x_hi):
                inside = 0 <= iy < h and 0 <= ix < wd
                if not inside and pad_value == 0:
                    continue
                m = 0
                if inside:
                    xrow = x[n, iy, ix]
                    seen = np.uint8(0)
                    for c in range(c_in):  # vectorised test first (a byte OR): most positions are silent
                        seen = np.uint8(seen | xrow[c])
                    if seen == 0:
                        continue
                    for c in range(c_in):  # compaction without branches (measured 4-6 % faster at 10 %)
                        vals[m] = xrow[c]
                        chans[m] = c
                        m += xrow[c] != 0
                else:
                    for c in range(c_in):
                        vals[m] = pad_value
                        chans[m] = c
                        m += 1
                if m == 0:
                    continue
                active = True
                # 1-d views and plain range indices: LLVM vectorises these loops
                v = vals[0]
                wrow = wt[chans[0]]
                if m > 1:  # several events: their combined row for every tap first
                    for t in range(glen):
                        g[t] = v * wrow[t]
                    for j in range(1, m):
                        v = vals[j]
                        wrow = wt[chans[j]]
                        for t in range(glen):
                            g[t] += v * wrow[t]
                fan = 0
                for ky in range(kh):
                    oy = ytab[iy - y_lo, ky]
                    if oy < 0:
                        continue
                    if not reached[oy]:  # a row is cleared when first reached (in the row stage)
                        reached[oy] = True
                        if row_stage:
                            pflat = pot[oy].reshape(ow * f)
                            for t in range(ow * f):
                                pflat[t] = 0
                    for kx in range(kw):
                        ox = xtab[ix - x_lo, kx]
                        if ox < 0:
                            continue
                        fan += 1
                        prow = pot[oy, ox]
                        base = (ky * kw + kx) * f
                        if m == 1:  # one event: straight from its weights (no combined row)
                            for k in range(f):
                                prow[k] += v * wrow[base + k]
                        else:
                            for k in range(f):
                                prow[k] += g[base + k]
                if inside:
                    events += m
                    ops += fan * f * m
        counts[0] += events
        counts[1] += ops
        if fast_stage and not active:  # silent: p = 0 everywhere (max pooling of zeros is zero)
            out = out_u8[n].reshape(o_h, o_wf)
            for i in range(o_h):
                orow = out[i]
                for t in range(o_wf):
                    orow[t] = line0[t]
            counts[2] += nz0 * (o_h * o_wf // f)
            continue
        if row_stage:  # rows not reached keep old potentials: the stage reads only the reached ones
            counts[2] += act_rows_f32(pot, reached, q32, line0, out_u8[n])
            reached[:] = False
            continue
        if fast_stage:
            counts[2] += stage_f32(pot, n, q32, mode, pool, out_u8)
        else:
            output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_raw, counts)
        pot[:] = 0


@kernel()
def im2col_kernel(x, pad_value, pad_y, pad_x, sy, sx, kh, kw, f, oh, ow, cols, counts):
    """Dense path of a convolution: receptive fields as the rows of cols (N·OH·OW, kh·kw·C).

    Padding positions hold `pad_value`. Counts the events and their fan-out (taps reaching an
    output, times `f`) exactly as the event path does.
    """
    n_s, h, wd, c_in = x.shape
    ytab = taps(h, pad_y, kh, sy, oh)
    xtab = taps(wd, pad_x, kw, sx, ow)
    hp = max((oh - 1) * sy + kh, h + pad_y)
    wpc = max((ow - 1) * sx + kw, wd + pad_x) * c_in
    kc = kw * c_in
    xp = np.empty((hp, wpc), cols.dtype)
    xpf = xp.reshape(hp * wpc)
    kk = kh * kc
    events = 0
    ops = 0
    fy, fx = fans(ytab), fans(xtab)
    for n in range(n_s):
        ev_n, ops_n = sample_events(x[n], fy, fx)
        events += ev_n
        ops += ops_n
        # the padded sample as rows (Hp, Wp·C): every receptive-field row is then one contiguous
        # run of kw·C values; the runs are copied without views (`kernels_copy`)
        xpf[:] = pad_value
        for iy in range(h):
            copy_into(x, xp, (n * h + iy) * wd * c_in, (iy + pad_y) * wpc + pad_x * c_in, wd * c_in)
        for oy in range(oh):
            for ox in range(ow):
                r = (n * oh + oy) * ow + ox
                a = ox * sx * c_in
                for ky in range(kh):
                    copy_into(xp, cols, (oy * sy + ky) * wpc + a, r * kk + ky * kc, kc)
    counts[0] += events
    counts[1] += ops * f


@kernel()
def dense_layer_kernel(x, w, thr, act_step, amax, mode, pot, out_u8, out_raw, counts):
    """FullyConnected over x (N, n_in) flattened in (H, W, C) order; pot is (1, 1, units)."""
    f = w.shape[1]
    pool = np.zeros(4, np.int64)
    for n in range(x.shape[0]):
        pot[:] = 0
        events = 0
        for i in range(x.shape[1]):
            v = x[n, i]
            if v == 0:
                continue
            events += 1
            for k in range(f):
                pot[0, 0, k] += v * w[i, k]
        counts[0] += events
        counts[1] += events * f
        output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_raw, counts)
