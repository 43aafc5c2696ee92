"""numba kernels of the audio and vibration front-ends: fused passes NumPy would make one array at a time.

Kernels hold no policy (STYLE.md §3): `frontends.vibration` validates, allocates and calls them.
Each output element depends only on its own window, summed in a fixed sequential order, so
results do not depend on how many windows are processed together (streaming == batch).
"""

from __future__ import annotations

import numpy as np

from akida_edge.numba_config import kernel


@kernel()
def window_stats(frames, hann, xw, stats):
    """For each window (n, W, A) and axis: remove the mean, write the Hann-windowed signal to
    xw (n, A, W) and [RMS, kurtosis, crest factor] to stats (n, A, 3); zeros for a flat window."""
    n, w, a_n = frames.shape
    for i in range(n):
        for a in range(a_n):
            s = 0.0
            for k in range(w):
                s += frames[i, k, a]
            mean = s / w
            s2 = 0.0
            s4 = 0.0
            mx = 0.0
            for k in range(w):
                d = frames[i, k, a] - mean
                d2 = d * d
                s2 += d2
                s4 += d2 * d2
                if abs(d) > mx:
                    mx = abs(d)
                xw[i, a, k] = d * hann[k]
            ms = s2 / w
            if ms > 0.0:
                stats[i, a, 0] = np.sqrt(ms)
                stats[i, a, 1] = (s4 / w) / (ms * ms)
                stats[i, a, 2] = mx / np.sqrt(ms)
            else:
                stats[i, a, 0] = 0.0
                stats[i, a, 1] = 0.0
                stats[i, a, 2] = 0.0


@kernel()
def band_db(spec, starts, stops, scale, floor, out):
    """out[..., b] = 10·log10(scale · Σ_{k in band b} |spec[..., k]|² + floor) for spec (R, K)."""
    rows = spec.shape[0]
    for r in range(rows):
        for b in range(starts.size):
            s = 0.0
            for k in range(starts[b], stops[b]):
                v = spec[r, k]
                s += v.real * v.real + v.imag * v.imag
            out[r, b] = 10.0 * np.log10(s * scale + floor)


@kernel()
def centred_magnitude(z, out):
    """out = |z| − mean(|z|) per row of z (R, m)."""
    rows, m = z.shape
    for r in range(rows):
        s = 0.0
        for k in range(m):
            v = abs(z[r, k])
            out[r, k] = v
            s += v
        mean = s / m
        for k in range(m):
            out[r, k] -= mean


@kernel()
def mel_db(spec, idx, wts, starts, inv_norm, floor, out):
    """out[r, b] = 10·log10(inv_norm · Σ_j wts[j]·|spec[r, idx[j]]|² + floor) over the nonzeros j of
    band b (starts[b] .. starts[b + 1]; the last band runs to the end of idx)."""
    rows = spec.shape[0]
    n_bands = starts.size
    for r in range(rows):
        for b in range(n_bands):
            stop = starts[b + 1] if b + 1 < n_bands else idx.size
            s = 0.0
            for j in range(starts[b], stop):
                v = spec[r, idx[j]]
                s += wts[j] * (v.real * v.real + v.imag * v.imag)
            out[r, b] = 10.0 * np.log10(s * inv_norm + floor)
