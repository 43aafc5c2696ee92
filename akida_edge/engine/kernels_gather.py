"""Output-stationary event path of a convolution: per pair of output rows, windows of sums in
registers slid along the input columns.

`conv_gather_kernel` serves the float32-exact (`kernels.f32_ok`) stride-1 convolutions without
pooling (`MODE_ACT`), with zero padding, a multiple of 16 filters, at most three kernel rows and
three columns (`gather_ok`); every other case keeps the scatter of `kernels_conv.conv_layer_kernel`.
Per sample, the events are first compacted column by column (positions in column-major order,
one int64 each: the event's offset in the weights · 256 + its value; a byte mask per block of
channels, then a fixed step per event or four channels per step, `kernels_compact.compact_row`),
so that the events of one input column in the kernel rows of two output rows are ONE contiguous
run of the list. Then, per pair of output rows (oy, oy + 1; the last alone where OH is odd; every
row alone in a sample with `PAIR_BELOW` events per position or more) and block of B = 32 (or 16)
filters, the input columns are walked left to right with, per output row, the sums of the kw
outputs the column reaches kept in registers (an LLVM intrinsic, `_window_row_act`: a numba loop
cannot keep array sums in registers):

    for each input column ix (and the padding columns): for each event (iy, c, v) of the run and
        each of the two rows whose field holds iy (ky = iy − oy + pad_y, resp. ky − 1):
        R[k] += v · w[ky, kw − 1 − k, c, f0:f0+B]   for k < kw   (R[k]: output ix + pad_x − kw + 1 + k)
    then each row's R[0] is complete: act(R[0]) goes straight into the output bytes
    (`kernels_ir.act_bytes_ir`: `output_stage.act_f32`'s outputs, its clamps done as integers on
    the packed bytes), and the windows move: R[k] ← R[k + 1], R[kw − 1] ← 0.

An event outside one row's field (the first row of the band for oy + 1, the last for oy) adds 0
through weights at offset 0, selected without a branch. Each event is decoded once per pair of
output rows and feeds its kw outputs per row from one weight base; one loop per input column and
pair of rows, whose count depends on the data: its exit is the one branch the predictor cannot
learn. Measured, the bench's conv stack, one core, per 16 samples, interleaved inputs (CPU
time; ±10 % on this machine): the row-walking gather before it (every event decoded once per
output, three runs walked per output) 0.205 ms at 10 % input, 0.169 at 2.7 %; one output row per
pass 0.162 / 0.129; two rows 0.13-0.15 / 0.09-0.11; and the whole stack at 10 % input between
runs at 100 % (`bench engine`'s `stack_cpu_ms_10pct`) 0.505 → 0.474 → 0.42 ms. Three rows per
pass measured no better (more of the products are the zero ones); at 29 % input (the 100 % side's
layers 2-3) single rows are faster than pairs (0.60 against 0.68 ms per layer in the stack),
hence the switch per sample.

No potentials array is written, cleared or read back, and no per-event combined row is built
(the scatter's 9·F stores per event). The products and sums are integers below 2^23
(`f32_ok`), so the fused multiply-adds round nothing and any order gives the scatter's integers:
the outputs are the same bit for bit. An output whose field holds no event sums to 0 and gets
act(0) (≠ 0 where a threshold is negative); a pair of output rows whose input rows hold none
copies the act(0) row, and an input known to be silent (its event count is known to the
program) skips the scan: `gather_silent_kernel`.

Activity counts as the scatter's: input events, synaptic ops (events × taps reaching an output ×
F), output events.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from akida_edge.engine.kernels_compact import PACK4, compact_row
from akida_edge.engine.kernels_gemm import LANES
from akida_edge.engine.kernels_ir import act_bytes_ir, act_top_ir, arrays
from akida_edge.engine.kernels_taps import fans, taps
from akida_edge.engine.output_stage import MODE_ACT, act_f32, act_params_f32
from akida_edge.numba_config import kernel

FIELD_ROWS = 3  # most kernel rows of a gathered convolution
FIELD_COLS = 3  # most kernel columns: 2·kw sums of B filters in registers
OUT_ROWS = 2  # most output rows per pass over the input columns (the kernel pairs them)
# Below this many events per input position a sample's output rows run in pairs: a pair saves one
# loop exit (a misprediction, ≈ 15-20 cycles) per input column and costs the zero products of the
# events outside one row's field (a quarter of 12 per event for 3 × 3 kernels, two per cycle):
# break-even near 2.8 events per position (16-32 channels at 9-18 %). Denser samples run row by
# row (e.g. the 29 % layers of the bench's 100 % side).
PAIR_BELOW = 2.8


@kernel(inline="always")
def gather_ok(f32, mode, sy, sx, pad_value, filters, kh, kw):
    """Whether a convolution runs the gather path instead of the scatter (a function of the layer
    only: measured faster on the bench's conv stack at every input density, 0.005-100 %, event
    path forced): float32-exact sums, `MODE_ACT`, stride 1, zero padding, F a multiple of 16, at
    most three kernel rows and three columns."""
    return (f32 and mode == MODE_ACT and sy == 1 and sx == 1 and pad_value == 0 and filters % 16 == 0
            and kh <= FIELD_ROWS and kw <= FIELD_COLS)


def block_filters(kw: int, lanes: int) -> int:
    """Filters per pass where F is a multiple of 32: 32 while the `OUT_ROWS`·kw sums leave 8 of the
    vector registers free (AVX-512: 32 registers of 16 lanes; AVX2: 16 of 8), else 16."""
    registers = 32 if lanes == 16 else 16
    return 32 if OUT_ROWS * kw * (32 // lanes) <= registers - 8 else 16


def _window_row_act(block: int, kw: int, lanes: int, nrows: int):
    """An intrinsic: `nrows` (1 or 2) output rows oy, oy + 1, filters [f0, f0 + block): walks the
    input columns ix = s − pad_x for s < ow + kw − 1 with, per row, the sums of the kw outputs
    ix + pad_x − kw + 1 + k (k < kw) in registers of `lanes` float32 lanes; per column the events e
    in [ps[ix·h + lo], ps[ix·h + hi]) (input rows lo ≤ iy < hi, the rows' fields together: one
    run, column-major; none outside 0 ≤ ix < wd), ev[e] = off_e·256 + v_e. With o = off_e +
    base_row − s·cf = ky·kw·cf + c·F for row oy (kw·cf less for oy + 1), an event adds
    v_e · w[o + (kw − 1 − k)·cf + f0 : +block] to sum k of each row whose kernel rows it is in
    (0 ≤ o < fieldw = kh·kw·cf, else value 0 at o = 0: no branch); one load and convert per event.
    Then, once s ≥ kw − 1, output s − kw + 1 of each row gets act(sum 0) in out[o0 + ox·F + f0 :
    +block] (o0 + OW·F for the second row) and the windows move. Returns the non-zero outputs. q (3, F)
    is `act_params_f32`."""
    nv = block // lanes

    def codegen(context, builder, signature, args):
        ev, ps, arr_w, arr_q, arr_o = arrays(context, builder, signature, args, 5)
        base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw = args[5:16]
        i64 = base_row.type
        f_len = cgutils.unpack_tuple(builder, arr_q.shape, 2)[1]
        kwcf = builder.mul(cf, ir.Constant(i64, kw))  # one kernel row of weights
        o0b = builder.add(o0, builder.mul(ow, f_len))  # the second row's first output byte
        vec = ir.VectorType(ir.FloatType(), lanes)
        vptr = vec.as_pointer()
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                             f"llvm.fma.v{lanes}f32")
        zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        undef = ir.Constant(vec, ir.Undefined)
        i32_0 = ir.Constant(ir.IntType(32), 0)
        zero = ir.Constant(i64, 0)
        vzero = ir.Constant(vec, None)

        def const(value):
            return ir.Constant(i64, value)

        def at(arr, idx):
            return builder.load(builder.gep(arr.data, [idx]))

        def qrow(r, j):  # q[r, f0 + lanes·j : +lanes]
            off = builder.add(builder.mul(const(r), f_len), builder.add(f0, const(lanes * j)))
            return builder.load(builder.bitcast(builder.gep(arr_q.data, [off]), vptr), align=4)

        qv = [[qrow(r, j) for j in range(nv)] for r in range(3)]
        top = act_top_ir(builder, qv[1], qv[2])
        rows = [[[cgutils.alloca_once_value(builder, vzero) for _ in range(nv)] for _ in range(kw)]
                for _ in range(nrows)]  # rows[r][k][j]
        for sums in rows:
            for window in sums:
                for acc in window:
                    builder.store(vzero, acc)
        count_acc = cgutils.alloca_once_value(builder, zero)
        last = const(kw - 1)
        with cgutils.for_range(builder, builder.add(ow, last)) as column_loop:
            s = column_loop.index
            ix = builder.sub(s, pad_x)
            inside = builder.and_(builder.icmp_signed(">=", ix, zero), builder.icmp_signed("<", ix, wd))
            col = builder.mul(builder.select(inside, ix, zero), hgt)
            first = at(ps, builder.add(col, lo))
            end = builder.select(inside, at(ps, builder.add(col, hi)), first)
            base = builder.sub(base_row, builder.mul(s, cf))
            with cgutils.for_range_slice(builder, first, end, const(1)) as (e, _):
                packed = at(ev, e)
                o_a = builder.add(builder.ashr(packed, const(8)), base)
                value = builder.and_(packed, const(255))
                for r, sums in enumerate(rows):
                    o_r = builder.sub(o_a, builder.mul(kwcf, const(r))) if r else o_a
                    if nrows > 1:  # an event in the other row's field only: value 0, weights at 0
                        ok = builder.icmp_unsigned("<", o_r, fieldw)
                        v_r, o_r = builder.select(ok, value, zero), builder.select(ok, o_r, zero)
                    else:
                        v_r = value
                    v = builder.sitofp(v_r, ir.FloatType())
                    bc = builder.shuffle_vector(builder.insert_element(undef, v, i32_0), undef, zero_mask)
                    wp = builder.gep(arr_w.data, [builder.add(o_r, f0)])
                    for k in range(kw):
                        wk = builder.gep(wp, [builder.mul(cf, const(kw - 1 - k))]) if k < kw - 1 else wp
                        for j, acc in enumerate(sums[k]):
                            wj = builder.bitcast(builder.gep(wk, [const(lanes * j)]), vptr)
                            wv = builder.load(wj, align=4)
                            builder.store(builder.call(fma, [bc, wv, builder.load(acc)]), acc)
            with builder.if_then(builder.icmp_signed(">=", s, last), likely=True):
                ox = builder.sub(s, last)
                for r, sums in enumerate(rows):
                    done = [builder.load(acc) for acc in sums[0]]
                    at_o = builder.add(o0b if r else o0, builder.add(builder.mul(ox, f_len), f0))
                    op = builder.gep(arr_o.data, [at_o])
                    nonzero = act_bytes_ir(builder, done, qv[0], qv[1], top, op, i64)
                    builder.store(builder.add(builder.load(count_acc), nonzero), count_acc)
            for sums in rows:  # the windows move one column
                for k in range(kw):
                    for j in range(nv):
                        builder.store(builder.load(sums[k + 1][j]) if k < kw - 1 else vzero, sums[k][j])
        return builder.load(count_acc)

    @intrinsic
    def window_row(typingctx, ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw):
        sig = types.int64(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
        return sig, codegen

    return window_row


_BLOCKS = tuple(block_filters(max(kw, 1), LANES) for kw in range(FIELD_COLS + 1))  # by kw (a tuple:
# numba indexes it)
_w32 = [[_window_row_act(_BLOCKS[kw], kw, LANES, r) for kw in range(1, FIELD_COLS + 1)] for r in (1, 2)]
_w16 = [[_window_row_act(16, kw, LANES, r) for kw in range(1, FIELD_COLS + 1)] for r in (1, 2)]
(_a1, _a2, _a3), (_b1, _b2, _b3) = _w32
(_c1, _c2, _c3), (_d1, _d2, _d3) = _w16


@kernel(inline="always")
def _window_rows(wide, two, ev, ps, w, q, out, base_row, f0, ow, wd, kw, pad_x, cf, o0, hgt, lo, hi, fieldw):
    """The window pass of one or (`two`) two output rows for kw (1-3), `wide`: the `_BLOCKS[kw]`
    filters (F a multiple of 32), else 16 (an intrinsic per case: the sums' registers are fixed in
    the code)."""
    if wide and two:
        if kw == 3:
            return _b3(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
        if kw == 1:
            return _b1(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
        return _b2(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
    if wide:
        if kw == 3:
            return _a3(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
        if kw == 1:
            return _a1(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
        return _a2(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
    if two:
        if kw == 3:
            return _d3(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
        if kw == 1:
            return _d1(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
        return _d2(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
    if kw == 3:
        return _c3(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
    if kw == 1:
        return _c1(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)
    return _c2(ev, ps, w, q, out, base_row, f0, ow, wd, pad_x, cf, o0, hgt, lo, hi, fieldw)


@kernel(inline="always")
def _act0_row(q32, ow):
    """act(0) of every channel (q32: `act_params_f32`) as one output row of ow positions, in 8-byte
    words (F is a multiple of 16), and its non-zero outputs per position."""
    f = q32.shape[1]
    line0 = np.empty(ow * f, np.uint8)
    nz0 = 0
    for k in range(f):
        y0 = act_f32(np.float32(0.0), q32[0, k], q32[1, k], q32[2, k])
        nz0 += y0 > np.float32(0.0)
        line0[k] = np.uint8(y0)
    line0w = line0.view(np.uint64)
    fw = f // 8
    for t in range(fw, ow * fw):
        line0w[t] = line0w[t - fw]
    return line0w, nz0


@kernel()
def gather_silent_kernel(thr, act_step, amax, out_u8, counts):
    """`conv_gather_kernel` on an input known to hold no event (the caller counted them): every
    potential is 0 (zero padding), so every output is act(0), with no input scan. Adds the same
    activity: no input event, no synaptic op, act(0)'s non-zero outputs."""
    n_s, oh, ow, f = out_u8.shape
    line0w, nz0 = _act0_row(act_params_f32(thr, act_step, amax), ow)
    out_w = out_u8.reshape(out_u8.size).view(np.uint64)  # one view: none per row
    words = line0w.shape[0]
    for r in range(n_s * oh):
        for t in range(words):
            out_w[r * words + t] = line0w[t]
    counts[2] += nz0 * ow * oh * n_s


@kernel()
def conv_gather_kernel(x, w, kh, kw, pad_y, pad_x, thr, act_step, amax, out_u8, counts):
    """Stride-1 `MODE_ACT` convolution of x (N, H, W, C) uint8 into out_u8 (N, OH, OW, F) uint8,
    F a multiple of 16, from the float32 dense-form weights w (kh·kw·C, F) (`kernels.prepare_conv`),
    zero padding (pad_y, pad_x) before, kh ≤ 3 and kw ≤ 3 (`gather_ok`); adds the activity to
    counts (see the module docstring).

    An event at input (iy, ix), channel c is listed as off·256 + value with off = iy·kw·C·F +
    ix·C·F + c·F, position (iy, ix) at index ix·H + iy of the position starts (column-major): its
    weights for the output (oy, ox) are then w[off − (oy − pad_y)·kw·C·F − (ox − pad_x)·C·F]
    (kernel row iy − oy + pad_y, column ix − ox + pad_x), one base per input column."""
    if kh > FIELD_ROWS or kw > FIELD_COLS or out_u8.shape[3] % 16 != 0:  # `gather_ok`'s bounds
        raise ValueError("conv_gather_kernel: kernels of at most 3 x 3 and a multiple of 16 filters")
    n_s, h, wd, c_in = x.shape
    oh, ow, f = out_u8.shape[1], out_u8.shape[2], out_u8.shape[3]
    wflat = w.reshape(w.size)
    fy = fans(taps(h, pad_y, kh, 1, oh))
    fx = fans(taps(wd, pad_x, kw, 1, ow))
    q32 = act_params_f32(thr, act_step, amax)
    npos = h * wd
    pstart = np.zeros(npos + 1, np.int64)  # position ix·H + iy's events: [pstart[p], pstart[p + 1])
    ev = np.empty(npos * c_in + 3, np.int64)  # the events, column by column (3 spare entries for
    # `compact4`)
    row_ev = np.zeros(h, np.int64)  # events per input row
    cf = c_in * f
    wide = f % 32 == 0
    block = _BLOCKS[kw] if wide else 16
    line0w, nz0 = _act0_row(q32, ow)
    words = line0w.shape[0]
    out_flat = out_u8.reshape(out_u8.size)  # one view for the call: none per row (see `_window_row_act`)
    out_w = out_flat.view(np.uint64)
    width = 32 if c_in % 32 == 0 else (16 if c_in % 16 == 0 else 8)  # channels per byte mask
    fstep = f * 256
    cstep = wd * c_in  # a column's positions apart in x
    for n in range(n_s):
        xflat = x[n].reshape(npos * c_in)
        e = 0
        for ix in range(wd):
            p0 = ix * h
            base = ix * cf * 256
            if c_in % 8 != 0:  # bytes: a byte OR first (most positions are silent at low density)
                for iy in range(h):
                    pstart[p0 + iy] = e
                    x0 = iy * cstep + ix * c_in
                    seen = np.uint8(0)
                    for c in range(c_in):
                        seen = np.uint8(seen | xflat[x0 + c])
                    if seen == 0:
                        continue
                    for c in range(c_in):  # compaction without branches
                        v = xflat[x0 + c]
                        ev[e] = base + iy * kw * cf * 256 + c * fstep + v
                        e += v != 0
            elif width == 32:
                e = compact_row(32, xflat, ev, PACK4, pstart, p0, h, c_in, e, base, kw * cf * 256, fstep,
                                ix * c_in, cstep)
            elif width == 16:
                e = compact_row(16, xflat, ev, PACK4, pstart, p0, h, c_in, e, base, kw * cf * 256, fstep,
                                ix * c_in, cstep)
            else:
                e = compact_row(8, xflat, ev, PACK4, pstart, p0, h, c_in, e, base, kw * cf * 256, fstep,
                                ix * c_in, cstep)
        pstart[npos] = e
        ops = 0
        row_ev[:] = 0
        for ix in range(wd):  # synaptic ops: each position's events × the outputs they reach
            col_ops = 0
            for iy in range(h):
                k = pstart[ix * h + iy + 1] - pstart[ix * h + iy]
                col_ops += k * fy[iy]
                row_ev[iy] += k
            ops += col_ops * fx[ix]
        counts[0] += e
        out_events = 0
        pairs = e < PAIR_BELOW * npos  # sparse: rows in pairs
        oy = 0
        while oy < oh:
            two = pairs and oy + 1 < oh
            lo = max(oy - pad_y, 0)
            hi = min(oy + (1 if two else 0) - pad_y + kh, h)  # the input rows of the fields
            reach = False
            for iy in range(lo, hi):
                reach = reach or row_ev[iy] > 0
            o0 = ((n * oh + oy) * ow) * f  # the row's first output byte in out_flat
            if not reach:  # no event in the fields of the rows: act(0) everywhere
                for r in range(2 if two else 1):
                    w0 = o0 // 8 + r * words
                    for t in range(words):
                        out_w[w0 + t] = line0w[t]
                out_events += nz0 * ow * (2 if two else 1)
            else:
                base_row = pad_x * cf - (oy - pad_y) * kw * cf
                for f0 in range(0, f, block):
                    out_events += _window_rows(wide, two, ev, pstart, wflat, q32, out_flat, base_row, f0, ow,
                                               wd, kw, pad_x, cf, o0, h, lo, hi, kh * kw * cf)
            oy += 2 if two else 1
        counts[1] += ops * f
        counts[2] += out_events
