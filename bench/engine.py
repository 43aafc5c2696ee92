"""Engine benchmark: the virtual AKD1000 on a DS-CNN-KWS-shaped network with realistic activity.

Figures (times are best-of-N wall times on this machine; the suite reports the machine):

- `dscnn_ms`: batch 1, one thread, ms per sample (mean over a set of different samples);
- `dscnn_batch_samples_per_s`: batch 256 over all usable cores;
- `ort_ratio` / `ort_batch_ratio`: engine time / onnxruntime time on the same network exported as
  a dense float32 ONNX graph (Conv, depthwise Conv, Relu, GlobalAveragePool, Gemm), one thread
  each, batch 1 and 256;
- `density_ratio_10pct`: CPU time at 10 % input density / CPU time at 100 % (interleaved rounds,
  one thread) on a conv stack (InputData
  4-bit + three Convolutional layers whose activity follows their input, see `conv_stack`): cost
  should follow events; the engine picks its path per layer from the measured input density (the
  dense BLAS stage at 100 %, scattering events at 10 %), so `density_ratio_10pct_event_path`
  also gives the ratio with the event path forced at both densities (`stack_cpu_ms_*`: the two
  sides' CPU times, ms per 16 samples, a diagnostic), and
  `stack_synaptic_ops_ratio_10pct` the ratio of synaptic operations it should follow;
- `gsops_per_core`: synaptic operations per second on one core, event path forced (DS-CNN,
  batch 256); `gsops_per_core_with_dense_stages` the same with the engine's own path choice;
- `reference_ratio`: NumPy reference time / engine time, batch 1;
- `dscnn_cpu_ms`, `ort_cpu_ratio`, `ort_batch_cpu_ratio`: the batch-1 time and the two
  onnxruntime ratios in CPU time of the (single) calling thread, steadier on a shared machine;
- `sparsity_in_<layer>`: measured input sparsity (share of zeros) per DS-CNN layer.

Activity is made realistic by calibrating each layer's thresholds and act_step on structured
inputs (smooth log-mel-like 8-bit maps), so that about `TARGET_DENSITY` of each layer's outputs
fire, as in a trained network, instead of the dense or silent activity of random thresholds.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from akida_edge import numba_config
from akida_edge.bench.timing import best_seconds
from akida_edge.engine import execute, zoo
from akida_edge.engine import layers as L
from akida_edge.engine import reference as R
from akida_edge.engine.model import Model

SUITE = "engine"
SEED = 20261127
TARGET_DENSITY = 0.3  # share of non-zero activations per layer after calibration
CALIBRATION_SAMPLES = 48
ROUNDS = 12  # interleaved rounds of the engine/onnxruntime timings (best of): steadier under load


def logmel_like(rng: np.random.Generator, n: int, frames: int = 49, bands: int = 10) -> np.ndarray:
    """Smooth 8-bit time-frequency maps: a few formant-like blobs over a noise floor, (n, T, F, 1)."""
    t = np.arange(frames)[None, :, None]
    f = np.arange(bands)[None, None, :]
    x = rng.normal(0.0, 0.15, size=(n, frames, bands))
    for _ in range(4):
        ct = rng.uniform(0, frames, size=(n, 1, 1))
        cf = rng.uniform(0, bands, size=(n, 1, 1))
        wt = rng.uniform(2, 8, size=(n, 1, 1))
        wf = rng.uniform(1, 3, size=(n, 1, 1))
        amp = rng.uniform(0.5, 2.0, size=(n, 1, 1))
        x += amp * np.exp(-((t - ct) / wt) ** 2 - ((f - cf) / wf) ** 2)
    x -= x.min(axis=(1, 2), keepdims=True)
    x /= x.max(axis=(1, 2), keepdims=True)
    return np.round(255 * x)[..., None].astype(np.uint8)


def potentials(layer, x: np.ndarray) -> np.ndarray:
    """Potentials of a processing layer (reference arithmetic), (N, OH, OW, F) int64."""
    spec, v = layer.spec, layer.variables
    if isinstance(spec, L.FullyConnected):
        return (x.reshape(len(x), -1).astype(np.int64) @ v["weights"].astype(np.int64))[:, None, None, :]
    pad_value = int(getattr(spec, "padding_value", 0))
    xp, oh, ow = R.pad_input(x, spec, pad_value)
    if isinstance(spec, L.SeparableConvolutional):
        d = R.depthwise(xp, v["weights"], oh, ow, spec.kernel_stride)
        return R.correlate(d, v["weights_pw"], oh, ow, (1, 1))
    return R.correlate(xp, v["weights"], oh, ow, spec.kernel_stride)


def calibrate(model: Model, x: np.ndarray, density: float = TARGET_DENSITY) -> None:
    """Set threshold and act_step of every activated layer so that about `density` of its outputs
    are events on `x`, with the activation levels spread up to the 99th percentile."""
    y = x
    for layer in model.layers:
        spec = layer.spec
        if isinstance(spec, L.InputData):
            continue
        p = potentials(layer, y).astype(np.float64)
        if spec.pool_type == "average":
            p = p.mean(axis=(1, 2), keepdims=True)
        flat = p.reshape(-1, p.shape[-1])
        if spec.activation:
            # thresholds stay positive as in trained networks (no events out of silence)
            thr = np.maximum(np.floor(np.quantile(flat, 1.0 - density, axis=0)), 1.0)
            top = np.quantile(flat, 0.99, axis=0)
            step = np.ceil(16 * np.maximum(top - thr, 1.0) / (2**spec.act_bits - 1)) / 16
            layer.set_variable("threshold", thr.astype(np.int64))
            layer.set_variable("act_step", np.clip(step, 1 / 16, 65535 / 16))
        else:
            scale = np.maximum(flat.std(axis=0), 1.0)
            layer.set_variable("act_step", np.clip(np.round(16 * scale) / 16, 1 / 16, 65535 / 16))
        y, _ = R.layer_forward(layer, y)


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the engine's batches and NumPy's BLAS on `n` threads (AKIDA_EDGE_THREADS is read per call)."""
    old = os.environ.get("AKIDA_EDGE_THREADS")
    os.environ["AKIDA_EDGE_THREADS"] = str(n)
    try:
        with numba_config.blas_threads(n):
            yield
    finally:
        if old is None:
            os.environ.pop("AKIDA_EDGE_THREADS", None)
        else:
            os.environ["AKIDA_EDGE_THREADS"] = old


@contextlib.contextmanager
def dense_stages(dense_above: float) -> Iterator[None]:
    """Set the density above which the engine uses its dense (BLAS) stages; > 1 disables them."""
    old = execute.DENSE_ABOVE
    execute.DENSE_ABOVE = dense_above
    try:
        yield
    finally:
        execute.DENSE_ABOVE = old


def onnx_session(model: Model):
    """The same network as a dense float32 ONNX graph (NCHW), run by onnxruntime on one thread."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    name = "x"
    h, w, c = model.input_shape
    for i, layer in enumerate(model.layers):
        spec, v = layer.spec, layer.variables
        if isinstance(spec, L.InputData):
            continue
        bias = numpy_helper.from_array(-v["threshold"].astype(np.float32), f"b{i}")
        inits.append(bias)
        if isinstance(spec, L.FullyConnected):
            nodes.append(helper.make_node("Flatten", [name], [f"f{i}"]))
            inits.append(numpy_helper.from_array(v["weights"].astype(np.float32), f"w{i}"))
            nodes.append(helper.make_node("Gemm", [f"f{i}", f"w{i}", f"b{i}"], [f"y{i}"]))
            name = f"y{i}"
        else:
            (kh, kw), stride = spec.kernel_size, spec.kernel_stride
            ih, iw, ic = layer.input_shape
            oh, top = L.conv_output_size(ih, kh, stride[0], spec.padding)
            ow, left = L.conv_output_size(iw, kw, stride[1], spec.padding)
            bottom = max((oh - 1) * stride[0] + kh - ih - top, 0)
            right = max((ow - 1) * stride[1] + kw - iw - left, 0)
            pads = [top, left, bottom, right]
            if isinstance(spec, L.SeparableConvolutional):
                wd = v["weights"].astype(np.float32).transpose(2, 3, 0, 1)  # (C, 1, kh, kw)
                inits.append(numpy_helper.from_array(wd, f"wd{i}"))
                nodes.append(helper.make_node("Conv", [name, f"wd{i}"], [f"d{i}"], group=ic,
                                              kernel_shape=[kh, kw], strides=list(stride), pads=pads))
                wp = v["weights_pw"].astype(np.float32).transpose(3, 2, 0, 1)
                inits.append(numpy_helper.from_array(wp, f"w{i}"))
                nodes.append(helper.make_node("Conv", [f"d{i}", f"w{i}", f"b{i}"], [f"p{i}"],
                                              kernel_shape=[1, 1]))
            else:
                wc = v["weights"].astype(np.float32).transpose(3, 2, 0, 1)
                inits.append(numpy_helper.from_array(wc, f"w{i}"))
                nodes.append(helper.make_node("Conv", [name, f"w{i}", f"b{i}"], [f"p{i}"],
                                              kernel_shape=[kh, kw], strides=list(stride), pads=pads))
            name = f"p{i}"
            if spec.pool_type == "average":
                nodes.append(helper.make_node("GlobalAveragePool", [name], [f"g{i}"]))
                name = f"g{i}"
            if spec.activation:
                nodes.append(helper.make_node("Relu", [name], [f"r{i}"]))
                name = f"r{i}"
            if spec.pool_type == "max":
                (ph, pw), ps = spec.pool_size, spec.effective_pool_stride
                nodes.append(helper.make_node("MaxPool", [name], [f"m{i}"], kernel_shape=[ph, pw],
                                              strides=list(ps)))
                name = f"m{i}"
    oh_, ow_, oc_ = model.output_shape
    out_shape = ["N", oc_] if isinstance(model.layers[-1].spec, L.FullyConnected) else ["N", oc_, oh_, ow_]
    graph = helper.make_graph(
        nodes, "akida_edge_float", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, out_shape)], initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def conv_stack(rng: np.random.Generator) -> Model:
    """InputData 24×24×16 (4-bit) + three 3×3 Convolutional layers of 32 filters (4-bit).

    The weights are random integers in [−6, 7] (of the 4-bit [−7, 7]): a slight excitatory bias
    (mean +0.5), so a filter's potential grows with the number of events in its field, as a
    trained event-camera feature detector's does. With thresholds calibrated at full input
    density (`calibrate`, 30 % of the outputs fire), the deeper layers then follow the input:
    in the suite's seeded run about 29 % of their inputs are active at 100 % input density and
    2.7 % and 0 % at 10 % (other seeds: 5 % and 3 %), so the whole stack's synaptic operations
    scale with the input events (`stack_synaptic_ops_ratio_10pct` 0.07; 0.13 with those other
    seeds). The 10 % figure thus measures the event path of the first layer plus the cost of
    nearly silent layers (scanning their inputs, the output stage). Zero-sum filters, by
    contrast, keep the deeper layers 15-19 % active whatever the input density (their
    potentials' spread shrinks only as the square root of the density).
    """
    m = Model([L.InputData(input_shape=(24, 24, 16), input_bits=4)])
    for _ in range(3):
        m.add(L.Convolutional(kernel_size=3, filters=32, weights_bits=4, act_bits=4))
    for layer in m.layers[1:]:
        layer.set_variable("weights", rng.integers(-6, 8, size=layer.variables["weights"].shape))
    return m


def sparse_input(rng: np.random.Generator, shape: tuple, density: float, top: int) -> np.ndarray:
    x = rng.integers(1, top + 1, size=shape)
    x[rng.random(shape) >= density] = 0
    return x.astype(np.uint8)


def interleaved_best(fns: dict[Any, Callable[[], object]], rounds: int,
                     clock: Callable[[], float] = time.perf_counter) -> dict[Any, float]:
    """Best time of each function over `rounds` rounds that run them in turn, so a change of
    machine load during the run affects every figure of a ratio alike. `clock` is wall time by
    default; `time.thread_time` gives the calling thread's CPU time (one-thread runs only)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
    return best


def _say(progress: IO[str] | None, text: str) -> None:
    if progress:
        print(f"  engine: {text}", file=progress, flush=True)


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    figures: dict[str, Any] = {}
    model = zoo.dscnn_kws(rng, classes=12)
    calibrate(model, logmel_like(rng, CALIBRATION_SAMPLES))
    t0 = time.perf_counter()
    execute.warm(model)
    figures["warm_s"] = round(time.perf_counter() - t0, 3)

    samples = logmel_like(rng, 256)
    execute.forward(model, samples)
    stats = model.statistics
    for layer in stats.layers:
        figures[f"sparsity_in_{layer.name}"] = round(layer.input_sparsity(stats.samples), 3)
    ops_per_sample = stats.synaptic_ops / stats.samples
    figures["synaptic_ops_per_sample"] = int(ops_per_sample)

    _say(progress, "batch 1 and 256 against onnxruntime, one thread each")
    sess = onnx_session(model)
    nchw = samples.astype(np.float32).transpose(0, 3, 1, 2).copy()
    singles = [samples[i:i + 1] for i in range(32)]
    ort_singles = [nchw[i:i + 1] for i in range(len(singles))]

    def one_by_one() -> None:
        for s in singles:
            execute.forward(model, s)

    def ort_one_by_one() -> None:
        for s in ort_singles:
            sess.run(None, {"x": s})

    def event_path_batch() -> None:
        with dense_stages(2.0):
            execute.forward(model, samples)

    with threads(1):
        best = interleaved_best({
            "engine_1": one_by_one, "ort_1": ort_one_by_one,
            "engine_256": lambda: execute.forward(model, samples),
            "ort_256": lambda: sess.run(None, {"x": nchw}), "event_256": event_path_batch,
        }, rounds=ROUNDS)
        # the same in CPU time of the calling thread (everything above runs in it): steadier than
        # wall time on a shared machine, which preempts the process at random
        cpu = interleaved_best({
            "engine_1": one_by_one, "ort_1": ort_one_by_one,
            "engine_256": lambda: execute.forward(model, samples),
            "ort_256": lambda: sess.run(None, {"x": nchw}),
        }, rounds=ROUNDS // 2, clock=time.thread_time)
    figures["dscnn_cpu_ms"] = round(cpu["engine_1"] / len(singles) * 1e3, 4)
    figures["ort_cpu_ratio"] = round(cpu["engine_1"] / cpu["ort_1"], 3)
    figures["ort_batch_cpu_ratio"] = round(cpu["engine_256"] / cpu["ort_256"], 3)
    engine_1 = best["engine_1"] / len(singles)
    ort_1 = best["ort_1"] / len(singles)
    figures["dscnn_ms"] = round(engine_1 * 1e3, 4)
    figures["ort_ms"] = round(ort_1 * 1e3, 4)
    figures["ort_ratio"] = round(engine_1 / ort_1, 3)
    figures["ort_batch_ratio"] = round(best["engine_256"] / best["ort_256"], 3)
    figures["gsops_per_core"] = round(ops_per_sample * 256 / best["event_256"] / 1e9, 3)
    figures["gsops_per_core_with_dense_stages"] = round(ops_per_sample * 256 / best["engine_256"] / 1e9, 3)

    _say(progress, "batch 256, all cores")
    figures["dscnn_batch_samples_per_s"] = round(256 / best_seconds(lambda: execute.forward(model, samples),
                                                                     repeat=5), 1)

    _say(progress, "reference")
    one = samples[:1]
    with threads(1):
        t_ref = best_seconds(lambda: execute.forward(model, one, reference=True), repeat=5)
    figures["reference_ratio"] = round(t_ref / engine_1, 1)

    _say(progress, "density sweep on a conv stack")
    stack = conv_stack(rng)
    shape = (16, *stack.input_shape)
    calibrate(stack, sparse_input(rng, shape, 1.0, 15))
    execute.warm(stack)
    inputs = {density: sparse_input(rng, shape, density, 15) for density in (0.1, 1.0)}
    for label, dense_above in (("", execute.DENSE_ABOVE), ("_event_path", 2.0)):
        ops = {}
        with threads(1), dense_stages(dense_above):
            for density, x in inputs.items():
                execute.forward(stack, x)
                st = stack.statistics
                ops[density] = st.synaptic_ops
                figures[f"stack_sparsity_in_{int(density * 100)}pct"] = [
                    round(la.input_sparsity(st.samples), 3) for la in st.layers[1:]]
            # both densities in every round, CPU time of the (only) thread: a ratio of two short
            # timings must not depend on when the shared machine preempted the process
            times = interleaved_best({d: (lambda x=x: execute.forward(stack, x)) for d, x in inputs.items()},
                                     rounds=ROUNDS, clock=time.thread_time)
        figures[f"density_ratio_10pct{label}"] = round(times[0.1] / times[1.0], 3)
        for density, t in times.items():  # diagnostic: the two sides of the ratio (CPU ms per 16 samples)
            figures[f"stack_cpu_ms_{int(density * 100)}pct{label}"] = round(t * 1e3, 3)
    figures["stack_synaptic_ops_ratio_10pct"] = round(ops[0.1] / ops[1.0], 3)
    return figures
