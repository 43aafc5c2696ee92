"""Tap tables shared by the convolution and depthwise kernels (`kernels_conv.py`,
`kernels_depthwise.py`): which output each input index feeds through each tap, without div/mod in
the hot loops, and a sample's activity counts from them (`sample_events`).

Along one axis with padding `pad` before, kernel size `k` and stride `s`, input index i feeds
output u // s through tap t when u = i + pad − t ≥ 0, u ≡ 0 (mod s) and u // s < n_out.
"""

from __future__ import annotations

import numpy as np

from akida_edge.engine.kernels_compact import count_range
from akida_edge.numba_config import kernel


@kernel(inline="always")
def taps(n_in, pad, k, s, n_out):
    """tab[i, t] = output index fed by input i through tap t, or −1 (no div/mod in hot loops).

    Filled from the outputs' side (output o, tap t reads input o·s − pad + t): no division (the
    inputs' side takes two per entry: 114 against 29 ns for a 24 × 3 table, per kernel call)."""
    tab = np.full((n_in, k), -1, np.int64)
    for o in range(n_out):
        for t in range(k):
            i = o * s - pad + t
            if 0 <= i < n_in:
                tab[i, t] = o
    return tab


@kernel(inline="always")
def fans(tab):
    """Per input index, how many taps of `taps` reach an output (its fan-out along that axis)."""
    fan = np.zeros(tab.shape[0], np.int64)
    for i in range(tab.shape[0]):
        for t in range(tab.shape[1]):
            fan[i] += tab[i, t] >= 0
    return fan


@kernel(inline="always")
def sample_events(xs, fy, fx):
    """(events, synaptic taps) of one sample xs (H, W, C): its non-zero inputs, and the sum over
    them of the taps reaching an output, fy[iy] · fx[ix] (`fans`); a dense path's activity counts
    as the event path's. The positions' events by byte masks on the flat sample (no view per
    position: each would cost two atomic reference counts)."""
    h, w, c = xs.shape
    flat = xs.reshape(h * w * c)
    events = 0
    ops = 0
    for iy in range(h):
        for ix in range(w):
            p = (iy * w + ix) * c
            nz = count_range(flat, p, p + c)
            events += nz
            ops += nz * fy[iy] * fx[ix]
    return events, ops
