"""Event-driven numba kernels of the virtual AKD1000, bit-exact with `reference.py`.

Every processing layer runs over a whole batch: potentials, then the output stage
(`output_stage.py`: activation, max or global-average pooling, or p − T). Potentials are built by
*scattering* every non-zero input (an event) into its fan-out, so the work is (events ×
fan-out) and zeros cost nothing:

    for each event x[n, iy, ix, c] = v ≠ 0, each tap (ky, kx) that lands on an output (oy, ox):
        p[oy, ox, :] += v · w[ky, kx, c, :]          (vectorised over the output channels)

(a convolution first sums a position's events over all its taps in one long loop, then adds each
tap's F values to its output; silent positions cost one vectorised test).

Separable layers scatter events into the exact depthwise sums d, then every non-zero
d[oy, ox, c] into the pointwise outputs: p[oy, ox, :] += d · w_pw[c, :].

Dense stages. Where the layer's bit widths and fan-in bound every partial sum below 2^24
(`accumulator_dtype`), potentials are float32: integers and all their partial sums are then
exact in float32 whatever the summation order, so a BLAS matrix product gives the same integers.
When the inputs of such a layer are dense enough (`DENSE_ABOVE`), a convolution runs as im2col +
one float32 product and a separable layer's pointwise stage as one product; sparser inputs take
the event path. A stride-1 depthwise stage on inputs that are not nearly silent (`ROWS_ABOVE`)
sweeps whole rows instead of scattering (long vector loops; exact in any dtype). Depthwise sums
bounded below 2^15 are int16 (`depthwise_dtype`: 16 lanes per AVX2 instruction), converted to
float32 for the pointwise product. Where the bound is 2^24 or more, potentials are int32
(bound < 2^31) or int64. The choice only changes the speed, never the result (tests/kernel
checks every path against the reference).

Speed notes (measured as CPU time on the DS-CNN shapes): the weights in kernel form come from
`prepare_conv` / `prepare_separable` (the executor keeps them per variable); intermediate arrays
are per-thread `scratch` buffers reused between calls; the project's numba error model has no
zero-division branch, which lets the output stage's divisions vectorise.

Each kernel adds the layer's activity to `counts` = [input events, synaptic ops, output events]
(definitions in `activity.py`); the dense stages count the same events and fan-outs.

The public wrappers (`conv_layer`, `separable_layer`, `dense_layer`) validate shapes and dtypes
and allocate outputs with explicit dtypes; the `_kernel` functions hold no policy (STYLE.md §3).
"""

from __future__ import annotations

import threading

import numpy as np

from akida_edge.engine.output_stage import (  # noqa: F401 - MODE_* re-exported
    MODE_ACT,
    MODE_AVG,
    MODE_MAX,
    MODE_RAW,
    output_batch_kernel,
    output_stage_kernel,
)
from akida_edge.numba_config import kernel

DENSE_ABOVE = 0.25  # share of non-zero inputs above which a dense (BLAS) stage beats scattering
# Share of non-zero inputs above which sweeping whole rows beats scattering the events in a
# stride-1 depthwise stage (measured on the DS-CNN shapes: rows win from about 2-3 %).
ROWS_ABOVE = 0.03


def accumulator_dtype(bound: int, dense_ok: bool = False) -> type:
    """The potentials' dtype for partial sums bounded by `bound`, exact either way.

    float32 (only where the caller can use a dense BLAS stage: `dense_ok`) while bound < 2^24,
    where every integer and every partial sum is exact in float32 in any summation order; else
    int32 below 2^31, else int64.
    """
    if dense_ok and bound < 2**24:
        return np.float32
    return np.int32 if bound < 2**31 - 1 else np.int64


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


@kernel(inline="always")
def _fans(tab):
    """Per input index, how many taps of `_taps` reach an output (its fan-out along that axis)."""
    fan = np.zeros(tab.shape[0], np.int64)
    for i in range(tab.shape[0]):
        for t in range(tab.shape[1]):
            fan[i] += tab[i, t] >= 0
    return fan


@kernel()
def _conv_layer_kernel(x, wt, kh, kw, pad_value, pad_y, pad_x, sy, sx, thr, act_step, amax, mode, pool,
                       pot, out_u8, out_raw, counts):
    """Scatter every event (and non-zero padding) of each sample into pot (OH, OW, F).

    Rows/columns run over the padded extent [−pad, (OH−1)·s − pad + k) and the map; positions
    outside the map hold `pad_value` (0 skips them). Only real inputs count as events and synaptic
    ops. `wt` (C, kh·kw·F) holds each input channel's weights for all taps in one row, so a
    position's events first build their combined contribution to every tap,
    g[(ky, kx), :] = Σ_events v · w[ky, kx, c, :] (one long vectorised loop per event), then each
    tap adds its F values to the output it reaches (sums of integers: exact in the accumulator).
    """
    h, wd, c_in = x.shape[1], x.shape[2], x.shape[3]
    oh, ow, f = pot.shape[0], pot.shape[1], pot.shape[2]
    y_lo, x_lo = -pad_y, -pad_x
    # the padded extent, and every real input even when no window reaches it (its events count)
    y_hi = max((oh - 1) * sy - pad_y + kh, h)
    x_hi = max((ow - 1) * sx - pad_x + kw, wd)
    ytab = _taps(y_hi - y_lo, pad_y + y_lo, kh, sy, oh)
    xtab = _taps(x_hi - x_lo, pad_x + x_lo, kw, sx, ow)
    vals = np.empty(c_in, wt.dtype)  # one position's events: values (in the weights' dtype) ...
    chans = np.empty(c_in, np.int64)  # ... and channels
    g = np.empty(kh * kw * f, wt.dtype)  # their contribution to every tap
    for n in range(x.shape[0]):
        pot[:] = 0
        events = 0
        ops = 0
        for iy in range(y_lo, y_hi):
            for ix in range(x_lo, x_hi):
                inside = 0 <= iy < h and 0 <= ix < wd
                if not inside and pad_value == 0:
                    continue
                m = 0
                if inside:
                    xrow = x[n, iy, ix]
                    nz = 0
                    for c in range(c_in):  # vectorised test first: most positions are silent
                        nz += xrow[c] != 0
                    if nz == 0:
                        continue
                    for c in range(c_in):
                        if xrow[c] != 0:
                            vals[m] = xrow[c]
                            chans[m] = c
                            m += 1
                else:
                    for c in range(c_in):
                        vals[m] = pad_value
                        chans[m] = c
                        m += 1
                if m == 0:
                    continue
                # 1-d views and plain range indices: LLVM vectorises these loops
                v = vals[0]
                wrow = wt[chans[0]]
                for t in range(g.shape[0]):
                    g[t] = v * wrow[t]
                for j in range(1, m):
                    v = vals[j]
                    wrow = wt[chans[j]]
                    for t in range(g.shape[0]):
                        g[t] += v * wrow[t]
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
                        prow = pot[oy, ox]
                        base = (ky * kw + kx) * f
                        for k in range(f):
                            prow[k] += g[base + k]
                if inside:
                    events += m
                    ops += fan * f * m
        counts[0] += events
        counts[1] += ops
        output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_raw, counts)


@kernel()
def _im2col_kernel(x, pad_value, pad_y, pad_x, sy, sx, kh, kw, f, oh, ow, cols, counts):
    """Dense path of a convolution: receptive fields as the rows of cols (N·OH·OW, kh·kw·C).

    Padding positions hold `pad_value`. Counts the events and their fan-out (taps reaching an
    output, times `f`) exactly as the event path does.
    """
    n_s, h, wd, c_in = x.shape
    ytab = _taps(h, pad_y, kh, sy, oh)
    xtab = _taps(wd, pad_x, kw, sx, ow)
    hp = max((oh - 1) * sy + kh, h + pad_y)
    wpc = max((ow - 1) * sx + kw, wd + pad_x) * c_in
    kc = kw * c_in
    xp = np.empty((hp, wpc), cols.dtype)
    events = 0
    ops = 0
    fy, fx = _fans(ytab), _fans(xtab)
    for n in range(n_s):
        for iy in range(h):
            for ix in range(wd):
                xrow = x[n, iy, ix]
                nz = 0
                for c in range(c_in):
                    nz += xrow[c] != 0
                events += nz
                ops += nz * fy[iy] * fx[ix]
        # the padded sample as rows (Hp, Wp·C): every receptive-field row is then one contiguous
        # run of kw·C values, copied with plain range indices (no per-value bounds tests)
        xp.reshape(hp * wpc)[:] = pad_value
        for iy in range(h):
            r = xp[iy + pad_y]
            xr = x[n, iy].reshape(wd * c_in)
            b = pad_x * c_in
            for t in range(wd * c_in):
                r[b + t] = xr[t]
        for oy in range(oh):
            for ox in range(ow):
                crow = cols[(n * oh + oy) * ow + ox]
                a = ox * sx * c_in
                for ky in range(kh):
                    src = xp[oy * sy + ky]
                    base = ky * kc
                    for t in range(kc):
                        crow[base + t] = src[a + t]
    counts[0] += events
    counts[1] += ops * f


@kernel(inline="always")
def _count_convert(dw, dw_acc):
    """Non-zero depthwise sums; also copies them into dw_acc (the accumulator dtype) unless it is
    empty (the sums already are in that dtype). Integers: the copy is exact."""
    flat = dw.reshape(dw.size)
    nonzero = 0
    if dw_acc.size == 0:
        for t in range(flat.shape[0]):
            nonzero += flat[t] != 0
        return nonzero
    out = dw_acc.reshape(dw_acc.size)
    for t in range(flat.shape[0]):
        v = flat[t]
        out[t] = v
        nonzero += v != 0
    return nonzero


@kernel()
def _depthwise_kernel(x, w_dw, pad_y, pad_x, sy, sx, f, dw, dw_acc, counts):
    """Scatter the events into the exact depthwise sums dw (N, OH, OW, C); returns their non-zeros.

    A position with many events (≥ C/4) updates all C sums at once (vectorised; its zeros add
    nothing), a position with few events updates only its events' sums (from a list of their
    channels), a position without events costs one scan. Adds the depthwise fan-out and the
    pointwise fan-out (`f` per non-zero sum) to the synaptic ops.
    """
    h, wd, c_in = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = w_dw.shape[0], w_dw.shape[1]
    oh, ow = dw.shape[1], dw.shape[2]
    ytab = _taps(h, pad_y, kh, sy, oh)
    xtab = _taps(wd, pad_x, kw, sx, ow)
    dw[:] = 0
    row = np.empty(c_in, dw.dtype)  # one position's inputs, converted once for all its taps
    idx = np.empty(c_in, np.int64)  # or the channels of its events, when they are few
    events = 0
    ops = 0
    for n in range(x.shape[0]):
        for iy in range(h):
            for ix in range(wd):
                xrow = x[n, iy, ix]
                nz = 0
                for c in range(c_in):
                    nz += xrow[c] != 0
                if nz == 0:
                    continue
                events += nz
                dense = 4 * nz >= c_in
                if dense:
                    for c in range(c_in):
                        row[c] = xrow[c]
                else:
                    j = 0
                    for c in range(c_in):
                        if xrow[c] != 0:
                            idx[j] = c
                            j += 1
                for ky in range(kh):
                    oy = ytab[iy, ky]
                    if oy < 0:
                        continue
                    for kx in range(kw):
                        ox = xtab[ix, kx]
                        if ox < 0:
                            continue
                        ops += nz
                        # 1-d views: plain range indices let LLVM vectorise (no wraparound)
                        out = dw[n, oy, ox]
                        wrow = w_dw[ky, kx]
                        if dense:
                            for c in range(c_in):
                                out[c] += row[c] * wrow[c]
                        else:
                            for j in range(nz):
                                c = idx[j]
                                out[c] += xrow[c] * wrow[c]
    nonzero = _count_convert(dw, dw_acc)
    counts[0] += events
    counts[1] += ops + nonzero * f
    return nonzero


@kernel()
def _depthwise_rows_kernel(x, x_rows, w_tile, pad_y, pad_x, f, dw, dw_rows, dw_acc, counts):
    """Dense path of a stride-1 depthwise stage: long vectorised sweeps over whole rows.

    For an output row oy and a tap (ky, kx), the outputs ox whose input column ox − pad_x + kx
    exists read one contiguous span of input row oy − pad_y + ky, so
    dw[oy, ox, c] += x[iy, ox − pad_x + kx, c] · w[ky, kx, c] is one loop over (ox, c). `x_rows`
    (N·H, W·C) and `dw_rows` (N·OH, OW·C) are 2-d views of x and dw; the weights are tiled to
    (kh, kw, OW·C), w[ky, kx, :] repeated for every ox (`tile_depthwise`). Counts events and
    fan-outs as the event path does; returns the number of non-zero sums.
    """
    n_s, h, wd, c_in = x.shape
    kh, kw = w_tile.shape[0], w_tile.shape[1]
    oh, ow = dw.shape[1], dw.shape[2]
    ytab = _taps(h, pad_y, kh, 1, oh)
    xtab = _taps(wd, pad_x, kw, 1, ow)
    events = 0
    ops = 0
    nonzero = 0
    fy, fx = _fans(ytab), _fans(xtab)
    convert = dw_acc.size > 0
    for n in range(n_s):  # one sample at a time: its sums stay in cache until converted
        dw[n] = 0
        for iy in range(h):
            for ix in range(wd):
                xrow = x[n, iy, ix]
                nz = 0
                for c in range(c_in):
                    nz += xrow[c] != 0
                events += nz
                ops += nz * fy[iy] * fx[ix]
        for oy in range(oh):
            for ky in range(kh):
                iy = oy - pad_y + ky
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    lo = max(0, pad_x - kx)
                    hi = min(ow, wd + pad_x - kx)
                    if hi <= lo:
                        continue
                    a = lo * c_in
                    b = (lo - pad_x + kx) * c_in
                    span = (hi - lo) * c_in
                    # 1-d views: plain range indices let LLVM vectorise (no wraparound)
                    out = dw_rows[n * oh + oy, a:a + span]
                    src = x_rows[n * h + iy, b:b + span]
                    wts = w_tile[ky, kx, a:a + span]
                    for t in range(span):
                        out[t] += src[t] * wts[t]
        if convert:
            nonzero += _count_convert(dw[n], dw_acc[n])
        else:
            nonzero += _count_convert(dw[n], dw_acc)  # empty: count only
    counts[0] += events
    counts[1] += ops + nonzero * f
    return nonzero


@kernel()
def _pointwise_kernel(dw, w_pw, pot):
    """Event path of the pointwise stage: every non-zero depthwise sum scatters into its F outputs."""
    f = w_pw.shape[1]
    pot[:] = 0
    for n in range(dw.shape[0]):
        for oy in range(dw.shape[1]):
            for ox in range(dw.shape[2]):
                for c in range(dw.shape[3]):
                    d = dw[n, oy, ox, c]
                    if d == 0:
                        continue
                    for k in range(f):
                        pot[n, oy, ox, k] += d * w_pw[c, k]


@kernel()
def _dense_layer_kernel(x, w, thr, act_step, amax, mode, pot, out_u8, out_raw, counts):
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
        output_stage_kernel(pot, n, thr, act_step, amax, mode, pool, out_u8, out_raw, counts)


# --- public wrappers: validate, allocate with explicit dtypes, call the kernels ----------------

_scratch = threading.local()
SCRATCH_MAX_BYTES = 64 * 2**20  # larger scratch arrays are allocated per call, not kept


def scratch(role: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A per-thread scratch array for intermediate stages (depthwise sums, potentials, im2col).

    Kept between calls (per thread, one per role and dtype, replaced when the shape changes), so
    a stream of same-sized inputs does not pay fresh allocations and page faults on every layer.
    Never returned to callers: only layer outputs leave the wrappers, and those are fresh arrays.
    """
    store = getattr(_scratch, "arrays", None)
    if store is None:
        store = _scratch.arrays = {}
    key = (role, dtype)
    buf = store.get(key)
    if buf is not None and buf.shape == shape:
        return buf
    buf = np.empty(shape, dtype)
    if buf.nbytes <= SCRATCH_MAX_BYTES:
        store[key] = buf
    return buf


_NO_U8 = np.zeros((0, 0, 0, 0), np.uint8)
_NO_I64 = np.zeros((0, 0, 0, 0), np.int64)
_NO_ACC = {t: np.zeros((0, 0, 0, 0), t) for t in (np.float32, np.int32, np.int64)}


def _outputs(n: int, shape: tuple[int, int, int], mode: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if mode == MODE_RAW:
        out = np.empty((n, *shape), np.int64)  # p − T exact; the caller checks the int32 range
        return out, _NO_U8, out
    out = np.empty((n, *shape), np.uint8)
    return out, out, _NO_I64


def _check(x: np.ndarray, ndim: int, counts: np.ndarray) -> None:
    if x.dtype != np.uint8 or x.ndim != ndim or not x.flags.c_contiguous:
        raise TypeError(f"kernels take C-contiguous uint8 {ndim}-d inputs, got {x.dtype} {x.shape}")
    if counts.dtype != np.int64 or counts.shape != (3,):
        raise TypeError("counts must be an int64 array of shape (3,)")


def tile_depthwise(w_dw: np.ndarray, ow: int) -> np.ndarray:
    """Depthwise weights (kh, kw, C) repeated for every output column: (kh, kw, OW·C), C-contiguous."""
    kh, kw, c = w_dw.shape
    return np.ascontiguousarray(np.broadcast_to(w_dw[:, :, None, :], (kh, kw, ow, c)).reshape(kh, kw, ow * c))


def prepare_conv(weights: np.ndarray, acc_dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Convolution weights in the accumulator dtype (products then vectorise without int -> float
    casts): (kh, kw, C, F) for the dense stage and (C, kh·kw·F) for the event path; the executor
    keeps them until the variable changes."""
    w = np.ascontiguousarray(weights, acc_dtype)
    kh, kw, c, f = w.shape
    return w, np.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(c, kh * kw * f)


def depthwise_dtype(bound: int, acc_dtype: type) -> type:
    """The depthwise sums' dtype: int16 when every partial sum is below 2^15 (`bound`) and the
    layer's potentials are float32 (16 lanes per AVX2 instruction instead of 8, exactly; the sums
    are converted to float32 for the pointwise product), else `acc_dtype`."""
    return np.int16 if bound < 2**15 and acc_dtype == np.float32 else acc_dtype


def prepare_separable(weights_dw: np.ndarray, weights_pw: np.ndarray, acc_dtype: type, ow: int,
                      dw_dtype: type | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w_dw (kh, kw, C), w_tile (kh, kw, OW·C)) in `dw_dtype` (default `acc_dtype`, see
    `depthwise_dtype`) and w_pw (C, F) in the accumulator dtype."""
    w_dw = np.ascontiguousarray(weights_dw, acc_dtype if dw_dtype is None else dw_dtype)
    return w_dw, tile_depthwise(w_dw, ow), np.ascontiguousarray(weights_pw, acc_dtype)


def conv_layer(x: np.ndarray, weights: np.ndarray, pad: tuple[int, int], stride: tuple[int, int],
               pot_shape: tuple[int, int, int], out_shape: tuple[int, int, int], threshold: np.ndarray,
               act_step: np.ndarray, act_bits: int, mode: int, pool: np.ndarray, acc_dtype: type,
               counts: np.ndarray, pad_value: int = 0, dense_above: float = DENSE_ABOVE,
               prepared: tuple[np.ndarray, np.ndarray] | None = None, in_events: int = -1) -> np.ndarray:
    """Convolutional / InputConvolutional layer on (N, H, W, C) uint8 events.

    `weights` (kh, kw, C, F) integers; `pad` the padding before (top, left); `pot_shape` the
    potentials' (OH, OW, F); `out_shape` the output's (after pooling); `pool` int64
    [ph, pw, stride_y, stride_x]. Returns uint8 activations, or int64 p − T in `MODE_RAW`.
    `prepared` is `prepare_conv(weights, acc_dtype)` when the caller keeps it; `in_events` the
    number of non-zero inputs when the caller knows it (else counted here).

    With `acc_dtype` float32 (the caller proved every partial sum < 2^24) and more than
    `dense_above` of the inputs non-zero, the potentials come from one dense float32 product of
    the receptive fields (im2col) with the weights (BLAS); otherwise events are scattered.
    """
    _check(x, 4, counts)
    n = x.shape[0]
    oh, ow, f = pot_shape
    kh, kw, c, _ = weights.shape
    out, out_u8, out_raw = _outputs(n, out_shape, mode)
    w, wt = prepare_conv(weights, acc_dtype) if prepared is None else prepared
    nz = np.count_nonzero(x) if in_events < 0 else in_events
    if acc_dtype == np.float32 and nz > dense_above * x.size:
        cols = scratch("cols", (n * oh * ow, kh * kw * c), np.float32)
        _im2col_kernel(x, pad_value, pad[0], pad[1], stride[0], stride[1], kh, kw, f, oh, ow, cols, counts)
        pot = scratch("pot", (n, oh, ow, f), np.float32)
        np.matmul(cols, w.reshape(kh * kw * c, f), out=pot.reshape(n * oh * ow, f))
        output_batch_kernel(pot, threshold, act_step, 2**act_bits - 1, mode, pool, out_u8, out_raw, counts)
        return out
    pot = np.empty(pot_shape, acc_dtype)
    _conv_layer_kernel(x, wt, kh, kw, pad_value, pad[0], pad[1], stride[0], stride[1], threshold,
                       act_step, 2**act_bits - 1, mode, pool, pot, out_u8, out_raw, counts)
    return out


def separable_layer(x: np.ndarray, weights_dw: np.ndarray, weights_pw: np.ndarray, pad: tuple[int, int],
                    stride: tuple[int, int], pot_shape: tuple[int, int, int],
                    out_shape: tuple[int, int, int], threshold: np.ndarray, act_step: np.ndarray,
                    act_bits: int, mode: int, pool: np.ndarray, acc_dtype: type,
                    counts: np.ndarray, dense_above: float = DENSE_ABOVE,
                    prepared: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                    in_events: int = -1) -> np.ndarray:
    """SeparableConvolutional: `weights_dw` (kh, kw, C), `weights_pw` (C, F); else as `conv_layer`
    (`prepared` is `prepare_separable(...)`; its depthwise weights' dtype is the depthwise sums').

    A stride-1 depthwise stage on inputs with more than `ROWS_ABOVE` non-zeros sweeps whole rows
    (dense, vectorised; exact in any dtype) unless dense stages are disabled (`dense_above` > 1);
    sparser or strided inputs scatter their events.

    With `acc_dtype` float32 (the caller proved every partial sum < 2^24, so float sums of
    integers are exact in any order), the pointwise stage runs as one dense float32 matrix
    product (BLAS) when more than `dense_above`/2 of the depthwise sums are non-zero; otherwise
    every non-zero sum is scattered (event path).
    """
    _check(x, 4, counts)
    n = x.shape[0]
    oh, ow, f = pot_shape
    c = x.shape[3]
    out, out_u8, out_raw = _outputs(n, out_shape, mode)
    if prepared is None:
        prepared = prepare_separable(weights_dw, weights_pw, acc_dtype, ow)
    w_dw, w_tile, w_pw = prepared
    dw = scratch("dw", (n, oh, ow, c), w_dw.dtype)
    # int16 depthwise sums are also written as acc_dtype (exact) for the pointwise stage
    dw_acc = scratch("dw_acc", dw.shape, acc_dtype) if dw.dtype != acc_dtype else _NO_ACC[acc_dtype]
    nz = np.count_nonzero(x) if in_events < 0 else in_events
    if stride == (1, 1) and nz > ROWS_ABOVE * x.size and dense_above <= 1.0:
        nonzero = _depthwise_rows_kernel(x, x.reshape(n * x.shape[1], -1), w_tile, pad[0], pad[1], f, dw,
                                         dw.reshape(n * oh, ow * c), dw_acc, counts)
    else:
        nonzero = _depthwise_kernel(x, w_dw, pad[0], pad[1], stride[0], stride[1], f, dw, dw_acc, counts)
    if dw_acc.size:
        dw = dw_acc
    # the pointwise product pays earlier than a convolution (measured: BLAS wins from ~10 % of
    # non-zero depthwise sums on the DS-CNN shapes), hence half the convolution's threshold
    if acc_dtype == np.float32 and nonzero > 0.5 * dense_above * dw.size:
        pot = scratch("pot", (n, oh, ow, f), np.float32)
        np.matmul(dw.reshape(-1, c), w_pw, out=pot.reshape(n * oh * ow, f))
    else:
        pot = scratch("pot", (n, oh, ow, f), acc_dtype)
        _pointwise_kernel(dw, w_pw, pot)
    output_batch_kernel(pot, threshold, act_step, 2**act_bits - 1, mode, pool, out_u8, out_raw, counts)
    return out


def dense_layer(x: np.ndarray, weights: np.ndarray, threshold: np.ndarray, act_step: np.ndarray,
                act_bits: int, mode: int, acc_dtype: type, counts: np.ndarray) -> np.ndarray:
    """FullyConnected on (N, n_in) uint8 inputs flattened in (H, W, C) order -> (N, 1, 1, units)."""
    _check(x, 2, counts)
    units = weights.shape[1]
    out, out_u8, out_raw = _outputs(x.shape[0], (1, 1, units), mode)
    pot = np.empty((1, 1, units), acc_dtype)
    _dense_layer_kernel(x, np.ascontiguousarray(weights), threshold, act_step, 2**act_bits - 1, mode, pot,
                        out_u8, out_raw, counts)
    return out
