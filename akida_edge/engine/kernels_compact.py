"""A row's events compacted position by position: a byte mask per block of channels, then a
fixed step per event or four channels per step, without a branch per channel.

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

`compact_row` (the gather kernel's compaction, one call per input column) runs `compact4` only on a
block of 8, 16 or 32 channels of a position holding more than `EMIT_SLOTS` = 4 events: per block
it first takes the byte mask of its non-zero channels (`nonzero_mask`: one compare and its sign
bits), skips a silent block, and lists up to four events in four fixed steps (`emit4`: trailing
zero count, byte load, store, lowest bit cleared; no branch per event, slack entries written past
the last), so a sparse block costs per event, not per channel, and needs no permutation table. At
10 % (2.7 %) input density about 98 % (100 %) of the active blocks hold at most four events; at
30 % a few % do, the others keep `compact4`. Measured (compaction alone, CPU time per
24 × 24 sample, one core, loaded, interleaved): 16 channels at 10 % 5.2 → 3.9 µs, 32 at 2.7 %
9.0 → 4.6 µs, 32 at 29 % 8.1 → 6.9 µs, a silent sample 1.9 → 1.0 µs.
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
from akida_edge.numba_config import kernel


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


def _mask_codegen(context, builder, signature, args):
    (xa,) = arrays(context, builder, signature, args, 1)
    x0, width = args[1], args[2]
    i64 = x0.type
    result = cgutils.alloca_once(builder, i64)
    done = builder.append_basic_block("mask.done")
    cases = {w: builder.append_basic_block(f"mask.{w}") for w in (8, 16, 32)}
    switch = builder.switch(width, cases[8])
    for w in (16, 32):
        switch.add_case(ir.Constant(i64, w), cases[w])
    for w, block in cases.items():
        builder.position_at_end(block)
        bvec = ir.VectorType(ir.IntType(8), w)
        b = builder.load(builder.bitcast(builder.gep(xa.data, [x0]), bvec.as_pointer()), align=1)
        bits = builder.bitcast(builder.icmp_unsigned("!=", b, ir.Constant(bvec, None)), ir.IntType(w))
        builder.store(builder.zext(bits, i64), result)
        builder.branch(done)
    builder.position_at_end(done)
    return builder.load(result)


@intrinsic
def nonzero_mask(typingctx, x, x0, width):
    """The bit mask of the non-zero bytes of x[x0 : x0 + width] (uint8, flat; width 32, 16, or else
    8): bit c set where x[x0 + c] ≠ 0 (one byte compare and its sign bits: `vpcmpeqb`,
    `vpmovmskb`). A constant width (an inlined caller's) folds the switch over the three."""
    return types.int64(x, x0, width), _mask_codegen


def make_emit(slots: int):
    """The `emit` intrinsic writing `slots` list entries whatever the mask's count."""

    def codegen(context, builder, signature, args):
        xa, eva = arrays(context, builder, signature, args, 2)
        x0, m, e0, base, fstep = args[2:7]
        i64 = x0.type
        cttz = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]),
                                              "llvm.cttz.i64")
        ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]), "llvm.ctpop.i64")
        one, zero = ir.Constant(i64, 1), ir.Constant(i64, 0)
        first = None
        rest = m
        for k in range(slots):
            c = builder.call(cttz, [rest, ir.Constant(ir.IntType(1), 0)])
            if first is None:
                first = c
            else:  # past the mask's last bit: the first channel again (a valid byte; the entry is slack)
                c = builder.select(builder.icmp_unsigned("==", rest, zero), first, c)
            v = builder.zext(builder.load(builder.gep(xa.data, [builder.add(x0, c)])), i64)
            builder.store(builder.add(builder.add(base, builder.mul(c, fstep)), v),
                          builder.gep(eva.data, [builder.add(e0, ir.Constant(i64, k))]))
            rest = builder.and_(rest, builder.sub(rest, one))
        return builder.add(e0, builder.call(ctpop, [m]))

    @intrinsic
    def emit(typingctx, x, ev, x0, m, e0, base, fstep):
        """e0 + popcount(m) after writing ev[e0 + k] = base + c_k·fstep + x[x0 + c_k] for the set
        bits c_0 < c_1 < ... of m (non-zero, at most `slots` bits set: the caller's test), and
        slack entries up to ev[e0 + slots − 1]. No branch: `slots` fixed steps of
        trailing-zero count (`tzcnt`), byte load and store, the bit cleared (`blsr`)."""
        return types.int64(x, ev, x0, m, e0, base, fstep), codegen

    return emit


def _popcount_codegen(context, builder, signature, args):
    (m,) = args
    ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(m.type, [m.type]),
                                           "llvm.ctpop.i64")
    return builder.call(ctpop, [m])


@intrinsic
def popcount(typingctx, m):
    """The set bits of the int64 m (`popcnt`)."""
    return types.int64(m), _popcount_codegen


EMIT_SLOTS = 4  # events written without a branch per block of channels (more: `compact4`)
emit4 = make_emit(EMIT_SLOTS)


@kernel(inline="always")
def compact_row(width, x, ev, table, pstart, p0, positions, channels, e, base, pstep, fstep, x0, xstep):
    """The events of `positions` positions of x (uint8, flat, `channels` per position, a multiple
    of `width`: 8, 16 or 32, a constant where inlined), position i's channels at x[x0 + i·xstep:]
    (xstep = channels: a row of positions; W·channels: a column), appended to ev from e:
    pstart[p0 + i] = the list's end before position i, and position i's channel c with value
    v ≠ 0 listed as base + i·pstep + c·fstep + v. Per block of `width` channels one byte mask
    (`nonzero_mask`); a silent block costs its test, up to `EMIT_SLOTS` events a fixed step each
    (`emit4`), more the four-channel steps of `compact4` (table: `PACK4`). Returns the new end of
    the list (ev needs 3 entries of slack).

    Called once per row: only intrinsics inside the position loop (an inlined helper taking arrays
    there costs their reference counts, atomic, per call: 36 cycles per position measured)."""
    blocks = channels // width
    if blocks == 1:  # one block per position: no block loop (measured 0.7 µs per 576 positions)
        for i in range(positions):
            pstart[p0 + i] = e
            xb = x0 + i * xstep
            m = nonzero_mask(x, xb, width)
            if m != 0:  # else a silent position
                if popcount(m) <= EMIT_SLOTS:  # a few events: one fixed step each
                    e = emit4(x, ev, xb, m, e, base + i * pstep, fstep)
                else:
                    e = compact4(x, ev, table, xb, width // 4, e, base + i * pstep, fstep)
        return e
    for i in range(positions):
        pstart[p0 + i] = e
        for b in range(blocks):
            xb = x0 + i * xstep + b * width
            m = nonzero_mask(x, xb, width)
            if m != 0:
                start = base + i * pstep + b * width * fstep
                if popcount(m) <= EMIT_SLOTS:
                    e = emit4(x, ev, xb, m, e, start, fstep)
                else:
                    e = compact4(x, ev, table, xb, width // 4, e, start, fstep)
    return e


@kernel(inline="always")
def count_nonzero(flat):
    """The non-zero bytes of flat (uint8, 1-D: a layer's input events), 32 per step (their byte mask
    and its popcount). A byte loop with an int64 count vectorises into int64 lanes, four bytes per
    instruction: measured 1.5 against 0.2 µs per 24 × 24 × 16 sample (CPU time, loaded)."""
    return count_range(flat, 0, flat.shape[0])


@kernel(inline="always")
def count_range(flat, start, stop):
    """The non-zero bytes of flat[start:stop] as `count_nonzero`, without a view of them: a view
    made per position costs two atomic reference counts (numba's NRT) in a per-position loop."""
    nz = 0
    t = start
    while t + 32 <= stop:
        nz += popcount(nonzero_mask(flat, t, 32))
        t += 32
    for u in range(t, stop):
        nz += flat[u] != 0
    return nz
