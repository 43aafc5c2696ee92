"""Vectorised NumPy twin of the DVS emulator: the readable definition and the benchmark baseline.

`dvs_step_numpy` takes and returns the same `DvsState` as `dvs.dvs_step` and must give
bit-identical events and state (tests check it): the same floating-point operations in the same
order, the same counter-based random draws, the same event order (t, then pixel, then crossing,
then shot noise). Only the control flow differs: whole-array operations instead of a pixel loop,
and the refractory filter as a loop over the crossing index k (one event per pixel per k).
"""

from __future__ import annotations

import numpy as np

from akida_edge.encoders._dvs_kernels import _INV_275
from akida_edge.encoders._hash import (
    STREAM_LEAK,
    STREAM_SHOT,
    STREAM_SHOT_POLARITY,
    STREAM_SHOT_TIME,
    uniform_np,
)
from akida_edge.encoders.dvs import (
    DvsParams,
    DvsState,
    first_frame,
    kernel_settings,
    lin_log_lut,
    log_levels,
    prepare_frame,
)
from akida_edge.events import EVENT_DTYPE


def dvs_step_numpy(
    frame: np.ndarray, t_us: int, state: DvsState, params: DvsParams
) -> tuple[np.ndarray, DvsState]:
    """Same contract as `akida_edge.encoders.dvs.dvs_step`, in vectorised NumPy."""
    flat = prepare_frame(frame, t_us, state, params.log_input)
    if state.frame_count == 0:
        return first_frame(flat, t_us, state, params), state
    s = kernel_settings(t_us, state, params)
    t0, t1, dt_s = int(s["t0"]), int(s["t1"]), float(s["dt_s"])
    seed, frame_no = int(s["seed"]), int(s["frame_no"])
    full = params.cutoff_hz > 0 or params.leak_rate_hz > 0 or params.shot_noise_rate_hz > 0
    idx = np.arange(flat.size) if full else np.flatnonzero(flat != state.prev)

    v = flat[idx]
    lin = lin_log_lut(params.lin_log_floor_dn)[v] if flat.dtype == np.uint8 else log_levels(flat, params)[idx]
    if params.log_input:
        inten = np.ones(idx.size)
    else:
        inten = np.minimum((v.astype(np.float64) + 20.0) * _INV_275, 1.0)
    l0 = state.lp[idx]
    if s["lpf_k"] > 0:
        eps = np.minimum(inten * dt_s * s["lpf_k"], 1.0)
        l1 = l0 + eps * (lin - l0)
    else:
        l1 = lin
    r0 = state.ref[idx]
    ton, toff = state.th_on[idx], state.th_off[idx]
    if state.leak_rate.size:
        u = uniform_np(seed, frame_no, idx, STREAM_LEAK)
        rl = r0 - dt_s * state.leak_rate[idx] * ton * (1.0 + s["leak_jit"] * (2.0 * u - 1.0))
    else:
        rl = r0
    d0 = l0 - r0
    d1 = l1 - rl
    on = d1 >= ton
    off = ~on & (d1 <= -toff)
    n_on = np.where(on, np.floor(np.where(on, d1, 0.0) / ton), 0.0).astype(np.int64)
    n_off = np.where(off, np.floor(np.where(off, -d1, 0.0) / toff), 0.0).astype(np.int64)
    if s["shot_k"] > 0:
        noisy = uniform_np(seed, frame_no, idx, STREAM_SHOT) < s["shot_k"] * (1.0 - 0.75 * inten) / ton
    else:
        noisy = np.zeros(idx.size, bool)

    # Crossings, pixel by pixel in order, k = 1..n within a pixel.
    n_cross = n_on + n_off
    pos = np.repeat(np.arange(idx.size), n_cross)
    starts = np.cumsum(n_cross) - n_cross
    k = np.arange(pos.size) - starts[pos] + 1
    up = n_on[pos] > 0
    sign = np.where(up, 1.0, -1.0)
    th = np.where(up, ton[pos], toff[pos])
    with np.errstate(divide="ignore", invalid="ignore"):  # pixels without crossings: unused
        scale = float(t1 - t0) / (d1 - d0)  # per pixel, as the kernel: t_k = t0 + trunc(base + k * step)
        base = 0.5 - d0 * scale  # (inf · 0 there is NaN, never read)
    step = (sign * th) * scale[pos]
    t = np.clip(t0 + (base[pos] + k * step).astype(np.int64), t0, t1)

    t_last = state.t_last[idx]
    refr = int(s["refr_us"])
    if refr <= 0:
        keep = np.ones(t.size, bool)  # (the clocks are kept only while the period is on)
    else:
        keep = np.zeros(t.size, bool)
        for kk in range(1, int(n_cross.max(initial=0)) + 1):
            sel = np.flatnonzero(k == kk)
            ok = t[sel] - t_last[pos[sel]] >= refr
            keep[sel[ok]] = True
            t_last[pos[sel[ok]]] = t[sel[ok]]

    # Shot noise, one event at most per pixel, after that pixel's crossings.
    npos = np.flatnonzero(noisy)
    nidx = idx[npos]
    u_t = uniform_np(seed, frame_no, nidx, STREAM_SHOT_TIME)
    t_noise = t0 + 1 + np.floor(u_t * float(t1 - t0)).astype(np.int64)
    p_noise = np.where(uniform_np(seed, frame_no, nidx, STREAM_SHOT_POLARITY) < 0.5, 1, -1).astype(np.int8)

    all_t = np.concatenate([t[keep], t_noise])
    all_pix = np.concatenate([idx[pos[keep]], nidx])
    all_sub = np.concatenate([k[keep], np.full(nidx.size, np.iinfo(np.int64).max)])
    all_p = np.concatenate([np.where(up[keep], 1, -1).astype(np.int8), p_noise])
    order = np.lexsort((all_sub, all_pix, all_t))
    width = state.shape[1]
    out = np.zeros(order.size, EVENT_DTYPE)
    out["t"] = all_t[order]
    out["x"] = all_pix[order] % width
    out["y"] = all_pix[order] // width
    out["p"] = all_p[order]

    state.lp[idx] = l1
    state.ref[idx] = (rl + n_on * ton) - n_off * toff
    state.ref[nidx] = l1[npos]
    state.t_last[idx] = t_last
    state.prev[:] = flat
    state.t_prev_us = t1
    state.frame_count += 1
    return out, state
