"""The reference on tiny cases whose expected values the tests derive independently.

Each expected value comes from explicit loops or arithmetic written here, never from the module
under test; the engine (kernels) must agree with the same values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from akida_edge.engine import execute
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model
from akida_edge.errors import InputDataError, ModelError

pytestmark = pytest.mark.unit


def _both(model: Model, x: np.ndarray, **kw) -> np.ndarray:
    """Reference output, after checking the kernels give the same."""
    y_ref = execute.forward(model, x, reference=True, **kw)
    y = execute.forward(model, x, **kw)
    np.testing.assert_array_equal(y, y_ref)
    return y_ref


def _raw_conv(h: int, w: int, kernel, stride, padding: str, bits: int = 8) -> Model:
    """InputData -> one-filter Convolutional without activation: the output is p − T."""
    m = Model([L.InputData(input_shape=(h, w, 1), input_bits=bits),
               L.Convolutional(kernel_size=kernel, kernel_stride=stride, padding=padding, filters=1,
                               weights_bits=8, activation=False)])
    return m


def _loops_same(x: np.ndarray, k: np.ndarray, stride: tuple[int, int]) -> np.ndarray:
    """Cross-correlation with TensorFlow 'same' padding, written with explicit loops."""
    h, w = x.shape
    kh, kw = k.shape
    oh, ow = math.ceil(h / stride[0]), math.ceil(w / stride[1])
    top = max((oh - 1) * stride[0] + kh - h, 0) // 2
    left = max((ow - 1) * stride[1] + kw - w, 0) // 2
    out = np.zeros((oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * stride[0] + a - top, j * stride[1] + b - left
                    if 0 <= r < h and 0 <= c < w:
                        out[i, j] += int(k[a, b]) * int(x[r, c])
    return out


@pytest.mark.parametrize("shape,kernel,stride", [((5, 6), (3, 3), (1, 1)), ((7, 4), (4, 2), (2, 1)),
                                                  ((6, 6), (5, 5), (3, 2)), ((4, 9), (2, 7), (1, 3))])
def test_one_channel_same_conv_equals_explicit_loops(rng, shape, kernel, stride):
    m = _raw_conv(*shape, kernel, stride, "same")
    k = rng.integers(-127, 128, size=kernel)
    m.layers[1].set_variable("weights", k[:, :, None, None])
    x = rng.integers(0, 256, size=shape)
    y = _both(m, x[None, :, :, None])
    np.testing.assert_array_equal(y[0, :, :, 0], _loops_same(x, k, stride))


def test_same_padding_puts_the_smaller_half_before():
    """Width 4, kernel 2, stride 1: total pad 1, none before, one after (TensorFlow)."""
    m = _raw_conv(1, 4, (1, 2), (1, 1), "same")
    m.layers[1].set_variable("weights", np.array([1, 10]).reshape(1, 2, 1, 1))
    y = _both(m, np.array([1, 2, 3, 4]).reshape(1, 1, 4, 1))
    assert y[0, 0, :, 0].tolist() == [1 + 20, 2 + 30, 3 + 40, 4 + 0]


def test_valid_padding_with_stride_uses_floor_windows(rng):
    m = _raw_conv(7, 1, (3, 1), (2, 1), "valid")
    m.layers[1].set_variable("weights", np.array([1, 2, 3]).reshape(3, 1, 1, 1))
    x = np.arange(1, 8)
    y = _both(m, x.reshape(1, 7, 1, 1))
    expected = [x[i] + 2 * x[i + 1] + 3 * x[i + 2] for i in (0, 2, 4)]
    assert y[0, :, 0, 0].tolist() == expected


def test_input_layer_pads_with_padding_value():
    m = Model([L.InputConvolutional(input_shape=(1, 3, 1), kernel_size=(1, 3), filters=1, padding="same",
                                    weights_bits=8, activation=False, padding_value=9)])
    k = [1, 10, 100]
    m.layers[0].set_variable("weights", np.array(k).reshape(1, 3, 1, 1))
    y = _both(m, np.array([1, 2, 3]).reshape(1, 1, 3, 1))
    padded = [9, 1, 2, 3, 9]  # one padding_value on each side
    assert y[0, 0, :, 0].tolist() == [sum(k[t] * padded[i + t] for t in range(3)) for i in range(3)]


def _act_layer(act_bits: int, threshold: int, step: float) -> Model:
    """InputData (1×1×1, 8 bits) -> FullyConnected weight 1, activation: y = f(x)."""
    m = Model([L.InputData(input_shape=(1, 1, 1), input_bits=8),
               L.FullyConnected(units=1, weights_bits=2, activation=True, act_bits=act_bits)])
    fc = m.layers[1]
    fc.set_variable("weights", np.ones((1, 1)))
    fc.set_variable("threshold", np.array([threshold]))
    fc.set_variable("act_step", np.array([step]))
    return m


@pytest.mark.parametrize("threshold,step", [(10, 4.0), (-5, 2.5), (0, 0.0625), (3, 7.3125)])
def test_activation_ceil_at_multiples_of_act_step_and_clip(threshold, step):
    m = _act_layer(4, threshold, step)
    values = np.arange(256)
    y = _both(m, values.reshape(-1, 1, 1, 1))[:, 0, 0, 0]
    for p, out in zip(values.tolist(), y.tolist(), strict=True):
        d = p - threshold
        # the smallest integer k with k·step >= d, by counting (no division): the ceil
        k = 0
        while k * step < d:
            k += 1
        assert out == (0 if d <= 0 else min(15, k)), (p, out)


def test_exact_multiple_is_not_rounded_up():
    m = _act_layer(4, 10, 2.5)
    y = _both(m, np.array([10, 15, 16, 20, 21]).reshape(-1, 1, 1, 1))[:, 0, 0, 0]
    assert y.tolist() == [0, 2, 3, 4, 5]  # d = 0, 2·2.5, 2·2.5 + 1, 4·2.5, 4·2.5 + 1


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_activation_clips_at_two_to_the_bits_minus_one(bits):
    m = _act_layer(bits, 0, 1.0)
    y = _both(m, np.array([0, 1, 2**bits - 1, 2**bits, 255]).reshape(-1, 1, 1, 1))[:, 0, 0, 0]
    top = 2**bits - 1
    assert y.tolist() == [0, 1, top, top, top]


def _gap_model(h: int, w: int, threshold: int, step: float) -> Model:
    m = Model([L.InputData(input_shape=(h, w, 1), input_bits=8),
               L.Convolutional(kernel_size=1, filters=1, weights_bits=2, act_bits=4, pool_type="average")])
    c = m.layers[1]
    c.set_variable("weights", np.ones((1, 1, 1, 1)))
    c.set_variable("threshold", np.array([threshold]))
    c.set_variable("act_step", np.array([step]))
    return m


def test_global_average_pooling_exact_boundary():
    """N = 6 positions, T = 5: y = 0 iff S ≤ 30; S = 31 gives ceil(1 / (6·step)) = 1."""
    m = _gap_model(2, 3, 5, 0.5)
    base = np.full((2, 3), 5)
    at = base.reshape(1, 2, 3, 1)
    above = base.copy()
    above[0, 0] += 1
    far = base + 3  # S − N·T = 18 = 6 positions · 0.5 step · 6 levels
    y = _both(m, np.concatenate([at, above.reshape(1, 2, 3, 1), far.reshape(1, 2, 3, 1)]))
    assert y[:, 0, 0, 0].tolist() == [0, 1, 6]


def test_global_average_pooling_is_not_the_rounded_mean():
    """Mean potential 5.5 with T = 5, step 0.25: ceil((33 − 30) / (6·0.25)) = 2, and not the
    value of a rounded mean (round(5.5) = 6 would give 4, floor 5 would give 0)."""
    m = _gap_model(2, 3, 5, 0.25)
    x = np.array([5, 6, 5, 6, 5, 6]).reshape(1, 2, 3, 1)
    assert _both(m, x)[0, 0, 0, 0] == math.ceil((33 - 30) / (6 * 0.25))


def test_max_pooling_valid_windows_and_stride():
    m = Model([L.InputData(input_shape=(5, 5, 1), input_bits=4),
               L.Convolutional(kernel_size=1, filters=1, weights_bits=2, act_bits=4, pool_type="max",
                               pool_size=(2, 3), pool_stride=(2, 1))])
    c = m.layers[1]
    c.set_variable("weights", np.ones((1, 1, 1, 1)))
    c.set_variable("act_step", np.array([1.0]))
    x = np.arange(25).reshape(5, 5) % 16
    y = _both(m, x.reshape(1, 5, 5, 1))
    expected = [[x[i:i + 2, j:j + 3].max() for j in range(3)] for i in (0, 2)]  # floor: rows 0..3
    assert y[0, :, :, 0].tolist() == expected


def test_fully_connected_flattens_h_w_c():
    m = Model([L.InputData(input_shape=(2, 2, 2), input_bits=4),
               L.FullyConnected(units=1, weights_bits=8, activation=False)])
    m.layers[1].set_variable("weights", np.arange(8).reshape(8, 1))  # weight = flat index
    x = np.zeros((2, 2, 2), int)
    x[0, 1, 0] = 1
    x[1, 0, 1] = 3
    flat = [(h * 2 + w) * 2 + c for h, w, c in ((0, 1, 0), (1, 0, 1))]
    assert _both(m, x[None])[0, 0, 0, 0] == 1 * flat[0] + 3 * flat[1]


def test_separable_depthwise_sums_are_exact():
    """Depthwise sums are not rounded before the pointwise stage: p = Σ_c w_pw[c]·Σ w_dw·x."""
    m = Model([L.InputData(input_shape=(3, 3, 2), input_bits=4),
               L.SeparableConvolutional(kernel_size=3, filters=1, padding="valid", weights_bits=4,
                                        activation=False)])
    s = m.layers[1]
    wd = np.array([[1, -2, 3], [4, 5, -6], [7, 1, 2]])
    s.set_variable("weights", np.stack([wd, -wd], axis=2)[:, :, :, None])
    s.set_variable("weights_pw", np.array([3, 5]).reshape(1, 1, 2, 1))
    s.set_variable("threshold", np.array([7]))
    x = np.stack([np.arange(9).reshape(3, 3) % 16, (np.arange(9).reshape(3, 3) * 7) % 16], axis=2)
    d0 = int((wd * x[:, :, 0]).sum())
    d1 = int((-wd * x[:, :, 1]).sum())
    assert _both(m, x[None])[0, 0, 0, 0] == 3 * d0 + 5 * d1 - 7


def test_activity_counts_events_and_fan_out():
    """3×3 'same' conv of 4 filters on a 3×3 map: a corner event reaches 4 outputs, the centre 9."""
    m = Model([L.InputData(input_shape=(3, 3, 1), input_bits=1),
               L.Convolutional(kernel_size=3, filters=4, weights_bits=2, act_bits=1)])
    m.layers[1].set_variable("weights", np.ones((3, 3, 1, 4)))
    x = np.zeros((1, 3, 3, 1), int)
    x[0, 0, 0, 0] = x[0, 1, 1, 0] = 1
    for reference in (False, True):
        y = execute.forward(m, x, reference=reference)
        conv = m.statistics.layers[1]
        assert conv.input_events == 2
        assert conv.synaptic_ops == (4 + 9) * 4
        assert conv.output_events == int((y != 0).sum()) == 9 * 4  # every output sees the centre
        assert m.statistics.layers[0].output_events == 2
        assert m.statistics.samples == 1


def test_input_data_bits_must_match_the_data():
    m = Model([L.InputData(input_shape=(2, 2, 1), input_bits=4),
               L.FullyConnected(units=1, weights_bits=2, activation=False)])
    with pytest.raises(InputDataError, match=r"input value 16 .*input_bits=4.*input_bits=8"):
        m.forward(np.array([[1, 2], [3, 16]]).reshape(1, 2, 2, 1))
    with pytest.raises(InputDataError, match="not an integer"):
        m.forward(np.full((1, 2, 2, 1), 0.5))
    with pytest.raises(InputDataError, match=r"does not match the model input \(2, 2, 1\)"):
        m.forward(np.zeros((1, 2, 3, 1)))
    with pytest.raises(InputDataError, match="-1"):
        m.forward(np.full((1, 2, 2, 1), -1))


def test_single_sample_is_promoted_and_floats_of_integers_accepted():
    m = Model([L.InputData(input_shape=(2, 2, 1), input_bits=2),
               L.FullyConnected(units=2, weights_bits=2, activation=False)])
    m.layers[1].set_variable("weights", np.array([[1, 0], [1, 1], [0, 1], [1, -1]]))
    y = m.forward(np.array([1.0, 2.0, 3.0, 0.0]).reshape(2, 2, 1))
    assert y.shape == (1, 1, 1, 2) and y.dtype == np.int32
    assert y[0, 0, 0].tolist() == [1 + 2, 2 + 3]


def test_predict_divides_by_act_step_and_needs_a_raw_last_layer():
    m = Model([L.InputData(input_shape=(1, 1, 2), input_bits=4),
               L.FullyConnected(units=2, weights_bits=4, activation=False)])
    fc = m.layers[1]
    fc.set_variable("weights", np.array([[1, 2], [3, -4]]))
    fc.set_variable("threshold", np.array([1, -2]))
    fc.set_variable("act_step", np.array([0.5, 2.0]))
    logits = m.predict(np.array([[[[2, 1]]]]))
    assert logits.dtype == np.float32
    assert logits[0, 0, 0].tolist() == [(2 + 3 - 1) / 0.5, (4 - 4 + 2) / 2.0]
    m2 = _act_layer(4, 0, 1.0)
    with pytest.raises(ModelError, match="activation=True"):
        m2.predict(np.zeros((1, 1, 1, 1)))


def test_upto_returns_intermediate_activations():
    m = _gap_model(2, 2, 0, 1.0)
    m.add(L.FullyConnected(units=1, weights_bits=2, activation=False))
    x = np.full((1, 2, 2, 1), 3)
    y1 = execute.forward(m, x, upto=2)
    assert y1.dtype == np.uint8 and y1.shape == (1, 1, 1, 1) and y1[0, 0, 0, 0] == 3  # ceil(12/4)
    assert len(m.statistics.layers) == 2
    with pytest.raises(ModelError, match="upto=0"):
        execute.forward(m, x, upto=0)


def test_last_layer_without_activation_cannot_pool():
    m = Model([L.InputData(input_shape=(2, 2, 1), input_bits=1),
               L.Convolutional(kernel_size=1, filters=1, activation=False, pool_type="average")])
    with pytest.raises(ModelError, match="cannot be combined with pool_type"):
        m.forward(np.zeros((1, 2, 2, 1)))
