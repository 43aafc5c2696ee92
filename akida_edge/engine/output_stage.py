"""The output stage of a layer: activation, pooling, or p − T (DESIGN.md §3), in numba.

Given a sample's potentials p (OH, OW, F) — int32/int64, or float32 holding exact integers —
the stage writes uint8 activations y = min(2^b − 1, ceil(16·(p − T) / (16·act_step))) for p > T
(else 0; one branch-free float64 division per value, exact, see `_act_div`), after max pooling
over valid windows (pooling the potentials equals pooling the activations, the activation being
monotonic), or the exact global-average rule
y = min(2^b − 1, ceil(16·(S − N·T) / (N·16·act_step))) on the spatial sum S, or int64 p − T for a
last layer without activation. It adds the non-zero outputs to counts[2].
"""

from __future__ import annotations

import numpy as np

from akida_edge.numba_config import kernel

# Output stage modes (arguments, never globals: numba freezes globals at compile time).
MODE_ACT = 0  # activation, no pooling
MODE_MAX = 1  # activation then max pooling (valid windows)
MODE_AVG = 2  # global average pooling of the potentials, then the activation
MODE_RAW = 3  # last layer without activation: p − T into an int64 array (the executor checks the int32 range)

# Potentials bounded below this (|p| < 2^23) may use the float32 activation (`act_f32`).
F32_ACT_BOUND = 2**23


@kernel(inline="always")
def _activate_one(p, thr, s16, cap):
    """min(amax, ceil(16·(p − T) / s16)) for p > T, else 0, exactly (s16 = 16·act_step).

    `cap` = amax·s16. The numerator is clamped to [0, cap] in integers first; then the float64
    quotient q ≤ amax ≤ 15 has an error below 2^-49, while a non-integer num/s16 lies at least
    1/s16 > 2^-41 away from an integer (s16 < 2^41 even for a global-average sum), so the ceil is
    exact; an integer quotient is exactly representable.
    """
    num = 16 * (np.int64(p) - thr)
    num = min(max(num, 0), cap)
    return np.int64(np.ceil(np.float64(num) / np.float64(s16)))


@kernel(inline="always")
def _steps16(act_step, amax):
    """Per-channel 16·act_step (exact integers) and the clamp amax·16·act_step."""
    f = act_step.shape[0]
    s16 = np.empty(f, np.int64)
    cap = np.empty(f, np.int64)
    for k in range(f):
        s16[k] = np.int64(act_step[k] * 16.0)  # a multiple of 1/16: exact
        cap[k] = amax * s16[k]
    return s16, cap


@kernel(inline="always")
def _act_params(thr, s16, amax):
    """Per channel, in float64 (all exact integers < 2^53): 16·T, s16 and amax·s16."""
    f = thr.shape[0]
    p = np.empty((3, f), np.float64)
    for k in range(f):
        p[0, k] = 16.0 * thr[k]
        p[1, k] = s16[k]
        p[2, k] = amax * p[1, k]
    return p


@kernel(inline="always")
def _act_div(pk, thr16, sf, cap):
    """min(amax, ceil(16·(p − T)/s16)) for p > T else 0 (as float64): branch-free and exact.

    num = 16p − 16T is an exact float64 integer (|16p| < 2^53), clamped to [0, amax·s16]. The
    correctly rounded quotient q̃ = fl(num / s16) of q = num/s16 ≤ amax ≤ 15 is within
    15·2^-53 of q. An integer q is exactly representable (q̃ = q); a non-integer q lies at least
    1/s16 ≥ 2^-16 from any integer (s16 ≤ 65535), so ceil(q̃) = ceil(q). No correction needed,
    and the loop vectorises (the project's numba error model has no zero-division branch).
    """
    num = min(max(16.0 * pk - thr16, 0.0), cap)
    return np.ceil(num / sf)


@kernel(inline="always")
def _activate_rows(pot2, thr16, sf, cap, out2):
    """Activation of every row of pot2 (P, F) into out2 (P, F) uint8; returns the non-zeros.

    thr16, sf, cap: per channel 16·T, s16 and amax·s16 as float64 (rows of `_act_params`).
    """
    f = pot2.shape[1]
    events = 0
    for i in range(pot2.shape[0]):
        prow = pot2[i]
        orow = out2[i]
        for k in range(f):
            y = _act_div(np.float64(prow[k]), thr16[k], sf[k], cap[k])
            orow[k] = np.uint8(y)
            events += y != 0.0
    return events


@kernel(inline="always")
def _window_max(pot, y0, x0, ph, pw, best):
    """best[k] = max of pot[y0 + a, x0 + b, k] over the ph × pw pooling window (per channel)."""
    first = pot[y0, x0]
    for k in range(best.shape[0]):
        best[k] = first[k]
    for a in range(ph):
        for b in range(pw):
            prow = pot[y0 + a, x0 + b]
            for k in range(best.shape[0]):
                best[k] = max(best[k], prow[k])


@kernel(inline="always")
def _stage(pot, n, q, s16, cap16, thr, mode, pool, out_u8, out_raw):
    """Sample n's output from pot (OH, OW, F) with precomputed parameters; returns its events."""
    oh, ow, f = pot.shape
    events = 0
    if mode == MODE_RAW:
        for i in range(oh):
            for j in range(ow):
                for k in range(f):
                    v = np.int64(pot[i, j, k]) - thr[k]
                    out_raw[n, i, j, k] = v
                    events += v != 0
    elif mode == MODE_AVG:
        npos = oh * ow
        sums = np.zeros(f, np.int64)
        for i in range(oh):
            for j in range(ow):
                for k in range(f):
                    sums[k] += pot[i, j, k]
        for k in range(f):
            y = _activate_one(sums[k], npos * np.int64(thr[k]), npos * s16[k], npos * cap16[k])
            out_u8[n, 0, 0, k] = y
            events += y != 0
    elif mode == MODE_MAX:
        ph, pw, psy, psx = pool[0], pool[1], pool[2], pool[3]
        best = np.empty(f, pot.dtype)
        for i in range(out_u8.shape[1]):
            for j in range(out_u8.shape[2]):
                _window_max(pot, i * psy, j * psx, ph, pw, best)
                orow = out_u8[n, i, j]
                for k in range(f):
                    y = _act_div(np.float64(best[k]), q[0, k], q[1, k], q[2, k])
                    orow[k] = np.uint8(y)
                    events += y != 0.0
    else:
        events += _activate_rows(pot.reshape(oh * ow, f), q[0], q[1], q[2], out_u8[n].reshape(oh * ow, f))
    return events


@kernel()
def output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_raw, counts):
    """Write sample n's output from its potentials pot (OH, OW, F); add its output events.

    act_step is float32, an exact multiple of 1/16: 16·act_step converts to an exact integer.
    """
    s16, cap = _steps16(act_step, amax)
    q = _act_params(thr, s16, amax)
    counts[2] += _stage(pot, n, q, s16, cap, thr, mode, pool, out_u8, out_raw)


@kernel()
def output_batch_kernel(pot, thr, act_step, amax, mode, pool, out_u8, out_raw, counts):
    """The output stage for every sample of pot (N, OH, OW, F) (C-contiguous)."""
    n_s, oh, ow, f = pot.shape
    s16, cap = _steps16(act_step, amax)
    q = _act_params(thr, s16, amax)
    if mode == MODE_ACT:  # one sweep over all rows of the batch
        counts[2] += _activate_rows(pot.reshape(n_s * oh * ow, f), q[0], q[1], q[2],
                                    out_u8.reshape(n_s * oh * ow, f))
        return
    events = 0
    for n in range(n_s):
        events += _stage(pot[n], n, q, s16, cap, thr, mode, pool, out_u8, out_raw)
    counts[2] += events


# --- float32 activation: one multiply instead of a float64 division -----------------------------


@kernel(inline="always")
def act_params_f32(thr, act_step, amax):
    """Per channel, as float32 rows: 16·T′, 1/s16 and amax·s16 (s16 = 16·act_step), for `act_f32`.

    T′ = T clamped to [−2^24, 2^24]: exact in float32 (so is 16·T′), and for potentials
    |p| < 2^23 (`F32_ACT_BOUND`) it gives every output T gives (p − T′ and p − T are then both
    ≤ 0, or both ≥ 2^23 > the clamp amax·s16/16). amax·s16 ≤ 15·65535 < 2^20 is exact.
    """
    f = thr.shape[0]
    q = np.empty((3, f), np.float32)
    lim = np.int64(2**24)
    for k in range(f):
        s16 = np.int64(act_step[k] * 16.0)  # a multiple of 1/16: exact
        t = min(max(np.int64(thr[k]), -lim), lim)
        q[0, k] = np.float32(16 * t)
        q[1, k] = np.float32(1.0 / np.float64(s16))
        q[2, k] = np.float32(amax * s16)
    return q


@kernel(inline="always")
def act_f32(pk, thr16, inv, cap):
    """min(amax, ceil(16·(p − T)/s16)) for p > T, else 0, from a float32 potential |p| < 2^23; exact.

    num = 16·p − 16·T′ is exact wherever it matters: 16·p and 16·T′ are exact, and the rounded
    difference is the exact one when that lies in [0, cap] (cap < 2^20), ≥ cap when it is above,
    ≤ 0 when below (rounding is monotonic), so the clamp gives the exact integer num ∈ [0, cap].
    Then q = num/s16 ≤ amax ≤ 15; q̃ = fl(num · fl(1/s16)) is within 15·2^-23·(1 + 2^-24) <
    0.47·2^-18 of q, and subtracting ε = 2^-18 (rounding error ≤ 2^-21 near 15) leaves, for an
    integer q = m, a value in (m − 1, m): ceil gives m; a non-integer q lies at least 1/s16 >
    2^-16 = 4ε above its floor m, so the value stays in (m, m + 1): ceil gives ⌈q⌉. num = 0 gives
    ceil(−ε) = −0.0, stored as 0. The loop vectorises (8 lanes, no division).
    """
    num = min(max(np.float32(16.0) * pk - thr16, np.float32(0.0)), cap)
    return np.ceil(num * inv - np.float32(3.814697265625e-06))  # ε = 2^-18


@kernel(inline="always")
def stage_f32(pot, n, q32, mode, pool, out_u8):
    """`MODE_ACT` / `MODE_MAX` output of sample n from float32 potentials pot (OH, OW, F) with
    |p| < 2^23, by `act_f32`; returns its output events."""
    oh, ow, f = pot.shape
    thr16, inv, cap = q32[0], q32[1], q32[2]
    events = 0
    if mode == MODE_MAX:
        ph, pw, psy, psx = pool[0], pool[1], pool[2], pool[3]
        best = np.empty(f, np.float32)
        for i in range(out_u8.shape[1]):
            for j in range(out_u8.shape[2]):
                _window_max(pot, i * psy, j * psx, ph, pw, best)
                orow = out_u8[n, i, j]
                for k in range(f):
                    y = act_f32(best[k], thr16[k], inv[k], cap[k])
                    orow[k] = np.uint8(y)
                    events += y > np.float32(0.0)
        return events
    pot2 = pot.reshape(oh * ow, f)
    out2 = out_u8[n].reshape(oh * ow, f)
    for i in range(oh * ow):
        prow = pot2[i]
        orow = out2[i]
        for k in range(f):  # no counting here: the count's int64 lanes stop the 8-lane float loop
            orow[k] = np.uint8(act_f32(prow[k], thr16[k], inv[k], cap[k]))
    flat = out2.reshape(oh * ow * f)
    for t in range(flat.shape[0]):
        events += flat[t] != 0
    return events


@kernel(inline="always")
def act_rows_f32(pot, reached, q32, line0, out):
    """`MODE_ACT` output out (OH, OW, F) of one sample from float32 potentials pot (OH, OW, F),
    |p| < 2^23, by `act_f32`, computed only on the output rows marked in `reached`; returns its
    output events.

    A row no event reached has p = 0 and outputs `line0` (act(0) of every channel, OW·F bytes:
    act(0) ≠ 0 where a threshold is negative); its potentials are not read (they may hold another
    sample's: the caller clears a row when an event first reaches it, not every potential).
    """
    oh, ow, f = pot.shape
    thr16, inv, cap = q32[0], q32[1], q32[2]
    nz0 = 0
    for t in range(f):
        nz0 += line0[t] != 0
    events = 0
    for i in range(oh):
        orow = out[i].reshape(ow * f)
        if not reached[i]:
            for t in range(ow * f):
                orow[t] = line0[t]
            events += nz0 * ow
            continue
        for j in range(ow):
            prow = pot[i, j]
            o = out[i, j]
            for k in range(f):  # no counting here: the count's int64 lanes stop the 8-lane float loop
                o[k] = np.uint8(act_f32(prow[k], thr16[k], inv[k], cap[k]))
        for t in range(ow * f):
            events += orow[t] != 0
    return events


@kernel("boolean(int64[:, :, :, ::1], int32[:, :, :, ::1])")
def to_int32(raw, out):
    """Copy int64 p − T into int32 `out` (same shape, C-contiguous); False (out partly written) if
    a value leaves the int32 range: the caller refuses, never wraps."""
    src = raw.reshape(raw.size)
    dst = out.reshape(out.size)
    ok = True
    for t in range(src.shape[0]):
        v = src[t]
        ok &= -2147483648 <= v <= 2147483647
        dst[t] = np.int32(v)
    return ok
