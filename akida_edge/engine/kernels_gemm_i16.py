"""An exact integer matrix product of int16 pairs (the `vpmaddwd` shape), register-blocked.

`gemm_i16(a, b, out)` writes out = a @ b as float32 for a (P, K) int16 with K even and the
weights b packed as int16 pairs (K/2, F, 2) (`pack_pairs`), b[k2, j, t] = w[2·k2 + t, j]. The K
loop takes two k at a time: a's pair (a[r, 2k2], a[r, 2k2 + 1]) is broadcast as one 32-bit value,
b's 16 int16 of eight columns × the pair are loaded at once, and

    acc[j] += a[r, 2k2] · b[k2, j, 0] + a[r, 2k2 + 1] · b[k2, j, 1]        (8 int32 lanes)

is written in plain LLVM IR (sign-extended 32-bit products, the even and odd lanes added), which
LLVM's x86 back end lowers to one `vpmaddwd` (16 products, pairwise summed to int32) per eight
columns: twice the multiply-adds of an 8-lane float32 FMA per instruction, and half the bytes of
a float32 operand. On a machine without AVX2 the same IR runs as ordinary integer vector code.
The 6 × 16 block of int32 sums stays in twelve registers over the K loop as in `kernels_gemm`,
whose block intrinsics (`blocks`, `blocks_act`) and drivers (`product_blocks`,
`product_blocks_act`) take the sums converted to float32.

Exactness (no saturation, no overflow, no rounding). The IR is exact wrapping int32 arithmetic
(not the saturating `vpmaddubsw`): every product and partial sum is computed exactly whenever it
stays below 2^31 in magnitude. The engine calls it only where (`kernels.pair_ok`) every a value is
below 2^15 in magnitude (the depthwise sums: fan-in · max input · max |weight|), every |weight|
is at most 127 (8-bit), and every partial sum of a potential is below 2^23 (`kernels.f32_ok`):
then a pair sum is at most 2 · 32767 · 127 < 2^23 and every accumulator value stays below 2^24,
so the int32 sums are the reference's integers and their conversion to float32 (`sitofp`,
exact below 2^24) loses nothing; the float32 activation downstream is the one of `gemm_act_f32`.

Measured (CPU time, one core, loaded machine, AVX2 EPYC): (2004 × 64) @ (64 × 64): float32 FMA
`gemm_f32` 174-179 µs (46 GMAC/s), `gemm_i16` 114-123 µs (67-72 GMAC/s). On AVX-512 hosts the
same IR with 16 lanes (`kernels_gemm.LANES`) gives one `vpdpwssd` (with VNNI: the multiply-add
and the accumulation in one instruction) per sixteen columns; Zen 5, (2000 × 64) @ (64 × 64):
8 lanes 62 µs (132 GMAC/s), 16 lanes 32 µs (256 GMAC/s).
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np
from numba.core import cgutils

from akida_edge.engine.kernels_gemm import LANES, blocks, blocks_act, product_blocks, product_blocks_act
from akida_edge.numba_config import kernel


def pack_pairs(w: np.ndarray) -> np.ndarray:
    """Weights w (K, F) integers as int16 pairs (K/2, F, 2), K padded with a zero row when odd."""
    k, f = w.shape
    wp = np.zeros((k + k % 2, f), np.int16)
    wp[:k] = w
    return np.ascontiguousarray(wp.reshape(-1, 2, f).transpose(0, 2, 1))


def _sums_i16(context, builder, arr_a, arr_b, row0, col0, rows, lanes):
    """IR of the K loop over pairs: 2·rows int32 sums of `lanes` lanes a[row0 + r, :] @ b[:, col0 +
    lanes·j : + lanes] kept in registers; returns them converted to float32 vectors (exact below
    2^24)."""
    k_len = cgutils.unpack_tuple(builder, arr_a.shape, 2)[1]
    f_len = cgutils.unpack_tuple(builder, arr_b.shape, 3)[1]
    i32 = ir.IntType(32)
    v8 = ir.VectorType(i32, lanes)
    v16 = ir.VectorType(ir.IntType(16), 2 * lanes)
    wide = ir.VectorType(i32, 2 * lanes)
    even = ir.Constant(v8, list(range(0, 2 * lanes, 2)))
    odd = ir.Constant(v8, list(range(1, 2 * lanes, 2)))
    zero_mask = ir.Constant(v8, [0] * lanes)
    undef = ir.Constant(v8, ir.Undefined)
    i32_0 = ir.Constant(i32, 0)
    two = ir.Constant(k_len.type, 2)
    pairs = builder.sdiv(k_len, two)
    a32 = builder.bitcast(arr_a.data, i32.as_pointer())  # a's rows as int32 pairs
    accs = [[cgutils.alloca_once_value(builder, ir.Constant(v8, None)) for _ in range(2)]
            for _ in range(rows)]
    row_off = [builder.mul(builder.add(row0, ir.Constant(row0.type, r)), pairs) for r in range(rows)]
    with cgutils.for_range(builder, pairs) as loop:
        k = loop.index
        boff = builder.mul(builder.add(builder.mul(k, f_len), col0), two)
        bp = builder.gep(arr_b.data, [boff])
        bps = [builder.gep(bp, [ir.Constant(boff.type, 2 * lanes * j)]) for j in range(2)]
        bs = [builder.sext(builder.load(builder.bitcast(q, v16.as_pointer()), align=2), wide) for q in bps]
        for r in range(rows):
            av = builder.load(builder.gep(a32, [builder.add(row_off[r], k)]), align=2)
            bc = builder.shuffle_vector(builder.insert_element(undef, av, i32_0), undef, zero_mask)
            aw = builder.sext(builder.bitcast(bc, v16), wide)
            for j in range(2):
                m = builder.mul(aw, bs[j])
                pair = builder.add(builder.shuffle_vector(m, m, even), builder.shuffle_vector(m, m, odd))
                builder.store(builder.add(builder.load(accs[r][j]), pair), accs[r][j])
    f32v = ir.VectorType(ir.FloatType(), lanes)
    return [[builder.sitofp(builder.load(acc), f32v) for acc in row] for row in accs]


_blocks_i16, _blocks_act_i16 = blocks(_sums_i16), blocks_act(_sums_i16)
_wide_i16, _wide_act_i16 = (blocks(_sums_i16, LANES), blocks_act(_sums_i16, LANES)) if LANES > 8 else (
    _blocks_i16, _blocks_act_i16)


@kernel("void(int16[:, ::1], int16[:, :, ::1], float32[:, ::1])")
def gemm_i16(a, b, out):
    """out (P, F) float32 = a (P, K) @ w for b = `pack_pairs(w)`, K even, within `pair_ok`: exact."""
    p_len, k_len = a.shape
    f_len = b.shape[1]
    f_blk = f_len - f_len % 16
    product_blocks(a, b, out, f_blk, _wide_i16, _blocks_i16, 2 * LANES)
    for r in range(p_len):  # columns outside whole blocks: exact int64 sums
        arow = a[r]
        for j in range(f_blk, f_len):
            acc = 0
            for k in range(k_len):
                acc += np.int64(arow[k]) * b[k // 2, j, k % 2]
            out[r, j] = np.float32(acc)


@kernel("int64(int16[:, ::1], int16[:, :, ::1], float32[:, ::1], uint8[:, ::1])")
def gemm_act_i16(a, b, q, out_u8):
    """out_u8 (P, F) = act(a @ w) for F a multiple of 16, the potentials activated in registers as
    in `kernels_gemm.gemm_act_f32` (q = `output_stage.act_params_f32`); returns the non-zeros."""
    return product_blocks_act(a, b, q, out_u8, _wide_act_i16, _blocks_act_i16, 2 * LANES)
