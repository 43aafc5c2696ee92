"""Global average pooling folded into the dense product (`engine/kernels_avg.py`), forced on,
against the literal reference: outputs and activity, including the largest sums the bit widths
allow (every input at its maximum, every weight at ±max)."""

from __future__ import annotations

import numpy as np
import pytest
from engine_checks import activity
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine import execute
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model, weight_range

pytestmark = pytest.mark.kernel


def _model(kind: str, bits: int, c: int, f: int, stride: int) -> Model:
    m = Model([L.InputData(input_shape=(7, 6, c), input_bits=4)])
    layer = L.SeparableConvolutional if kind == "separable" else L.Convolutional
    m.add(layer(kernel_size=3, filters=f, kernel_stride=stride, weights_bits=bits, act_bits=4,
                pool_type="average"))
    m.add(L.FullyConnected(units=5, weights_bits=4, activation=False))
    return m


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["separable", "conv"]), st.sampled_from([1, 2, 4, 8]),
       st.sampled_from([1, 4, 16]), st.sampled_from([1, 2]), st.booleans())
def test_pooled_product_matches_reference(seed, kind, bits, c, stride, extreme):
    rng = np.random.default_rng(seed)
    model = _model(kind, bits, c, 16, stride)
    for layer in model.layers[1:]:
        lo, hi = weight_range(layer.spec.weights_bits)
        for name, arr in layer.variables.items():
            if name.startswith("weights"):
                w = rng.integers(lo, hi + 1, size=arr.shape)
                if extreme and layer is model.layers[1]:
                    w = np.where(rng.random(arr.shape) < 0.5, lo, hi)  # every weight at ±max
                layer.set_variable(name, w)
    layer = model.layers[1]
    layer.set_variable("threshold", rng.integers(-300, 300, size=16))
    layer.set_variable("act_step", rng.integers(1, 400, size=16) / 16)
    x = np.full((5, *model.input_shape), 15, np.uint8) if extreme else \
        rng.integers(0, 16, size=(5, *model.input_shape)).astype(np.uint8)
    y_ref = execute.forward(model, x, reference=True)
    ref = activity(model)
    np.testing.assert_array_equal(execute.forward(model, x), y_ref)  # dense inputs: the pooled product
    assert activity(model) == ref
