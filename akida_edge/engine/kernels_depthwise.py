"""Separable-convolution kernel bodies of the virtual AKD1000 (bit-exact with `reference.py`;
policy, dtype choices and validation live in `kernels.separable_layer`).

The depthwise stage builds the exact sums d[n, oy, ox, c] = Σ_taps x[n, iy, ix, c] · w_dw[ky, kx, c]
either by scattering events (`depthwise_kernel`) or, for stride 1 on non-silent inputs, by
sweeping whole rows (`depthwise_rows_kernel`); the pointwise event path (`pointwise_kernel`)
scatters every non-zero sum into its outputs, p[oy, ox, :] += d · w_pw[c, :].
"""

from __future__ import annotations

import numpy as np

from akida_edge.engine.kernels_taps import fans, sample_events, taps
from akida_edge.numba_config import kernel


@kernel(inline="always")
def count_convert(dw, dw_acc):
    """Non-zero depthwise sums; also copies them into dw_acc (the accumulator dtype) unless it is
    empty (the sums already are in that dtype). Integers: the copy is exact."""
    flat = dw.reshape(dw.size)
    nonzero = 0
    if dw_acc.size == 0:
        for t in range(flat.shape[0]):
            nonzero += flat[t] != 0
        return nonzero
    out = dw_acc.reshape(dw_acc.size)
    for t in range(flat.shape[0]):
        v = flat[t]
        out[t] = v
        nonzero += v != 0
    return nonzero


@kernel()
def depthwise_kernel(x, w_dw, pad_y, pad_x, sy, sx, f, dw, dw_acc, counts):
    """Scatter the events into the exact depthwise sums dw (N, OH, OW, C); returns their non-zeros.

    A position with many events (≥ C/4) updates all C sums at once (vectorised; its zeros add
    nothing), a position with few events updates only its events' sums (from a list of their
    channels), a position without events costs one scan. Adds the depthwise fan-out and the
    pointwise fan-out (`f` per non-zero sum) to the synaptic ops.
    """
    h, wd, c_in = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = w_dw.shape[0], w_dw.shape[1]
    oh, ow = dw.shape[1], dw.shape[2]
    ytab = taps(h, pad_y, kh, sy, oh)
    xtab = taps(wd, pad_x, kw, sx, ow)
    dw[:] = 0
    row = np.empty(c_in, dw.dtype)  # one position's inputs, converted once for all its taps
    idx = np.empty(c_in, np.int64)  # or the channels of its events, when they are few
    events = 0
    ops = 0
    for n in range(x.shape[0]):
        for iy in range(h):
            for ix in range(wd):
                xrow = x[n, iy, ix]
                nz = 0
                for c in range(c_in):
                    nz += xrow[c] != 0
                if nz == 0:
                    continue
                events += nz
                dense = 4 * nz >= c_in
                if dense:
                    for c in range(c_in):
                        row[c] = xrow[c]
                else:
                    j = 0
                    for c in range(c_in):
                        if xrow[c] != 0:
                            idx[j] = c
                            j += 1
                for ky in range(kh):
                    oy = ytab[iy, ky]
                    if oy < 0:
                        continue
                    for kx in range(kw):
                        ox = xtab[ix, kx]
                        if ox < 0:
                            continue
                        ops += nz
                        # 1-d views: plain range indices let LLVM vectorise (no wraparound)
                        out = dw[n, oy, ox]
                        wrow = w_dw[ky, kx]
                        if dense:
                            for c in range(c_in):
                                out[c] += row[c] * wrow[c]
                        else:
                            for j in range(nz):
                                c = idx[j]
                                out[c] += xrow[c] * wrow[c]
    nonzero = count_convert(dw, dw_acc)
    counts[0] += events
    counts[1] += ops + nonzero * f
    return nonzero


@kernel()
def depthwise_rows_kernel(x, x_rows, w_tile, pad_y, pad_x, f, dw, dw_rows, dw_acc, counts):
    """Dense path of a stride-1 depthwise stage: long vectorised sweeps over whole rows.

    For an output row oy and a tap (ky, kx), the outputs ox whose input column ox − pad_x + kx
    exists read one contiguous span of input row oy − pad_y + ky, so
    dw[oy, ox, c] += x[iy, ox − pad_x + kx, c] · w[ky, kx, c] is one loop over (ox, c). `x_rows`
    (N·H, W·C) and `dw_rows` (N·OH, OW·C) are 2-d views of x and dw; the weights are tiled to
    (kh, kw, OW·C), w[ky, kx, :] repeated for every ox (`tile_depthwise`). Counts events and
    fan-outs as the event path does; returns the number of non-zero sums.
    """
    n_s, h, wd, c_in = x.shape
    kh, kw = w_tile.shape[0], w_tile.shape[1]
    oh, ow = dw.shape[1], dw.shape[2]
    ytab = taps(h, pad_y, kh, 1, oh)
    xtab = taps(wd, pad_x, kw, 1, ow)
    events = 0
    ops = 0
    nonzero = 0
    fy, fx = fans(ytab), fans(xtab)
    convert = dw_acc.size > 0
    for n in range(n_s):  # one sample at a time: its sums stay in cache until converted
        dw[n] = 0
        ev_n, ops_n = sample_events(x[n], fy, fx)
        events += ev_n
        ops += ops_n
        for oy in range(oh):
            for ky in range(kh):
                iy = oy - pad_y + ky
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    lo = max(0, pad_x - kx)
                    hi = min(ow, wd + pad_x - kx)
                    if hi <= lo:
                        continue
                    a = lo * c_in
                    b = (lo - pad_x + kx) * c_in
                    span = (hi - lo) * c_in
                    # 1-d views: plain range indices let LLVM vectorise (no wraparound)
                    out = dw_rows[n * oh + oy, a:a + span]
                    src = x_rows[n * h + iy, b:b + span]
                    wts = w_tile[ky, kx, a:a + span]
                    for t in range(span):
                        out[t] += src[t] * wts[t]
        if convert:
            nonzero += count_convert(dw[n], dw_acc[n])
        else:
            nonzero += count_convert(dw[n], dw_acc)  # empty: count only
    counts[0] += events
    counts[1] += ops + nonzero * f
    return nonzero


@kernel()
def pointwise_kernel(dw, w_pw, pot):
    """Event path of the pointwise stage: every non-zero depthwise sum scatters into its F outputs."""
    f = w_pw.shape[1]
    pot[:] = 0
    for n in range(dw.shape[0]):
        for oy in range(dw.shape[1]):
            for ox in range(dw.shape[2]):
                for c in range(dw.shape[3]):
                    d = dw[n, oy, ox, c]
                    if d == 0:
                        continue
                    for k in range(f):
                        pot[n, oy, ox, k] += d * w_pw[c, k]
