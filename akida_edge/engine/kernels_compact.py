"""A position's events compacted four channels at a time, without a branch per channel.

The gather path (`kernels_gather`) lists a sample's events position by position, one int64 each
(its weight offset · 256 + its value). Per group of four channels c0..c0+3 of a position,

    ev[e : e + k] = the (base + c·fstep + v_c) of the k channels whose value v_c ≠ 0, in order,
    e += k,

as vector code: the four bytes widened to int64 lanes and added to their offsets, their non-zero
lanes as a 4-bit mask m, the lanes moved to the front by ONE variable permutation whose indices
are row m of a 16-row table (`PACK4`), four lanes stored at ev[e] whatever k (the list needs 3
entries of slack: the lanes past k are overwritten by the next group or ignored), e += popcount(m).
A scalar compaction of the same list stores one candidate per channel and advances e by its
test (a dependency through e per channel, and branches to skip silent groups of eight channels
that the predictor cannot learn at a few % density): measured (CPU time, one core, loaded, the
bench's conv stack at 10 % input) ≈ 9 µs per 24 × 24 × 16-32 layer and sample.

The permutation is AVX2's `vpermd` (`llvm.x86.avx2.permd`, eight 32-bit lanes: an int64 lane k is
the pair 2k, 2k + 1), emitted only where numba compiles for a host with AVX2 (`HAS_PERMD`,
decided when this module is imported; the cache is per CPU); elsewhere the same IR stores each
lane in turn and advances e by its test (the scalar compaction, branch-free).
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np
from llvmlite import binding as llb
from numba import types
from numba.core import cgutils
from numba.core import config as numba_config
from numba.extending import intrinsic

from akida_edge.engine.kernels_ir import arrays


def _host_has_permd() -> bool:
    """Whether numba compiles for this host and the host has AVX2 (`vpermd`)."""
    if numba_config.CPU_NAME not in (None, "host"):
        return False
    return bool(llb.get_host_cpu_features().get("avx2", False))


HAS_PERMD = _host_has_permd()


def pack4_table() -> np.ndarray:
    """(16, 8) int32: for a 4-bit mask m, the 32-bit lane pairs (2k, 2k + 1) of the int64 lanes k
    set in m, in order, then pairs of lane 0 (don't-care lanes)."""
    table = np.zeros((16, 8), np.int32)
    for m in range(16):
        kept = [k for k in range(4) if m >> k & 1]
        kept += [0] * (4 - len(kept))
        for s, k in enumerate(kept):
            table[m, 2 * s], table[m, 2 * s + 1] = 2 * k, 2 * k + 1
    return table


PACK4 = pack4_table()


def _codegen(context, builder, signature, args, permd_ok: bool):
    xa, eva, luta = arrays(context, builder, signature, args, 3)
    x0, groups, e0, base, fstep = args[3:8]
    i64 = x0.type
    i8x4 = ir.VectorType(ir.IntType(8), 4)
    i64x4 = ir.VectorType(i64, 4)
    i32x8 = ir.VectorType(ir.IntType(32), 8)
    i4 = ir.IntType(4)
    e_ptr = cgutils.alloca_once_value(builder, e0)
    lanes = builder.mul(_splat(builder, fstep, i64x4), ir.Constant(i64x4, [0, 1, 2, 3]))  # k·fstep
    ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i4, [i4]), "llvm.ctpop.i4")
    permd = None
    if permd_ok:
        permd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i32x8, [i32x8, i32x8]),
                                               "llvm.x86.avx2.permd")
    with cgutils.for_range(builder, groups) as loop:
        g4 = builder.mul(loop.index, ir.Constant(i64, 4))
        src = builder.bitcast(builder.gep(xa.data, [builder.add(x0, g4)]), i8x4.as_pointer())
        b4 = builder.load(src, align=1)
        start = builder.add(base, builder.mul(g4, fstep))
        evv = builder.add(builder.add(_splat(builder, start, i64x4), lanes), builder.zext(b4, i64x4))
        nz = builder.icmp_unsigned("!=", b4, ir.Constant(i8x4, None))
        e = builder.load(e_ptr)
        if permd is not None:
            m = builder.bitcast(nz, i4)
            row = builder.mul(builder.zext(m, i64), ir.Constant(i64, 8))
            perm = builder.load(builder.bitcast(builder.gep(luta.data, [row]), i32x8.as_pointer()), align=4)
            moved = builder.call(permd, [builder.bitcast(evv, i32x8), perm])
            dst = builder.bitcast(builder.gep(eva.data, [e]), i32x8.as_pointer())
            builder.store(moved, dst, align=8)
            e = builder.add(e, builder.zext(builder.call(ctpop, [m]), i64))
        else:
            for k in range(4):
                kk = ir.Constant(ir.IntType(32), k)
                builder.store(builder.extract_element(evv, kk), builder.gep(eva.data, [e]))
                e = builder.add(e, builder.zext(builder.extract_element(nz, kk), i64))
        builder.store(e, e_ptr)
    return builder.load(e_ptr)


def _splat(builder, value, vtype):
    undef = ir.Constant(vtype, ir.Undefined)
    one = builder.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(ir.IntType(32), vtype.count), None))


def make_compact4(permd: bool):
    """The `compact4` intrinsic with (permd=True, AVX2 hosts only) or without the permutation."""

    def codegen(context, builder, signature, args):
        return _codegen(context, builder, signature, args, permd)

    @intrinsic
    def compact4(typingctx, x, ev, table, x0, groups, e0, base, fstep):
        """e after appending the events of x[x0 : x0 + 4·groups] (uint8, flat) to ev (int64, 3
        entries of slack), the channel c = 4g + k giving base + c·fstep + x[x0 + c] where non-zero;
        table: `PACK4`. Returns the new end of the list."""
        return types.int64(x, ev, table, x0, groups, e0, base, fstep), codegen

    return compact4


compact4 = make_compact4(HAS_PERMD)
