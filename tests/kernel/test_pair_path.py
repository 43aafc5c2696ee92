"""The int16 pair path of separable layers (`kernels.pair_ok`: int16 depthwise sums, the pointwise
product on int16 pairs, `kernels_gemm_i16`) against the literal reference, forced on: outputs and
activity, every output mode, dense and sparse inputs, and the no-overflow edge (every input at its
maximum, every weight at ±max, depthwise sums up to 28 560 of the 32 767 the bound allows)."""

from __future__ import annotations

import numpy as np
import pytest
from engine_checks import activity
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine import execute
from akida_edge.engine import layers as L
from akida_edge.engine.kernels_gemm_i16 import gemm_i16, pack_pairs
from akida_edge.engine.model import Model, weight_range

pytestmark = pytest.mark.kernel


def _fill(model: Model, rng: np.random.Generator, extreme: bool) -> None:
    for layer in model.layers[1:]:
        lo, hi = weight_range(layer.spec.weights_bits)
        for name, arr in layer.variables.items():
            if name.startswith("weights"):
                w = np.where(rng.random(arr.shape) < 0.5, lo, hi) if extreme else \
                    rng.integers(lo, hi + 1, size=arr.shape)
                layer.set_variable(name, w)
        if layer.spec.activation or isinstance(layer.spec, L.FullyConnected):
            f = layer.variables["threshold"].size
            layer.set_variable("threshold", rng.integers(-2000, 2000, size=f))
            layer.set_variable("act_step", rng.integers(1, 4000, size=f) / 16)


def _check(model: Model, x: np.ndarray) -> None:
    steps = execute.plan(model)
    assert steps[1].pair  # the path under test, not the float32 one
    y_ref = execute.forward(model, x, reference=True)
    ref = activity(model)
    np.testing.assert_array_equal(execute.forward(model, x), y_ref)
    assert activity(model) == ref


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 4, 8]), st.sampled_from([2, 8, 16]),
       st.sampled_from([16, 20, 32]), st.sampled_from(["none", "max", "average", "raw"]),
       st.sampled_from([1, 2]), st.floats(0.0, 1.0), st.sampled_from([1, 3, 7]))
def test_pair_path_matches_reference(seed, bits, c, f, pool, stride, density, n):
    rng = np.random.default_rng(seed)
    if bits == 8:
        c = 2  # 8-bit pointwise weights keep the potentials float32-exact only for two channels
    model = Model([L.InputData(input_shape=(9, 7, c), input_bits=4)])
    pooling = {"max": {"pool_type": "max", "pool_size": 2}, "average": {"pool_type": "average"}}.get(pool, {})
    model.add(L.SeparableConvolutional(kernel_size=3, filters=f, kernel_stride=stride, weights_bits=bits,
                                       act_bits=4, activation=pool != "raw", **pooling))
    if pool != "raw":
        model.add(L.FullyConnected(units=5, weights_bits=4, activation=False))
    _fill(model, rng, False)
    x = rng.integers(0, 16, size=(n, *model.input_shape))
    x[rng.random(x.shape) >= density] = 0
    _check(model, x.astype(np.uint8))


@pytest.mark.parametrize("pool", ["none", "max", "average"])
def test_pair_path_at_the_bound(rng, pool):
    """8-bit inputs, 4 × 4 kernels and ±7 weights: depthwise sums up to 16 · 255 · 7 = 28 560."""
    pooling = {"max": {"pool_type": "max", "pool_size": 2}, "average": {"pool_type": "average"}}.get(pool, {})
    model = Model([L.InputData(input_shape=(8, 8, 16), input_bits=8),
                   L.SeparableConvolutional(kernel_size=4, filters=32, weights_bits=4, act_bits=4, **pooling),
                   L.FullyConnected(units=5, weights_bits=4, activation=False)])
    _fill(model, rng, True)
    sep = model.layers[1]
    w = sep.get_variable("weights")
    w[:, :, 0], w[:, :, 1] = 7, -7  # two channels whose sums reach ±28 560 on a full input
    sep.set_variable("weights", w)
    x = np.full((3, *model.input_shape), 255, np.uint8)
    x[1] = rng.integers(0, 256, size=x.shape[1:])
    _check(model, x)
    bound = 16 * 255 * 7
    assert bound < 2**15 and np.abs(w.reshape(16, 16).sum(axis=0)).max() * 255 == bound


def test_pair_product_extreme_values(rng):
    """`gemm_i16` on a values ±32 767 and weights ±127 (pair sums near 2^23), odd shapes."""
    for p, k, f in ((13, 2, 16), (7, 4, 35), (1, 2, 1)):
        a = np.where(rng.random((p, k)) < 0.5, -32767, 32767).astype(np.int16)
        w = np.where(rng.random((k, f)) < 0.5, -127, 127)
        out = np.zeros((p, f), np.float32)
        gemm_i16(a, pack_pairs(w), out)
        np.testing.assert_array_equal(out, a.astype(np.int64) @ w)
