"""The output stage of a layer: activation, pooling, or p − T (DESIGN.md §3), in numba.

Given a sample's potentials p (OH, OW, F) — int32/int64, or float32 holding exact integers —
the stage writes uint8 activations y = min(2^b − 1, ceil(16·(p − T) / (16·act_step))) for p > T
(else 0), after max pooling over valid windows (pooling the potentials equals pooling the
activations, the activation being monotonic), or the exact global-average rule
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
    """Per channel, in float64 (all exact integers < 2^53): 16·T, s16, 1/s16 and amax·s16."""
    f = thr.shape[0]
    p = np.empty((4, f), np.float64)
    for k in range(f):
        p[0, k] = 16.0 * thr[k]
        p[1, k] = s16[k]
        p[2, k] = 1.0 / s16[k]
        p[3, k] = amax * p[1, k]
    return p


@kernel(inline="always")
def _act_fast(pk, thr16, sf, inv, cap):
    """min(amax, ceil(16·(p − T)/s16)) for p > T else 0, vectorisable and exact.

    num = 16p − 16T is an exact float64 integer, clamped to [0, amax·s16]. The quotient by
    multiplication, q̃ = num·fl(1/s16), is within 2^-47 of q = num/s16 ≤ 15. A non-integer q lies
    at least 1/s16 ≥ 2^-16 from any integer, so ceil(q̃) = ceil(q); an integer q may round up to
    q + 1, which the exact test (y − 1)·s16 ≥ num undoes.
    """
    num = min(max(16.0 * pk - thr16, 0.0), cap)
    y = np.ceil(num * inv)
    if y > 0.0 and (y - 1.0) * sf >= num:
        y -= 1.0
    return np.uint8(y)


@kernel()
def output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_raw, counts):
    """Write sample n's output from its potentials pot (OH, OW, F); add its output events.

    act_step is float32, an exact multiple of 1/16: 16·act_step converts to an exact integer.
    """
    oh, ow, f = pot.shape
    s16, cap = _steps16(act_step, amax)
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
            y = _activate_one(sums[k], npos * np.int64(thr[k]), npos * s16[k], npos * cap[k])
            out_u8[n, 0, 0, k] = y
            events += y != 0
    else:
        q = _act_params(thr, s16, amax)
        if mode == MODE_MAX:
            ph, pw, psy, psx = pool[0], pool[1], pool[2], pool[3]
            best = np.empty(f, pot.dtype)
            for i in range(out_u8.shape[1]):
                for j in range(out_u8.shape[2]):
                    for k in range(f):
                        best[k] = pot[i * psy, j * psx, k]
                    for a in range(ph):
                        for b in range(pw):
                            for k in range(f):
                                best[k] = max(best[k], pot[i * psy + a, j * psx + b, k])
                    for k in range(f):
                        y = _act_fast(np.float64(best[k]), q[0, k], q[1, k], q[2, k], q[3, k])
                        out_u8[n, i, j, k] = y
                        events += y != 0
        else:
            for i in range(oh):
                for j in range(ow):
                    for k in range(f):
                        y = _act_fast(np.float64(pot[i, j, k]), q[0, k], q[1, k], q[2, k], q[3, k])
                        out_u8[n, i, j, k] = y
                        events += y != 0
    counts[2] += events


@kernel()
def output_batch_kernel(pot, thr, act_step, amax, mode, pool, out_u8, out_raw, counts):
    """The output stage for every sample of pot (N, OH, OW, F)."""
    for n in range(pot.shape[0]):
        output_stage_kernel(pot[n], n, thr, act_step, amax, mode, pool, out_u8, out_raw, counts)
