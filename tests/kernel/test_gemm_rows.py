"""The register-blocked products on every row count (full 6-row bands and each remainder 1-5 that
`kernels_gemm.blocks` switches over) and column remainder: `gemm_f32`, `gemm_i16` against int64
sums, `gemm_act_f32`, `gemm_act_i16` against the float32 activation of those sums."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.engine.kernels_gemm import ROWS, gemm_act_f32, gemm_f32
from akida_edge.engine.kernels_gemm_i16 import gemm_act_i16, gemm_i16, pack_pairs
from akida_edge.engine.output_stage import act_f32, act_params_f32

pytestmark = pytest.mark.kernel


def _operands(rng, p, k, f):
    a = rng.integers(-40, 41, (p, k))
    w = rng.integers(-127, 128, (k, f))
    return a, w, a @ w  # int64 sums: the exact products


@pytest.mark.parametrize("p", range(0, 3 * ROWS))
@pytest.mark.parametrize("f", [16, 21, 48])
def test_products_exact_on_every_row_count(rng, p, f):
    a, w, ref = _operands(rng, p, 12, f)
    out = np.full((p, f), np.nan, np.float32)
    gemm_f32(a.astype(np.float32), w.astype(np.float32), out)
    np.testing.assert_array_equal(out, ref.astype(np.float32))
    out = np.full((p, f), np.nan, np.float32)
    gemm_i16(a.astype(np.int16), pack_pairs(w), out)
    np.testing.assert_array_equal(out, ref.astype(np.float32))


@pytest.mark.parametrize("p", range(0, 3 * ROWS))
def test_activated_products_on_every_row_count(rng, p):
    f = 32
    a, w, ref = _operands(rng, p, 12, f)
    q = act_params_f32(rng.integers(-200, 2000, f), rng.uniform(4.0, 400.0, f), 15)
    expect = np.array([[act_f32(np.float32(ref[r, j]), q[0, j], q[1, j], q[2, j]) for j in range(f)]
                       for r in range(p)], np.float32).reshape(p, f).astype(np.uint8)
    for run, args in ((gemm_act_f32, (a.astype(np.float32), w.astype(np.float32))),
                      (gemm_act_i16, (a.astype(np.int16), pack_pairs(w)))):
        out = np.full((p, f), 255, np.uint8)
        events = run(*args, q, out)
        np.testing.assert_array_equal(out, expect)
        assert events == np.count_nonzero(expect)
