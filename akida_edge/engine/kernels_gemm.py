"""A float32 matrix product for integer operands, register-blocked, with exact fused multiply-adds.

`gemm_f32(a, b, out)` writes out = a @ b for C-contiguous float32 a (P, K), b (K, F), out (P, F)
whose values are integers with every product and partial sum below 2^24 in magnitude (the
engine's float32-exact stages, `kernels.f32_ok`). Then a·b + s is an integer below 2^24 and
float32 holds it exactly, so the fused multiply-add fma(a, b, s), rounded once, equals the
separately rounded a·b + s, and any summation order gives the same integers: the product is
bit-exact with the reference's int64 sums. This is the one place the project asks for FMA: the
numba policy keeps `fastmath` off (no contraction anywhere else), and the FMA is requested
explicitly here (`llvm.fma.v8f32`, which LLVM lowers to `vfmadd` on AVX2+FMA and to an exact
software fma elsewhere).

Why not NumPy's BLAS (OpenBLAS sgemm): on the engine's shapes (K = 25-64, F = 64, a few hundred
to a few thousand rows) its call and packing overheads are a large share. The kernel keeps a
6 × 16 block of sums in twelve 8-lane registers over the whole K loop (the classic AVX2 sgemm
micro-kernel shape: 12 FMAs per 2 loads of b and 6 broadcasts of a), which a plain numba loop
nest cannot express (LLVM neither register-blocks a loop nest nor keeps array sums in registers).
The last P mod 6 rows take a smaller register block (one intrinsic switches over the row count,
`blocks`; one driver, `product_blocks`, serves this product and `kernels_gemm_i16`'s);
columns outside whole blocks take a plain loop (mul + add, exact as well).

On a host with AVX-512 (`LANES` = 16, decided at import: numba's cache is per CPU) the blocks
are 6 × 32, twelve 16-lane registers of AVX-512's 32, and the 8-lane 6 × 16 blocks take what
is left of F below a multiple of 32; the activation from registers (`_block_act`) is 16 lanes wide too.
Measured (16 DS-CNN samples: (2000 × 25) @ (25 × 64) and (2000 × 64) @ (64 × 64), CPU time,
one core, Zen 5): `gemm_f32` 49 → 25 µs and 124 → 64 µs, `gemm_i16` (int16 pairs) 62 → 32 µs
with 16 lanes instead of 8.
"""

from __future__ import annotations

import llvmlite.ir as ir
from llvmlite import binding as llb
from numba import types
from numba.core import cgutils
from numba.core import config as numba_config
from numba.extending import intrinsic

from akida_edge.engine.kernels_ir import act_store_ir, arrays, count_total_ir
from akida_edge.numba_config import kernel

ROWS = 6  # rows of a full register block
COLS = 16  # columns of a narrow register block (two 8-lane float32 vectors)


def _host_lanes() -> int:
    """Lanes of the wide register blocks: 16 where numba compiles for this host and the host has
    AVX-512 (F and BW: 32 registers of 16 float32 or int32 lanes), else 8 (AVX2's 16 registers)."""
    if numba_config.CPU_NAME not in (None, "host"):
        return 8
    features = llb.get_host_cpu_features()
    return 16 if features.get("avx512f", False) and features.get("avx512bw", False) else 8


LANES = _host_lanes()  # decided at import; numba's cache is per CPU


def _sums(context, builder, arr_a, arr_b, row0, col0, rows, lanes):
    """IR of the K loop: the 2·rows sums of `lanes` lanes a[row0 + r, :] @ b[:, col0 + lanes·j :
    + lanes], kept in registers (allocas that LLVM promotes); returns their final values [r][j]."""
    k_len = cgutils.unpack_tuple(builder, arr_a.shape, 2)[1]
    f_len = cgutils.unpack_tuple(builder, arr_b.shape, 2)[1]
    vec = ir.VectorType(ir.FloatType(), lanes)
    vptr = vec.as_pointer()
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                         f"llvm.fma.v{lanes}f32")
    zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
    undef = ir.Constant(vec, ir.Undefined)
    i32_0 = ir.Constant(ir.IntType(32), 0)
    accs = [[cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(2)]
            for _ in range(rows)]
    row_off = [builder.mul(builder.add(row0, ir.Constant(row0.type, r)), k_len) for r in range(rows)]
    with cgutils.for_range(builder, k_len) as loop:
        k = loop.index
        boff = builder.add(builder.mul(k, f_len), col0)
        bp = builder.gep(arr_b.data, [boff])
        b0 = builder.load(builder.bitcast(bp, vptr), align=4)
        b1 = builder.load(builder.bitcast(builder.gep(bp, [ir.Constant(boff.type, lanes)]), vptr), align=4)
        for r in range(rows):
            av = builder.load(builder.gep(arr_a.data, [builder.add(row_off[r], k)]))
            bc = builder.shuffle_vector(builder.insert_element(undef, av, i32_0), undef, zero_mask)
            for j, bv in enumerate((b0, b1)):
                builder.store(builder.call(fma, [bc, bv, builder.load(accs[r][j])]), accs[r][j])
    return [[builder.load(acc) for acc in row] for row in accs]


def _cols(builder, arr_b, signature):
    """F, the output columns: b's second dimension ((K, F) float32, or (K/2, F, 2) int16 pairs)."""
    return cgutils.unpack_tuple(builder, arr_b.shape, signature.args[1].ndim)[1]


def _block(rows: int, sums_ir=_sums, lanes: int = 8):
    """The codegen of out[r0:r0+rows, f0:f0+2·lanes] = a[r0:r0+rows, :] @ b[:, f0:f0+2·lanes]
    (args a, b, out, r0, f0) with the sums kept in 2·rows registers over the whole K loop (rows ≤
    6: at most 12 sums, two b vectors and one broadcast fit AVX2's 16 registers; AVX-512 has 32).
    `sums_ir` builds the K loop (`_sums`, or the int16 pairs of `kernels_gemm_i16`) and returns
    the sums as float32 vectors of `lanes` lanes (8, or 16 on AVX-512: `LANES`)."""

    def codegen(context, builder, signature, args):
        arr_a, arr_b, arr_o = arrays(context, builder, signature, args, 3)
        row0, col0 = args[3], args[4]
        sums = sums_ir(context, builder, arr_a, arr_b, row0, col0, rows, lanes)
        f_len = _cols(builder, arr_b, signature)
        vptr = ir.VectorType(ir.FloatType(), lanes).as_pointer()
        for r in range(rows):
            ooff = builder.add(builder.mul(builder.add(row0, ir.Constant(row0.type, r)), f_len), col0)
            op = builder.gep(arr_o.data, [ooff])
            for j in range(2):
                dst = builder.bitcast(builder.gep(op, [ir.Constant(ooff.type, lanes * j)]), vptr)
                builder.store(sums[r][j], dst, align=4)
        return context.get_dummy_value()

    return codegen


def _block_act(rows: int, sums_ir=_sums, lanes: int = 8):
    """As `_block` (args a, b, q, out_u8, r0, f0), but the sums never leave the registers: they go
    through the float32 activation (`output_stage.act_f32`, the same float32 operations in the same
    order, so the same exact outputs) a vector at a time into out_u8[r0:r0+rows, f0:f0+2·lanes];
    returns the block's non-zero outputs.

    q (3, F) float32 holds per output channel 16·T′, 1/s16 and amax·s16 (`act_params_f32`)."""

    def codegen(context, builder, signature, args):
        arr_a, arr_b, arr_q, arr_o = arrays(context, builder, signature, args, 4)
        row0, col0 = args[4], args[5]
        sums = sums_ir(context, builder, arr_a, arr_b, row0, col0, rows, lanes)
        f_len = _cols(builder, arr_b, signature)
        i64 = row0.type
        vec = ir.VectorType(ir.FloatType(), lanes)
        vptr = vec.as_pointer()
        ivec = ir.VectorType(ir.IntType(32), 8)
        bvec = ir.VectorType(ir.IntType(8), lanes)

        def qrow(i, j):  # q[i, col0 + lanes·j : +lanes]
            off = builder.add(builder.mul(ir.Constant(i64, i), f_len), col0)
            off = builder.add(off, ir.Constant(i64, lanes * j))
            return builder.load(builder.bitcast(builder.gep(arr_q.data, [off]), vptr), align=4)

        thr16 = [qrow(0, j) for j in range(2)]
        inv = [qrow(1, j) for j in range(2)]
        cap = [qrow(2, j) for j in range(2)]
        count = ir.Constant(ivec, None)
        for r in range(rows):
            ooff = builder.add(builder.mul(builder.add(row0, ir.Constant(i64, r)), f_len), col0)
            op = builder.gep(arr_o.data, [ooff])
            for j in range(2):
                dst = builder.bitcast(builder.gep(op, [ir.Constant(i64, lanes * j)]), bvec.as_pointer())
                count = act_store_ir(builder, sums[r][j], thr16[j], inv[j], cap[j], dst, count)
        return count_total_ir(builder, count, i64)

    return codegen


def _switch_rows(builder, rows, emit):
    """IR of a switch over the run-time row count `rows` (1..ROWS): case n runs `emit(n)` (the IR
    of an n-row register block, returning an i64 or None); any other count runs nothing. Returns
    the taken case's value (0 otherwise) when `emit` returns values. A constant `rows` (the full
    blocks) folds to its one case, so the machine code is the n-row block's alone."""
    end = builder.append_basic_block("rows.end")
    switch = builder.switch(rows, end)
    incoming = []
    for n in range(1, ROWS + 1):
        case = builder.append_basic_block(f"rows.{n}")
        switch.add_case(ir.Constant(rows.type, n), case)
        with builder.goto_block(case):
            value = emit(n)
            incoming.append((value, builder.block))
            builder.branch(end)
    builder.position_at_end(end)
    if incoming[0][0] is None:
        return None
    phi = builder.phi(incoming[0][0].type)
    phi.add_incoming(ir.Constant(phi.type, 0), switch.parent)
    for value, block in incoming:
        phi.add_incoming(value, block)
    return phi


def blocks(sums_ir=_sums, lanes: int = 8):
    """An intrinsic block(a, b, out, r0, f0, rows): `_block(rows, sums_ir, lanes)` for a run-time
    row count 1 ≤ rows ≤ ROWS (the switch of `_switch_rows`), so one call serves the full blocks
    and the remainder rows of every product; 2·lanes columns."""
    codegens = {n: _block(n, sums_ir, lanes) for n in range(1, ROWS + 1)}

    def codegen(context, builder, signature, args):
        def emit(n):
            codegens[n](context, builder, signature, args[:5])

        _switch_rows(builder, args[5], emit)
        return context.get_dummy_value()

    @intrinsic
    def block(typingctx, a, b, out, r0, f0, rows):
        return types.void(a, b, out, r0, f0, rows), codegen

    return block


def blocks_act(sums_ir=_sums, lanes: int = 8):
    """An intrinsic block(a, b, q, out_u8, r0, f0, rows) -> int64: `_block_act(rows, sums_ir,
    lanes)` for a run-time row count 1 ≤ rows ≤ ROWS (as `blocks`); returns the block's non-zero
    outputs."""
    codegens = {n: _block_act(n, sums_ir, lanes) for n in range(1, ROWS + 1)}

    def codegen(context, builder, signature, args):
        return _switch_rows(builder, args[6], lambda n: codegens[n](context, builder, signature, args[:6]))

    @intrinsic
    def block(typingctx, a, b, q, out_u8, r0, f0, rows):
        return types.int64(a, b, q, out_u8, r0, f0, rows), codegen

    return block


@kernel(inline="always")
def product_blocks(a, b, out, f_blk, wide, narrow, wide_cols):
    """out[:, :f_blk] = a @ b[:, :f_blk] (f_blk a multiple of COLS) by register blocks: `wide` (a
    `blocks` intrinsic of `wide_cols` columns) then `narrow` (COLS columns) on what the wide ones
    leave, on every 6-row band, then once on the last p mod 6 rows (b, a few KB, stays in L1
    across the bands). On a host without AVX-512 both are the 8-lane blocks (`wide_cols` = COLS)."""
    p_len = a.shape[0]
    p_blk = p_len - p_len % ROWS
    rest = min(p_len - p_blk, ROWS - 1)  # < ROWS: the switch's full-block case is dead there
    f_wide = f_blk - f_blk % wide_cols
    for r0 in range(0, p_blk, ROWS):
        for f0 in range(0, f_wide, wide_cols):
            wide(a, b, out, r0, f0, ROWS)
        for f0 in range(f_wide, f_blk, COLS):
            narrow(a, b, out, r0, f0, ROWS)
    # the last rows: a smaller register block (a plain loop is ~10x slower)
    for f0 in range(0, f_wide, wide_cols):
        wide(a, b, out, p_blk, f0, rest)
    for f0 in range(f_wide, f_blk, COLS):
        narrow(a, b, out, p_blk, f0, rest)


@kernel(inline="always")
def product_blocks_act(a, b, q, out_u8, wide, narrow, wide_cols):
    """As `product_blocks` for F a multiple of 16 with `wide`, `narrow` `blocks_act` intrinsics
    (the potentials activated in registers); returns the non-zero outputs."""
    p_len = a.shape[0]
    f_len = out_u8.shape[1]
    p_blk = p_len - p_len % ROWS
    rest = min(p_len - p_blk, ROWS - 1)
    f_wide = f_len - f_len % wide_cols
    events = 0
    for r0 in range(0, p_blk, ROWS):
        for f0 in range(0, f_wide, wide_cols):
            events += wide(a, b, q, out_u8, r0, f0, ROWS)
        for f0 in range(f_wide, f_len, COLS):
            events += narrow(a, b, q, out_u8, r0, f0, ROWS)
    for f0 in range(0, f_wide, wide_cols):
        events += wide(a, b, q, out_u8, p_blk, f0, rest)
    for f0 in range(f_wide, f_len, COLS):
        events += narrow(a, b, q, out_u8, p_blk, f0, rest)
    return events


_blocks_f32, _blocks_act_f32 = blocks(), blocks_act()
_wide_f32, _wide_act_f32 = (blocks(lanes=LANES), blocks_act(lanes=LANES)) if LANES > 8 else (
    _blocks_f32, _blocks_act_f32)


@kernel("void(float32[:, ::1], float32[:, ::1], float32[:, ::1])")
def gemm_f32(a, b, out):
    """out (P, F) = a (P, K) @ b (K, F), float32 integers with partial sums below 2^24: exact."""
    p_len, k_len = a.shape
    f_len = b.shape[1]
    f_blk = f_len - f_len % COLS
    product_blocks(a, b, out, f_blk, _wide_f32, _blocks_f32, 2 * LANES)
    if f_blk == f_len:
        return
    for r in range(p_len):  # columns outside whole blocks
        orow = out[r]
        arow = a[r]
        for j in range(f_blk, f_len):
            orow[j] = 0.0
        for k in range(k_len):
            av = arow[k]
            if av == 0.0:
                continue
            brow = b[k]
            for j in range(f_blk, f_len):
                orow[j] += av * brow[j]


@kernel("int64(float32[:, ::1], float32[:, ::1], float32[:, ::1], uint8[:, ::1])")
def gemm_act_f32(a, b, q, out_u8):
    """out_u8 (P, F) = act(a @ b) for F a multiple of 16 (`_block_act`: the potentials stay in
    registers); returns the non-zero outputs. q is `output_stage.act_params_f32` (3, F)."""
    return product_blocks_act(a, b, q, out_u8, _wide_act_f32, _blocks_act_f32, 2 * LANES)
