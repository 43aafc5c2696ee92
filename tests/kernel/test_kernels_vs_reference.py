"""The numba kernels against the literal NumPy reference, bit for bit, on random models.

Hypothesis draws the architecture (every layer type, bit widths, padding, strides, kernel sizes,
pooling, activation of the last layer, batch size); a numpy generator seeded by Hypothesis draws
the variables and inputs. Outputs AND activity counts must be equal.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from akida_edge.engine import execute
from akida_edge.engine import kernels as K
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model, weight_range

pytestmark = pytest.mark.kernel


def _fill(model: Model, rng: np.random.Generator, in_max: int) -> None:
    """Random weights in range, thresholds of both signs around the potentials' scale, act_step
    a random multiple of 1/16 (often fractional)."""
    for layer in model.layers[1:]:
        spec = layer.spec
        lo, hi = weight_range(spec.weights_bits)
        for name, value in layer.variables.items():
            if name.startswith("weights"):
                w = rng.integers(lo, hi + 1, size=value.shape)
                w[rng.random(value.shape) < rng.uniform(0, 0.5)] = 0
                layer.set_variable(name, w)
        fan_in = max(1, layer.variables["weights"].shape[0] * layer.variables["weights"].shape[1]
                     if not isinstance(spec, L.FullyConnected) else layer.variables["weights"].shape[0])
        scale = max(1, int(np.sqrt(fan_in * layer.input_shape[2]) * in_max * max(abs(lo), hi) / 2))
        f = layer.variables["threshold"].shape
        layer.set_variable("threshold", rng.integers(-scale, scale + 1, size=f))
        layer.set_variable("act_step", rng.integers(1, min(65536, 16 * max(2, scale // 4)), size=f) / 16)
        in_max = 2**spec.act_bits - 1


@st.composite
def models(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    if draw(st.booleans()):
        bits = draw(st.sampled_from(L.INPUT_BITS))
        shape = (draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 5)))
        first: L.LayerSpec = L.InputData(input_shape=shape, input_bits=bits)
        in_max = 2**bits - 1
    else:
        shape = (draw(st.integers(3, 12)), draw(st.integers(3, 12)), draw(st.sampled_from([1, 3])))
        first = _spatial(draw, L.InputConvolutional, shape, input_shape=shape,
                         padding_value=draw(st.sampled_from([0, 0, 7, 255])))
        in_max = 255
    model = Model([first])
    depth = draw(st.integers(0 if first.kind == "InputConvolutional" else 1, 3))
    for i in range(depth):
        last = i == depth - 1
        in_shape = model.layers[-1].output_shape
        kind = draw(st.sampled_from([L.Convolutional, L.SeparableConvolutional, L.FullyConnected]))
        activation = draw(st.booleans()) if last else True
        if kind is L.FullyConnected:
            spec: L.LayerSpec = L.FullyConnected(
                units=draw(st.integers(1, 12)), weights_bits=draw(st.sampled_from(L.WEIGHT_BITS)),
                activation=activation, act_bits=draw(st.sampled_from(L.ACT_BITS)))
        else:
            spec = _spatial(draw, kind, in_shape, activation=activation)
        model.add(spec)
    return model, seed, in_max, draw(st.sampled_from([1, 2, 3, 9]))


def _spatial(draw, kind, in_shape, activation: bool = True, **extra):
    h, w, _ = in_shape
    padding = draw(st.sampled_from(L.PADDINGS))
    limit_h, limit_w = (7, 7) if padding == "same" else (min(7, h), min(7, w))
    kernel = (draw(st.integers(1, limit_h)), draw(st.integers(1, limit_w)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    oh = L.conv_output_size(h, kernel[0], stride[0], padding)[0]
    ow = L.conv_output_size(w, kernel[1], stride[1], padding)[0]
    pool: dict = {}
    choice = draw(st.sampled_from(["none", "max", "average"])) if activation else "none"
    if choice == "max":
        size = (draw(st.integers(1, min(3, oh))), draw(st.integers(1, min(3, ow))))
        pstride = draw(st.sampled_from([(-1, -1), (1, 1), (2, 1), (1, 3)]))
        pool = {"pool_type": "max", "pool_size": size, "pool_stride": pstride}
    elif choice == "average":
        pool = {"pool_type": "average"}
    bits = (L.WEIGHT_BITS if kind is not L.InputConvolutional else (8, 4, 2, 1))
    return kind(kernel_size=kernel, kernel_stride=stride, padding=padding,
                filters=draw(st.integers(1, 9)), weights_bits=draw(st.sampled_from(bits)),
                activation=activation, act_bits=draw(st.sampled_from(L.ACT_BITS)), **pool, **extra)


def _inputs(model: Model, rng: np.random.Generator, n: int, in_max: int) -> np.ndarray:
    x = rng.integers(0, in_max + 1, size=(n, *model.input_shape))
    x[rng.random(x.shape) < rng.uniform(0, 0.9)] = 0
    return x


def _assert_same(model: Model, x: np.ndarray, upto: int | None = None) -> None:
    y = execute.forward(model, x, upto=upto)
    fast = model.statistics
    y_ref = execute.forward(model, x, reference=True, upto=upto)
    ref = model.statistics
    assert y.dtype == y_ref.dtype and y.shape == y_ref.shape
    np.testing.assert_array_equal(y, y_ref)
    assert fast.samples == ref.samples == x.shape[0]
    for a, b in zip(fast.layers, ref.layers, strict=True):
        assert (a.name, a.input_events, a.synaptic_ops, a.output_events, a.input_size, a.output_size) == (
            b.name, b.input_events, b.synaptic_ops, b.output_events, b.input_size, b.output_size)


@given(models())
def test_random_models_match_reference(case):
    model, seed, in_max, n = case
    rng = np.random.default_rng(seed)
    _fill(model, rng, in_max)
    _assert_same(model, _inputs(model, rng, n, in_max))


@given(models())
def test_intermediate_outputs_match_reference(case):
    model, seed, in_max, n = case
    rng = np.random.default_rng(seed)
    _fill(model, rng, in_max)
    upto = int(rng.integers(1, len(model.layers) + 1))
    _assert_same(model, _inputs(model, rng, n, in_max), upto=upto)


def test_threaded_batch_equals_sample_by_sample(rng):
    """A batch split over workers gives the outputs and counts of one sample at a time."""
    model = Model([L.InputData(input_shape=(6, 5, 3), input_bits=4),
                   L.Convolutional(kernel_size=3, filters=8, weights_bits=4, act_bits=2),
                   L.FullyConnected(units=5, weights_bits=2, activation=False)])
    _fill(model, rng, 15)
    x = _inputs(model, rng, 4 * execute.MIN_SPLIT + 3, 15)
    y = execute.forward(model, x)
    total = model.statistics
    ys, ops = [], 0
    for sample in x:
        ys.append(execute.forward(model, sample[None]))
        ops += model.statistics.synaptic_ops
    np.testing.assert_array_equal(y, np.concatenate(ys))
    assert total.synaptic_ops == ops


@pytest.mark.parametrize("kind", ["conv", "separable", "dense"])
def test_int64_accumulators_equal_int32(rng, kind):
    """The accumulator dtype only changes speed: forcing int64 gives the int32 results."""
    x = rng.integers(0, 16, size=(3, 7, 6, 4)).astype(np.uint8)
    thr = rng.integers(-50, 50, size=6).astype(np.int32)
    step = (rng.integers(1, 64, size=6) / 16).astype(np.float32)
    pool = np.array([2, 2, 1, 2], np.int64)
    w = rng.integers(-7, 8, size=(3, 3, 4, 6)).astype(np.int8)
    wd = rng.integers(-7, 8, size=(3, 3, 4)).astype(np.int8)
    wp = rng.integers(-7, 8, size=(4, 6)).astype(np.int8)
    wf = rng.integers(-7, 8, size=(7 * 6 * 4, 6)).astype(np.int8)
    outs = []
    for acc in (np.int32, np.int64):
        counts = np.zeros(3, np.int64)
        if kind == "conv":
            y = K.conv_layer(x, w, (1, 1), (1, 1), (7, 6, 6), (6, 3, 6), thr, step, 4, K.MODE_MAX, pool,
                             acc, counts)
        elif kind == "separable":
            y = K.separable_layer(x, wd, wp, (0, 0), (2, 1), (3, 4, 6), (3, 4, 6), thr, step, 2,
                                  K.MODE_ACT, pool, acc, counts)
        else:
            y = K.dense_layer(x.reshape(3, -1), wf, thr, step, 4, K.MODE_RAW, acc, counts)
        outs.append((y, counts))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_wide_fan_in_uses_int64_and_matches_reference(rng):
    """8-bit weights over 16·17·256 8-bit inputs can pass 2^31: int64 accumulators, still exact."""
    model = Model([L.InputData(input_shape=(16, 17, 256), input_bits=8),
                   L.FullyConnected(units=3, weights_bits=8, activation=False)])
    layer = model.layers[1]
    w = rng.integers(-127, 128, size=layer.variables["weights"].shape)
    layer.set_variable("weights", w)
    x = rng.integers(0, 256, size=(2, 16, 17, 256))
    assert execute.plan(model)[1].acc_dtype == np.int64
    _assert_same(model, x)
    expected = x.reshape(2, -1).astype(np.int64) @ w.astype(np.int64)
    np.testing.assert_array_equal(execute.forward(model, x)[:, 0, 0, :], expected)
