"""LLVM IR pieces shared by the engine's intrinsics (`kernels_gemm`, `kernels_gemm_i16`, `kernels_gather`).

Each builds IR into the caller's function (numba `@intrinsic` codegen: `context`, `builder` and
`signature` as numba passes them), so sharing them shares source, not calls: the machine code
is what the inlined IR gives in each kernel.
"""

from __future__ import annotations

import llvmlite.ir as ir
from numba.core import cgutils


def arrays(context, builder, signature, args, n: int) -> list:
    """The LLVM array structures of an intrinsic's first `n` (array) arguments."""
    return [context.make_array(ty)(context, builder, arg) for ty, arg in zip(signature.args[:n], args[:n],
                                                                             strict=True)]


def act_store_ir(builder, sums, thr16, inv, cap, dst, count):
    """IR of the float32 activation (`output_stage.act_f32`: the same float32 operations in the
    same order, so the same exact outputs) of 8 sums into 8 bytes at dst (an `<8 x i8>*`); returns
    count (8 int32 lanes) plus the non-zero outputs' lanes. thr16, inv, cap: 8-lane rows of
    `act_params_f32`."""
    vec = ir.VectorType(ir.FloatType(), 8)
    ivec = ir.VectorType(ir.IntType(32), 8)
    bvec = ir.VectorType(ir.IntType(8), 8)
    ceil = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec]), "llvm.ceil.v8f32")

    def splat(value):
        return ir.Constant(vec, [value] * 8)

    num = builder.fsub(builder.fmul(splat(16.0), sums), thr16)  # no contraction
    num = builder.select(builder.fcmp_ordered(">", num, splat(0.0)), num, splat(0.0))
    num = builder.select(builder.fcmp_ordered("<", num, cap), num, cap)
    y = builder.call(ceil, [builder.fsub(builder.fmul(num, inv), splat(3.814697265625e-06))])
    yi = builder.fptosi(y, ivec)
    nonzero = builder.icmp_signed("!=", yi, ir.Constant(ivec, None))
    builder.store(builder.trunc(yi, bvec), dst, align=1)
    return builder.add(count, builder.zext(nonzero, ivec))


def count_total_ir(builder, count, i64):
    """The sum of the 8 int32 lanes of count, as i64."""
    total = builder.extract_element(count, ir.Constant(ir.IntType(32), 0))
    for lane in range(1, 8):
        total = builder.add(total, builder.extract_element(count, ir.Constant(ir.IntType(32), lane)))
    return builder.sext(total, i64)


def act_bytes_ir(builder, sums, thr16, inv, cap, dst, i64):
    """The activation of `act_store_ir` (the same float32 operations, so the same exact outputs)
    of len(sums) 8-lane sums (1, 2 or 4: lists of rows as `act_store_ir` takes) into 8·len(sums)
    bytes at dst (an i8*) with one store; returns the number of non-zero outputs as i64 (one
    byte compare, its bit mask and a popcount instead of a count per int32 lane)."""
    vec = ir.VectorType(ir.FloatType(), 8)
    ivec = ir.VectorType(ir.IntType(32), 8)
    ceil = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec]), "llvm.ceil.v8f32")

    def splat(value):
        return ir.Constant(vec, [value] * 8)

    ys = []
    for p, t16, iv, cp in zip(sums, thr16, inv, cap, strict=True):
        num = builder.fsub(builder.fmul(splat(16.0), p), t16)  # no contraction
        num = builder.select(builder.fcmp_ordered(">", num, splat(0.0)), num, splat(0.0))
        num = builder.select(builder.fcmp_ordered("<", num, cp), num, cp)
        y = builder.call(ceil, [builder.fsub(builder.fmul(num, iv), splat(3.814697265625e-06))])
        ys.append(builder.fptosi(y, ivec))
    while len(ys) > 1:  # concatenated: <8·len x i32>
        width = 2 * ys[0].type.count
        both = ir.Constant(ir.VectorType(ir.IntType(32), width), list(range(width)))
        ys = [builder.shuffle_vector(ys[k], ys[k + 1], both) for k in range(0, len(ys), 2)]
    lanes = ys[0].type.count
    bvec = ir.VectorType(ir.IntType(8), lanes)
    b = builder.trunc(ys[0], bvec)  # values 0..15: exact
    builder.store(b, builder.bitcast(dst, bvec.as_pointer()), align=1)
    mask = ir.IntType(lanes)
    bits = builder.bitcast(builder.icmp_unsigned("!=", b, ir.Constant(bvec, None)), mask)
    ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(mask, [mask]),
                                           f"llvm.ctpop.i{lanes}")
    return builder.zext(builder.call(ctpop, [bits]), i64)
