"""The one event dtype of the project (DESIGN.md §2).

An event is one change at one place: `t` (µs, int64), `x`, `y` (pixel or band/axis position),
`c` (channel: colour, microphone band, accelerometer axis...), `p` (polarity, +1 ON / -1 OFF).
Rank-order coding adds `rank` (0 = first, strongest) and `value` (the n-bit input value the
event carries into an `InputData` layer); see `RANKED_EVENT_DTYPE`.
"""

from __future__ import annotations

import numpy as np

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("c", "<u2"), ("p", "i1")])
RANKED_EVENT_DTYPE = np.dtype(EVENT_DTYPE.descr + [("rank", "<u4"), ("value", "u1")])


def empty(n: int = 0, ranked: bool = False) -> np.ndarray:
    """An event array of length n (zeroed)."""
    return np.zeros(n, RANKED_EVENT_DTYPE if ranked else EVENT_DTYPE)
