"""The numba learning kernels against the literal Python rule, bit for bit (STYLE.md §2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine import learning_kernels as K
from akida_edge.engine import learning_reference as R

pytestmark = pytest.mark.kernel


@st.composite
def problems(draw):
    n_in = draw(st.integers(2, 40))
    classes = draw(st.integers(1, 4))
    npc = draw(st.integers(1, 5))
    num_weights = draw(st.integers(1, n_in))
    initial = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    params = {
        "num_weights": num_weights,
        "competition": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        "initial_p": initial,
        "min_p": draw(st.sampled_from([0.0, 0.1, 0.25])) * initial,
        "decay": draw(st.sampled_from([0.0, 0.25, 0.3, 1.0])),
        "rule": draw(st.integers(0, 1)),
    }
    seed = draw(st.integers(0, 2**64 - 1))
    n = draw(st.integers(1, 30))
    density = draw(st.sampled_from([0.05, 0.3, 0.7]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # noisy repeats of a few patterns, so learned neurons meet samples close to what they learned
    patterns = rng.random((draw(st.integers(1, 4)), n_in)) < density
    flips = rng.random((n, n_in)) < draw(st.sampled_from([0.0, 0.05, 0.2]))
    features = (patterns[rng.integers(0, len(patterns), n)] ^ flips).astype(np.uint8)
    labels = rng.integers(-1 if draw(st.booleans()) else 0, classes, n).astype(np.int64)
    return n_in, classes, npc, params, seed, features, labels


@settings(max_examples=100)
@given(problems())
def test_fit_kernel_matches_the_reference(problem):
    n_in, classes, npc, p, seed, features, labels = problem
    units = classes * npc
    runs = []
    for impl in (K, R):
        rng_state = np.array([seed], np.uint64)
        weights = np.zeros((n_in, units), np.uint8)
        impl.init_columns(weights, 0, p["num_weights"], rng_state)
        thr = np.zeros(units, np.int32)
        plast = np.full(units, p["initial_p"], np.float64)
        learn_count = np.zeros(units, np.int32)
        counts = np.zeros((n_in, units), np.int32)
        winners = np.zeros(len(features), np.int32)
        fit = K.fit_kernel if impl is K else R.fit
        # in two calls, so that the state carried between calls is exercised too
        for part in np.array_split(np.arange(len(features)), 2):
            w = np.zeros(len(part), np.int32)
            fit(features[part], labels[part], weights, thr, plast, learn_count, counts, rng_state, npc,
                p["num_weights"], p["competition"], p["initial_p"], p["min_p"], p["decay"], p["rule"], w)
            winners[part] = w
        runs.append((weights, thr, plast, learn_count, counts, rng_state, winners))
    for got, want in zip(*runs, strict=True):
        np.testing.assert_array_equal(got, want)
    assert np.all(runs[0][0].sum(axis=0) == p["num_weights"])


def test_splitmix64_matches_its_published_first_outputs():
    """splitmix64 seeded with 0 starts 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4 (Vigna's reference C)."""
    state = np.zeros(1, np.uint64)
    ref = R.SplitMix64(np.zeros(1, np.uint64))
    got = [int(K._next_u64(state)) for _ in range(2)]
    assert got == [ref.next() for _ in range(2)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]
