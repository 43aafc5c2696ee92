"""The convolution event path's output stage over the reached rows only (`output_stage.act_rows_f32`:
rows no event reached output act(0), computed rows are cleared as they are read), forced on, against
the reference: samples with 0-3 events each on a tall map (most output rows unreached), thresholds of
both signs (act(0) ≠ 0 where T < 0), strides 1 and 2, both paddings, several batches through one
model (potentials left clean between calls), outputs and activity."""

from __future__ import annotations

import numpy as np
import pytest
from engine_checks import assert_event_path_matches_reference, randomize_thresholds
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.engine import layers as L
from akida_edge.engine.model import Model

pytestmark = pytest.mark.kernel


def _few_events(rng: np.random.Generator, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    """n samples of `shape` holding 0-3 events each, at random positions and channels."""
    x = np.zeros((n, *shape), np.uint8)
    for s in range(n):
        for _ in range(rng.integers(0, 4)):
            x[s, rng.integers(shape[0]), rng.integers(shape[1]), rng.integers(shape[2])] = rng.integers(1, 16)
    return x


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2]), st.sampled_from(["same", "valid"]),
       st.sampled_from([8, 16]))
def test_reached_rows_stage_matches_reference(seed, stride, padding, f):
    rng = np.random.default_rng(seed)
    model = Model([L.InputData(input_shape=(14, 9, 3), input_bits=4),
                   L.Convolutional(kernel_size=3, filters=f, weights_bits=4, act_bits=4, padding=padding,
                                   kernel_stride=stride),
                   L.Convolutional(kernel_size=3, filters=f, weights_bits=4, act_bits=2, padding=padding)])
    randomize_thresholds(model, rng)
    for _ in range(2):  # a second batch runs on the potentials the first left behind
        assert_event_path_matches_reference(model, _few_events(rng, 5, model.input_shape))
