"""The depthwise row sweep of a 3 × 3 kernel in explicit vectors (`sweep3x3`).

`depthwise_rows_f32` (kernels_f32.py) builds one sample's depthwise sums a row at a time from a
zero-bordered copy xp of the sample (OH + 2, (OW + 2)·C):

    out[oy, ox·C + c] = Σ_ky Σ_kx xp[oy + ky, (ox + kx)·C + c] · w_dw[ky, kx, c]

`sweep3x3(xp, w_blocks, out, oy, c_in, ow)` computes one such row with all nine taps in
registers, for C a multiple of the lanes of a 64-byte vector (16 float32 or 32 int16: `lanes`).
Per vector of sums: nine loads of xp (three row pointers, offsets 0, C, 2C), nine of the
weights, nine multiplies and eight adds (a tree), one store; it returns how many of the row's
sums are non-zero (a compare, its bit mask and a popcount), so no second pass counts them. The
weights come from `weight_blocks` (C / lanes, 9, lanes): a block's nine tap vectors side by side,
so one pointer with constant offsets reaches them and few registers hold addresses (nine tiled
weight rows plus nine xp taps as separate pointers spilled to the stack).

Why LLVM IR: a numba loop over the nine taps does not vectorise (LLVM gives up on the run-time
alias checks of its nineteen pointers); three taps per pass (the form before, still used for
other kernel sizes) loads and stores every sum three times. On AVX2 a 64-byte vector is two
registers; the IR is the same.

Exactness as the numba loops: float32 products and sums of integers below 2^24 are exact in any
order (`kernels.f32_ok`; plain `fmul`/`fadd`, no contraction); int16 lanes wrap modulo 2^16 and
the true sums fit in int16 (`kernels.pair_ok`), so the wrapped sums are those sums.

Measured (`depthwise_f32_kernel`, DS-CNN separable layer 25 × 5 × 64 at 30 % input density, 16
samples, CPU time, one core, Zen 5): int16 58 → 28 µs, float32 79 → 47 µs, with the copy into xp
and the event counts made without per-position views (`kernels_copy`).
"""

from __future__ import annotations

import llvmlite.ir as ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from akida_edge.engine.kernels_ir import arrays
from akida_edge.numba_config import kernel

VECTOR_BYTES = 64  # one block of sums: 16 float32 or 32 int16 lanes


@kernel(inline="always")
def lanes(xp):
    """Sums per block of `sweep3x3` for xp's dtype (16 float32, 32 int16)."""
    return VECTOR_BYTES // xp.itemsize


def _codegen(context, builder, signature, args):
    arr_x, arr_w, arr_o = arrays(context, builder, signature, args, 3)
    oy, c_in, ow = args[3], args[4], args[5]
    dtype = signature.args[0].dtype
    is_float = isinstance(dtype, types.Float)
    size = 4 if is_float else 2  # bytes per lane
    width = VECTOR_BYTES // size
    elem = ir.FloatType() if is_float else ir.IntType(16)
    vec = ir.VectorType(elem, width)
    vptr = vec.as_pointer()
    i64 = oy.type
    x_stride = cgutils.unpack_tuple(builder, arr_x.shape, 2)[1]
    span = builder.mul(ow, c_in)
    rows = [builder.gep(arr_x.data, [builder.mul(builder.add(oy, ir.Constant(i64, ky)), x_stride)])
            for ky in range(3)]
    c2 = builder.add(c_in, c_in)
    out = builder.gep(arr_o.data, [builder.mul(oy, span)])
    groups = builder.udiv(c_in, ir.Constant(i64, width))
    mask = ir.IntType(width)
    ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(mask, [mask]),
                                           f"llvm.ctpop.i{width}")
    count = cgutils.alloca_once_value(builder, ir.Constant(i64, 0))
    mul, add = (builder.fmul, builder.fadd) if is_float else (builder.mul, builder.add)
    zero = ir.Constant(vec, None)

    def load(ptr, offset):
        return builder.load(builder.bitcast(builder.gep(ptr, [offset]), vptr), align=size)

    with cgutils.for_range(builder, ow) as col:
        base = builder.mul(col.index, c_in)
        with cgutils.for_range(builder, groups) as grp:
            t = builder.add(base, builder.mul(grp.index, ir.Constant(i64, width)))
            wblk = builder.gep(arr_w.data, [builder.mul(grp.index, ir.Constant(i64, 9 * width))])
            terms = []
            for ky in range(3):
                for kx, off in enumerate((t, builder.add(t, c_in), builder.add(t, c2))):
                    w_off = ir.Constant(i64, (3 * ky + kx) * width)
                    terms.append(mul(load(rows[ky], off), load(wblk, w_off)))
            while len(terms) > 1:  # a tree: short dependency chains
                terms = [add(terms[k], terms[k + 1]) if k + 1 < len(terms) else terms[k]
                         for k in range(0, len(terms), 2)]
            acc = terms[0]
            builder.store(acc, builder.bitcast(builder.gep(out, [t]), vptr), align=size)
            nz = (builder.fcmp_unordered if is_float else builder.icmp_unsigned)("!=", acc, zero)
            bits = builder.call(ctpop, [builder.bitcast(nz, mask)])
            builder.store(builder.add(builder.load(count), builder.zext(bits, i64)), count)
    return builder.load(count)


@intrinsic
def sweep3x3(typingctx, xp, w_blocks, out, oy, c_in, ow):
    """out[oy, :ow·c_in] = the nine taps' sums for c_in a multiple of `lanes(xp)` (module
    docstring), w_blocks from `weight_blocks`; returns the row's non-zero sums."""
    return types.int64(xp, w_blocks, out, oy, c_in, ow), _codegen


@kernel(inline="always")
def weight_blocks(w_dw, out):
    """The 3 × 3 depthwise weights w_dw (3, 3, C) as `sweep3x3` reads them, out (C / lanes, 9,
    lanes): per block of lanes channels the nine taps' weight vectors side by side (one pointer,
    constant offsets)."""
    width = out.shape[2]
    for g in range(out.shape[0]):
        for k in range(9):
            for j in range(width):
                out[g, k, j] = w_dw[k // 3, k % 3, g * width + j]

