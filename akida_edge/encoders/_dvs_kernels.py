"""numba kernels of the event-camera emulator. No policy here: `dvs.py` validates and allocates.

The pixel model is documented in `akida_edge.encoders.dvs`; `dvs_numpy.py` is its vectorised
twin and must stay bit-identical (same floating-point operations in the same order).

One frame is processed in passes; the output is allocated once its size is known (count, then
fill), so memory follows the events actually produced:

0. `gather_changed` lists the pixels whose input changed (only when low-pass, leak and shot
   noise are off: then an unchanged pixel cannot fire, as |D| < θ after every frame);
1. `model_pass` runs the pixel model on the listed (or all) pixels in index order, updates their
   levels, and keeps the active ones listed with what their events need (crossing count, time
   ramp base + k·step, shot-noise time and polarity);
2. `hist_pass` applies the refractory filter, lists the events in visit order (pixel index
   y·W + x, then crossing k, then the pixel's shot-noise event) in flat columns and histograms
   their times over the interval; the caller turns the histogram into bucket start offsets;
3. `scatter_pass` moves every event to its place in the output (a stable counting sort), so the
   output is sorted by t and, at equal t, by visit order. Without a histogram (very long
   intervals) the caller sorts the columns stably by t instead.

The passes are separate small loops on purpose: a histogram update inside the big model loop
ran several times slower than the same work split out.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from akida_edge.encoders._hash import (
    STREAM_LEAK,
    STREAM_SHOT,
    STREAM_SHOT_POLARITY,
    STREAM_SHOT_TIME,
    uniform,
)

_INV_275 = 1.0 / 275.0  # v2e's intensity scale: i01 = (I + 20) / 275
NO_NOISE = -(1 << 63)  # "no shot-noise event" (times may be negative, so not -1)


@njit(cache=True)
def gather_changed(frame_w, prev_w, frame, prev, group, out):
    """Indices of the pixels whose input changed, into `out`; returns their count.

    `frame_w`, `prev_w` view the leading pixels as uint64 words (`group` pixels per word), so
    unchanged stretches are skipped 8 bytes at a time; the tail is compared pixel by pixel.
    """
    n = 0
    n_words = frame_w.shape[0]
    for w in range(n_words):
        if frame_w[w] != prev_w[w]:
            for i in range(w * group, (w + 1) * group):
                if frame[i] != prev[i]:
                    out[n] = i
                    n += 1
    for i in range(n_words * group, frame.shape[0]):
        if frame[i] != prev[i]:
            out[n] = i
            n += 1
    return n


@njit(cache=True)
def model_pass(cand, n_cand, use_list, frame, logf, lut, lp, ref, th_on, th_off, leak_rate,
               t0, t1, dt_s, lpf_k, leak_jit, shot_k, seed, frame_no, fixed_inten,
               act_n, base, step, noise_t, noise_p):
    """Pixel model over `cand[:n_cand]` (or all pixels when not `use_list`).

    Returns (n_active, an upper bound of the events: crossings plus shot-noise events).

    Updates `lp` and `ref` of every visited pixel. Active pixels (a crossing or a shot-noise
    event) are listed in `cand` (overwritten from the front: the write index never passes the read
    index) with their crossing count `act_n` (negative for OFF crossings), time ramp
    t_k = t0 + trunc(base + k·step) and shot-noise time `noise_t` (`NO_NOISE`: none) and
    polarity `noise_p`.
    """
    n_act = 0
    n_upper = 0
    span = float(t1 - t0)
    for a in range(n_cand):
        i = cand[a] if use_list else a
        v = frame[i]
        if lut.shape[0] > 0:
            lin = lut[np.int64(v)]
        else:
            lin = logf[i]
        inten = fixed_inten  # >= 0 for log input (no intensity to scale by)
        if fixed_inten < 0.0 and (lpf_k > 0.0 or shot_k > 0.0):
            inten = (float(v) + 20.0) * _INV_275
            if inten > 1.0:
                inten = 1.0
        l0 = lp[i]
        l1 = lin
        if lpf_k > 0.0:
            eps = inten * dt_s * lpf_k
            if eps > 1.0:
                eps = 1.0
            l1 = l0 + eps * (lin - l0)
        ton = th_on[i]
        toff = th_off[i]
        r0 = ref[i]
        rl = r0
        if leak_rate.shape[0] > 0:
            u = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_LEAK))
            rl = r0 - dt_s * leak_rate[i] * ton * (1.0 + leak_jit * (2.0 * u - 1.0))
        d0 = l0 - r0
        d1 = l1 - rl
        n_on = 0
        n_off = 0
        if d1 >= ton:
            n_on = np.int64(math.floor(d1 / ton))
        elif d1 <= -toff:
            n_off = np.int64(math.floor(-d1 / toff))
        noisy = False
        if shot_k > 0.0:
            u_shot = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_SHOT))
            noisy = u_shot < shot_k * (1.0 - 0.75 * inten) / ton
        lp[i] = l1
        ref[i] = (rl + float(n_on) * ton) - float(n_off) * toff
        n_cross = n_on + n_off
        if n_cross == 0 and not noisy:
            continue
        if n_cross > 0:
            # t_k = t0 + round(s_k * span), s_k = (sign*k*th - d0) / (d1 - d0), as base + k * step:
            # one division per pixel, not per event. Truncation equals floor after the clamp.
            sign = 1.0 if n_on > 0 else -1.0
            th = ton if n_on > 0 else toff
            scale = span / (d1 - d0)
            step[n_act] = (sign * th) * scale
            base[n_act] = 0.5 - d0 * scale
        noise_t[n_act] = NO_NOISE
        if noisy:
            ref[i] = l1
            u_t = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_SHOT_TIME))
            u_p = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_SHOT_POLARITY))
            noise_t[n_act] = t0 + 1 + np.int64(math.floor(u_t * span))
            noise_p[n_act] = np.int8(1) if u_p < 0.5 else np.int8(-1)
        cand[n_act] = i
        act_n[n_act] = n_on - n_off
        n_act += 1
        n_upper += n_cross + (1 if noisy else 0)
    return n_act, n_upper


@njit(cache=True)
def hist_pass(cand, n_act, act_n, base, step, noise_t, noise_p, t_last, t0, t1, refr_us, width, hist,
              col_t, col_x, col_y, col_p):
    """The events of the active pixels after the refractory filter, in visit order, into columns.

    Updates `t_last` and adds each time to `hist` (length t1 - t0 + 1, zeroed; may be empty).
    `cand` is ascending, so each pixel's row is tracked, not divided out. Returns the count.
    """
    j = 0
    use_hist = hist.shape[0] > 0
    row = 0
    row_start = 0
    for a in range(n_act):
        i = cand[a]
        while i >= row_start + width:
            row += 1
            row_start += width
        x = np.uint16(i - row_start)
        y = np.uint16(row)
        tl = t_last[i]
        b = base[a]
        st = step[a]
        n = act_n[a]
        pol = np.int8(1) if n > 0 else np.int8(-1)
        for k in range(1, abs(n) + 1):
            t = t0 + np.int64(b + float(k) * st)
            if t < t0:
                t = t0
            elif t > t1:
                t = t1
            if refr_us > 0 and t - tl < refr_us:
                continue
            tl = t
            col_t[j] = t
            col_x[j] = x
            col_y[j] = y
            col_p[j] = pol
            j += 1
            if use_hist:
                hist[np.uint64(t - t0)] += 1
        t_last[i] = tl
        tn = noise_t[a]
        if tn != NO_NOISE:
            col_t[j] = tn
            col_x[j] = x
            col_y[j] = y
            col_p[j] = noise_p[a]
            j += 1
            if use_hist:
                hist[np.uint64(tn - t0)] += 1
    return j


@njit(cache=True)
def scatter_pass(n, t0, hist, col_t, col_x, col_y, col_p, out_t, out_x, out_y, out_c, out_p):
    """Write the first n column entries to their sorted places (`hist` = bucket starts), stably."""
    for j in range(n):
        t = col_t[j]
        b = np.uint64(t - t0)
        pos = hist[b]
        hist[b] = pos + 1
        out_t[pos] = t
        out_x[pos] = col_x[j]
        out_y[pos] = col_y[j]
        out_c[pos] = 0
        out_p[pos] = col_p[j]
