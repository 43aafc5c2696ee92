"""The output-stationary convolution event path (`kernels_gather.conv_gather_kernel`): forced on
(event path everywhere) in random eligible layers — kernel sizes of 1-3 rows and 1-3 columns, both
paddings, odd and even output heights (rows run two at a time), maps narrower than the kernel,
1-24 channels (words of 8 channels or bytes), 16-48 filters, every weight, input and activation
bit width, thresholds of both signs (act(0) ≠ 0 where T < 0) and fractional act_step, input
densities from silent to full — through the one-call program and the per-layer runners, against
the reference (outputs and activity, bit for bit); the kernel against the scatter it replaces;
and its register-kept activation on every level boundary."""

from __future__ import annotations

import numpy as np
import pytest
from engine_checks import activity, assert_event_path_matches_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kernels_vs_reference import _fill
from test_program import _program

from akida_edge.engine import execute
from akida_edge.engine import kernels as K
from akida_edge.engine import layers as L
from akida_edge.engine import reference as R
from akida_edge.engine.kernels_conv import conv_layer_kernel
from akida_edge.engine.kernels_gather import conv_gather_kernel, gather_ok, gather_silent_kernel
from akida_edge.engine.model import Model

pytestmark = pytest.mark.kernel


def _gathered(model: Model) -> list[bool]:
    """Per processing layer, whether the engine's rule sends its event path to the gather kernel."""
    steps = execute.plan(model)[1:]
    return [bool(gather_ok(s.f32, s.mode, *s.stride, s.pad_value, s.pot_shape[2],
                           *s.layer.spec.kernel_size)) for s in steps]


@st.composite
def gather_models(draw):
    """A model of 1-2 Convolutional layers that all take the gather path, and its input."""
    seed = draw(st.integers(0, 2**32 - 1))
    bits = draw(st.sampled_from(L.INPUT_BITS))
    shape = (draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.sampled_from([1, 3, 8, 16, 24])))
    model = Model([L.InputData(input_shape=shape, input_bits=bits)])
    for _ in range(draw(st.integers(1, 2))):
        h, w, _ = model.layers[-1].output_shape
        kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = "same" if kernel[0] > h or kernel[1] > w else draw(st.sampled_from(["same", "valid"]))
        model.add(L.Convolutional(kernel_size=kernel, filters=draw(st.sampled_from([16, 32, 48])),
                                  padding=padding, weights_bits=draw(st.sampled_from(L.WEIGHT_BITS)),
                                  act_bits=draw(st.sampled_from(L.ACT_BITS))))
    rng = np.random.default_rng(seed)
    _fill(model, rng, 2**bits - 1)
    n = draw(st.integers(1, 4))
    x = rng.integers(1, 2**bits, size=(n, *shape))
    x[rng.random(x.shape) >= draw(st.sampled_from([0.0, 0.02, 0.1, 0.3, 1.0]))] = 0
    return model, x.astype(np.uint8)


@settings(max_examples=60, deadline=None)
@given(gather_models())
def test_gather_path_matches_reference(case):
    model, x = case
    assert all(_gathered(model))  # the property is about the gather kernel: it must be the one run
    for on in (True, False):  # the one-call program, then the per-layer runners (`kernels.conv_layer`)
        with _program(on):
            assert_event_path_matches_reference(model, x)


def test_rule_keeps_the_scatter_elsewhere():
    """Strides, pooling, padding values, too many kernel rows or columns, filters not a multiple of
    16 or sums not exact in float32 keep the scatter (`kernels_conv.conv_layer_kernel`)."""
    act, mx = K.MODE_ACT, K.MODE_MAX
    assert gather_ok(True, act, 1, 1, 0, 32, 3, 3)
    assert gather_ok(True, act, 1, 1, 0, 16, 1, 3)
    for args in [(False, act, 1, 1, 0, 32, 3, 3), (True, mx, 1, 1, 0, 32, 3, 3),
                 (True, act, 2, 1, 0, 32, 3, 3), (True, act, 1, 2, 0, 32, 3, 3),
                 (True, act, 1, 1, 7, 32, 3, 3), (True, act, 1, 1, 0, 24, 3, 3),
                 (True, act, 1, 1, 0, 32, 5, 3), (True, act, 1, 1, 0, 32, 3, 4)]:
        assert not gather_ok(*args)


@pytest.mark.parametrize(("kernel", "padding"), [((3, 3), "same"), ((3, 3), "valid"), ((1, 1), "same"),
                                                 ((2, 3), "same"), ((3, 2), "valid"), ((1, 3), "valid")])
def test_gather_kernel_equals_scatter(rng, kernel, padding):
    """Outputs and counts of the gather kernel equal the scatter's on the same layer and events
    (dense and sparse samples, a silent one: in one call, rows one at a time in the dense samples
    and in pairs in the sparse one, `PAIR_BELOW`), thresholds of both signs."""
    model = Model([L.InputData(input_shape=(11, 13, 16), input_bits=4),
                   L.Convolutional(kernel_size=kernel, filters=32, padding=padding, weights_bits=4,
                                   act_bits=4)])
    _fill(model, rng, 15)
    step = execute.plan(model)[1]
    v = model.layers[1].variables
    w, wt = K.prepare_conv(v["weights"], np.float32)
    (kh, kw), (py, px) = kernel, step.pad
    x = rng.integers(0, 16, size=(4, 11, 13, 16)).astype(np.uint8)
    x[1][rng.random(x[1].shape) < 0.95] = 0
    x[2] = 0
    out_s, out_g = np.empty((2, 4, *step.out_shape), np.uint8)
    c_s, c_g = np.zeros(3, np.int64), np.zeros(3, np.int64)
    no_raw = np.empty((0, 0, 0, 0), np.int64)
    conv_layer_kernel(x, wt, kh, kw, 0, py, px, 1, 1, v["threshold"], v["act_step"], 15, K.MODE_ACT,
                      step.pool, np.empty(step.pot_shape, np.float32), out_s, no_raw, c_s, True)
    conv_gather_kernel(x, w.reshape(-1, 32), kh, kw, py, px, v["threshold"], v["act_step"], 15, out_g, c_g)
    np.testing.assert_array_equal(out_g, out_s)
    assert c_g.tolist() == c_s.tolist()


def test_gather_kernel_refuses_what_it_cannot_run():
    """Kernels wider than three columns or taller than three rows, or filters not a multiple of 16,
    are refused (their window sums are not in the code), not computed wrong."""
    for kh, kw, f in ((3, 4, 16), (4, 3, 16), (3, 3, 24)):
        x = np.zeros((1, 6, 6, 8), np.uint8)
        out = np.empty((1, 6, 6, f), np.uint8)
        w = np.zeros((kh * kw * 8, f), np.float32)
        with pytest.raises(ValueError, match="at most 3 x 3"):
            conv_gather_kernel(x, w, kh, kw, 1, 1, np.zeros(f, np.int64), np.ones(f, np.float32), 15, out,
                               np.zeros(3, np.int64))


@pytest.mark.parametrize("act_bits", [1, 4])
def test_gather_activation_is_exact_on_every_boundary(rng, act_bits):
    """A 1 × 1 convolution with unit weights makes p = x in every channel: inputs 0-255 against
    per-channel thresholds of both signs and act_steps that put level boundaries on many of them;
    outputs and their count equal the reference activation's (zero inputs: the act(0) rows)."""
    amax, f = 2**act_bits - 1, 48
    thr = rng.integers(-40, 200, size=f)
    thr[:3] = [0, -1, 254]
    step = (rng.integers(1, 64, size=f) / 16).astype(np.float32)
    step[:3] = [1 / 16, 7 / 16, 1.0]
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    out = np.empty((1, 16, 16, f), np.uint8)
    counts = np.zeros(3, np.int64)
    conv_gather_kernel(x, np.ones((1, f), np.float32), 1, 1, 0, 0, thr, step, amax, out, counts)
    expected = R.activate(np.repeat(x.astype(np.int64), f, axis=3), thr, step, act_bits)
    np.testing.assert_array_equal(out, expected)
    assert counts.tolist() == [255, 255 * f, np.count_nonzero(expected)]



@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([16, 32, 48]), st.sampled_from([1, 2, 4]))
def test_gather_activation_is_exact_over_the_float32_range(seed, f, act_bits):
    """Potentials over the whole float32-exact range (|p| < 2^23: a 1 × 1 convolution of inputs
    0-255 with weights up to ±32896), thresholds from −2^30 to 2^30 (clamped to ±2^24 inside)
    and act_steps up to 65535/16: the register activation's integer clamps (0, 255, amax) give
    the reference's outputs and count, far above and below the levels as on them."""
    rng = np.random.default_rng(seed)
    amax = 2**act_bits - 1
    wmax = (2**23 - 1) // 255
    w = rng.integers(-wmax, wmax + 1, size=(1, f))
    w[0, :4] = [wmax, -wmax, 1, 0]
    thr = np.concatenate([rng.integers(-2**30, 2**30, size=f // 4), rng.integers(-2**24, 2**24, size=f // 4),
                          rng.integers(-3000, 3000, size=f - 2 * (f // 4))])
    rng.shuffle(thr)
    step = (rng.integers(1, 65536, size=f) / 16).astype(np.float32)
    step[:2] = [1 / 16, 65535 / 16]
    x = rng.permutation(256).astype(np.uint8).reshape(1, 16, 16, 1)
    out = np.empty((1, 16, 16, f), np.uint8)
    counts = np.zeros(3, np.int64)
    conv_gather_kernel(x, w.astype(np.float32), 1, 1, 0, 0, thr, step, amax, out, counts)
    expected = R.activate(x.astype(np.int64) * w[0], thr, step, act_bits)
    np.testing.assert_array_equal(out, expected)
    assert counts.tolist() == [255, 255 * f, np.count_nonzero(expected)]

def test_bench_stack_layers_take_the_gather_path(rng):
    """The bench's conv stack (three 3 × 3 layers of 32 filters on 24 × 24 × 16) runs the gather
    path in every layer, with the reference's outputs and activity at 10 % input density."""
    model = Model([L.InputData(input_shape=(24, 24, 16), input_bits=4)])
    for _ in range(3):
        model.add(L.Convolutional(kernel_size=3, filters=32, weights_bits=4, act_bits=4))
    _fill(model, rng, 15)
    assert _gathered(model) == [True, True, True]
    x = rng.integers(1, 16, size=(3, 24, 24, 16))
    x[rng.random(x.shape) >= 0.1] = 0
    x = x.astype(np.uint8)
    y = execute.forward(model, x)
    fast = activity(model)
    np.testing.assert_array_equal(y, execute.forward(model, x, reference=True))
    assert fast == activity(model)


@pytest.mark.parametrize(("stride", "density", "expect"), [
    (1, 0.1, "gather"), (1, 0.3, "gather"), (1, 0.6, "dense"),  # gathered: crossing 0.25 × 1.6 = 0.4
    (2, 0.1, "scatter"), (2, 0.4, "dense")])  # scattered: crossing 0.25
def test_each_event_path_has_its_measured_dense_crossing(rng, monkeypatch, stride, density, expect):
    """Between the scatter's crossing (`K.DENSE_ABOVE`) and the gather's (× `K.GATHER_DENSE_SCALE`)
    a gathered convolution stays on its event path; others go dense. Per-layer runners, spied."""
    model = Model([L.InputData(input_shape=(12, 12, 16), input_bits=4),
                   L.Convolutional(kernel_size=3, filters=32, kernel_stride=stride, weights_bits=4,
                                   act_bits=4)])
    _fill(model, rng, 15)
    x = rng.integers(1, 16, size=(2, 12, 12, 16))
    x[rng.random(x.shape) >= density] = 0
    x = x.astype(np.uint8)
    taken = []
    for name in ("conv_gather_kernel", "conv_layer_kernel"):
        real = getattr(K, name)
        monkeypatch.setattr(K, name, lambda *a, _real=real, _name=name: (taken.append(_name), _real(*a))[1])
    with _program(False):
        y = execute.forward(model, x)
    path = {"conv_gather_kernel": "gather", "conv_layer_kernel": "scatter"}
    assert ([path[t] for t in taken] or ["dense"]) == [expect]
    np.testing.assert_array_equal(y, execute.forward(model, x, reference=True))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7),
       st.sampled_from([1, 8, 16]), st.sampled_from([16, 32, 48]), st.sampled_from([1, 2, 4]))
def test_silent_input_kernel_equals_the_gather_kernel(seed, n, h, w, c, f, act_bits):
    """`gather_silent_kernel` (the program's and runners' shortcut for an input known to hold no
    event) writes the outputs and adds the activity that `conv_gather_kernel` gives on that silent
    input: act(0) everywhere (thresholds of both signs: act(0) ≠ 0 where T < 0), over counts that
    already hold values."""
    rng = np.random.default_rng(seed)
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    py, px = int(rng.integers(0, kh)), int(rng.integers(0, kw))
    oh, ow = h + 2 * py - kh + 1, w + 2 * px - kw + 1
    if oh < 1 or ow < 1:
        py, px, oh, ow = kh - 1, kw - 1, h + kh - 1, w + kw - 1
    amax = 2**act_bits - 1
    thr = rng.integers(-40, 40, size=f)
    step = (rng.integers(1, 200, size=f) / 16).astype(np.float32)
    weights = rng.integers(-7, 8, size=(kh * kw * c, f)).astype(np.float32)
    x = np.zeros((n, h, w, c), np.uint8)
    start = rng.integers(0, 1000, size=3)
    out_g, out_s = np.full((2, n, oh, ow, f), 77, np.uint8)
    c_g, c_s = start.copy(), start.copy()
    conv_gather_kernel(x, weights, kh, kw, py, px, thr, step, amax, out_g, c_g)
    gather_silent_kernel(thr, step, amax, out_s, c_s)
    np.testing.assert_array_equal(out_s, out_g)
    assert c_s.tolist() == c_g.tolist()
    expected = R.activate(np.zeros((n, oh, ow, f), np.int64), thr, step, act_bits)
    np.testing.assert_array_equal(out_s, expected)


def test_silent_layer_takes_the_shortcut_with_the_reference_outputs(rng, monkeypatch):
    """A gathered layer whose input holds no event (a silent first layer's input, and a second
    layer behind a layer whose outputs are all 0) runs `gather_silent_kernel` in the per-layer
    runners (spied) and gives the reference's outputs and activity through both runners."""
    model = Model([L.InputData(input_shape=(6, 7, 16), input_bits=4)])
    for _ in range(2):
        model.add(L.Convolutional(kernel_size=3, filters=32, weights_bits=4, act_bits=4))
    _fill(model, rng, 15)
    model.layers[1].set_variable("threshold", np.full(32, 10**6))  # layer 1 never fires
    model.layers[2].set_variable("threshold", rng.integers(-40, 40, size=32))  # act(0) ≠ 0 in some
    x = rng.integers(1, 16, size=(3, 6, 7, 16))
    x[rng.random(x.shape) >= 0.2] = 0
    x[1] = 0
    x = x.astype(np.uint8)
    y_ref = execute.forward(model, x, reference=True)
    ref = activity(model)
    for program in (True, False):
        with _program(program):
            np.testing.assert_array_equal(execute.forward(model, x), y_ref)
        assert activity(model) == ref
    taken = []
    real = K.gather_silent_kernel
    monkeypatch.setattr(K, "gather_silent_kernel", lambda *a: (taken.append(a[-2].shape[0]), real(*a))[1])
    with _program(False):
        execute.forward(model, x)
    assert taken == [3]  # layer 2 (all 3 samples); layer 1 has input events
