"""Output-stationary event path of a convolution: per output, its field's events summed in registers.

`conv_gather_kernel` serves the float32-exact (`kernels.f32_ok`) stride-1 convolutions without
pooling (`MODE_ACT`), with zero padding, a multiple of 16 filters and at most three kernel rows
(`gather_ok`); every other case keeps the scatter of `kernels_conv.conv_layer_kernel`. Per
sample, the events are first compacted position by position (one int64 each: the event's offset
in the weights · 256 + its value; a byte mask per block of channels, then a fixed step per event or
four channels per step, `kernels_compact.compact_row`), then every
output sums the events of its field,

    p[oy, ox, f0:f0+B] = Σ_(ky, kx) Σ_(events (c, v) at (oy − pad_y + ky, ox − pad_x + kx))
                         v · w[ky, kx, c, f0:f0+B],

with the B = 32 (or 16) sums kept in 8-lane registers over the whole field (an LLVM intrinsic,
as `kernels_gemm`'s register blocks: a numba loop cannot keep array sums in registers; the
field's events in one kernel row are one contiguous run of the list, and the runs of the rows
are walked as one loop with one weight base, see `_gather_row_act`: one call per output row),
and goes straight through the float32 activation into the output bytes (`kernels_ir.act_bytes_ir`:
`output_stage.act_f32`'s outputs, its clamps done as integers on the packed bytes).
No potentials array is written, cleared or read back, and no per-event combined row is built
(the scatter's 9·F stores per event). The products and sums are integers below 2^23
(`f32_ok`), so the fused multiply-adds (`llvm.fma.v8f32`) round nothing and any order gives the
scatter's integers: the outputs are the same bit for bit. An output whose field holds no event
sums to 0 and gets act(0) (≠ 0 where a threshold is negative); an output row whose input rows hold
none copies the act(0) row, and an input known to be silent (its event count is known to the
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
from akida_edge.engine.kernels_ir import act_bytes_ir, act_top_ir, arrays
from akida_edge.engine.kernels_taps import fans, taps
from akida_edge.engine.output_stage import MODE_ACT, act_f32, act_params_f32
from akida_edge.numba_config import kernel

FIELD_ROWS = 3  # most kernel rows of a gathered convolution (one run of events each)


@kernel(inline="always")
def gather_ok(f32, mode, sy, sx, pad_value, filters, kh):
    """Whether a convolution runs the gather path instead of the scatter (a function of the layer
    only: measured faster on the bench's conv stack at every input density, 0.005-100 %, event
    path forced): float32-exact sums, `MODE_ACT`, stride 1, zero padding, F a multiple of 16 and
    at most three kernel rows."""
    return (f32 and mode == MODE_ACT and sy == 1 and sx == 1 and pad_value == 0 and filters % 16 == 0
            and kh <= FIELD_ROWS)


def _gather_row_act(nv: int, unroll: int = 2):
    """An intrinsic: one output row, filters [f0, f0 + 8·nv): for every ox < ow,
    out[o0 + ox·F + f0 : +8·nv] = act(Σ over the rows r < 3 of the field and the events e in
    [ps[rp[r] + xl], ps[rp[r] + xr]) of v_e · w[base − ox·cf + off_e + f0 : +8·nv]), with
    xl = max(ox − pad_x, 0), xr = min(ox − pad_x + kw, wd) the field's input columns and
    ev[e] = off_e·256 + v_e (one load per event); returns the row's non-zero outputs. q (3, F) is
    `act_params_f32`. An empty field sums to 0: its output is act(0), as the reference's.

    The event offsets are such that one base serves the three runs (see `conv_gather_kernel`), and
    the three runs are walked as ONE loop over their concatenation (the event index picked by
    selects, not branches): a loop per run exits at a data-dependent count each time, and those
    mispredictions cost more than the arithmetic (measured 2.4× on the same events with fixed
    against random run lengths). `unroll` events per iteration, into as many sets of nv 8-lane
    registers (independent chains of fused multiply-adds), all but the first replaced past the end
    by an idle event (value 0, weights at f0) with an integer select, not a branch (a float select
    of the value became one, mispredicted on every odd count: at 4-10 % 7-13 % slower); the sets
    are added at the end (integers: exact in any order). Two measured faster than three or four.
    The activation's parameters are loaded once per row and the non-zero count kept in lanes until
    the row ends (per output: the run bounds, the walk, the activation). out is the whole output,
    flat, and o0 the row's first byte: no view per row (two atomic reference counts each)."""

    def codegen(context, builder, signature, args):
        ev, ps, rp, arr_w, arr_q, arr_o = arrays(context, builder, signature, args, 6)
        base_row, f0, ow, wd, kw, pad_x, cf, o0 = args[6:14]
        i64 = base_row.type
        f_len = cgutils.unpack_tuple(builder, arr_q.shape, 2)[1]
        vec = ir.VectorType(ir.FloatType(), 8)
        vptr = vec.as_pointer()
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                             "llvm.fma.v8f32")
        zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8)
        undef = ir.Constant(vec, ir.Undefined)
        i32_0 = ir.Constant(ir.IntType(32), 0)
        zero = ir.Constant(i64, 0)

        def at(arr, idx):
            return builder.load(builder.gep(arr.data, [idx]))

        def qrow(r, j):  # q[r, f0 + 8j : +8]
            col = builder.add(f0, ir.Constant(i64, 8 * j))
            off = builder.add(builder.mul(ir.Constant(i64, r), f_len), col)
            return builder.load(builder.bitcast(builder.gep(arr_q.data, [off]), vptr), align=4)

        rows = [at(rp, ir.Constant(i64, r)) for r in range(FIELD_ROWS)]
        qv = [[qrow(r, j) for j in range(nv)] for r in range(3)]
        top = act_top_ir(builder, qv[1], qv[2])
        sets = [[cgutils.alloca_once(builder, vec) for _ in range(nv)] for _ in range(unroll)]
        count_acc = cgutils.alloca_once_value(builder, zero)
        with cgutils.for_range(builder, ow) as row_loop:
            ox = row_loop.index
            left = builder.sub(ox, pad_x)
            xl = builder.select(builder.icmp_signed("<", left, zero), zero, left)
            right = builder.add(left, kw)
            xr = builder.select(builder.icmp_signed(">", right, wd), wd, right)
            xr = builder.select(builder.icmp_signed("<", xr, xl), xl, xr)
            starts, ends = [], []
            for r in range(FIELD_ROWS):
                starts.append(at(ps, builder.add(rows[r], xl)))
                ends.append(at(ps, builder.add(rows[r], xr)))
            base = builder.add(builder.sub(base_row, builder.mul(ox, cf)), f0)
            # run r covers t in [c_r, c_(r+1)) of the concatenation; its event is t + (start_r − c_r)
            cuts = [zero]
            for r in range(FIELD_ROWS):
                cuts.append(builder.add(cuts[-1], builder.sub(ends[r], starts[r])))
            total = cuts[-1]
            shifts = [builder.sub(starts[r], cuts[r]) for r in range(FIELD_ROWS)]
            idle = builder.shl(builder.sub(f0, base), ir.Constant(i64, 8))  # an event (f0 − base, 0)
            for accs in sets:
                for acc in accs:
                    builder.store(ir.Constant(vec, None), acc)
            with cgutils.for_range_slice(builder, zero, total, ir.Constant(i64, unroll)) as (t, _):
                for u, accs in enumerate(sets):
                    tt = builder.add(t, ir.Constant(i64, u))
                    shift = shifts[0]
                    for r in range(1, FIELD_ROWS):
                        shift = builder.select(builder.icmp_signed(">=", tt, cuts[r]), shifts[r], shift)
                    e = builder.add(tt, shift)  # at most the last run's end (within the list)
                    packed = builder.load(builder.gep(ev.data, [e]))
                    if u > 0:  # past the end: value 0, weights at f0 (an integer select: LLVM makes
                        # a float select past sitofp a branch, which mispredicts on odd counts)
                        packed = builder.select(builder.icmp_signed("<", tt, total), packed, idle)
                    v = builder.sitofp(builder.and_(packed, ir.Constant(i64, 255)), ir.FloatType())
                    off = builder.ashr(packed, ir.Constant(i64, 8))
                    bc = builder.shuffle_vector(builder.insert_element(undef, v, i32_0), undef, zero_mask)
                    wp = builder.gep(arr_w.data, [builder.add(off, base)])
                    for j, acc in enumerate(accs):
                        wj = builder.gep(wp, [ir.Constant(i64, 8 * j)])
                        wv = builder.load(builder.bitcast(wj, vptr), align=4)
                        builder.store(builder.call(fma, [bc, wv, builder.load(acc)]), acc)
            sums = []
            for j in range(nv):
                p = builder.load(sets[0][j])
                for accs in sets[1:]:
                    p = builder.fadd(p, builder.load(accs[j]))
                sums.append(p)
            op = builder.gep(arr_o.data, [builder.add(o0, builder.add(builder.mul(ox, f_len), f0))])
            nonzero = act_bytes_ir(builder, sums, qv[0], qv[1], top, op, i64)
            builder.store(builder.add(builder.load(count_acc), nonzero), count_acc)
        return builder.load(count_acc)

    @intrinsic
    def gather_row(typingctx, ev, ps, rp, w, q, out, base_row, f0, ow, wd, kw, pad_x, cf, o0):
        return types.int64(ev, ps, rp, w, q, out, base_row, f0, ow, wd, kw, pad_x, cf, o0), codegen

    return gather_row


_row32 = _gather_row_act(4)
_row16 = _gather_row_act(2)


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
    zero padding (pad_y, pad_x) before; adds the activity to counts (see the module docstring).

    An event at input (iy, ix), channel c is listed as off·256 + value with off = iy·kw·C·F +
    ix·C·F + c·F: its weights for the output (oy, ox) are then w[off − (oy − pad_y)·kw·C·F −
    (ox − pad_x)·C·F] (kernel row iy − oy + pad_y, column ix − ox + pad_x), one base for the
    whole field."""
    n_s, h, wd, c_in = x.shape
    oh, ow, f = out_u8.shape[1], out_u8.shape[2], out_u8.shape[3]
    wflat = w.reshape(w.size)
    fy = fans(taps(h, pad_y, kh, 1, oh))
    fx = fans(taps(wd, pad_x, kw, 1, ow))
    q32 = act_params_f32(thr, act_step, amax)
    npos = h * wd
    # a position's events: [pstart[p], pstart[p + 1]); past npos + 1, a row without events (all 0)
    pstart = np.zeros(npos + wd + 2, np.int64)
    empty = npos + 1
    ev = np.empty(npos * c_in + 3, np.int64)  # the events, position by position (see above; 3 spare
    # entries for `compact4`)
    row_ev = np.empty(h, np.int64)  # events per input row
    cf = c_in * f
    rowp = np.empty(FIELD_ROWS, np.int64)  # per kernel row: its input row's first position, or `empty`
    block = 32 if f % 32 == 0 else 16
    line0w, nz0 = _act0_row(q32, ow)
    words = line0w.shape[0]
    out_flat = out_u8.reshape(out_u8.size)  # one view for the call: none per row (see `_gather_row_act`)
    out_w = out_flat.view(np.uint64)
    width = 32 if c_in % 32 == 0 else (16 if c_in % 16 == 0 else 8)  # channels per byte mask
    fstep = f * 256
    for n in range(n_s):
        xflat = x[n].reshape(npos * c_in)
        e = 0
        for iy in range(h):
            p0 = iy * wd
            base = iy * kw * cf * 256
            if c_in % 8 != 0:  # bytes: a byte OR first (most positions are silent at low density)
                for ix in range(wd):
                    pstart[p0 + ix] = e
                    xp = x[n, iy, ix]
                    seen = np.uint8(0)
                    for c in range(c_in):
                        seen = np.uint8(seen | xp[c])
                    if seen == 0:
                        continue
                    for c in range(c_in):  # compaction without branches
                        ev[e] = base + ix * cf * 256 + c * fstep + xp[c]
                        e += xp[c] != 0
            elif width == 32:
                e = compact_row(32, xflat, ev, PACK4, pstart, p0, wd, c_in, e, base, cf * 256,
                                fstep)
            elif width == 16:
                e = compact_row(16, xflat, ev, PACK4, pstart, p0, wd, c_in, e, base, cf * 256,
                                fstep)
            else:
                e = compact_row(8, xflat, ev, PACK4, pstart, p0, wd, c_in, e, base, cf * 256,
                                fstep)
        pstart[npos] = e
        ops = 0
        for iy in range(h):  # synaptic ops: each position's events × the outputs they reach
            row_ops = 0
            for ix in range(wd):
                p = iy * wd + ix
                row_ops += (pstart[p + 1] - pstart[p]) * fx[ix]
            row_ev[iy] = pstart[(iy + 1) * wd] - pstart[iy * wd]
            ops += row_ops * fy[iy]
        counts[0] += e
        out_events = 0
        for oy in range(oh):
            reach = False
            for ky in range(FIELD_ROWS):
                iy = oy - pad_y + ky
                rowp[ky] = empty
                if ky < kh and 0 <= iy < h and row_ev[iy] > 0:
                    rowp[ky] = iy * wd
                    reach = True
            o0 = ((n * oh + oy) * ow) * f  # the row's first output byte in out_flat
            if not reach:  # no event in the field of the row: act(0) everywhere
                w0 = o0 // 8
                for t in range(words):
                    out_w[w0 + t] = line0w[t]
                out_events += nz0 * ow
                continue
            base_row = pad_x * cf - (oy - pad_y) * kw * cf
            for f0 in range(0, f, block):
                if block == 32:
                    out_events += _row32(ev, pstart, rowp, wflat, q32, out_flat, base_row, f0, ow, wd, kw,
                                         pad_x, cf, o0)
                else:
                    out_events += _row16(ev, pstart, rowp, wflat, q32, out_flat, base_row, f0, ow, wd, kw,
                                         pad_x, cf, o0)
        counts[1] += ops * f
        counts[2] += out_events
