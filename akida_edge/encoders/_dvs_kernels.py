"""numba kernels of the event-camera emulator. No policy here: `dvs.py` validates and allocates.

The pixel model is documented in `akida_edge.encoders.dvs`; `dvs_numpy.py` is its vectorised
twin and must stay bit-identical (same floating-point operations in the same order).

One frame is three kernels: `model_keys` (here) runs the pixel model and lists the events as
packed sort keys in visit order (pixel index y·W + x, then crossing k, then the pixel's
shot-noise event) while counting their time digits; `_dvs_sort.radix_pass` (once per digit)
sorts the keys stably by time; `_dvs_sort.unpack` writes each sorted key as its 15-byte record,
in order (count, then fill: the output is allocated once its size is known).

`model_keys` walks the pixels in chunks of `CHUNK_PX` in index order. Without low-pass, leak and
shot noise an unchanged pixel cannot fire (|D| < θ after every frame), so only changed pixels
are visited: a chunk with no changed 8-byte word is skipped; a chunk with at least 3/4 of its
pixels changed is **dense**, any other is listed pixel by pixel (over several chunks, up to
CHUNK_PX of them).

- **Listed pixels** (`_model_list`, then `_emit_keys`): the full model (low-pass, leak, noise,
  refractory filter) pixel by pixel into short per-pixel arrays (count, time ramp t_k = t0 +
  trunc(base + k·step), noise event), then one key per event.
- **Dense chunks, refractory off** (the busy scene): `_dense_model` is one branch-free loop that
  LLVM vectorises (four pixels per AVX2 instruction; its divisions are the same IEEE operations
  as the scalar ones). It reads the state and writes only two chunk arrays, interleaved per pixel
  so that LLVM needs no run-time alias checks: the crossing count with the new reference level,
  and the packed keys of crossings 1 to 4. `_dense_keys` then copies four candidate keys per
  active pixel and advances the write index over the real ones (ramps of the rare pixels with
  more crossings are recomputed), and `_dense_store` writes lp and ref back (vectorised). Pixel
  indices in these loops are unsigned: a signed index costs a negative-index wrap-around select
  per load, which turned the vector loads into scalar ones (the loop ran 1.5 times slower).
  With the refractory period on, dense chunks run `_model_dense` and the listed pixels' key loop.
- The time digits of each chunk's keys are counted right after (`_count_digits`, in cache).

Packed key: t - t0 above bit `t_shift`, the pixel index in bits [t_shift - 1 : 1], OFF polarity
in bit 0, with t_shift = 1 + bits(H·W - 1). Keys are uint32 when the time and pixel bits fit
(VGA and 720p at 1 kHz: 10 + 19 or 20 + 1 bits), else uint64. The LSD radix sort on the time
bits only (digits of `digit_bits` bits) keeps the visit order among equal times; intervals up to
4095 µs take a single pass (one bucket per µs), 30 fps frames two. For intervals of 2^31 µs and
more (`wide`), the keys hold only (pixel, polarity), the times go to a separate int64 column,
and the caller sorts stably by t.

Busy scenes (every pixel firing, ~2.5 events per pixel per frame) are bound by stores and cache
misses. Memory traffic per event: model ≈ 20 B (34 B read and 16 B written per pixel), keys 4 B
written, scatter 4 + 4 B, unpack 4 B read and the 15-byte record written (+ 15 B read for
ownership when the output is not cached): ≈ 52-67 B; at ≈ 14 GB/s for one core's streams on the
project's machine that bounds the rate at ≈ 210-270 M events/s (the output alone: ≈ 870).
Measured per busy VGA frame on one core (AMD EPYC, thread CPU time, best frames at load ≈ 3-5):
≈ 5.2 ms in all (≈ 16 cycles per event): model_keys ≈ 2.9 ms (dense model ≈ 1.4, the vector
loop being ≈ 170 instructions per 4 pixels), key scatter ≈ 1.2 ms, unpack ≈ 0.9 ms. Scattering
the 15-byte records themselves by their time digit was about four times slower than scattering
the 4-byte keys and writing the records in sequence (each record store of a scatter misses
another cache line); two passes of 5 bits, an MSD split into L2-sized buckets, counting inside
the key loop, and buckets of a fixed capacity (no count) were all slower than one counted pass.
"""

from __future__ import annotations

import math

import numpy as np

from akida_edge.encoders._hash import (
    STREAM_LEAK,
    STREAM_SHOT,
    STREAM_SHOT_POLARITY,
    STREAM_SHOT_TIME,
    uniform,
)
from akida_edge.numba_config import kernel

_INV_275 = 1.0 / 275.0  # v2e's intensity scale: i01 = (I + 20) / 275
NO_NOISE = -(1 << 63)  # "no shot-noise event" (times may be negative, so not -1)
CHUNK_PX = 1024  # pixels per chunk (a multiple of 8: whole uint64 words of uint8 pixels)
_FAST_MAX_CROSSINGS = 4  # crossings handled by the branch-free key path


@kernel()
def _model_list(m, idx, frame, logf, lut, lp, ref, th_on, th_off, leak_rate, t0, t1, dt_s, lpf_k, leak_jit,
                shot_k, seed, frame_no, fixed_inten, cnt, base, step, nz_t, nz_p):
    """Pixel model over `idx[:m]`; the active ones are compacted to the front of idx, cnt, base,
    step, nz_t, nz_p (the write index never passes the read index). Returns (n_active, events upper
    bound). Updates `lp` and `ref` of every visited pixel."""
    n_act = 0
    bound = 0
    span = float(t1 - t0)
    for a in range(m):
        i = idx[a]
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
        nz_t[n_act] = NO_NOISE
        if noisy:
            ref[i] = l1
            u_t = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_SHOT_TIME))
            u_p = uniform(seed, frame_no, np.uint64(i), np.uint64(STREAM_SHOT_POLARITY))
            nz_t[n_act] = t0 + 1 + np.int64(math.floor(u_t * span))
            nz_p[n_act] = np.uint64(0) if u_p < 0.5 else np.uint64(1)
        idx[n_act] = i
        cnt[n_act] = float(n_on - n_off)
        n_act += 1
        bound += n_cross + (1 if noisy else 0)
    return n_act, bound


@kernel()
def _model_dense(p0, p1, frame, prev, lin, lp, ref, th_on, th_off, span, idx, cnt, base, step, nz_t):
    """The pixel model without low-pass, leak or noise over every pixel of [p0, p1); unchanged
    pixels get no crossing and keep their state. `lin` holds the chunk's log levels. Returns the
    events upper bound; entries with cnt = 0 are inactive."""
    n = p1 - p0
    for q in range(n):  # vectorised by LLVM: no branch, only local arrays written
        i = p0 + q
        changed = frame[i] != prev[i]
        r0 = ref[i]
        ton = th_on[i]
        toff = th_off[i]
        d0 = lp[i] - r0
        d1 = lin[q] - r0
        up = d1 >= ton
        down = d1 <= -toff
        n_on = math.floor(d1 / ton)  # the same divisions as `_model_list`, for every lane
        n_off = math.floor(-d1 / toff)
        c = n_on if up else (-n_off if down else 0.0)
        cnt[q] = c if changed else 0.0
        scale = span / (d1 - d0)
        step[q] = (ton if up else -toff) * scale  # (sign * th) * scale
        base[q] = 0.5 - d0 * scale
    bound = 0
    for q in range(n):
        i = p0 + q
        idx[q] = i
        nz_t[q] = NO_NOISE
        if frame[i] != prev[i]:
            c = cnt[q]
            n_on = c if c > 0.0 else 0.0
            n_off = -c if c < 0.0 else 0.0
            lp[i] = lin[q]
            ref[i] = (ref[i] + n_on * th_on[i]) - n_off * th_off[i]
            bound += np.int64(n_on + n_off)
    return bound


@kernel()
def _emit_keys(n_act, idx, cnt, base, step, nz_t, nz_p, t_last, t0, t1, refr_us, t_shift, keys, wide_t, j):
    """Keys of the listed pixels' events after the refractory filter, from `keys[j]` on (with 4
    slots of slack); updates `t_last` when the refractory period is on. Returns j."""
    wide = wide_t.shape[0] > 0
    fast = refr_us <= 0 and not wide
    span_i = t1 - t0
    span_f = float(span_i)
    tsh = np.uint64(t_shift)
    for a in range(n_act):
        c = cnt[a]
        tn = nz_t[a]
        if c == 0.0 and tn == NO_NOISE:
            continue
        i = idx[a]
        pix = np.uint64(i) << np.uint64(1)
        nc = np.int64(c)
        n = abs(nc)
        if n > 0:
            pxo = pix | (np.uint64(0) if nc > 0 else np.uint64(1))
            b = base[a]
            st = step[a]
            tl = t_last[i] if refr_us > 0 else t0
            if fast and n <= _FAST_MAX_CROSSINGS:
                # clamped in float, then truncated: equal to truncating, then clamping (0 <= t - t0
                # <= span < 2^31), and no conversion overflows for the unused candidates
                x1 = min(max(b + 1.0 * st, 0.0), span_f)
                x2 = min(max(b + 2.0 * st, 0.0), span_f)
                x3 = min(max(b + 3.0 * st, 0.0), span_f)
                x4 = min(max(b + 4.0 * st, 0.0), span_f)
                keys[j] = (np.uint64(np.uint32(x1)) << tsh) | pxo
                keys[j + 1] = (np.uint64(np.uint32(x2)) << tsh) | pxo
                keys[j + 2] = (np.uint64(np.uint32(x3)) << tsh) | pxo
                keys[j + 3] = (np.uint64(np.uint32(x4)) << tsh) | pxo
                j += n
            else:
                for k in range(1, n + 1):
                    t = t0 + np.int64(b + float(k) * st)
                    if t < t0:
                        t = t0
                    elif t > t1:
                        t = t1
                    if refr_us > 0 and t - tl < refr_us:
                        continue
                    tl = t
                    if wide:
                        wide_t[j] = t
                        keys[j] = pxo
                    else:
                        keys[j] = (np.uint64(t - t0) << tsh) | pxo
                    j += 1
            if refr_us > 0:
                t_last[i] = tl
        if tn != NO_NOISE:
            if wide:
                wide_t[j] = tn
                keys[j] = pix | nz_p[a]
            else:
                keys[j] = (np.uint64(tn - t0) << tsh) | pix | nz_p[a]
            j += 1
    return j


@kernel()
def _count_digits(keys, j0, j1, t_shift, digit_bits, n_digits, counts):
    """Counts the time digits of keys[j0:j1] into `counts` (n_digits, 4, 2^digit_bits): four
    interleaved copies, so that consecutive increments of one bin do not wait for each other."""
    mask = np.uint64((1 << digit_bits) - 1)
    three = np.uint64(3)
    for d in range(n_digits):
        shift = np.uint64(t_shift + d * digit_bits)
        for jj in range(np.uint64(j0), np.uint64(j1)):  # unsigned: no negative-index wrap-around
            counts[d, jj & three, (np.uint64(keys[jj]) >> shift) & mask] += 1


@kernel()
def _grown(keys, wide_t, j, need):
    """`keys` (and `wide_t` when it is used) with room for `need` more entries after the first j."""
    if j + need <= keys.shape[0]:
        return keys, wide_t
    size = max(2 * keys.shape[0], j + need)
    grown = np.empty(size, keys.dtype)
    grown[:j] = keys[:j]
    if wide_t.shape[0] > 0:
        grown_t = np.empty(size, np.int64)
        grown_t[:j] = wide_t[:j]
        wide_t = grown_t
    return grown, wide_t


@kernel()
def _keys_of(n_act, bound, idx, cnt, base, step, nz_t, nz_p, t_last, t0, t1, refr_us, t_shift, digit_bits,
             n_digits, counts, keys, wide_t, j):
    """`_emit_keys` after growing `keys` (and `wide_t`) to fit `bound` more events, then the digit
    counts of the new keys. Returns (keys, wide_t, j)."""
    keys, wide_t = _grown(keys, wide_t, j, bound + _FAST_MAX_CROSSINGS)
    j0 = j
    j = _emit_keys(n_act, idx, cnt, base, step, nz_t, nz_p, t_last, t0, t1, refr_us, t_shift, keys, wide_t, j)
    if wide_t.shape[0] == 0:
        _count_digits(keys, j0, j, t_shift, digit_bits, n_digits, counts)
    return keys, wide_t, j


@kernel()
def _dense_model(p0, p1, frame, prev, lin, lp, ref, th_on, th_off, span, t_shift, kk, work):
    """The pixel model without low-pass, leak, noise or refractory period over every pixel of
    [p0, p1), with each pixel's first four event keys. `lin` holds the chunk's log levels.

    One branch-free loop that LLVM vectorises. It reads the state and writes only two arrays of
    the chunk, interleaved per pixel q (so that LLVM needs no run-time alias checks between them):
    kk[4q + k - 1], the packed key of crossing k = 1..4 (those beyond the pixel's count unused), and
    work[2q:2q + 2] = (crossings, new ref); an unchanged pixel has 0 crossings and keeps its ref.
    The one division of the count is d1/θ_on for an ON pixel and −d1/θ_off for an OFF one, the
    same IEEE operations as `_model_list`'s; crossing k happens at t0 + trunc(base + k·step),
    clamped to [t0, t1] (`_ramp`). The state is written back by `_dense_store`.
    """
    tsh = np.uint64(t_shift)
    base_px = np.uint64(p0)
    for q in range(p1 - p0):
        i = base_px + np.uint64(q)  # unsigned: no negative-index wrap-around, the loads stay vector loads
        changed = frame[i] != prev[i]
        l0 = lp[i]
        r0 = ref[i]
        ton = th_on[i]
        toff = th_off[i]
        d1 = lin[q] - r0
        up = d1 >= ton
        down = d1 <= -toff
        pos = d1 >= 0.0
        n = np.floor((d1 if pos else -d1) / (ton if pos else toff))
        c_on = n if up & changed else 0.0
        c_off = n if down & changed else 0.0
        b, st = _ramp(l0, lin[q], r0, ton, toff, span)
        pxo = (i << np.uint64(1)) | (np.uint64(0) if up else np.uint64(1))
        a1 = b + st
        a2 = b + 2.0 * st
        a3 = b + 3.0 * st
        a4 = b + 4.0 * st
        # clamped to [0, span] in float (NaN of unused lanes -> 0), then truncated: equal to
        # truncating, then clamping, since span is a whole number below 2^31
        a1 = a1 if a1 > 0.0 else 0.0
        a2 = a2 if a2 > 0.0 else 0.0
        a3 = a3 if a3 > 0.0 else 0.0
        a4 = a4 if a4 > 0.0 else 0.0
        kk[4 * q] = (np.uint64(np.int32(a1 if a1 < span else span)) << tsh) | pxo
        kk[4 * q + 1] = (np.uint64(np.int32(a2 if a2 < span else span)) << tsh) | pxo
        kk[4 * q + 2] = (np.uint64(np.int32(a3 if a3 < span else span)) << tsh) | pxo
        kk[4 * q + 3] = (np.uint64(np.int32(a4 if a4 < span else span)) << tsh) | pxo
        work[2 * q] = c_on + c_off
        work[2 * q + 1] = ((r0 + c_on * ton) - c_off * toff) if changed else r0


@kernel(inline="always")
def _ramp(l0, l1, r0, ton, toff, span):
    """(base, step) of a pixel's crossing times: t_k = t0 + trunc(base + k·step), as `_model_list`."""
    d0 = l0 - r0
    d1 = l1 - r0
    scale = span / (d1 - d0)
    return 0.5 - d0 * scale, (ton if d1 >= ton else -toff) * scale


@kernel()
def _dense_keys(p0, q0, m, kk, work, lin, lp, ref, th_on, th_off, span, t_shift, keys, j):
    """The events of `_dense_model`'s chunk (pixels p0 + q, q from q0 to m) in pixel, then crossing
    order, from keys[j] on. Four candidate keys are stored and the index advances over the real
    ones; a pixel with more crossings continues from its time ramp (from the state before
    `_dense_store`). Returns (q, j): q < m when pixel q's events (and 4 slots of slack) do not fit
    in `keys` (the caller grows it and calls again from there)."""
    tsh = np.uint64(t_shift)
    low = (np.uint64(1) << tsh) - np.uint64(1)
    cap = np.uint64(keys.shape[0] - _FAST_MAX_CROSSINGS)
    one = np.uint64(1)
    ju = np.uint64(j)  # unsigned indices: no negative-index wrap-around on the stores
    for q in range(np.uint64(q0), np.uint64(m)):
        c = work[np.uint64(2) * q]
        if c == 0.0:
            continue
        n = np.uint64(c)
        if ju + n > cap:
            return np.int64(q), np.int64(ju)
        k0 = np.uint64(4) * q
        keys[ju] = kk[k0]
        keys[ju + one] = kk[k0 + one]
        keys[ju + np.uint64(2)] = kk[k0 + np.uint64(2)]
        keys[ju + np.uint64(3)] = kk[k0 + np.uint64(3)]
        if n <= np.uint64(_FAST_MAX_CROSSINGS):
            ju += n
            continue
        ju += np.uint64(_FAST_MAX_CROSSINGS)
        pxo = np.uint64(kk[k0]) & low
        i = np.uint64(p0) + q
        b, st = _ramp(lp[i], lin[q], ref[i], th_on[i], th_off[i], span)
        for k in range(_FAST_MAX_CROSSINGS + 1, np.int64(n) + 1):
            a = b + float(k) * st
            a = a if a > 0.0 else 0.0
            keys[ju] = (np.uint64(np.int32(a if a < span else span)) << tsh) | pxo
            ju += one
    return m, np.int64(ju)


@kernel()
def _dense_store(p0, p1, frame, prev, lin, lp, ref, work):
    """The new lp and ref of `_dense_model`'s chunk (unchanged pixels keep theirs)."""
    base_px = np.uint64(p0)
    for q in range(p1 - p0):
        i = base_px + np.uint64(q)
        lp[i] = lin[q] if frame[i] != prev[i] else lp[i]
    for q in range(p1 - p0):
        ref[base_px + np.uint64(q)] = work[2 * q + 1]


@kernel()
def _n_changed(a0, a1, frame, prev):
    """How many elements of [a0, a1) differ between `frame` and `prev` (unsigned bounds: a
    vectorised loop, no negative-index wrap-around)."""
    n = 0
    for i in range(a0, a1):
        n += 1 if frame[i] != prev[i] else 0
    return n


@kernel()
def model_keys(skip, frame_w, prev_w, group, frame, prev, logf, lut, lp, ref, th_on, th_off, leak_rate,
               t_last, t0, t1, dt_s, lpf_k, leak_jit, shot_k, refr_us, seed, frame_no, fixed_inten, t_shift,
               digit_bits, n_digits, hist, keys, wide):
    """The pixel model over one frame and its events as packed keys in visit order (module doc).

    `skip`: visit only changed pixels (no low-pass, leak or shot noise); `frame_w`, `prev_w` view
    the leading pixels as uint64 words of `group` pixels. `keys` (uint32 or uint64) is the first
    key buffer; a larger one replaces it when the events outgrow it. `hist` (n_digits,
    2^digit_bits, zeroed) counts the time digits. `wide`: intervals of 2^31 µs or more (see the
    module doc). Returns (keys, times, n): the first n keys, and when `wide` their times.
    """
    n_px = frame.shape[0]
    n_words = frame_w.shape[0]
    cap = 2 * CHUNK_PX  # a list of changed pixels gathers over several chunks
    idx = np.empty(cap, np.int64)
    cnt = np.empty(cap)
    base = np.empty(cap)
    step = np.empty(cap)
    nz_t = np.empty(cap, np.int64)
    nz_p = np.empty(cap, np.uint64)
    lin = np.empty(CHUNK_PX)
    kk = np.empty(4 * CHUNK_PX, keys.dtype)
    work = np.empty(2 * CHUNK_PX)
    wide_t = np.empty(keys.shape[0] if wide else 0, np.int64)
    counts = np.zeros((n_digits, 4, hist.shape[1]), np.int64)
    span = float(t1 - t0)
    fused = refr_us <= 0 and not wide  # dense chunks: model and the first four keys in one loop
    j = 0
    m = 0
    for p0 in range(0, n_px, CHUNK_PX):
        p1 = min(p0 + CHUNK_PX, n_px)
        dense = False
        if not skip:
            for i in range(p0, p1):
                idx[m] = i
                m += 1
        else:
            w0 = p0 // group
            w1 = min(p1 // group, n_words)
            n_words_changed = _n_changed(np.uint64(w0), np.uint64(max(w0, w1)), frame_w, prev_w)
            if 4 * n_words_changed * group >= 3 * (p1 - p0):  # dense when 3/4 of its pixels changed
                dense = 4 * _n_changed(np.uint64(p0), np.uint64(p1), frame, prev) >= 3 * (p1 - p0)
            if not dense and (n_words_changed > 0 or w1 * group < p1):
                for w in range(w0, w1):
                    if frame_w[w] != prev_w[w]:
                        for i in range(w * group, (w + 1) * group):
                            if frame[i] != prev[i]:
                                idx[m] = i
                                m += 1
                for i in range(max(p0, w1 * group), p1):  # the tail after the last whole word
                    if frame[i] != prev[i]:
                        idx[m] = i
                        m += 1
        if m > 0 and (dense or m >= CHUNK_PX or p1 == n_px):  # the list, before any later pixel
            n_act, bound = _model_list(m, idx, frame, logf, lut, lp, ref, th_on, th_off, leak_rate, t0, t1,
                                       dt_s, lpf_k, leak_jit, shot_k, seed, frame_no, fixed_inten, cnt, base,
                                       step, nz_t, nz_p)
            keys, wide_t, j = _keys_of(n_act, bound, idx, cnt, base, step, nz_t, nz_p, t_last, t0, t1,
                                       refr_us, t_shift, digit_bits, n_digits, counts, keys, wide_t, j)
            m = 0
        if dense:
            for i in range(np.uint64(p0), np.uint64(p1)):
                lin[i - np.uint64(p0)] = lut[np.uint64(frame[i])] if lut.shape[0] > 0 else logf[i]
            if fused:
                _dense_model(p0, p1, frame, prev, lin, lp, ref, th_on, th_off, span, t_shift, kk, work)
                j0 = j
                q, j = _dense_keys(p0, 0, p1 - p0, kk, work, lin, lp, ref, th_on, th_off, span, t_shift, keys,
                                   j)
                while q < p1 - p0:  # a burst: grow the keys, go on from pixel q
                    keys, wide_t = _grown(keys, wide_t, j, np.int64(work[2 * q]) + 8 * (p1 - p0 - q) + 8)
                    q, j = _dense_keys(p0, q, p1 - p0, kk, work, lin, lp, ref, th_on, th_off, span, t_shift,
                                       keys, j)
                _dense_store(p0, p1, frame, prev, lin, lp, ref, work)
                _count_digits(keys, j0, j, t_shift, digit_bits, n_digits, counts)
            else:
                bound = _model_dense(p0, p1, frame, prev, lin, lp, ref, th_on, th_off, span, idx, cnt, base,
                                     step, nz_t)
                keys, wide_t, j = _keys_of(p1 - p0, bound, idx, cnt, base, step, nz_t, nz_p, t_last, t0, t1,
                                           refr_us, t_shift, digit_bits, n_digits, counts, keys, wide_t, j)
    for d in range(n_digits):
        for r in range(4):
            for q in range(hist.shape[1]):
                hist[d, q] += counts[d, r, q]
    return keys, wide_t, j
