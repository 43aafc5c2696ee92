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
exact in float32 whatever the summation order, so a float32 matrix product (`kernels_gemm.gemm_f32`,
fused multiply-adds of exact integers) gives the same integers.
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

Layers whose partial sums stay below 2^23 (`f32_ok`: every convolutional and separable layer of
the rebuilt zoo models, 8-bit input layers included) run float32-exact stages (`kernels_f32.py`): float32
depthwise sums, the pointwise product by `gemm_f32` or by an eight-at-a-time event loop
(`PW_BLAS_ABOVE`), and a float32 activation (one multiply, no float64 division); a separable
layer whose depthwise sums fit int16 (`pair_ok`) keeps them in int16 and runs its dense pointwise
product on int16 pairs (`kernels_gemm_i16`, in the one-call program). The measured
rules, all on the layer's own activity (never on the model), each a density where the cost of
the event path (∝ events × fan-out) meets that of the dense stage (∝ all inputs × fan-out), i.e.
the ratio of their measured costs per operation: a convolution takes im2col + product above
`DENSE_ABOVE` non-zero inputs (`DENSE_ABOVE` · `GATHER_DENSE_SCALE` where its events are
gathered), else gathers or scatters events; a stride-1 depthwise stage sweeps rows above
`ROWS_ABOVE`, else scatters events; a pointwise product goes to `gemm_f32` above `PW_BLAS_ABOVE`
non-zero depthwise sums. The rules do not depend on the batch size: every batch runs in chunks of
about the same working set (`execute.chunk_size`).

Layout: this module holds the policy (dense/event thresholds, dtype choices), the per-thread
scratch buffers and the public wrappers (`conv_layer`, `separable_layer`, `separable_f32`,
`dense_layer`), which validate shapes and dtypes and allocate outputs with explicit dtypes. The
numba bodies, which hold no policy (STYLE.md §3), live in `kernels_conv.py` (convolution event and
im2col paths, FullyConnected), `kernels_depthwise.py` (depthwise event and row paths, pointwise
event path), `kernels_f32.py` (the float32-exact stages), `output_stage.py` and `kernels_taps.py`
(tap tables). The executor's hot path (`plan.py`) calls the kernels directly with preallocated
buffers; these wrappers serve the generic path and the tests.
"""

from __future__ import annotations

import threading

import numpy as np

from akida_edge.engine import aligned
from akida_edge.engine.kernels_conv import conv_layer_kernel, dense_layer_kernel, im2col_kernel
from akida_edge.engine.kernels_depthwise import depthwise_kernel, depthwise_rows_kernel, pointwise_kernel
from akida_edge.engine.kernels_f32 import depthwise_f32_kernel, output_f32_kernel, pointwise_f32_kernel
from akida_edge.engine.kernels_gather import conv_gather_kernel, gather_ok, gather_silent_kernel
from akida_edge.engine.kernels_gemm import gemm_f32
from akida_edge.engine.output_stage import (  # noqa: F401 - MODE_* re-exported
    F32_ACT_BOUND,
    MODE_ACT,
    MODE_AVG,
    MODE_MAX,
    MODE_RAW,
    output_batch_kernel,
    output_stage_kernel,
)

# Share of non-zero inputs above which a convolution's dense stage (im2col + `gemm_f32`) beats
# scattering its events. Measured (CPU time, one core, 24×24×16 → 32 3×3, 16 samples; event/dense):
# 0.40 at 5 %, 0.65 at 15 %, 0.90 at 20 %, 0.96 at 30 %, 1.20 at 50 %, 1.47 at 100 %: the paths cost
# about the same from 20 to 35 %; 0.25 sits in that band.
DENSE_ABOVE = 0.25
# The same crossing for a convolution whose events are gathered per output (`kernels_gather`), as a
# multiple of `dense_above` so that the one setting still means "always dense" at 0 and "never dense"
# above 1 for every path. Measured (session 5, idle, CPU time, one core, 16 samples, 24×24×C → 32 3×3,
# gather/dense): C = 16: 0.47 at 20 %, 0.58 at 30 %, 0.69 at 40 %, 0.80 at 50 %, 1.18 at 70 %, 1.48 at
# 100 %; C = 32: 0.40, 0.55, 0.89, 0.81, 1.03, 1.36: equal at about 60 %. Re-measured after the gather's
# row intrinsic and four-channel compaction (session 6, loaded, interleaved, the same shapes): C = 16:
# 0.41 at 30 %, 0.57 at 50 %, 0.72 at 70 %, 0.85 at 85 %, 0.97 at 100 %; C = 32: 0.41, 0.61, 0.87,
# 1.00-1.02, 1.11-1.17; C = 64: 0.80 at 50 %, 0.97-1.05 at 70 %, 1.06 at 85 %: the crossing falls with
# C (L1-resident weights up to C = 16), so the lowest, ≈ 70 % (= 2.8 × 0.25). Re-measured after
# session 24's 16-lane products and session 25's column-walking gather (one core, 16 samples, the
# program, interleaved, two runs): C = 16 0.77-0.82 at 30 %, 0.88 at 40 %, 0.94 at 45 %, 1.00-1.06
# at 50 %, 1.29-1.36 at 70 %; C = 32 0.70-0.75, 0.85-0.89, 0.94-0.97, 1.04-1.08, 1.39-1.44; C = 64
# 0.87-0.91, 1.13-1.14, 1.29-1.30, 1.38-1.49, 1.95-2.05 (and 0.98-1.01 at 35 %): the dense products
# got faster than the gather, the crossings fell to ≈ 50 % (C ≤ 32) and ≈ 35 % (C = 64). 40 % (=
# 1.6 × 0.25) keeps either side's loss at or below ≈ 15 %. (In some processes of this machine the
# C = 16 gather runs ≈ 1.6× faster, crossing near 85 %: see docs/figures.md, session 25.)
GATHER_DENSE_SCALE = 1.6
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
    tiled = np.broadcast_to(w_dw[:, :, None, :], (kh, kw, ow, c)).reshape(kh, kw, ow * c)
    return aligned.copy(tiled, w_dw.dtype)  # on a cache line, writable


def prepare_conv(weights: np.ndarray, acc_dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Convolution weights in the accumulator dtype (products then vectorise without int -> float
    casts): (kh, kw, C, F) for the dense stage and (C, kh·kw·F) for the event path; the executor
    keeps them until the variable changes."""
    w = aligned.copy(weights, acc_dtype)  # on a cache line: the dense stage loads rows of it
    kh, kw, c, f = w.shape
    return w, aligned.copy(w.transpose(2, 0, 1, 3), acc_dtype).reshape(c, kh * kw * f)


def depthwise_dtype(bound: int, acc_dtype: type) -> type:
    """The depthwise sums' dtype: int16 when every partial sum is below 2^15 (`bound`) and the
    layer's potentials are float32 (16 lanes per AVX2 instruction instead of 8, exactly; the sums
    are converted to float32 for the pointwise product), else `acc_dtype`."""
    return np.int16 if bound < 2**15 and acc_dtype == np.float32 else acc_dtype


def prepare_separable(weights_dw: np.ndarray, weights_pw: np.ndarray, acc_dtype: type, ow: int,
                      dw_dtype: type | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w_dw (kh, kw, C), w_tile (kh, kw, OW·C)) in `dw_dtype` (default `acc_dtype`, see
    `depthwise_dtype`) and w_pw (C, F) in the accumulator dtype."""
    w_dw = aligned.copy(weights_dw, acc_dtype if dw_dtype is None else dw_dtype)
    return w_dw, tile_depthwise(w_dw, ow), aligned.copy(weights_pw, acc_dtype)


def conv_layer(x: np.ndarray, weights: np.ndarray, pad: tuple[int, int], stride: tuple[int, int],
               pot_shape: tuple[int, int, int], out_shape: tuple[int, int, int], threshold: np.ndarray,
               act_step: np.ndarray, act_bits: int, mode: int, pool: np.ndarray, acc_dtype: type,
               counts: np.ndarray, pad_value: int = 0, dense_above: float = DENSE_ABOVE,
               prepared: tuple[np.ndarray, np.ndarray] | None = None, in_events: int = -1,
               f32: bool = False) -> np.ndarray:
    """Convolutional / InputConvolutional layer on (N, H, W, C) uint8 events.

    `weights` (kh, kw, C, F) integers; `pad` the padding before (top, left); `pot_shape` the
    potentials' (OH, OW, F); `out_shape` the output's (after pooling); `pool` int64
    [ph, pw, stride_y, stride_x]. Returns uint8 activations, or int64 p − T in `MODE_RAW`.
    `prepared` is `prepare_conv(weights, acc_dtype)` when the caller keeps it; `in_events` the
    number of non-zero inputs when the caller knows it (else counted here).

    With `acc_dtype` float32 (the caller proved every partial sum < 2^24) and more than
    `dense_above` of the inputs non-zero (`dense_above` · `GATHER_DENSE_SCALE` where the events
    would be gathered), the potentials come from one dense float32 product of
    the receptive fields (im2col) with the weights (BLAS); otherwise events are gathered per
    output where `kernels_gather.gather_ok` allows (`f32` layers, stride 1, no pooling), else
    scattered (`kernels_conv.conv_layer_kernel`).
    """
    _check(x, 4, counts)
    n = x.shape[0]
    oh, ow, f = pot_shape
    kh, kw, c, _ = weights.shape
    out, out_u8, out_raw = _outputs(n, out_shape, mode)
    w, wt = prepare_conv(weights, acc_dtype) if prepared is None else prepared
    nz = np.count_nonzero(x) if in_events < 0 else in_events
    f32_sums = f32 and acc_dtype == np.float32
    gather = gather_ok(f32_sums, mode, stride[0], stride[1], pad_value, f, kh, kw)
    above = dense_above * GATHER_DENSE_SCALE if gather else dense_above  # the measured crossings
    if acc_dtype == np.float32 and nz > above * x.size:
        cols = scratch("cols", (n * oh * ow, kh * kw * c), np.float32)
        im2col_kernel(x, pad_value, pad[0], pad[1], stride[0], stride[1], kh, kw, f, oh, ow, cols, counts)
        pot = scratch("pot", (n, oh, ow, f), np.float32)
        gemm_f32(cols, w.reshape(kh * kw * c, f), pot.reshape(n * oh * ow, f))
        stage = output_f32_kernel if f32 else output_batch_kernel  # f32: the layer is `f32_ok`
        stage(pot, threshold, act_step, 2**act_bits - 1, mode, pool, out_u8, out_raw, counts)
        return out
    if gather and nz == 0:  # a silent input: act(0) everywhere, no scan
        gather_silent_kernel(threshold, act_step, 2**act_bits - 1, out_u8, counts)
        return out
    if gather:  # events gathered per output
        conv_gather_kernel(x, w.reshape(kh * kw * c, f), kh, kw, pad[0], pad[1], threshold, act_step,
                           2**act_bits - 1, out_u8, counts)
        return out
    pot = np.empty(pot_shape, acc_dtype)
    conv_layer_kernel(x, wt, kh, kw, pad_value, pad[0], pad[1], stride[0], stride[1], threshold,
                       act_step, 2**act_bits - 1, mode, pool, pot, out_u8, out_raw, counts, f32_sums)
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
        nonzero = depthwise_rows_kernel(x, x.reshape(n * x.shape[1], -1), w_tile, pad[0], pad[1], f, dw,
                                         dw.reshape(n * oh, ow * c), dw_acc, counts)
    else:
        nonzero = depthwise_kernel(x, w_dw, pad[0], pad[1], stride[0], stride[1], f, dw, dw_acc, counts)
    if dw_acc.size:
        dw = dw_acc
    # the pointwise product pays earlier than a convolution (measured: BLAS wins from ~10 % of
    # non-zero depthwise sums on the DS-CNN shapes), hence half the convolution's threshold
    if acc_dtype == np.float32 and nonzero > 0.5 * dense_above * dw.size:
        pot = scratch("pot", (n, oh, ow, f), np.float32)
        gemm_f32(dw.reshape(-1, c), w_pw, pot.reshape(n * oh * ow, f))
    else:
        pot = scratch("pot", (n, oh, ow, f), acc_dtype)
        pointwise_kernel(dw, w_pw, pot)
    output_batch_kernel(pot, threshold, act_step, 2**act_bits - 1, mode, pool, out_u8, out_raw, counts)
    return out


def dense_layer(x: np.ndarray, weights: np.ndarray, threshold: np.ndarray, act_step: np.ndarray,
                act_bits: int, mode: int, acc_dtype: type, counts: np.ndarray) -> np.ndarray:
    """FullyConnected on (N, n_in) uint8 inputs flattened in (H, W, C) order -> (N, 1, 1, units)."""
    _check(x, 2, counts)
    units = weights.shape[1]
    out, out_u8, out_raw = _outputs(x.shape[0], (1, 1, units), mode)
    pot = np.empty((1, 1, units), acc_dtype)
    dense_layer_kernel(x, np.ascontiguousarray(weights), threshold, act_step, 2**act_bits - 1, mode, pot,
                        out_u8, out_raw, counts)
    return out


# --- float32-exact layers (`kernels_f32.py`) ---------------------------------------------------

# Share of non-zero depthwise sums above which the pointwise product is one `gemm_f32` call instead
# of the eight-at-a-time event loop. Measured (CPU time, one core, DS-CNN shapes 125 × 64 → 64 per
# sample, 16 samples, zeros clustered by position as after sparse inputs; event/gemm): 0.73 at 2 %,
# 0.80 at 5.5 %, 1.15 at 9.6 %, 1.29 at 20 %, 1.95 at 30 % (with OpenBLAS sgemm, 3× slower per
# product at this size, the crossing was ~40 %).
PW_BLAS_ABOVE = 0.08
_NO_XP = np.zeros((0, 0), np.float32)  # `depthwise_f32_kernel` allocates its own padded copy


def f32_ok(bound: int) -> bool:
    """Whether a layer whose partial sums are bounded by `bound` runs its float32-exact stages
    (`kernels_f32.py`): below 2^23 (`output_stage.F32_ACT_BOUND`) every integer and every partial
    sum is exact in float32, and the float32 activation is exact."""
    return bound < F32_ACT_BOUND


def pair_ok(dw_bound: int, wmax: int, channels: int) -> bool:
    """Whether a `f32_ok` separable layer may keep its depthwise sums in int16 and run its pointwise
    product on int16 pairs (`kernels_gemm_i16`, the `vpmaddwd` shape): every depthwise partial sum
    below 2^15 in magnitude (`dw_bound` = kh·kw · max input · max |weight|, e.g. 9 · 15 · 7 = 945
    for the DS-CNN's 4-bit layers), pointwise weights of at most 8 bits (|w| ≤ 127, so a pair sum
    is at most 2 · 32767 · 127 < 2^23) and an even channel count (the pairs). With the potentials'
    partial sums below 2^23 (`f32_ok`) every int32 sum is then exact, and so is its float32 copy."""
    return dw_bound < 2**15 and wmax <= 127 and channels % 2 == 0


def separable_f32(x: np.ndarray, prepared: tuple[np.ndarray, np.ndarray, np.ndarray], pad: tuple[int, int],
                  stride: tuple[int, int], pot_shape: tuple[int, int, int], out_shape: tuple[int, int, int],
                  threshold: np.ndarray, act_step: np.ndarray, act_bits: int, mode: int, pool: np.ndarray,
                  counts: np.ndarray, dense_above: float = DENSE_ABOVE, in_events: int = -1) -> np.ndarray:
    """SeparableConvolutional of a `f32_ok` layer: float32 depthwise sums (row sweeps above
    `ROWS_ABOVE` for stride 1 unless dense stages are off: `dense_above` > 1), the pointwise
    product by BLAS above `PW_BLAS_ABOVE` non-zero sums (and `dense_above` ≤ 1) or by the event
    loop, then the float32 output stage. `prepared` is `prepare_separable(w_dw, w_pw, np.float32,
    OW, np.float32)`."""
    _check(x, 4, counts)
    n = x.shape[0]
    oh, ow, f = pot_shape
    c = x.shape[3]
    w_dw, w_tile, w_pw = prepared
    out, out_u8, out_raw = _outputs(n, out_shape, mode)
    nz = np.count_nonzero(x) if in_events < 0 else in_events
    rows = stride == (1, 1) and nz > ROWS_ABOVE * x.size and dense_above <= 1.0
    dw = scratch("dw", (n, oh, ow, c), np.float32)
    nonzero = depthwise_f32_kernel(x, w_dw, w_tile, pad[0], pad[1], stride[0], stride[1], rows, f, dw, _NO_XP,
                                   counts)
    pot = scratch("pot", (n, oh, ow, f), np.float32)
    if nonzero > PW_BLAS_ABOVE * dw.size and dense_above <= 1.0:
        gemm_f32(dw.reshape(-1, c), w_pw, pot.reshape(n * oh * ow, f))
    else:
        pointwise_f32_kernel(dw, w_pw, pot)
    output_f32_kernel(pot, threshold, act_step, 2**act_bits - 1, mode, pool, out_u8, out_raw, counts)
    return out
