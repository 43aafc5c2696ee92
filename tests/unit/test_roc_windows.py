"""ROC per window: the vectorised grouped ranking equals `rank_events` window by window."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.encoders.roc import RocParams, rank_events
from akida_edge.encoders.roc_windows import dense_windows, rank_places
from akida_edge.errors import InputDataError
from akida_edge.events import empty, flat_index, to_dense

pytestmark = pytest.mark.unit

SHAPE = (3, 4, 2)


def _windows(rng, n_windows, max_events):
    parts, ids = [], []
    for w in range(n_windows):
        n = int(rng.integers(0, max_events))
        ev = empty(n)
        ev["t"] = w * 1000 + np.sort(rng.integers(0, 1000, n))
        ev["y"] = rng.integers(0, SHAPE[0], n)
        ev["x"] = rng.integers(0, SHAPE[1], n)
        ev["p"] = rng.choice([-1, 1], n)
        parts.append(ev)
        ids.append(np.full(n, w))
    return parts, np.concatenate(ids)


@pytest.mark.parametrize("params", [
    RocParams(bits=4), RocParams(bits=2, mode="linear", keep_fraction=0.5),
    RocParams(bits=8, mod=0.7, max_events=5), RocParams(bits=1, keep_fraction=0.3),
])
def test_grouped_ranking_equals_rank_events_per_window(rng, params):
    parts, window = _windows(rng, 12, 40)
    events = np.concatenate(parts)
    place = flat_index(events, SHAPE)
    first, rank, value = rank_places(window, place, params)
    got = events[first]
    expected_dense = []
    for w, part in enumerate(parts):
        ref = rank_events(part, SHAPE, params)
        sel = window[first] == w
        assert np.array_equal(got[sel][["t", "x", "y", "p"]], ref[["t", "x", "y", "p"]])
        assert np.array_equal(rank[sel], ref["rank"]) and np.array_equal(value[sel], ref["value"])
        expected_dense.append(to_dense(ref, SHAPE, params.bits, mode="value"))
    dense = dense_windows(window[first], place[first], value, len(parts), SHAPE)
    np.testing.assert_array_equal(dense, np.stack(expected_dense))
    assert first.size > 0 and value.min() >= 1 and value.max() <= (1 << params.bits) - 1


def test_bad_window_ids_are_rejected():
    with pytest.raises(InputDataError, match="non-decreasing"):
        rank_places(np.array([1, 0]), np.array([0, 0]), RocParams())
    with pytest.raises(InputDataError, match="window ids but"):
        rank_places(np.array([0]), np.array([0, 1]), RocParams())
    first, rank, value = rank_places(np.zeros(0), np.zeros(0), RocParams())
    assert first.size == rank.size == value.size == 0
