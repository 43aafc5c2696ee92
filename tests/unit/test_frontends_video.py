"""Video front-end: grey conversion, resizing and target-rate decimation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from akida_edge.frontends.video import GreyParams, GreyState, grey_step, to_grey

pytestmark = pytest.mark.unit


def test_grey_is_bt601_luma(rng):
    frame = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    grey = to_grey(frame, GreyParams())
    b, g, r = (frame[..., i].astype(np.float64) for i in range(3))
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    assert grey.shape == (24, 32) and grey.dtype == np.uint8
    assert np.abs(grey - luma).max() <= 1.0
    np.testing.assert_array_equal(to_grey(grey, GreyParams()), grey)


def test_resize_with_area_averaging(rng):
    frame = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    small = to_grey(frame, GreyParams(width=30, height=20))
    full = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float64)
    block_mean = full.reshape(20, 2, 30, 2).mean(axis=(1, 3))
    assert small.shape == (20, 30)
    assert np.abs(small - block_mean).max() <= 1.0


def test_target_rate_keeps_every_third_frame_of_30fps(rng):
    params = GreyParams(fps=10.0)
    state, kept = GreyState(), []
    for i in range(30):
        t_us = round(i * 1e6 / 30)
        out, state = grey_step(np.zeros((4, 4, 3), np.uint8), t_us, state, params)
        if out is not None:
            kept.append(i)
    assert kept == list(range(0, 30, 3))
    assert state.dropped == 30 - len(kept)


def test_bad_frames_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        to_grey(np.zeros((4, 4, 2), np.uint8), GreyParams())
    with pytest.raises(ValueError, match="width and height"):
        GreyParams(width=10)
