"""Event-driven numba kernels of the virtual AKD1000, bit-exact with `reference.py`.

Every processing layer runs as ONE kernel call over a batch: potentials, then the output stage
(activation, max or global-average pooling, or p − T for a last layer without activation).
Potentials are built by *scattering* every non-zero input (an event) into its fan-out, so the
work is (events × fan-out) and zeros cost nothing:

    for each event x[n, iy, ix, c] = v ≠ 0, each tap (ky, kx) that lands on an output (oy, ox):
        p[oy, ox, :] += v · w[ky, kx, c, :]          (vectorised over the output channels)

Separable layers scatter events into the exact depthwise sums d, then scatter every non-zero
d[oy, ox, c] into the pointwise outputs: p[oy, ox, :] += d · w_pw[c, :].

Accumulators are int32 when the layer's bit widths and fan-in bound every partial sum below
2^31 (`accumulator_dtype`), int64 otherwise; the choice only changes the speed, never the result.
Each kernel also adds the layer's activity to `counts` = [input events, synaptic ops, output
events] (definitions in `activity.py`).

The public wrappers (`conv_layer`, `separable_layer`, `dense_layer`) validate shapes and dtypes
and allocate outputs with explicit dtypes; the `_kernel` functions hold no policy (STYLE.md §3).
"""

from __future__ import annotations

import numpy as np

from akida_edge.numba_config import kernel

# Output stage modes (arguments, never globals: numba freezes globals at compile time).
MODE_ACT = 0  # activation, no pooling
MODE_MAX = 1  # activation then max pooling (valid windows)
MODE_AVG = 2  # global average pooling of the potentials, then the activation
MODE_RAW = 3  # last layer without activation: int32 p − T


def accumulator_dtype(bound: int) -> type:
    """int32 when every partial sum is bounded by `bound` < 2^31, else int64 (exact either way)."""
    return np.int32 if bound < 2**31 - 1 else np.int64


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

@kernel(inline="always")
def _taps(n_in, pad, k, s, n_out):
    """tab[i, t] = output index fed by input i through tap t, or −1 (no div/mod in hot loops)."""
    tab = np.full((n_in, k), -1, np.int64)
    for i in range(n_in):
        for t in range(k):
            u = i + pad - t
            if u >= 0 and u % s == 0 and u // s < n_out:
                tab[i, t] = u // s
    return tab


@kernel()
def _output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_i32, counts):
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
                    out_i32[n, i, j, k] = v
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
def _conv_layer_kernel(x, w, pad_value, pad_y, pad_x, sy, sx, thr, act_step, amax, mode, pool,
                       pot, out_u8, out_i32, counts):
    """Scatter every event (and non-zero padding) of each sample into pot (OH, OW, F).

    Rows/columns run over the padded extent [−pad, (OH−1)·s − pad + k) and the map; positions outside the
    map hold `pad_value` (0 skips them). Only real inputs count as events and synaptic ops.
    """
    h, wd, c_in = x.shape[1], x.shape[2], x.shape[3]
    kh, kw, f = w.shape[0], w.shape[1], w.shape[3]
    oh, ow = pot.shape[0], pot.shape[1]
    y_lo, x_lo = -pad_y, -pad_x
    # the padded extent, and every real input even when no window reaches it (its events count)
    y_hi = max((oh - 1) * sy - pad_y + kh, h)
    x_hi = max((ow - 1) * sx - pad_x + kw, wd)
    ytab = _taps(y_hi - y_lo, pad_y + y_lo, kh, sy, oh)
    xtab = _taps(x_hi - x_lo, pad_x + x_lo, kw, sx, ow)
    for n in range(x.shape[0]):
        pot[:] = 0
        events = 0
        ops = 0
        for iy in range(y_lo, y_hi):
            for ix in range(x_lo, x_hi):
                inside = 0 <= iy < h and 0 <= ix < wd
                if not inside and pad_value == 0:
                    continue
                for c in range(c_in):
                    v = x[n, iy, ix, c] if inside else pad_value
                    if v == 0:
                        continue
                    fan = 0
                    for ky in range(kh):
                        oy = ytab[iy - y_lo, ky]
                        if oy < 0:
                            continue
                        for kx in range(kw):
                            ox = xtab[ix - x_lo, kx]
                            if ox < 0:
                                continue
                            fan += 1
                            for k in range(f):
                                pot[oy, ox, k] += v * w[ky, kx, c, k]
                    if inside:
                        events += 1
                        ops += fan * f
        counts[0] += events
        counts[1] += ops
        _output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_i32, counts)


@kernel()
def _separable_layer_kernel(x, w_dw, w_pw, pad_y, pad_x, sy, sx, thr, act_step, amax, mode, pool,
                            dw, pot, out_u8, out_i32, counts):
    """Depthwise scatter of the events into exact sums dw (OH, OW, C), then pointwise scatter.

    Depthwise: a position with many events (≥ C/4) updates all C sums at once (vectorised; its
    zeros add nothing), a position with few events updates only its events' sums, a position
    without events costs one scan.
    """
    h, wd, c_in = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = w_dw.shape[0], w_dw.shape[1]
    oh, ow, f = pot.shape
    ytab = _taps(h, pad_y, kh, sy, oh)
    xtab = _taps(wd, pad_x, kw, sx, ow)
    for n in range(x.shape[0]):
        dw[:] = 0
        events = 0
        ops = 0
        for iy in range(h):
            for ix in range(wd):
                nz = 0
                for c in range(c_in):
                    nz += x[n, iy, ix, c] != 0
                if nz == 0:
                    continue
                events += nz
                dense = 4 * nz >= c_in
                for ky in range(kh):
                    oy = ytab[iy, ky]
                    if oy < 0:
                        continue
                    for kx in range(kw):
                        ox = xtab[ix, kx]
                        if ox < 0:
                            continue
                        ops += nz
                        if dense:
                            for c in range(c_in):
                                dw[oy, ox, c] += x[n, iy, ix, c] * w_dw[ky, kx, c]
                        else:
                            for c in range(c_in):
                                v = x[n, iy, ix, c]
                                if v != 0:
                                    dw[oy, ox, c] += v * w_dw[ky, kx, c]
        pot[:] = 0
        for oy in range(oh):
            for ox in range(ow):
                for c in range(c_in):
                    d = dw[oy, ox, c]
                    if d == 0:
                        continue
                    ops += f
                    for k in range(f):
                        pot[oy, ox, k] += d * w_pw[c, k]
        counts[0] += events
        counts[1] += ops
        _output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_i32, counts)


@kernel()
def _dense_layer_kernel(x, w, thr, act_step, amax, mode, pot, out_u8, out_i32, counts):
    """FullyConnected over x (N, n_in) flattened in (H, W, C) order; pot is (1, 1, units)."""
    f = w.shape[1]
    pool = np.zeros(4, np.int64)
    for n in range(x.shape[0]):
        pot[:] = 0
        events = 0
        for i in range(x.shape[1]):
            v = x[n, i]
            if v == 0:
                continue
            events += 1
            for k in range(f):
                pot[0, 0, k] += v * w[i, k]
        counts[0] += events
        counts[1] += events * f
        _output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_i32, counts)


# --- public wrappers: validate, allocate with explicit dtypes, call the kernels ----------------

_NO_U8 = np.zeros((0, 0, 0, 0), np.uint8)
_NO_I32 = np.zeros((0, 0, 0, 0), np.int32)


def _outputs(n: int, shape: tuple[int, int, int], mode: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if mode == MODE_RAW:
        out = np.empty((n, *shape), np.int32)
        return out, _NO_U8, out
    out = np.empty((n, *shape), np.uint8)
    return out, out, _NO_I32


def _check(x: np.ndarray, ndim: int, counts: np.ndarray) -> None:
    if x.dtype != np.uint8 or x.ndim != ndim or not x.flags.c_contiguous:
        raise TypeError(f"kernels take C-contiguous uint8 {ndim}-d inputs, got {x.dtype} {x.shape}")
    if counts.dtype != np.int64 or counts.shape != (3,):
        raise TypeError("counts must be an int64 array of shape (3,)")


def conv_layer(x: np.ndarray, weights: np.ndarray, pad: tuple[int, int], stride: tuple[int, int],
               pot_shape: tuple[int, int, int], out_shape: tuple[int, int, int], threshold: np.ndarray,
               act_step: np.ndarray, act_bits: int, mode: int, pool: np.ndarray, acc_dtype: type,
               counts: np.ndarray, pad_value: int = 0) -> np.ndarray:
    """Convolutional / InputConvolutional layer on (N, H, W, C) uint8 events.

    `weights` (kh, kw, C, F) integers; `pad` the padding before (top, left); `pot_shape` the
    potentials' (OH, OW, F); `out_shape` the output's (after pooling); `pool` int64
    [ph, pw, stride_y, stride_x]. Returns uint8 activations, or int32 p − T in `MODE_RAW`.
    """
    _check(x, 4, counts)
    out, out_u8, out_i32 = _outputs(x.shape[0], out_shape, mode)
    pot = np.empty(pot_shape, acc_dtype)
    _conv_layer_kernel(x, weights, pad_value, pad[0], pad[1], stride[0], stride[1], threshold,
                       act_step, 2**act_bits - 1, mode, pool, pot, out_u8, out_i32, counts)
    return out


def separable_layer(x: np.ndarray, weights_dw: np.ndarray, weights_pw: np.ndarray, pad: tuple[int, int],
                    stride: tuple[int, int], pot_shape: tuple[int, int, int],
                    out_shape: tuple[int, int, int], threshold: np.ndarray, act_step: np.ndarray,
                    act_bits: int, mode: int, pool: np.ndarray, acc_dtype: type,
                    counts: np.ndarray) -> np.ndarray:
    """SeparableConvolutional: `weights_dw` (kh, kw, C), `weights_pw` (C, F); else as `conv_layer`."""
    _check(x, 4, counts)
    out, out_u8, out_i32 = _outputs(x.shape[0], out_shape, mode)
    pot = np.empty(pot_shape, acc_dtype)
    dw = np.empty((pot_shape[0], pot_shape[1], x.shape[3]), acc_dtype)
    _separable_layer_kernel(x, weights_dw, weights_pw, pad[0], pad[1], stride[0], stride[1], threshold,
                            act_step, 2**act_bits - 1, mode, pool, dw, pot, out_u8, out_i32, counts)
    return out


def dense_layer(x: np.ndarray, weights: np.ndarray, threshold: np.ndarray, act_step: np.ndarray,
                act_bits: int, mode: int, acc_dtype: type, counts: np.ndarray) -> np.ndarray:
    """FullyConnected on (N, n_in) uint8 inputs flattened in (H, W, C) order -> (N, 1, 1, units)."""
    _check(x, 2, counts)
    units = weights.shape[1]
    out, out_u8, out_i32 = _outputs(x.shape[0], (1, 1, units), mode)
    pot = np.empty((1, 1, units), acc_dtype)
    _dense_layer_kernel(x, weights, threshold, act_step, 2**act_bits - 1, mode, pot, out_u8, out_i32,
                        counts)
    return out
