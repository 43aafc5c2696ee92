"""numba kernels that sort the DVS emulator's packed event keys by time and write the records.

The keys come from `_dvs_kernels.model_keys` (layout in that module's doc: t - t0 above bit
`t_shift`, the pixel index y·W + x, OFF polarity in bit 0) with the counts of their time digits.
`radix_pass` is one stable counting-sort pass over one digit (LSD: equal times keep the visit
order); `unpack` turns the sorted keys into `EVENT_DTYPE` records, in order. Called from
`dvs.py`, never from another kernel (so numba's per-file cache stays valid on edits).
"""

from __future__ import annotations

import numpy as np

from akida_edge.numba_config import kernel


@kernel()
def radix_pass(n, src, dst, starts, shift, mask):
    """One stable scatter of src[:n] into dst by the digit (key >> shift) & mask; `starts` holds
    each digit's first output slot (advanced in place)."""
    s = np.uint64(shift)
    m = np.uint64(mask)
    for j in range(n):
        key = src[j]
        d = (np.uint64(key) >> s) & m
        pos = starts[d]
        starts[d] = pos + 1
        dst[np.uint64(pos)] = key  # unsigned: no negative-index wrap-around


@kernel()
def unpack(n, keys, t_shift, width, t0, out):
    """Each of the first n keys (sorted) into its record of `out` (`EVENT_DTYPE`), in order.

    Written in sequence, record by record: about four times as fast as scattering the records
    themselves by their time digit (each store of a scatter lands on another cache line), so
    the sort moves the 4- or 8-byte keys and the 15-byte records are written once, in order.
    The row of pixel i is trunc((i + 0.5)·(1/W)), exact for any i < 2^32 and W < 2^16: the
    product's error, below 2^-19/W, is less than the 0.5/W between (i + 0.5)/W and an integer.
    """
    tsh = np.uint64(t_shift)
    pm = np.uint64((1 << (t_shift - 1)) - 1)
    inv_w = 1.0 / float(width)
    for j in range(n):
        key = np.uint64(keys[j])
        i = np.int64((key >> np.uint64(1)) & pm)
        y = np.int64((float(i) + 0.5) * inv_w)
        r = out[j]
        r.t = t0 + np.int64(key >> tsh)
        r.x = np.uint16(i - y * width)
        r.y = np.uint16(y)
        r.c = 0
        r.p = np.int8(-1) if key & np.uint64(1) else np.int8(1)
