"""Rank order coding: ordering, truncation, values by rank, ties, dense output, numba vs NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from akida_edge.encoders.roc import RocParams, rank_events, rank_events_numpy, rank_features, rank_values
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import RANKED_EVENT_DTYPE, empty, to_dense

pytestmark = pytest.mark.unit

SHAPE = (5, 6, 2)


def events_at(places: list[tuple[int, int, int]], t_step: int = 10) -> np.ndarray:
    """One event per (y, x, p) entry, in order, times increasing."""
    ev = empty(len(places))
    for i, (y, x, p) in enumerate(places):
        ev[i] = (i * t_step, x, y, 0, p)
    return ev


def random_window(rng: np.random.Generator, n: int, shape=SHAPE) -> np.ndarray:
    ev = empty(n)
    ev["t"] = np.sort(rng.integers(0, 10_000, n))
    ev["y"] = rng.integers(0, shape[0], n)
    ev["x"] = rng.integers(0, shape[1], n)
    ev["p"] = rng.choice([-1, 1], n)
    return ev


def test_places_are_ranked_by_event_count():
    # (1, 1) ON fires 3 times, (2, 3) OFF twice, (0, 0) ON once.
    ev = events_at([(0, 0, 1), (2, 3, -1), (1, 1, 1), (1, 1, 1), (2, 3, -1), (1, 1, 1)])
    ranked = rank_events(ev, SHAPE, RocParams(bits=4))
    assert ranked.dtype == RANKED_EVENT_DTYPE
    assert [(r["y"], r["x"], r["p"]) for r in ranked] == [(1, 1, 1), (2, 3, -1), (0, 0, 1)]
    assert ranked["rank"].tolist() == [0, 1, 2]
    # Each output is the place's first event (its time), carrying rank and value.
    assert ranked["t"].tolist() == [20, 10, 0]


def test_ties_break_by_first_appearance_then_index():
    ev = events_at([(3, 4, 1), (0, 0, 1), (0, 0, 1), (3, 4, 1), (1, 2, -1)])
    ranked = rank_events(ev, SHAPE, RocParams())
    assert [(r["y"], r["x"]) for r in ranked] == [(3, 4), (0, 0), (1, 2)]
    feats = np.array([0.5, 2.0, 0.5, 2.0, 0.0, -1.0])
    order = rank_features(feats, RocParams())["x"].tolist()
    assert order == [1, 3, 0, 2]  # equal values: lower index first; <= 0 never ranked


def test_on_and_off_are_separate_places_when_split():
    ev = events_at([(0, 0, 1), (0, 0, -1), (0, 0, -1)])
    split = rank_events(ev, SHAPE, RocParams())
    assert split.size == 2 and split["p"].tolist() == [-1, 1]
    merged = rank_events(ev, (5, 6, 1), RocParams(), polarity="merge")
    assert merged.size == 1 and merged["p"][0] == 1  # the place's first event


@pytest.mark.parametrize("n_active, max_events, fraction, expected", [
    (30, None, 0.1, 3), (30, None, 0.11, 4), (30, 2, 0.5, 2), (7, 100, None, 7), (7, None, None, 7),
    (1, None, 0.01, 1), (0, 5, 0.5, 0),
])
def test_truncation_to_n_or_fraction(n_active, max_events, fraction, expected):
    params = RocParams(max_events=max_events, keep_fraction=fraction)
    assert params.n_keep(n_active) == expected
    feats = np.concatenate([np.arange(1, n_active + 1, dtype=float)[::-1], np.zeros(2)])  # 2 inactive
    kept = rank_features(feats, params)
    assert kept.size == expected
    assert kept["x"].tolist() == list(range(expected))  # the strongest ones


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("mode, mod", [("modulation", 0.9), ("modulation", 0.5), ("linear", 0.9)])
def test_values_fall_with_rank_and_fit_the_bits(bits, mode, mod):
    vmax = 2**bits - 1
    for n in (1, 2, 5, 40, 3000):
        v = rank_values(n, RocParams(bits=bits, mode=mode, mod=mod)).astype(int)
        assert v.size == n and v[0] == vmax
        assert np.all(v >= 1) and np.all(v <= vmax) and np.all(np.diff(v) <= 0)
        r = np.arange(n)
        if mode == "modulation":
            expected = np.maximum(1, np.floor(vmax * mod ** r.astype(float) + 0.5))
        else:
            expected = np.full(n, vmax) if n == 1 else 1 + ((vmax - 1) * (n - 1 - r)) // (n - 1)
        assert np.array_equal(v, expected)
        if mode == "linear" and n > 1:
            assert v[-1] == 1


def test_decode_property_activation_is_largest_in_weight_order(rng):
    """sum_j mod^rank(j) w_j peaks when the strongest-weighted inputs come first."""
    mod = 0.8
    w = rng.uniform(0, 1, 12)
    feats = w.copy()  # strength = weight: ROC fires in weight order
    ranked = rank_features(feats, RocParams(bits=8, mod=mod))
    best = sum(mod ** r["rank"] * w[r["x"]] for r in ranked)
    for _ in range(50):
        perm = rng.permutation(12)
        assert sum(mod ** k * w[j] for k, j in enumerate(perm)) <= best + 1e-12


def test_dense_output_equals_the_event_list_scattered(rng):
    ev = random_window(rng, 400)
    for params in (RocParams(bits=4, keep_fraction=0.5), RocParams(bits=2, mode="linear", max_events=9)):
        ranked = rank_events(ev, SHAPE, params)
        dense = rank_events(ev, SHAPE, params, output="dense")
        assert dense.dtype == np.uint8 and dense.shape == SHAPE
        assert np.array_equal(dense, to_dense(ranked, SHAPE, params.bits, mode="value"))
        assert np.count_nonzero(dense) == ranked.size
    feats = rng.uniform(-1, 1, (4, 5, 3))
    params = RocParams(bits=4, keep_fraction=0.3)
    ranked = rank_features(feats, params, t_us=777)
    dense = rank_features(feats, params, output="dense")
    assert np.all(ranked["t"] == 777)
    assert np.array_equal(dense, to_dense(ranked, (4, 5, 3), 4, mode="value", polarity="merge"))


def test_feature_maps_of_one_and_two_dimensions(rng):
    band = rng.uniform(0, 1, 10)
    ranked = rank_features(band, RocParams(max_events=3))
    assert ranked["x"].tolist() == np.argsort(-band)[:3].tolist() and np.all(ranked["y"] == 0)
    grid = rng.uniform(0, 1, (3, 4))
    top = rank_features(grid, RocParams(max_events=1))[0]
    assert (top["y"], top["x"], top["c"]) == (*np.unravel_index(np.argmax(grid), grid.shape), 0)


@pytest.mark.kernel
@pytest.mark.parametrize("polarity", ["split", "merge"])
@pytest.mark.parametrize("weighted", [False, True])
def test_numba_equals_numpy(rng, polarity, weighted):
    shape = SHAPE if polarity == "split" else (5, 6, 1)
    for params in (RocParams(), RocParams(bits=8, mode="linear", keep_fraction=0.25),
                   RocParams(bits=1, max_events=7)):
        ev = random_window(rng, 700)
        weights = rng.uniform(0, 2, ev.size) if weighted else None
        a = rank_events(ev, shape, params, weights=weights, polarity=polarity)
        b = rank_events_numpy(ev, shape, params, weights=weights, polarity=polarity)
        assert np.array_equal(a, b)


def test_weights_replace_counts_as_strength():
    ev = events_at([(0, 0, 1), (0, 0, 1), (0, 0, 1), (1, 1, 1)])
    by_count = rank_events(ev, SHAPE, RocParams())
    by_weight = rank_events(ev, SHAPE, RocParams(), weights=np.array([0.1, 0.1, 0.1, 1.0]))
    assert (by_count[0]["y"], by_weight[0]["y"]) == (0, 1)


def test_empty_window_gives_nothing():
    assert rank_events(empty(0), SHAPE, RocParams()).size == 0
    assert not rank_events(empty(0), SHAPE, RocParams(), output="dense").any()
    assert rank_features(np.zeros(5), RocParams()).size == 0


@pytest.mark.parametrize("kwargs, field", [
    ({"bits": 3}, "bits"), ({"mode": "log"}, "mode"), ({"mod": 1.0}, "mod"), ({"mod": 0}, "mod"),
    ({"max_events": 0}, "max_events"), ({"keep_fraction": 1.5}, "keep_fraction"),
])
def test_invalid_params_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        RocParams(**kwargs)


def test_bad_inputs_are_one_line_errors(rng):
    ev = random_window(rng, 10)
    with pytest.raises(InputDataError, match="weights"):
        rank_events(ev, SHAPE, RocParams(), weights=np.ones(3))
    with pytest.raises(InputDataError, match="output"):
        rank_events(ev, SHAPE, RocParams(), output="list")
    with pytest.raises(InputDataError, match="outside"):
        rank_events(ev, (2, 2, 2), RocParams())
    with pytest.raises(InputDataError, match="finite"):
        rank_features(np.array([1.0, math.nan]), RocParams())
    with pytest.raises(InputDataError, match="numeric"):
        rank_features(np.zeros((2, 2, 2, 2)), RocParams())


def test_camera_frames_to_an_input_tensor(rng):
    """The documented path: frames -> DVS events -> one window -> ROC dense tensor."""
    from akida_edge.encoders import DvsEmulator
    from akida_edge.events import slice_time

    h, w = 24, 32
    frames = np.full((3, h, w), 60, np.uint8)
    frames[1, 5:10, 5:15] = 200  # a bright patch appears...
    frames[2, 5:10, 5:15] = 60  # ...and goes
    frames[2, 15:20, 20:30] = 200
    em = DvsEmulator("clean", shape=(h, w), seed=0)
    events = np.concatenate([em.step(f, i * 33_333) for i, f in enumerate(frames)])
    window = slice_time(events, 33_334, 66_667)  # the second interval only
    params = RocParams(bits=4, keep_fraction=0.5)
    tensor = rank_events(window, (h, w, 2), params, output="dense")
    assert tensor.shape == (h, w, 2) and tensor.dtype == np.uint8
    assert tensor[5:10, 5:15, 1].any()  # OFF where the patch went
    assert tensor[15:20, 20:30, 0].any()  # ON where it came
    assert not tensor[0:5].any() and not tensor[:, :5].any()  # nothing where nothing changed
    active = len({(e["y"], e["x"], e["p"]) for e in window})
    assert np.count_nonzero(tensor) == params.n_keep(active)
