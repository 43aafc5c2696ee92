"""Running a `Model`: input validation, the layer-by-layer plan over the kernels, activity.

`forward` returns integer NHWC outputs (uint8 activations, or int32 p − T for a last layer
without activation; FullyConnected gives (N, 1, 1, units)); `predict` returns the float logits
(p − T) / act_step; `warm` compiles and loads the kernels once. Every forward stores the batch's
`Activity` in `model.statistics`.

Batches are split into contiguous parts run by a thread pool (the kernels release the GIL), one
part per usable core; a batch of fewer than `MIN_SPLIT` samples per worker runs in the calling
thread (`batch_split`).

The plan of a model (`plan`) is cached until its layers change; each step keeps its weights in
kernel form (`_prepared`: converted, transposed, tiled) until `set_variable` replaces a variable.
Per (model, batch size, thread) the steps are compiled once: into one numba program
(`program.compile_program`: layers packed into flat arrays, one call per forward) where it covers
the model (float32-exact convolution/separable layers and FullyConnected: every zoo model), else
into per-layer runners (`plan.compile_plan`: buffers preallocated, kernels called directly); a
forward after the first runs no per-layer validation or allocation. A batch runs in chunks of
about one core's L2 working set (`chunk_size`). Per layer, the path follows the measured input
density: the previous layer's output events decide between dense (matrix products, row sweeps)
and event-driven stages, so cost follows events. The per-layer `Activity` records are built from
the kernels' counts when first read (`_CountedActivity`).
"""

from __future__ import annotations

import functools
import math
import threading
import time
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from akida_edge.engine import kernels as K
from akida_edge.engine import layers as L
from akida_edge.engine import reference as R
from akida_edge.engine.activity import Activity, LayerActivity
from akida_edge.engine.batch_split import MIN_SPLIT as MIN_SPLIT  # re-exported (tests read execute.MIN_SPLIT)
from akida_edge.engine.batch_split import run_split, split_workers
from akida_edge.engine.model import weight_range
from akida_edge.engine.output_stage import to_int32
from akida_edge.engine.plan import compile_plan
from akida_edge.engine.program import Program, compile_program
from akida_edge.errors import InputDataError, ModelError

if TYPE_CHECKING:
    from akida_edge.engine.model import Layer, Model

# Working set of a chunk of samples run through the whole network at once (`chunk_size`): about
# the L2 cache of one core (1 MiB gives 16 DS-CNN samples, the measured best).
CHUNK_BYTES = 2**20
# Fewest samples per chunk, whatever their working set: each layer's kernel call has a set-up
# (≈ 0.7 µs for a gathered 24 × 24 × 32 layer) that a chunk of one sample pays per sample.
MIN_CHUNK = 4
# Run supported models through the one-call program (`program.py`); False: the per-layer runners.
USE_PROGRAM = True
# Share of non-zero inputs above which a layer whose sums are exact in float32 runs its dense
# stage as a matrix product instead of scattering events (> 1 forces the event path everywhere).
DENSE_ABOVE = K.DENSE_ABOVE

_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_local = threading.local()  # per thread: compiled plans (`_runners`)
MAX_PLANS = 8  # per thread; a plan holds its batch size's buffers


@dataclass(frozen=True)
class _Step:
    """What one layer needs at run time besides its (live) variables."""

    layer: Layer
    kind: str  # "input", "conv", "separable", "dense"
    mode: int
    pad: tuple[int, int]
    stride: tuple[int, int]
    pot_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    pool: np.ndarray
    acc_dtype: type
    pad_value: int
    dw_dtype: type = np.int32  # separable: the depthwise sums' dtype (`kernels.depthwise_dtype`)
    f32: bool = False  # partial sums < 2^23: the float32-exact stages (`kernels.f32_ok`)
    pair: bool = False  # separable: int16 depthwise sums and their int16-pair product (`kernels.pair_ok`)
    name: str = ""
    kind_name: str = ""
    input_size: int = 0
    output_size: int = 0


def _input_max(layer: Layer) -> int:
    """Largest input value a layer can receive (bounds the partial sums)."""
    return 2**layer.spec.input_bits - 1


def _step(layer: Layer, in_max: int) -> _Step:
    spec = layer.spec
    R.check_output_layer(layer)
    if isinstance(spec, L.InputData):
        return _Step(layer, "input", 0, (0, 0), (1, 1), layer.output_shape, layer.output_shape,
                     np.zeros(4, np.int64), np.int32, 0)
    if not spec.activation:
        mode = K.MODE_RAW
    elif spec.pool_type == "average":
        mode = K.MODE_AVG
    elif spec.pool_type == "max":
        mode = K.MODE_MAX
    else:
        mode = K.MODE_ACT
    wmax = max(abs(v) for v in weight_range(spec.weights_bits))
    h, w, c = layer.input_shape
    if isinstance(spec, L.FullyConnected):
        bound = h * w * c * in_max * wmax
        return _Step(layer, "dense", mode, (0, 0), (1, 1), (1, 1, spec.units), layer.output_shape,
                     np.zeros(4, np.int64), K.accumulator_dtype(bound), 0)
    (kh, kw), stride = spec.kernel_size, spec.kernel_stride
    oh, top = L.conv_output_size(h, kh, stride[0], spec.padding)
    ow, left = L.conv_output_size(w, kw, stride[1], spec.padding)
    pool = np.array([*spec.pool_size, *spec.effective_pool_stride], np.int64)
    pad_value = int(getattr(spec, "padding_value", 0))
    # largest |partial sum|: fan-in × largest input × largest |weight| (separable: of the
    # pointwise sum over C depthwise sums, each bounded the same way)
    dw_bound = 0
    if isinstance(spec, L.SeparableConvolutional):
        dw_bound = kh * kw * in_max * wmax
        bound = c * dw_bound * wmax
        kind = "separable"
    else:
        bound = kh * kw * c * max(in_max, pad_value) * wmax
        kind = "conv"
    acc = K.accumulator_dtype(bound, dense_ok=True)
    f32 = K.f32_ok(bound)
    return _Step(layer, kind, mode, (top, left), stride, (oh, ow, spec.filters), layer.output_shape,
                 pool, acc, pad_value, np.float32 if f32 else K.depthwise_dtype(dw_bound, acc), f32,
                 kind == "separable" and f32 and K.pair_ok(dw_bound, wmax, c))


def plan(model: Model) -> list[_Step]:
    """The run-time plan of a model, cached until its layers change (variables are read live)."""
    return _plan(model)[0]


def _plan(model: Model) -> tuple[list[_Step], list[list]]:
    """The plan and, per step, its cache of prepared weights (`_prepared`)."""
    key = tuple(map(id, model.layers))
    cached = _plans.get(model)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    if not model.layers:
        raise ModelError("the model has no layers; add an input layer first")
    steps, in_max = [], 0
    for layer in model.layers:
        if layer.spec.is_input:
            in_max = 255 if isinstance(layer.spec, L.InputConvolutional) else _input_max(layer)
        step = _step(layer, in_max)
        steps.append(replace(step, name=layer.name, kind_name=layer.spec.kind,
                             input_size=math.prod(layer.input_shape),
                             output_size=math.prod(layer.output_shape)))
        if not isinstance(layer.spec, L.InputData):
            in_max = 2**layer.spec.act_bits - 1
    caches: list[list] = [[] for _ in steps]
    _plans[model] = (key, steps, caches)
    return steps, caches


def _prepared(step: _Step, cache: list) -> object:
    """The step's weights in kernel form (`kernels.prepare_*`), rebuilt only when a variable changes.

    `set_variable` replaces a variable's array, so identity tells whether the weights changed; the
    arrays the cache was built from are made read-only, so writing into them in place (which would
    otherwise go unseen) raises instead of silently using stale weights.
    """
    v = step.layer.variables
    w = v["weights"]
    if step.kind == "separable":
        w_pw = v["weights_pw"]
        if cache and cache[0][0] is w and cache[0][1] is w_pw:
            return cache[1]
        arrays: tuple = (w, w_pw)
    else:
        if cache and cache[0][0] is w:
            return cache[1]
        arrays = (w,)
    for a in arrays:
        a.flags.writeable = False
    if step.kind == "separable":
        w = arrays[0]
        value: object = K.prepare_separable(w.reshape(w.shape[:3]), arrays[1].reshape(w.shape[2], -1),
                                            step.acc_dtype, step.pot_shape[1], step.dw_dtype)
    elif step.kind == "conv":
        value = K.prepare_conv(arrays[0], step.acc_dtype)
    else:
        value = np.ascontiguousarray(arrays[0])
    cache[:] = [arrays, value]
    return value


def _run_step(step: _Step, x: np.ndarray, counts: np.ndarray, cache: list, in_events: int,
              dense_above: float | None = None) -> np.ndarray:
    """One layer through the validating wrappers of `kernels.py` (the plan's generic path)."""
    v = step.layer.variables
    dense_above = DENSE_ABOVE if dense_above is None else dense_above
    if step.kind == "input":
        nz = int(np.count_nonzero(x))
        counts[0] += nz
        counts[2] += nz
        return x
    prep = _prepared(step, cache)
    spec = step.layer.spec
    if step.kind == "dense":
        return K.dense_layer(x.reshape(x.shape[0], step.input_size), prep, v["threshold"],
                             v["act_step"], spec.act_bits, step.mode, step.acc_dtype, counts)
    w = v["weights"]
    if step.f32 and step.kind == "separable":
        return K.separable_f32(x, prep, step.pad, step.stride, step.pot_shape, step.out_shape,
                               v["threshold"], v["act_step"], spec.act_bits, step.mode, step.pool, counts,
                               dense_above, in_events)
    if step.kind == "separable":
        return K.separable_layer(x, w, None, step.pad, step.stride, step.pot_shape, step.out_shape,
                                 v["threshold"], v["act_step"], spec.act_bits, step.mode, step.pool,
                                 step.acc_dtype, counts, dense_above, prep, in_events)
    return K.conv_layer(x, w, step.pad, step.stride, step.pot_shape, step.out_shape, v["threshold"],
                        v["act_step"], spec.act_bits, step.mode, step.pool, step.acc_dtype,
                        counts, step.pad_value, dense_above, prep, in_events, step.f32)


def _fallback(step: _Step, x: np.ndarray, counts: np.ndarray, cache: list, in_events: int,
              dense_above: float) -> np.ndarray:
    return _run_step(step, x, counts, cache, in_events, dense_above)


def _runners(steps: list[_Step], caches: list[list], n: int) -> tuple[list, Program | None]:
    """The compiled plan of these steps for batches of n: the one-call program
    (`program.compile_program`, None where it does not cover the model) and the per-layer runners
    (`plan.compile_plan`), kept per thread (their buffers are the thread's own) until the model's
    plan changes."""
    store = getattr(_local, "runners", None)
    if store is None:
        store = _local.runners = {}
    key = (id(steps[0]), len(steps), n)
    entry = store.get(key)
    if entry is not None and entry[0] is steps[0] and entry[1] is caches[0]:
        return entry[2]
    if len(store) > MAX_PLANS:  # models come and go: keep the newest plans only
        store.pop(next(iter(store)))
    runners = (compile_plan(steps, caches, n, _prepared, _fallback),
               compile_program(steps, caches, n, _prepared) if USE_PROGRAM else None)
    store[key] = (steps[0], caches[0], runners)
    return runners


def chunk_size(steps: list[_Step]) -> int:
    """Samples per pass through the whole network: as many as keep the largest layer's float32
    working set (depthwise sums or im2col rows, and potentials) within `CHUNK_BYTES`.

    A batch runs chunk by chunk, every layer on one chunk before the next chunk starts, so the
    intermediate arrays stay in the core's cache instead of streaming through memory (measured,
    CPU time, DS-CNN KWS batch 256 on one core: 47.6 ms whole-batch layers, 35 ms in chunks of 16,
    37 ms in chunks of 4 or 8, 44 ms in chunks of 32; each BLAS product is also faster on a
    cache-resident output). At least `MIN_CHUNK` samples: the bench's conv stack (0.7 MB of im2col
    rows per sample) ran in chunks of one sample; in chunks of four, its 16 samples at 10 % input
    took 0.43 → 0.40 ms and at 100 % 1.72-1.74 → 1.69-1.70 ms (CPU time, one core, four
    processes each, alternated; in this machine's faster processes 0.373 → 0.351 and 1.36 →
    1.32 ms).
    """
    per_sample = 1
    for step in steps:
        if step.kind in ("conv", "separable"):
            oh, ow, f = step.pot_shape
            spec = step.layer.spec
            scratch = oh * ow * (step.layer.input_shape[2] if step.kind == "separable"
                                 else spec.kernel_size[0] * spec.kernel_size[1] * step.layer.input_shape[2])
            per_sample = max(per_sample, 4 * (scratch + oh * ow * f))
    return max(MIN_CHUNK, CHUNK_BYTES // per_sample)


def _run_chain(steps: list[_Step], caches: list[list], x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Every layer on x (N, H, W, C), chunk by chunk (`chunk_size`); adds the activity to counts."""
    n = x.shape[0]
    chunk = chunk_size(steps) if n > 1 else 1
    if n > chunk:
        program = _runners(steps, caches, chunk)[1]
        if program is not None:  # the chunks within one numba call
            y = program(x, counts, DENSE_ABOVE)
            return _checked_int32(steps[-1], y) if steps[-1].mode == K.MODE_RAW else y
        return np.concatenate([_run_part(steps, caches, x[a:a + chunk], counts) for a in range(0, n, chunk)])
    return _run_part(steps, caches, x, counts)


def _run_part(steps: list[_Step], caches: list[list], x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    in_events = -1
    dense_above = DENSE_ABOVE
    runners, program = _runners(steps, caches, x.shape[0])
    if program is not None:
        x = program(x, counts, dense_above)
        return _checked_int32(steps[-1], x) if steps[-1].mode == K.MODE_RAW else x
    for i, run in enumerate(runners):
        step = steps[i]
        before = counts[i, 2]  # counts add up over the chunks: this chunk's events are the difference
        x = run(x, counts[i], in_events, dense_above)
        in_events = int(counts[i, 2] - before) if x.dtype == np.uint8 else -1
        if step.mode == K.MODE_RAW:
            x = _checked_int32(step, x)
    return x


def _checked_int32(step: _Step, x: np.ndarray) -> np.ndarray:
    """int64 p − T as int32: refuse, never wrap, what int32 cannot hold."""
    y = np.empty(x.shape, np.int32)
    if not to_int32(x, y):
        raise ModelError(f"layer {step.name!r}: p - T leaves the int32 range; lower the weights")
    return y


def _run_kernels(steps: list[_Step], caches: list[list], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    workers = split_workers(x.shape[0])
    if workers <= 1:
        counts = np.zeros((len(steps), 3), np.int64)
        return _run_chain(steps, caches, x, counts), counts
    for step, cache in zip(steps, caches, strict=True):  # build the weights once, not per thread
        if step.kind != "input":
            _prepared(step, cache)
    return run_split(functools.partial(_run_chain, steps, caches), x, len(steps), workers)


def validate_input(model: Model, x: np.ndarray) -> np.ndarray:
    """The batch as C-contiguous uint8 (N, H, W, C), or an `InputDataError` naming the problem."""
    first = model.layers[0] if model.layers else None
    if first is None:
        raise ModelError("the model has no layers; add an input layer first")
    arr = np.asarray(x)
    shape = tuple(first.input_shape)
    if arr.ndim == 3 and arr.shape == shape:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != shape:
        raise InputDataError(
            f"input of shape {arr.shape} does not match the model input {shape}; pass (N, {shape[0]}, "
            f"{shape[1]}, {shape[2]}) or a single ({shape[0]}, {shape[1]}, {shape[2]}) sample"
        )
    spec = first.spec
    bits = spec.input_bits
    if arr.dtype == np.uint8 and bits == 8:  # the common case: nothing to check
        return np.ascontiguousarray(arr)
    top = 2**bits - 1
    what = (f"uint8 pixels of layer {first.name!r}" if isinstance(spec, L.InputConvolutional)
            else f"input_bits={bits} of layer {first.name!r}")
    if arr.dtype.kind == "f":
        if arr.size and not np.all(np.isfinite(arr) & (arr == np.floor(arr))):
            bad = arr[~(np.isfinite(arr) & (arr == np.floor(arr)))][0].item()
            raise InputDataError(f"input value {bad!r} is not an integer; the {what} take integers in "
                                 f"[0, {top}]: quantize the data first")
    elif arr.dtype.kind not in "iub":
        raise InputDataError(
            f"input dtype {arr.dtype} is not numeric; the {what} take integers in [0, {top}]")
    if arr.dtype != np.uint8 or bits < 8:
        # unsigned integers cannot be negative: one reduction instead of two
        if arr.size and ((arr.dtype.kind not in "ub" and arr.min() < 0) or arr.max() > top):
            bad = (arr.min() if arr.min() < 0 else arr.max()).item()
            need = next((b for b in L.INPUT_BITS if 0 <= bad <= 2**b - 1), None)
            fix = f"rescale the data to [0, {top}]"
            if need is not None and not isinstance(spec, L.InputConvolutional):
                fix += f" or build the input layer with input_bits={need}"
            raise InputDataError(
                f"input value {bad!r} does not fit the {what} (integers in [0, {top}]); {fix}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _stop(model: Model, upto: int | None) -> int:
    n = len(model.layers)
    if upto is None:
        return n
    if isinstance(upto, bool) or not isinstance(upto, (int, np.integer)) or not 1 <= upto <= n:
        raise ModelError(f"upto={upto!r} must be a layer count in [1, {n}]")
    return int(upto)


def forward(model: Model, x: np.ndarray, reference: bool = False, upto: int | None = None) -> np.ndarray:
    """Integer outputs (NHWC) of layer `upto` − 1 (the last layer by default).

    uint8 activations, or int32 p − T for a last layer without activation. `reference=True` runs
    the literal NumPy reference (`reference.py`) instead of the kernels. Stores the batch's
    `Activity` in `model.statistics`.
    """
    stop = _stop(model, upto)
    steps, caches = _plan(model)
    steps, caches = steps[:stop], caches[:stop]
    t0 = time.perf_counter()
    batch = validate_input(model, x)
    if reference:
        y, activity = R.forward(model, batch, stop)
    else:
        y, counts = _run_kernels(steps, caches, batch)
        activity = _CountedActivity(int(batch.shape[0]), steps, counts)
    activity.seconds = time.perf_counter() - t0
    model.statistics = activity
    return y


class _CountedActivity(Activity):
    """The `Activity` of a kernel run: its per-layer records are built from the kernels' counts
    (an (L, 3) int64 array owned by this record) when first read, not on every forward."""

    def __init__(self, samples: int, steps: list[_Step], counts: np.ndarray) -> None:
        self._steps, self._counts, self._layers = steps, counts, None
        super().__init__(samples=samples)

    @property  # type: ignore[override]
    def layers(self) -> list[LayerActivity]:
        if self._layers is None:
            self._layers = [LayerActivity(step.name, step.kind_name, step.input_size, step.output_size,
                                          c[0], c[1], c[2])
                            for step, c in zip(self._steps, self._counts.tolist(), strict=True)]
        return self._layers

    @layers.setter
    def layers(self, value: list[LayerActivity]) -> None:
        if value or self._layers is not None:  # the dataclass __init__ assigns an empty default
            self._layers = value


def predict(model: Model, x: np.ndarray, reference: bool = False) -> np.ndarray:
    """float32 (p − T) / act_step of a last layer without activation (the converted float logits)."""
    if not model.layers:
        raise ModelError("the model has no layers; add an input layer first")
    last = model.layers[-1]
    if isinstance(last.spec, L.InputData) or last.spec.activation:
        raise ModelError(
            f"predict needs a last layer without activation, but {last.name!r} has activation=True; "
            "use forward() for its integer outputs, or rebuild it with activation=False"
        )
    y = forward(model, x, reference=reference)
    return (y.astype(np.float64) / last.variables["act_step"].astype(np.float64)).astype(np.float32)


def warm(model: Model) -> None:
    """Compile (or load from the numba cache) every kernel the model uses, once.

    Runs one dense sample (all ones: the dense stages) and one sample with a single event
    (the event paths); `model.statistics` is left as it was.
    """
    if not model.layers:
        return
    saved = model.statistics
    shape = model.layers[0].input_shape
    dense = np.ones((1, *shape), np.uint8)
    sparse = np.zeros((1, *shape), np.uint8)
    sparse.flat[0] = 1
    try:
        forward(model, dense)
        forward(model, sparse)
    finally:
        model.statistics = saved
