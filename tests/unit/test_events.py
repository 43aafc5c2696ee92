"""The event dtype helpers: time slicing, merging, dense input tensors."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.errors import InputDataError
from akida_edge.events import (
    EVENT_DTYPE,
    RANKED_EVENT_DTYPE,
    channel_index,
    empty,
    merge,
    slice_time,
    sort_by_time,
    to_dense,
)

pytestmark = pytest.mark.unit


def random_events(rng: np.random.Generator, n: int, shape=(6, 7, 2), t_max: int = 1000, ranked=False):
    ev = empty(n, ranked)
    ev["t"] = np.sort(rng.integers(0, t_max, n))
    ev["y"] = rng.integers(0, shape[0], n)
    ev["x"] = rng.integers(0, shape[1], n)
    ev["c"] = rng.integers(0, shape[2], n)
    ev["p"] = rng.choice([-1, 1], n)
    if ranked:
        ev["rank"] = np.arange(n)
        ev["value"] = rng.integers(1, 16, n)
    return ev


def test_slice_time_is_half_open_and_a_view(rng):
    ev = random_events(rng, 500)
    t0, t1 = 200, 700
    part = slice_time(ev, t0, t1)
    expected = ev[(ev["t"] >= t0) & (ev["t"] < t1)]
    assert np.array_equal(part, expected)
    assert np.shares_memory(part, ev)
    assert slice_time(ev, t0, t0).size == 0
    # Consecutive windows tile the stream with nothing lost or doubled.
    edges = [0, 100, 250, 999, 1000]
    tiles = [slice_time(ev, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    assert sum(t.size for t in tiles) == ev.size


def test_slice_time_rejects_unsorted_and_reversed(rng):
    ev = random_events(rng, 50)
    shuffled = ev[rng.permutation(ev.size)]
    with pytest.raises(InputDataError, match="sort"):
        slice_time(shuffled, 0, 10)
    with pytest.raises(InputDataError, match="reversed"):
        slice_time(ev, 10, 0)
    with pytest.raises(InputDataError, match="EVENT_DTYPE"):
        slice_time(np.zeros(3), 0, 1)


def test_merge_sorts_stably_and_keeps_every_event(rng):
    a = random_events(rng, 40, t_max=50)
    b = random_events(rng, 30, t_max=50)
    m = merge(b, a)
    assert m.size == a.size + b.size
    assert np.all(np.diff(m["t"]) >= 0)
    # At equal t the events of the first argument come first.
    tag = np.concatenate([np.zeros(b.size), np.ones(a.size)])[np.argsort(
        np.concatenate([b["t"], a["t"]]), kind="stable")]
    for t in np.unique(m["t"]):
        sel = tag[m["t"] == t]
        assert np.all(np.diff(sel) >= 0)
    with pytest.raises(InputDataError, match="one dtype"):
        merge(a, random_events(rng, 3, ranked=True))
    assert merge().dtype == EVENT_DTYPE


def test_sort_by_time_is_stable(rng):
    ev = random_events(rng, 200, t_max=20)
    shuffled = ev[rng.permutation(ev.size)]
    s = sort_by_time(shuffled)
    assert np.all(np.diff(s["t"]) >= 0)
    for t in np.unique(s["t"]):
        assert np.array_equal(s[s["t"] == t], shuffled[shuffled["t"] == t])


def test_to_dense_count_saturates_and_splits_polarity(rng):
    shape = (6, 7, 4)  # event channels c in {0, 1}, split into 4 tensor channels
    ev = random_events(rng, 3000, shape=(6, 7, 2))
    for bits in (1, 2, 4, 8):
        dense = to_dense(ev, shape, bits)
        assert dense.dtype == np.uint8 and dense.shape == shape
        expected = np.zeros(shape, np.int64)
        for e in ev:
            ch = 2 * int(e["c"]) + (1 if e["p"] < 0 else 0)
            expected[e["y"], e["x"], ch] += 1
        assert np.array_equal(dense, np.minimum(expected, 2**bits - 1))


def test_to_dense_any_and_merge(rng):
    ev = random_events(rng, 40, shape=(5, 5, 1))
    any_map = to_dense(ev, (5, 5, 2), 4, mode="any")
    assert set(np.unique(any_map)) <= {0, 1}
    assert any_map.sum() == len({(e["y"], e["x"], int(e["p"] < 0)) for e in ev})
    merged = to_dense(ev, (5, 5, 1), 8, polarity="merge")
    assert merged.sum() == ev.size
    assert np.array_equal(channel_index(ev, "merge"), ev["c"])


def test_to_dense_value_takes_the_best_ranked_value(rng):
    ev = random_events(rng, 100, shape=(4, 4, 1), ranked=True)
    dense = to_dense(ev, (4, 4, 2), 4, mode="value")
    for y, x, ch in zip(*np.nonzero(dense), strict=True):
        here = ev[(ev["y"] == y) & (ev["x"] == x) & ((ev["p"] < 0) == bool(ch))]
        assert dense[y, x, ch] == here["value"].max()
    with pytest.raises(InputDataError, match="does not fit bits=2"):
        to_dense(ev, (4, 4, 2), 2, mode="value")
    with pytest.raises(InputDataError, match="ranked"):
        to_dense(random_events(rng, 3, shape=(4, 4, 1)), (4, 4, 2), 4, mode="value")


def test_to_dense_rejects_bad_input(rng):
    ev = random_events(rng, 10, shape=(4, 4, 1))
    with pytest.raises(InputDataError, match="outside the tensor shape"):
        to_dense(ev, (3, 4, 2), 4)
    with pytest.raises(InputDataError, match="bits=3"):
        to_dense(ev, (4, 4, 2), 3)
    with pytest.raises(InputDataError, match="mode"):
        to_dense(ev, (4, 4, 2), 4, mode="sum")
    with pytest.raises(InputDataError, match="polarity"):
        to_dense(ev, (4, 4, 2), 4, polarity="both")
    with pytest.raises(InputDataError, match=r"\(H, W, C\)"):
        to_dense(ev, (4, 4), 4)
    assert RANKED_EVENT_DTYPE.names[:5] == EVENT_DTYPE.names
