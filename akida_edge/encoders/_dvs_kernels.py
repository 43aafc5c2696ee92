"""numba kernels of the event-camera emulator. No policy here: `dvs.py` validates and allocates.

The pixel model is documented in `akida_edge.encoders.dvs`; `dvs_numpy.py` is its vectorised
twin and must stay bit-identical (same floating-point operations in the same order).

One frame is processed in passes; the output is allocated once its size is known (count, then
fill), so memory follows the events actually produced:

0. `gather_changed` lists the pixels whose input changed (only when low-pass, leak and shot
   noise are off: then an unchanged pixel cannot fire, as |D| < θ after every frame);
1. `pixel_pass(fill=False)` visits the listed (or all) pixels in index order, updates the quiet
   ones in place, keeps the active ones listed, and histograms the times of their events;
2. the caller turns the histogram into bucket start offsets (a counting sort over the interval);
3. `pixel_pass(fill=True)` recomputes the active pixels in the same order and writes each event
   straight to its sorted place, so the output is sorted by t and, at equal t, by visit order
   (pixel index y·W + x, then crossing k, then the pixel's shot-noise event). Without a
   histogram (very long intervals) it writes in visit order and the caller sorts stably by t.
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
def pixel_pass(fill, cand, n_cand, use_list, frame, logf, lut, lp, ref, th_on, th_off, leak_rate, t_last,
               t0, t1, dt_s, lpf_k, leak_jit, shot_k, refr_us, seed, frame_no, act_n, hist, width,
               out_t, out_x, out_y, out_c, out_p):
    """One pass over the candidate pixels (`cand[:n_cand]`, or all pixels when not `use_list`).

    Count mode (`fill` False): count each pixel's events and add their times to `hist` (bucket
    t - t0, when `hist` is not empty); update quiet pixels in place; list the active ones in
    `cand` (overwritten from the front: safe, the write index never passes the read index).
    Fill mode (`fill` True, `cand` = the active list, `hist` = bucket start offsets or empty):
    write each event to its place in the output fields and update the state.
    Returns (n_active, n_events). The per-pixel model is written out once, here, not in a helper:
    numba does not inline a helper taking this many arrays, and the call costs more than a pixel.
    """
    n_act = 0
    total = 0
    span = float(t1 - t0)
    use_hist = hist.shape[0] > 0
    for a in range(n_cand):
        i = cand[a] if use_list else a
        v = frame[i]
        if lut.shape[0] > 0:
            lin = lut[np.int64(v)]
        else:
            lin = logf[i]
        inten = 0.0
        if lpf_k > 0.0 or shot_k > 0.0:
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
        n_cross = n_on + n_off
        if not fill and n_cross == 0 and not noisy:
            lp[i] = l1
            ref[i] = rl
            continue
        x = np.uint16(0)
        y = np.uint16(0)
        if fill:
            x = np.uint16(i % width)
            y = np.uint16(i // width)
        emitted = 0
        if n_cross > 0:
            sign = 1.0 if n_on > 0 else -1.0
            th = ton if n_on > 0 else toff
            pol = np.int8(1) if n_on > 0 else np.int8(-1)
            tl = t_last[i]
            # t_k = t0 + round(s_k * span), s_k = (sign*k*th - d0) / (d1 - d0), as base + k * step:
            # one division per pixel, not per event. Truncation equals floor after the clamp.
            scale = span / (d1 - d0)
            step = (sign * th) * scale
            base = 0.5 - d0 * scale
            for k in range(1, n_cross + 1):
                t = t0 + np.int64(base + float(k) * step)
                if t < t0:
                    t = t0
                elif t > t1:
                    t = t1
                if refr_us > 0 and t - tl < refr_us:
                    continue
                tl = t
                emitted += 1
                if not fill:
                    if use_hist:
                        hist[t - t0] += 1
                    continue
                if use_hist:
                    pos = hist[t - t0]
                    hist[t - t0] = pos + 1
                else:
                    pos = total + emitted - 1
                out_t[pos] = t
                out_x[pos] = x
                out_y[pos] = y
                out_c[pos] = 0
                out_p[pos] = pol
            if fill:
                t_last[i] = tl
        if noisy:
            u_t = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_SHOT_TIME))
            t = t0 + 1 + np.int64(math.floor(u_t * span))
            emitted += 1
            if not fill:
                if use_hist:
                    hist[t - t0] += 1
            else:
                if use_hist:
                    pos = hist[t - t0]
                    hist[t - t0] = pos + 1
                else:
                    pos = total + emitted - 1
                u_p = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_SHOT_POLARITY))
                out_t[pos] = t
                out_x[pos] = x
                out_y[pos] = y
                out_c[pos] = 0
                out_p[pos] = np.int8(1) if u_p < 0.5 else np.int8(-1)
        if fill:
            lp[i] = l1
            ref[i] = (rl + float(n_on) * ton) - float(n_off) * toff
            if noisy:
                ref[i] = l1
        else:
            cand[n_act] = i
            act_n[n_act] = emitted
        n_act += 1
        total += emitted
    return n_act, total
