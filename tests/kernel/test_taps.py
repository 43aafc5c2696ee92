"""The tap tables every convolution and depthwise kernel builds per call (`kernels_taps.taps`,
`fans`): against their definition, input index i feeds output u // s through tap t when
u = i + pad − t ≥ 0, u ≡ 0 (mod s) and u // s < n_out; the fan-out is the count of such taps.
Every stride, padding (including more than the kernel), kernel size and map size, small or
larger than the kernel."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine.kernels_taps import fans, taps

pytestmark = pytest.mark.kernel


@numba.njit(cache=False)
def _tables(n_in, pad, k, s, n_out):
    tab = taps(n_in, pad, k, s, n_out)
    return tab, fans(tab)


def _definition(n_in: int, pad: int, k: int, s: int, n_out: int) -> np.ndarray:
    tab = np.full((n_in, k), -1, np.int64)
    for i in range(n_in):
        for t in range(k):
            u = i + pad - t
            if u >= 0 and u % s == 0 and u // s < n_out:
                tab[i, t] = u // s
    return tab


@settings(max_examples=200, deadline=None)
@given(n_in=st.integers(1, 40), pad=st.integers(0, 6), k=st.integers(1, 7), s=st.integers(1, 4),
       n_out=st.integers(1, 40))
def test_taps_and_fans_follow_their_definition(n_in, pad, k, s, n_out):
    tab, fan = _tables(n_in, pad, k, s, n_out)
    want = _definition(n_in, pad, k, s, n_out)
    np.testing.assert_array_equal(tab, want)
    np.testing.assert_array_equal(fan, (want >= 0).sum(axis=1))
