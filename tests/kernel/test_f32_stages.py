"""The float32-exact stages (`kernels_f32.py`, `output_stage.act_f32`) against the reference.

The float32 activation replaces a float64 division by a multiply; its exactness argument is
checked here on every step boundary (p = T + the smallest potential of each output level, ±1) for
act_step values from 1/16 to the largest, thresholds up to the int32 extremes. Each path of the
separable layer (row sweeps or scattered events; BLAS or the eight-at-a-time event product) is
forced on in turn and must give the reference's outputs and activity.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from akida_edge.engine import execute
from akida_edge.engine import kernels as K
from akida_edge.engine import layers as L
from akida_edge.engine import reference as R
from akida_edge.engine.kernels_f32 import output_f32_kernel
from akida_edge.engine.model import Model, weight_range

pytestmark = pytest.mark.kernel


def _boundary_potentials(thr: int, s16: int, amax: int, lo: int, hi: int) -> np.ndarray:
    """Potentials around every level boundary of y = ceil(16·(p − T)/s16): p − T = ceil(j·s16/16) ± 1."""
    ps = []
    for j in range(amax + 2):
        b = -(-j * s16 // 16)
        ps += [thr + b - 1, thr + b, thr + b + 1]
    return np.clip(np.array(ps, np.int64), lo, hi)


@pytest.mark.parametrize("act_bits", [1, 2, 4])
def test_float32_activation_is_exact_on_every_boundary(rng, act_bits):
    amax = 2**act_bits - 1
    bound = 2**23 - 1
    # every act_step up to 64 (s16 ≤ 1024: e.g. s16 = 112, p − T = 21 is where a plain ceil(num·(1/s16))
    # would give 4 instead of 3), the largest ones, and random ones
    steps16 = np.unique(np.concatenate([np.arange(1, 1025), [4095, 4096, 65533, 65534, 65535],
                                        rng.integers(1, 65536, size=200)]))
    thresholds = [0, 1, -1, 7, -1000, 123457, bound, -bound, 2**24, -(2**24), 2**31 - 1, -(2**31) + 1]
    for thr in thresholds + list(rng.integers(-(2**22), 2**22, size=6)):
        pots, s16s = [], []
        for s16 in steps16:
            p = _boundary_potentials(int(thr), int(s16), amax, -bound, bound)
            pots.append(p)
            s16s.append(np.full(p.shape, s16))
        p = np.concatenate(pots)
        s16 = np.concatenate(s16s)
        f = p.size  # one channel per potential: each its own act_step
        pot = p.astype(np.float32).reshape(1, 1, 1, f)
        assert np.array_equal(pot.astype(np.int64).ravel(), p)
        t = np.full(f, thr, np.int64).clip(-(2**31) + 1, 2**31 - 1).astype(np.int32)
        step = (s16 / 16).astype(np.float32)
        out = np.zeros((1, 1, 1, f), np.uint8)
        counts = np.zeros(3, np.int64)
        output_f32_kernel(pot, t, step, amax, K.MODE_ACT, np.zeros(4, np.int64), out,
                          np.zeros((0, 0, 0, 0), np.int64), counts)
        expected = R.activate(p.reshape(1, 1, 1, f), t, step, act_bits)
        np.testing.assert_array_equal(out, expected)
        assert counts[2] == np.count_nonzero(expected)


@contextlib.contextmanager
def _forced(rows: bool, blas: bool) -> Iterator[None]:
    """Force the separable layer's row sweeps and BLAS product on or off."""
    saved = K.ROWS_ABOVE, K.PW_BLAS_ABOVE
    K.ROWS_ABOVE = -1.0 if rows else 2.0
    K.PW_BLAS_ABOVE = -1.0 if blas else 2.0
    try:
        yield
    finally:
        K.ROWS_ABOVE, K.PW_BLAS_ABOVE = saved


@st.composite
def separable_cases(draw):
    h, w, c = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 20))
    padding = draw(st.sampled_from(L.PADDINGS))
    kh = draw(st.integers(1, 5 if padding == "same" else min(5, h)))
    kw = draw(st.integers(1, 5 if padding == "same" else min(5, w)))
    stride = draw(st.sampled_from([(1, 1), (1, 1), (2, 1), (2, 2)]))
    activation = draw(st.booleans())
    pool = draw(st.sampled_from(["none", "max", "average"])) if activation else "none"
    oh = L.conv_output_size(h, kh, stride[0], padding)[0]
    ow = L.conv_output_size(w, kw, stride[1], padding)[0]
    extra = {"pool_type": pool}
    if pool == "max":
        extra["pool_size"] = (min(2, oh), min(2, ow))
    spec = L.SeparableConvolutional(kernel_size=(kh, kw), kernel_stride=stride, padding=padding,
                                    filters=draw(st.integers(1, 24)),
                                    weights_bits=draw(st.sampled_from(L.WEIGHT_BITS)), activation=activation,
                                    act_bits=draw(st.sampled_from(L.ACT_BITS)), **extra)
    bits = draw(st.sampled_from(L.INPUT_BITS))
    return Model([L.InputData(input_shape=(h, w, c), input_bits=bits), spec]), bits, draw(
        st.integers(0, 2**32 - 1)), draw(st.sampled_from([1, 3])), draw(st.floats(0.0, 1.0))


@given(separable_cases())
def test_every_separable_path_matches_reference(case):
    model, bits, seed, n, density = case
    rng = np.random.default_rng(seed)
    layer = model.layers[1]
    lo, hi = weight_range(layer.spec.weights_bits)
    for name in ("weights", "weights_pw"):
        layer.set_variable(name, rng.integers(lo, hi + 1, size=layer.variables[name].shape))
    f = layer.variables["threshold"].shape
    scale = max(1, int(np.sqrt(np.prod(layer.spec.kernel_size) * model.input_shape[2]) * (2**bits - 1) * hi))
    layer.set_variable("threshold", rng.integers(-scale, scale + 1, size=f))
    layer.set_variable("act_step", rng.integers(1, 16 * max(2, scale // 4), size=f).clip(1, 65535) / 16)
    x = rng.integers(1, 2**bits, size=(n, *model.input_shape))
    x[rng.random(x.shape) >= density] = 0
    assume(execute.plan(model)[1].f32)  # partial sums below 2^23 (most 1-4-bit layers)
    y_ref = execute.forward(model, x, reference=True)
    ref = model.statistics.layers
    for rows in (False, True):
        for blas in (False, True):
            with _forced(rows, blas):
                y = execute.forward(model, x)
            np.testing.assert_array_equal(y, y_ref)
            got = model.statistics.layers
            assert [(a.input_events, a.synaptic_ops, a.output_events) for a in got] == [
                (b.input_events, b.synaptic_ops, b.output_events) for b in ref]


@st.composite
def conv_cases(draw):
    h, w, c = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 12))
    padding = draw(st.sampled_from(L.PADDINGS))
    kh = draw(st.integers(1, 5 if padding == "same" else min(5, h)))
    kw = draw(st.integers(1, 5 if padding == "same" else min(5, w)))
    stride = draw(st.sampled_from([(1, 1), (2, 1), (2, 2), (3, 3)]))
    activation = draw(st.booleans())
    pool = draw(st.sampled_from(["none", "max", "average"])) if activation else "none"
    oh = L.conv_output_size(h, kh, stride[0], padding)[0]
    ow = L.conv_output_size(w, kw, stride[1], padding)[0]
    extra = {"pool_type": pool}
    if pool == "max":
        extra["pool_size"] = (min(2, oh), min(3, ow))
    spec = L.Convolutional(kernel_size=(kh, kw), kernel_stride=stride, padding=padding,
                           filters=draw(st.integers(1, 24)),
                           weights_bits=draw(st.sampled_from(L.WEIGHT_BITS)),
                           activation=activation, act_bits=draw(st.sampled_from(L.ACT_BITS)), **extra)
    bits = draw(st.sampled_from(L.INPUT_BITS))
    return Model([L.InputData(input_shape=(h, w, c), input_bits=bits), spec]), bits, draw(
        st.integers(0, 2**32 - 1)), draw(st.sampled_from([1, 4])), draw(st.floats(0.0, 1.0))


@given(conv_cases())
def test_convolution_event_and_dense_paths_match_reference(case):
    """A float32-exact convolution, its event path (float32 output stage) and its im2col + BLAS
    path each forced on, against the reference: outputs and activity."""
    model, bits, seed, n, density = case
    rng = np.random.default_rng(seed)
    layer = model.layers[1]
    lo, hi = weight_range(layer.spec.weights_bits)
    layer.set_variable("weights", rng.integers(lo, hi + 1, size=layer.variables["weights"].shape))
    f = layer.variables["threshold"].shape
    scale = max(1, int(np.sqrt(np.prod(layer.spec.kernel_size) * model.input_shape[2]) * (2**bits - 1) * hi))
    layer.set_variable("threshold", rng.integers(-scale, scale + 1, size=f))
    layer.set_variable("act_step", rng.integers(1, 16 * max(2, scale // 4), size=f).clip(1, 65535) / 16)
    x = rng.integers(1, 2**bits, size=(n, *model.input_shape))
    x[rng.random(x.shape) >= density] = 0
    assume(execute.plan(model)[1].f32)
    y_ref = execute.forward(model, x, reference=True)
    ref = [(a.input_events, a.synaptic_ops, a.output_events) for a in model.statistics.layers]
    saved = execute.DENSE_ABOVE
    try:
        for dense_above in (-1.0, 2.0):  # always dense, never dense
            execute.DENSE_ABOVE = dense_above
            y = execute.forward(model, x)
            np.testing.assert_array_equal(y, y_ref)
            assert [(a.input_events, a.synaptic_ops, a.output_events) for a in model.statistics.layers] == ref
    finally:
        execute.DENSE_ABOVE = saved
