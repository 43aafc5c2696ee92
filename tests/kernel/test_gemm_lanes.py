"""Both register-block widths of the products, whatever this host compiles by default
(`kernels_gemm.LANES`: 16 on AVX-512, else 8): the block drivers run with 8-lane blocks only (an
AVX2 host's form) and with 16-lane wide blocks before the 8-lane ones, float32 and int16 pairs,
plain and activated, on every row count and on column counts that leave a narrow block, against
int64 sums and the float32 activation of them (`output_stage.act_f32`)."""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

from akida_edge.engine.kernels_gemm import (
    COLS,
    LANES,
    ROWS,
    _sums,
    blocks,
    blocks_act,
    product_blocks,
    product_blocks_act,
)
from akida_edge.engine.kernels_gemm_i16 import _sums_i16, pack_pairs
from akida_edge.engine.output_stage import act_f32, act_params_f32

pytestmark = pytest.mark.kernel


def _drivers(sums_ir, lanes: int):
    wide, narrow = blocks(sums_ir, lanes), blocks(sums_ir)
    wide_act, narrow_act = blocks_act(sums_ir, lanes), blocks_act(sums_ir)
    cols = 2 * lanes

    @numba.njit(cache=False)
    def product(a, b, out):
        product_blocks(a, b, out, out.shape[1], wide, narrow, cols)

    @numba.njit(cache=False)
    def product_act(a, b, q, out_u8):
        return product_blocks_act(a, b, q, out_u8, wide_act, narrow_act, cols)

    return product, product_act


FORMS = {(kind, lanes): _drivers(sums, lanes) for kind, sums in (("f32", _sums), ("i16", _sums_i16))
         for lanes in (8, 16)}


def test_the_wide_blocks_follow_the_cpus_avx512_flags():
    """16 lanes exactly where the kernel reports AVX-512 F and BW (read from /proc/cpuinfo, not
    through llvmlite as `kernels_gemm` does) and numba compiles for this host."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo on this system to read the CPU flags from")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("flags")), [])
    host = numba.config.CPU_NAME in (None, "host")
    assert LANES == (16 if host and {"avx512f", "avx512bw"} <= set(flags) else 8)
    assert COLS == 16


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("f", [16, 48, 64])
def test_every_width_is_exact_on_every_row_count(form, f):
    kind, _ = form
    product, product_act = FORMS[form]
    rng = np.random.default_rng(f)
    q = act_params_f32(rng.integers(-200, 2000, f), rng.uniform(4.0, 400.0, f), 15)
    for p in range(0, 3 * ROWS + 1):
        a = rng.integers(-40, 41, (p, 12))
        w = rng.integers(-127, 128, (12, f))
        ref = a @ w
        args = (a.astype(np.float32), w.astype(np.float32)) if kind == "f32" else (a.astype(np.int16),
                                                                                    pack_pairs(w))
        out = np.full((p, f), np.nan, np.float32)
        product(*args, out)
        np.testing.assert_array_equal(out, ref.astype(np.float32))
        expect = np.array([[act_f32(np.float32(ref[r, j]), q[0, j], q[1, j], q[2, j]) for j in range(f)]
                           for r in range(p)], np.float32).reshape(p, f).astype(np.uint8)
        out_u8 = np.full((p, f), 255, np.uint8)
        assert product_act(*args, q, out_u8) == np.count_nonzero(expect)
        np.testing.assert_array_equal(out_u8, expect)
