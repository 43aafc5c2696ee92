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
2. `key_pass` applies the refractory filter and lists the events in visit order (pixel index
   y·W + x, then crossing k, then the pixel's shot-noise event) as packed uint64 keys (time
   offset, y, x, polarity), histogramming the digits of their time offsets;
3. `radix_pass` (zero or more times) and `radix_emit` (once) sort the keys stably by time, an
   LSD radix sort on the time bits only, and `radix_emit` unpacks them into the output, so the
   output is sorted by t and, at equal t, by visit order. Intervals up to 4095 µs take a single
   pass (one bucket per µs), 30 fps frames two. For intervals of 2^31 µs and more, `hist_pass`
   lists the events in flat columns and the caller sorts them stably by t instead.

Busy scenes (every pixel firing) are limited by memory traffic: the output is written once,
record by record (whole-record stores are about twice as fast as five strided field views), and
the earlier per-µs counting sort over separate columns cost about a third more per frame.

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
    `noise_t` / `noise_p` may be empty when shot noise is off (`shot_k` = 0).

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
        if shot_k > 0.0:  # noise_t is empty when shot noise is off (its traffic is saved)
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
        tn = noise_t[a] if noise_t.shape[0] > 0 else NO_NOISE
        if tn != NO_NOISE:
            col_t[j] = tn
            col_x[j] = x
            col_y[j] = y
            col_p[j] = noise_p[a]
            j += 1
            if use_hist:
                hist[np.uint64(tn - t0)] += 1
    return j


# ---------------------------------------------------------------------- packed keys, radix sort
# An event packed in one uint64: t - t0 in bits [63:33] (31 bits, intervals < 2^31 µs), y in
# [32:17], x in [16:1], OFF polarity in bit 0. A stable LSD radix sort on the time bits only
# (digits of `digit_bits` bits, each pass a scatter into 2^digit_bits streams, few enough to stay
# in cache) keeps the visit order among equal times, as the one-pass counting sort with one
# bucket per µs did; that one scattered into ~1000 streams and was limited by cache misses.
KEY_T_SHIFT = 33


@njit(cache=True)
def key_pass(cand, n_act, act_n, base, step, noise_t, noise_p, t_last, t0, t1, refr_us, width,
             digit_bits, n_digits, hist, keys):
    """As `hist_pass`, but each event is one packed key (see above) and `hist` (n_digits,
    2^digit_bits, zeroed) counts every time digit. Returns the number of events."""
    j = 0
    mask = (np.int64(1) << digit_bits) - 1
    row = 0
    row_start = 0
    for a in range(n_act):
        i = cand[a]
        while i >= row_start + width:
            row += 1
            row_start += width
        xy = (np.uint64(row) << np.uint64(17)) | (np.uint64(i - row_start) << np.uint64(1))
        tl = t_last[i]
        b = base[a]
        st = step[a]
        n = act_n[a]
        off = np.uint64(0) if n > 0 else np.uint64(1)
        for k in range(1, abs(n) + 1):
            t = t0 + np.int64(b + float(k) * st)
            if t < t0:
                t = t0
            elif t > t1:
                t = t1
            if refr_us > 0 and t - tl < refr_us:
                continue
            tl = t
            rel = t - t0
            keys[j] = (np.uint64(rel) << np.uint64(KEY_T_SHIFT)) | xy | off
            j += 1
            for d in range(n_digits):
                hist[d, (rel >> (d * digit_bits)) & mask] += 1
        t_last[i] = tl
        tn = noise_t[a] if noise_t.shape[0] > 0 else NO_NOISE
        if tn != NO_NOISE:
            rel = tn - t0
            keys[j] = (np.uint64(rel) << np.uint64(KEY_T_SHIFT)) | xy | (
                np.uint64(1) if noise_p[a] < 0 else np.uint64(0))
            j += 1
            for d in range(n_digits):
                hist[d, (rel >> (d * digit_bits)) & mask] += 1
    return j


@njit(cache=True)
def radix_pass(n, src, dst, starts, shift, mask):
    """One stable scatter of src[:n] into dst by the time digit (key >> (33 + shift)) & mask;
    `starts` holds each digit's first output slot (advanced in place)."""
    s = np.uint64(KEY_T_SHIFT + shift)
    m = np.uint64(mask)
    for j in range(n):
        key = src[j]
        d = (key >> s) & m
        pos = starts[d]
        starts[d] = pos + 1
        dst[pos] = key


@njit(cache=True)
def radix_emit(n, src, starts, shift, mask, t0, out):
    """The last radix pass, unpacking each key into its sorted place of `out` (`EVENT_DTYPE`).

    Whole-record access: about twice as fast as writing through the five strided field views.
    """
    s = np.uint64(KEY_T_SHIFT + shift)
    m = np.uint64(mask)
    m16 = np.uint64(0xFFFF)
    for j in range(n):
        key = src[j]
        d = (key >> s) & m
        pos = starts[d]
        starts[d] = pos + 1
        r = out[pos]
        r.t = t0 + np.int64(key >> np.uint64(KEY_T_SHIFT))
        r.x = np.uint16((key >> np.uint64(1)) & m16)
        r.y = np.uint16((key >> np.uint64(17)) & m16)
        r.c = 0
        r.p = np.int8(-1) if key & np.uint64(1) else np.int8(1)
