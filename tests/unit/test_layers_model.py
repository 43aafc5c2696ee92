"""Layer descriptions and Model wiring: shapes, names, variable validation."""

from __future__ import annotations

import numpy as np
import pytest

import akida_edge as ae
from akida_edge.engine.layers import conv_output_size
from akida_edge.errors import ModelError

pytestmark = pytest.mark.unit


def dscnn_head() -> ae.Model:
    m = ae.Model()
    m.add(
        ae.InputConvolutional(
            input_shape=(49, 10, 1),
            kernel_size=(5, 5),
            filters=64,
            padding="same",
            kernel_stride=(2, 2),
            weights_bits=8,
            activation=True,
            act_bits=4,
        )
    )
    m.add(
        ae.SeparableConvolutional(
            kernel_size=(3, 3),
            filters=64,
            padding="same",
            weights_bits=4,
            pool_type="max",
            pool_size=(2, 2),
            act_bits=4,
        )
    )
    m.add(ae.FullyConnected(units=12, weights_bits=4, activation=False))
    return m


def test_shapes_follow_tensorflow_padding():
    m = dscnn_head()
    assert [layer.output_shape for layer in m.layers] == [(25, 5, 64), (12, 2, 64), (1, 1, 12)]
    assert m.layers[2].get_variable("weights").shape == (12 * 2 * 64, 12)
    assert m.layers[1].get_variable("weights").shape == (3, 3, 64, 1)
    assert m.layers[1].get_variable("weights_pw").shape == (1, 1, 64, 64)


@pytest.mark.parametrize(
    "size,k,s,pad",
    [(49, 5, 2, "same"), (10, 5, 2, "same"), (7, 3, 3, "same"), (8, 3, 2, "valid"), (5, 5, 1, "valid")],
)
def test_conv_output_size_matches_definition(size, k, s, pad):
    out, before = conv_output_size(size, k, s, pad)
    if pad == "same":
        assert out == -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        assert before == total // 2 and before <= total - before
    else:
        assert out == (size - k) // s + 1 and before == 0
    # the last window fits in the padded input
    padded = size + (max((out - 1) * s + k - size, 0) if pad == "same" else 0)
    assert (out - 1) * s + k <= padded


def test_layer_names_are_unique_and_generated():
    m = dscnn_head()
    assert len(set(m.layer_names)) == 3
    m2 = ae.Model([ae.InputData(input_shape=(1, 1, 4), name="in")])
    with pytest.raises(ModelError, match="already in the model"):
        m2.add(ae.FullyConnected(units=2, name="in"))


def test_structure_errors_name_the_layer():
    m = ae.Model()
    with pytest.raises(ModelError, match="first layer must be"):
        m.add(ae.FullyConnected(units=3))
    m.add(ae.InputData(input_shape=(2, 2, 3), input_bits=2))
    with pytest.raises(ModelError, match="only be the first layer"):
        m.add(ae.InputData(input_shape=(2, 2, 3)))
    m.add(ae.FullyConnected(units=3, weights_bits=2, activation=False, name="logits"))
    with pytest.raises(ModelError, match="'logits' has activation=False"):
        m.add(ae.FullyConnected(units=3))


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_set_variable_checks_weight_range(bits, rng):
    m = ae.Model(
        [ae.InputData(input_shape=(1, 1, 5), input_bits=4), ae.FullyConnected(units=3, weights_bits=bits)]
    )
    layer = m.layers[1]
    lo, hi = (0, 1) if bits == 1 else (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1)
    w = rng.integers(lo, hi + 1, size=(5, 3))
    layer.set_variable("weights", w)
    assert np.array_equal(layer.get_variable("weights"), w)
    w_bad = w.copy()
    w_bad[0, 0] = hi + 1
    with pytest.raises(ModelError, match=rf"outside \[{lo}, {hi}\]"):
        layer.set_variable("weights", w_bad)
    with pytest.raises(ModelError, match="shape"):
        layer.set_variable("weights", w[:4])


def test_set_variable_checks_act_step_and_threshold():
    m = dscnn_head()
    layer = m.layers[0]
    layer.set_variable("act_step", np.full(64, 2.0625))
    with pytest.raises(ModelError, match="multiples of 1/16"):
        layer.set_variable("act_step", np.full(64, 0.01))
    with pytest.raises(ModelError, match="multiples of 1/16"):
        layer.set_variable("act_step", np.zeros(64))
    with pytest.raises(ModelError, match="integers"):
        layer.set_variable("threshold", np.full(64, 0.5))
    with pytest.raises(ModelError, match="no variable 'bias'"):
        layer.set_variable("bias", np.zeros(64))


def test_bad_parameters_are_named():
    with pytest.raises(ModelError, match="padding='full'"):
        ae.Convolutional(kernel_size=3, filters=4, padding="full")
    with pytest.raises(ModelError, match="act_bits=3"):
        ae.FullyConnected(units=2, act_bits=3)
    with pytest.raises(ModelError, match="input_shape"):
        ae.InputData(input_shape=(3, 3))
