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
    same order, so the same exact outputs) of 8 or 16 sums into as many bytes at dst (an `<n x
    i8>*`); returns count (8 int32 lanes) plus the non-zero outputs' lanes (16 lanes are added
    to count as two halves). thr16, inv, cap: rows of `act_params_f32` as wide as sums."""
    lanes = sums.type.count
    vec = ir.VectorType(ir.FloatType(), lanes)
    ivec = ir.VectorType(ir.IntType(32), lanes)
    bvec = ir.VectorType(ir.IntType(8), lanes)
    ceil = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec]),
                                          f"llvm.ceil.v{lanes}f32")

    def splat(value):
        return ir.Constant(vec, [value] * lanes)

    num = builder.fsub(builder.fmul(splat(16.0), sums), thr16)  # no contraction
    num = builder.select(builder.fcmp_ordered(">", num, splat(0.0)), num, splat(0.0))
    num = builder.select(builder.fcmp_ordered("<", num, cap), num, cap)
    y = builder.call(ceil, [builder.fsub(builder.fmul(num, inv), splat(3.814697265625e-06))])
    yi = builder.fptosi(y, ivec)
    nonzero = builder.icmp_signed("!=", yi, ir.Constant(ivec, None))
    builder.store(builder.trunc(yi, bvec), dst, align=1)
    lanes_nz = builder.zext(nonzero, ivec)
    for h in range(0, lanes, 8):
        half = lanes_nz if lanes == 8 else builder.shuffle_vector(
            lanes_nz, lanes_nz, ir.Constant(ir.VectorType(ir.IntType(32), 8), list(range(h, h + 8))))
        count = builder.add(count, half)
    return count


def count_total_ir(builder, count, i64):
    """The sum of the 8 int32 lanes of count, as i64."""
    total = builder.extract_element(count, ir.Constant(ir.IntType(32), 0))
    for lane in range(1, 8):
        total = builder.add(total, builder.extract_element(count, ir.Constant(ir.IntType(32), lane)))
    return builder.sext(total, i64)


def act_top_ir(builder, inv, cap) -> ir.Value:
    """amax per channel as bytes (<n·len(inv) x i8>), from rows of `act_params_f32` (1, 2 or 4
    vectors of n = 8 or 16 lanes): act(cap) by `act_f32`'s operations, which give amax exactly
    (cap/s16 = amax, an integer: see `output_stage.act_f32`). The clamp of `act_bytes_ir`,
    computed once per row."""
    lanes = inv[0].type.count
    vec = ir.VectorType(ir.FloatType(), lanes)
    ivec = ir.VectorType(ir.IntType(32), lanes)
    ceil = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec]),
                                          f"llvm.ceil.v{lanes}f32")
    eps = ir.Constant(vec, [3.814697265625e-06] * lanes)
    tops = [builder.fptosi(builder.call(ceil, [builder.fsub(builder.fmul(c, iv), eps)]), ivec)
            for iv, c in zip(inv, cap, strict=True)]
    wide = _concat(builder, tops)
    return builder.trunc(wide, ir.VectorType(ir.IntType(8), wide.type.count))


def _concat(builder, parts: list) -> ir.Value:
    """The vectors of `parts` (1, 2 or 4 of one type) as one, in order."""
    while len(parts) > 1:
        width = 2 * parts[0].type.count
        both = ir.Constant(ir.VectorType(ir.IntType(32), width), list(range(width)))
        parts = [builder.shuffle_vector(parts[k], parts[k + 1], both) for k in range(0, len(parts), 2)]
    return parts[0]


def act_bytes_ir(builder, sums, thr16, inv, top, dst, i64):
    """The activation of `output_stage.act_f32` (the same exact outputs) of len(sums) sums of n = 8
    or 16 lanes (1, 2 or 4 vectors; thr16 and inv as wide) into n·len(sums) bytes at dst (an i8*)
    with one store; returns the number of non-zero outputs as i64 (one byte compare, its bit mask
    and a popcount). top: amax per channel as bytes (`act_top_ir`).

    Per lane y = ceil(num · inv − ε) with num = 16·p − 16·T′ by one fused multiply-add (16·p is
    exact, so the single rounding is the difference's, as act_f32's), then clamped as integers:
    below 0 to 0 and above 255 to 255 (saturating packs), then to amax (a byte min). The same
    outputs as act_f32's float clamps of num to [0, cap]: the operations after them are
    monotonic, num < 0 gives y ≤ 0, num ≥ cap gives y ≥ act(cap) = amax, and |y| < 2^30 (|num| <
    2^29, inv ≤ 1) converts exactly."""
    n = sums[0].type.count
    vec = ir.VectorType(ir.FloatType(), n)
    ivec = ir.VectorType(ir.IntType(32), n)
    ceil = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec]), f"llvm.ceil.v{n}f32")
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                         f"llvm.fma.v{n}f32")

    def splat(value):
        return ir.Constant(vec, [value] * n)

    ys = []
    for p, t16, iv in zip(sums, thr16, inv, strict=True):
        num = builder.call(fma, [splat(16.0), p, builder.fsub(splat(0.0), t16)])
        y = builder.call(ceil, [builder.fsub(builder.fmul(num, iv), splat(3.814697265625e-06))])
        ys.append(builder.fptosi(y, ivec))
    y = _concat(builder, ys)
    lanes = y.type.count
    wide = ir.VectorType(ir.IntType(32), lanes)
    y = builder.select(builder.icmp_signed(">", y, ir.Constant(wide, None)), y, ir.Constant(wide, None))
    byte_max = ir.Constant(wide, [255] * lanes)
    y = builder.select(builder.icmp_signed("<", y, byte_max), y, byte_max)
    bvec = ir.VectorType(ir.IntType(8), lanes)
    b = builder.trunc(y, bvec)
    b = builder.select(builder.icmp_unsigned("<", b, top), b, top)
    builder.store(b, builder.bitcast(dst, bvec.as_pointer()), align=1)
    mask = ir.IntType(lanes)
    bits = builder.bitcast(builder.icmp_unsigned("!=", b, ir.Constant(bvec, None)), mask)
    ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(mask, [mask]),
                                           f"llvm.ctpop.i{lanes}")
    return builder.zext(builder.call(ctpop, [bits]), i64)
