"""The convolution event path on batches mixing silent and active samples (`kernels_conv`: a
sample without events writes the act(0) row everywhere; the potentials are cleared once per call
and after every sample that reached them), forced on, against the reference: thresholds of both
signs (act(0) is non-zero where T < 0), with and without max pooling, outputs and activity."""

from __future__ import annotations

import numpy as np
import pytest
from engine_checks import assert_event_path_matches_reference, randomize_thresholds
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine import layers as L
from akida_edge.engine.model import Model

pytestmark = pytest.mark.kernel


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from([8, 16, 20]), st.floats(0.0, 0.3))
def test_silent_and_active_samples_match_reference(seed, pool, f, density):
    rng = np.random.default_rng(seed)
    extra = {"pool_type": "max", "pool_size": 2} if pool else {}
    model = Model([L.InputData(input_shape=(8, 7, 4), input_bits=4),
                   L.Convolutional(kernel_size=3, filters=f, weights_bits=4, act_bits=4, **extra),
                   L.Convolutional(kernel_size=3, filters=f, weights_bits=4, act_bits=2),
                   L.FullyConnected(units=5, weights_bits=4, activation=False)])
    randomize_thresholds(model, rng)
    x = rng.integers(0, 16, size=(6, *model.input_shape))
    x[rng.random(x.shape) >= density] = 0
    x[::2] = 0  # every other sample silent
    assert_event_path_matches_reference(model, x.astype(np.uint8))
