"""A copy of a run of array elements without a numba view (`copy_into`), for the hot loops that
copy rows or receptive fields of a sample (`kernels_f32.depthwise_rows_f32`, `kernels_conv.im2col_kernel`).

Why not numba slices: a view made per row or position costs two atomic reference counts (NRT
incref and decref: a `lock`ed instruction each); in the depthwise row sweep they took about a sixth
of the time (perf). Why not an offset index into a flat array: numba keeps its negative-index test
for an index it cannot prove non-negative, and that select stops LLVM vectorising the loop (a
gather at best). The intrinsic's loads and stores are plain vectors of 64 elements, then a scalar
tail.
"""

from __future__ import annotations

import llvmlite.ir as ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from akida_edge.engine.kernels_ir import arrays

STEP = 64  # elements per vector step


def _copy_codegen(context, builder, signature, args):
    arr_s, arr_d = arrays(context, builder, signature, args, 2)
    s0, d0, n = args[2], args[3], args[4]
    s_ty, d_ty = signature.args[0].dtype, signature.args[1].dtype
    s_elem, d_elem = context.get_value_type(s_ty), context.get_value_type(d_ty)
    i64 = s0.type
    width = STEP
    svec, dvec = ir.VectorType(s_elem, width), ir.VectorType(d_elem, width)
    src = builder.gep(arr_s.data, [s0])
    dst = builder.gep(arr_d.data, [d0])
    steps = builder.udiv(n, ir.Constant(i64, width))

    def convert(value, ty):
        if s_ty == d_ty:
            return value
        if isinstance(d_ty, types.Float):
            return builder.uitofp(value, ty)
        return builder.zext(value, ty)

    with cgutils.for_range(builder, steps) as loop:
        t = builder.mul(loop.index, ir.Constant(i64, width))
        v = builder.load(builder.bitcast(builder.gep(src, [t]), svec.as_pointer()), align=1)
        builder.store(convert(v, dvec), builder.bitcast(builder.gep(dst, [t]), dvec.as_pointer()), align=1)
    done = builder.mul(steps, ir.Constant(i64, width))
    with cgutils.for_range(builder, builder.sub(n, done)) as loop:
        t = builder.add(done, loop.index)
        builder.store(convert(builder.load(builder.gep(src, [t])), d_elem), builder.gep(dst, [t]))
    return context.get_dummy_value()


@intrinsic
def copy_into(typingctx, src, dst, s0, d0, n):
    """dst.flat[d0 : d0 + n] = src.flat[s0 : s0 + n], both C-contiguous, src uint8 (into float32
    or int16) or of dst's dtype; 64 elements per step. For the hot loops that copy runs of a
    sample: a numba view made per row or position costs two atomic reference counts (NRT), and an
    offset index (no view) keeps numba's negative-index test, which stops the loop vectorising."""
    widened = src.dtype == types.uint8 and dst.dtype in (types.float32, types.int16)
    if src.dtype != dst.dtype and not widened:
        return None
    return types.void(src, dst, s0, d0, n), _copy_codegen
