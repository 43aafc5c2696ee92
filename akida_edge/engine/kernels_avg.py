"""Global average pooling folded into a layer's dense product (exact, integer semantics).

A layer with global average pooling (`output_stage.MODE_AVG`) activates the spatial sum of its
potentials, S[f] = Σ_pos p[pos, f] (DESIGN.md §3). Its dense stage is a product p = a @ b of
rows a (the depthwise sums of a separable layer, or the receptive fields of a convolution, one row
per output position) with the weights b (K, F), and a sum of products is the product of the sum:

    S[f] = Σ_pos Σ_k a[pos, k] · b[k, f] = Σ_k (Σ_pos a[pos, k]) · b[k, f]

so `avg_product_kernel` sums each sample's rows first (K values per position) and then takes one
vector-matrix product (K · F multiply-adds per sample instead of positions · K · F). The DS-CNN's
last separable layer (125 positions, 64 → 64 channels) thus costs ~8 000 additions and 4 096
multiply-adds per sample instead of 512 000 multiply-adds and the pooling of 8 000 potentials.

Exactness: every value is an integer. In float64 (53-bit significand) the column sums
|Σ_pos a[pos, k]| ≤ positions · max|a| and every partial sum of S, which is a sum over positions
of partial sums of potentials (each below 2^23 in a `kernels.f32_ok` layer), stay below
positions · 2^23 < 2^53 for any map of fewer than 2^30 positions, so float64 holds them exactly
in any summation order. The activation is then the reference's rule on S (`_activate_one` with
N·T, N·s16 and N·amax·s16), the synaptic-op and event counts are the dense stage's (the caller
counts the inputs as before; this kernel counts the output events).
"""

from __future__ import annotations

import numpy as np

from akida_edge.engine.output_stage import _activate_one
from akida_edge.numba_config import kernel


@kernel()
def avg_product_kernel(a, b, npos, thr, act_step, amax, out_u8, counts):
    """Globally average-pooled activations of a @ b: a (N·npos, K) float32 rows, sample by sample
    (npos rows each), b (K, F) float32; writes out_u8 (N, 1, 1, F) and adds its output events."""
    k_len, f = b.shape
    n_s = a.shape[0] // max(npos, 1)
    s = np.empty(k_len, np.float64)
    total = np.empty(f, np.float64)
    events = 0
    for n in range(n_s):
        s[:] = 0.0
        for r in range(n * npos, (n + 1) * npos):
            row = a[r]
            for k in range(k_len):
                s[k] += row[k]
        total[:] = 0.0
        for k in range(k_len):
            sk = s[k]
            if sk == 0.0:
                continue
            brow = b[k]
            for j in range(f):
                total[j] += sk * brow[j]
        for j in range(f):
            s16 = np.int64(act_step[j] * 16.0)  # a multiple of 1/16: exact
            y = _activate_one(np.int64(total[j]), npos * np.int64(thr[j]), npos * s16, npos * amax * s16)
            out_u8[n, 0, 0, j] = y
            events += y != 0
    counts[2] += events
