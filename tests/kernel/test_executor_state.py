"""The executor's kept state (prepared weights, scratch buffers) never changes a result.

Weights are converted once per variable array and kept; scratch arrays are kept per thread and
reused across layers and models. Changing a variable, interleaving models of different shapes
and batch sizes, and writing into a variable in place must all stay exact (or fail loudly).
"""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.engine import execute
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model, weight_range

pytestmark = pytest.mark.kernel


def _model(rng: np.random.Generator, shape: tuple[int, int, int], filters: int) -> Model:
    m = Model([L.InputData(input_shape=shape, input_bits=4),
               L.Convolutional(kernel_size=3, filters=filters, weights_bits=4, act_bits=4),
               L.SeparableConvolutional(kernel_size=3, filters=filters, weights_bits=4, act_bits=2),
               L.FullyConnected(units=3, weights_bits=4, activation=False)])
    for layer in m.layers[1:]:
        for name, value in layer.variables.items():
            if name.startswith("weights"):
                lo, hi = weight_range(layer.spec.weights_bits)
                layer.set_variable(name, rng.integers(lo, hi + 1, size=value.shape))
        f = layer.variables["threshold"].shape
        layer.set_variable("threshold", rng.integers(0, 40, size=f))
        layer.set_variable("act_step", rng.integers(1, 64, size=f) / 16)
    return m


def _inputs(rng: np.random.Generator, model: Model, n: int, density: float) -> np.ndarray:
    x = rng.integers(1, 16, size=(n, *model.input_shape))
    x[rng.random(x.shape) >= density] = 0
    return x.astype(np.uint8)


def _check(model: Model, x: np.ndarray) -> None:
    np.testing.assert_array_equal(execute.forward(model, x), execute.forward(model, x, reference=True))


def test_set_variable_after_a_forward_is_used(rng):
    """Prepared weights follow `set_variable`: the next forward uses the new weights."""
    model = _model(rng, (7, 6, 4), 5)
    x = _inputs(rng, model, 3, 0.6)
    _check(model, x)
    before = execute.forward(model, x)
    for layer in model.layers[1:3]:
        for name in ("weights", "weights_pw"):
            if name in layer.variables:
                layer.set_variable(name, -layer.get_variable(name))
    _check(model, x)
    assert not np.array_equal(before, execute.forward(model, x))


def test_writing_a_used_variable_in_place_raises(rng):
    """The arrays behind prepared weights are read-only: an in-place edit fails loudly."""
    model = _model(rng, (5, 5, 2), 3)
    execute.forward(model, _inputs(rng, model, 1, 0.5))
    with pytest.raises(ValueError):
        model.layers[1].variables["weights"][0, 0, 0, 0] = 1


@pytest.mark.parametrize("density", [0.05, 0.9])  # event paths, dense (BLAS/row) paths
def test_interleaved_models_and_batch_sizes_share_scratch_exactly(rng, density):
    """Scratch buffers reused across models of other shapes and batch sizes stay exact."""
    a = _model(rng, (9, 8, 6), 7)
    b = _model(rng, (5, 11, 3), 4)
    for n in (1, 5, 2, 9, 1):
        for model in (a, b):
            _check(model, _inputs(rng, model, n, density))


@pytest.mark.parametrize("stride", [(1, 1), (2, 1)])  # row sweeps, scattered events
@pytest.mark.parametrize("density", [0.02, 0.6])
def test_int16_depthwise_sums_equal_float32(rng, stride, density):
    """Depthwise sums in int16 (where every partial sum fits) give the float32 path's results."""
    from akida_edge.engine import kernels as K

    x = rng.integers(1, 16, size=(3, 9, 7, 16))
    x[rng.random(x.shape) >= density] = 0
    x = x.astype(np.uint8)
    wd = rng.integers(-7, 8, size=(3, 3, 16)).astype(np.int8)
    wp = rng.integers(-7, 8, size=(16, 6)).astype(np.int8)
    thr = rng.integers(-30, 60, size=6).astype(np.int32)
    step = (rng.integers(1, 200, size=6) / 16).astype(np.float32)
    pool = np.zeros(4, np.int64)
    oh, ow = -(-9 // stride[0]), -(-7 // stride[1])
    assert K.depthwise_dtype(3 * 3 * 15 * 7, np.float32) == np.int16
    outs = []
    for dw_dtype in (np.int16, np.float32):
        for dense_above in (0.0, 2.0):
            counts = np.zeros(3, np.int64)
            prep = K.prepare_separable(wd, wp, np.float32, ow, dw_dtype)
            y = K.separable_layer(x, wd, wp, (1, 1), stride, (oh, ow, 6), (oh, ow, 6), thr, step, 4,
                                  K.MODE_ACT, pool, np.float32, counts, dense_above, prep)
            outs.append((y, counts))
    for y, counts in outs[1:]:
        np.testing.assert_array_equal(y, outs[0][0])
        np.testing.assert_array_equal(counts, outs[0][1])
    assert outs[0][0].any()


def test_dscnn_plan_uses_float32_exact_stages():
    """The DS-CNN's layers (8/4-bit, 3×3 and 5×5 kernels: partial sums below 2^23) all take the
    float32-exact stages (`kernels_f32.py`), depthwise sums included."""
    from akida_edge.engine import zoo

    steps = execute.plan(zoo.dscnn_kws())
    assert all(s.f32 for s in steps if s.kind in ("conv", "separable"))
    assert [s.dw_dtype for s in steps if s.kind == "separable"] == [np.float32] * 4


def test_outputs_are_not_reused_between_forwards(rng):
    """The compiled plan reuses its intermediate buffers, never an output already returned."""
    model = _model(rng, (7, 6, 4), 5)
    xa, xb = _inputs(rng, model, 2, 0.6), _inputs(rng, model, 2, 0.6)
    for upto in (2, 3, 4):
        ya = execute.forward(model, xa, upto=upto)
        kept = ya.copy()
        execute.forward(model, xb, upto=upto)
        np.testing.assert_array_equal(ya, kept)
        np.testing.assert_array_equal(ya, execute.forward(model, xa, reference=True, upto=upto))


def test_read_only_input_into_a_separable_layer(rng):
    """A separable layer right after InputData reads the caller's (here read-only) array."""
    m = Model([L.InputData(input_shape=(6, 5, 8), input_bits=4),
               L.SeparableConvolutional(kernel_size=3, filters=4, weights_bits=4, act_bits=4)])
    layer = m.layers[1]
    for name in ("weights", "weights_pw"):
        layer.set_variable(name, rng.integers(-7, 8, size=layer.variables[name].shape))
    x = _inputs(rng, m, 3, 0.5)
    x.flags.writeable = False
    _check(m, x)


@pytest.mark.parametrize("samples_per_chunk", [1, 3])
def test_a_batch_run_in_chunks_equals_the_reference(rng, monkeypatch, samples_per_chunk):
    """Chunks of one sample, or of a few (the last chunk shorter), through the whole network:
    outputs and activity equal the reference's, and each chunk picks its paths from its own events."""
    model = _model(rng, (9, 8, 6), 12)
    x = _inputs(rng, model, 7, 0.5)
    x[2:4] = 0  # a silent chunk between busy ones: its paths differ from its neighbours'
    steps = execute.plan(model)
    monkeypatch.setattr(execute, "MIN_CHUNK", 1)
    monkeypatch.setattr(execute, "CHUNK_BYTES", 2**30)
    per_sample = -(-2**30 // execute.chunk_size(steps))  # bytes of one sample's working set
    monkeypatch.setattr(execute, "CHUNK_BYTES", samples_per_chunk * per_sample)
    assert execute.chunk_size(steps) == samples_per_chunk
    y = execute.forward(model, x)
    got = [(a.input_events, a.synaptic_ops, a.output_events) for a in model.statistics.layers]
    y_ref = execute.forward(model, x, reference=True)
    np.testing.assert_array_equal(y, y_ref)
    assert got == [(a.input_events, a.synaptic_ops, a.output_events) for a in model.statistics.layers]
