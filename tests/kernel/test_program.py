"""The one-call program (`engine/program.py`) against the per-layer runners and the reference.

Every model the program covers runs through it by default, so the property tests of
`test_kernels_vs_reference.py` test it; here both paths are forced on the same random models
(outputs and activity equal to the reference's), and the program's packed variables follow
`set_variable` and refuse in-place writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from engine_checks import activity
from hypothesis import given, settings
from hypothesis import strategies as st
from test_f32_stages import _boundary_potentials
from test_kernels_vs_reference import _fill, _inputs, models

from akida_edge.engine import execute, program, zoo
from akida_edge.engine import layers as L
from akida_edge.engine import reference as R
from akida_edge.engine.kernels_gemm import gemm_act_f32
from akida_edge.engine.model import Model
from akida_edge.engine.output_stage import act_params_f32

pytestmark = pytest.mark.kernel


@contextlib.contextmanager
def _program(on: bool) -> Iterator[None]:
    saved = execute.USE_PROGRAM
    execute.USE_PROGRAM = on
    execute._local.runners = {}  # compiled plans hold the choice
    try:
        yield
    finally:
        execute.USE_PROGRAM = saved
        execute._local.runners = {}


@settings(max_examples=40)
@given(models())
def test_program_and_runners_match_reference(case):
    model, seed, in_max, n = case
    rng = np.random.default_rng(seed)
    _fill(model, rng, in_max)
    x = _inputs(model, rng, n, in_max)
    y_ref = execute.forward(model, x, reference=True)
    ref = activity(model)
    for on in (True, False):
        with _program(on):
            y = execute.forward(model, x)
        assert y.dtype == y_ref.dtype
        np.testing.assert_array_equal(y, y_ref)
        assert activity(model) == ref


def test_dscnn_runs_as_one_program(rng):
    model = zoo.dscnn_kws(rng)
    steps, caches = execute._plan(model)
    assert program.compile_program(steps, caches, 1, execute._prepared) is not None


def test_program_buffers_and_weights_start_on_a_cache_line(rng):
    """Every array the program hands to the kernels starts on a 64-byte boundary (`aligned`: the
    packed weights 16 bytes past one made the dense stages 1.3x slower), also after set_variable
    repacks the weights."""
    model = zoo.dscnn_kws(rng)
    steps, caches = execute._plan(model)
    prog = program.compile_program(steps, caches, 4, execute._prepared)
    names = ("act0", "act1", "cols", "dwb", "dwh", "potb", "poti", "xpb", "xph", "wf", "wi", "wh")
    for _ in range(2):
        for name in names:
            assert getattr(prog, name).ctypes.data % 64 == 0, name
        for g in prog.geo:  # each layer's weights within the packed arrays: on a line too
            for col in (program._G_W1, program._G_W2, program._G_W3):
                assert g[col] * 4 % 64 == 0
            for col in (program._G_H1, program._G_H2, program._G_H3):
                assert g[col] * 2 % 64 == 0
        layer = model.layers[1]
        layer.set_variable("weights", -layer.get_variable("weights"))
        prog._pack(prog._current())
    x = rng.integers(0, 256, size=(3, *model.input_shape), dtype=np.uint8)
    y = prog(x, np.zeros((len(steps), 3), np.int64), execute.DENSE_ABOVE)
    np.testing.assert_array_equal(y, execute.forward(model, x, reference=True))


def test_program_follows_set_variable_and_refuses_in_place_writes(rng):
    model = Model([L.InputData(input_shape=(7, 6, 4), input_bits=4),
                   L.SeparableConvolutional(kernel_size=3, filters=8, weights_bits=4, act_bits=4),
                   L.FullyConnected(units=5, weights_bits=4, activation=False)])
    _fill(model, rng, 15)
    x = _inputs(model, rng, 2, 15)
    execute.forward(model, x)
    layer = model.layers[1]
    layer.set_variable("threshold", layer.get_variable("threshold") + 3)
    layer.set_variable("act_step", layer.get_variable("act_step") * 2)
    model.layers[2].set_variable("weights", -model.layers[2].get_variable("weights"))
    np.testing.assert_array_equal(execute.forward(model, x), execute.forward(model, x, reference=True))
    with pytest.raises(ValueError):
        layer.variables["threshold"][0] = 1


@pytest.mark.parametrize("act_bits", [1, 4])
def test_activation_from_registers_is_exact_on_every_boundary(rng, act_bits):
    """`gemm_act_f32` (the product's potentials activated in registers) on every level boundary:
    a (P, 1) of potentials times b = ones (1, F) gives pot[r, k] = p[r] in every channel k, whose
    threshold and act_step differ; the outputs and their count equal the reference activation's."""
    amax = 2**act_bits - 1
    f = 32
    thr = rng.integers(-(2**22), 2**22, size=f)
    thr[:4] = [0, -1, 2**24, -(2**31) + 1]
    s16 = rng.integers(1, 65536, size=f)
    s16[:4] = [1, 112, 65535, 16]
    pots = np.unique(np.concatenate([_boundary_potentials(int(t), int(s), amax, -(2**23) + 1, 2**23 - 1)
                                     for t, s in zip(thr, s16, strict=True)]))
    a = pots.astype(np.float32).reshape(-1, 1)
    b = np.ones((1, f), np.float32)
    t32, step = thr.astype(np.int32), (s16 / 16).astype(np.float32)
    out = np.zeros((a.shape[0], f), np.uint8)
    events = gemm_act_f32(a, b, act_params_f32(t32, step, amax), out)
    expected = R.activate(np.repeat(pots[:, None], f, axis=1).reshape(-1, 1, 1, f), t32, step, act_bits)
    np.testing.assert_array_equal(out, expected.reshape(out.shape))
    assert events == np.count_nonzero(expected)


@settings(max_examples=30)
@given(st.integers(0, 2**32 - 1), st.sampled_from([16, 32]), st.sampled_from([1, 2, 4, 8]),
       st.sampled_from([1, 3, 7]), st.floats(0.05, 1.0))
def test_activated_products_match_reference(seed, filters, weights_bits, n, density):
    """Separable and convolution layers whose products are activated in registers (F a multiple
    of 16, no pooling), after a dense input convolution: outputs and activity equal the reference's."""
    rng = np.random.default_rng(seed)
    model = Model([L.InputConvolutional(input_shape=(9, 7, 1), kernel_size=3, filters=filters,
                                        kernel_stride=(2, 1), weights_bits=8, act_bits=4),
                   L.SeparableConvolutional(kernel_size=3, filters=filters, weights_bits=weights_bits,
                                            act_bits=4),
                   L.Convolutional(kernel_size=3, filters=filters, weights_bits=weights_bits, act_bits=2),
                   L.FullyConnected(units=5, weights_bits=4, activation=False)])
    _fill(model, rng, 255)
    x = rng.integers(0, 256, size=(n, *model.input_shape))
    x[rng.random(x.shape) >= density] = 0
    y_ref = execute.forward(model, x, reference=True)
    ref = activity(model)
    with _program(True):
        np.testing.assert_array_equal(execute.forward(model, x), y_ref)
    assert activity(model) == ref
