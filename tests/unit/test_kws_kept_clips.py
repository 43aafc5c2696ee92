"""What the KWS app keeps of a clip it learned from (`apps.kws.kept_clips`): the learning slice gives
the same samples as the whole clip, and a stored item that is not a slice is refused."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws import features as F
from akida_edge.apps.kws import kept_clips as C
from akida_edge.apps.kws.learn import augment, samples

pytestmark = pytest.mark.unit


def clip(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Log-mel of noise with a louder 'word' somewhere in it."""
    mel = rng.normal(-70.0, 6.0, (frames, F.MEL_BANDS)).astype(np.float32)
    a = int(rng.integers(0, max(1, frames - 20)))
    mel[a: a + 20] += 40.0
    return mel


def windows_of_whole_clip(mel: np.ndarray) -> np.ndarray:
    """The three learning windows cut from the whole (padded) clip, as `learn` did before slices."""
    mel, start = C.loudest(mel)
    return np.stack([F.normalize(mel[s: s + F.FRAMES])
                     for s in C.sample_starts(len(mel), start)])


@pytest.mark.parametrize("frames", [12, 48, 49, 52, 55, 56, 80, 240])
def test_the_learning_slice_gives_the_samples_of_the_whole_clip(rng, frames):
    for _ in range(20):
        mel = clip(rng, frames)
        cut, start = C.learning_slice(mel)
        assert F.FRAMES <= len(cut) <= F.FRAMES + 2 * C.SHIFT_FRAMES and 0 <= start <= len(cut) - F.FRAMES
        assert np.array_equal(samples([(cut, start)]), windows_of_whole_clip(mel))
        assert np.array_equal(augment([mel]), windows_of_whole_clip(mel))


def test_a_word_at_the_edge_clamps_its_shifts_inside_the_clip(rng):
    mel = rng.normal(-70.0, 3.0, (100, F.MEL_BANDS)).astype(np.float32)
    mel[:10] += 50.0  # the loudest second starts at frame 0: no room for the −shift
    assert C.loudest(mel)[1] == 0
    cut, start = C.learning_slice(mel)
    assert start == 0 and len(cut) == F.FRAMES + C.SHIFT_FRAMES
    assert C.sample_starts(len(cut), start) == [0, 0, C.SHIFT_FRAMES]


def test_only_a_learning_slice_is_a_valid_item(rng):
    cut, start = C.learning_slice(clip(rng, 80))
    assert C.valid((cut, start))
    assert not C.valid((cut[:F.FRAMES - 1], 0))  # shorter than a second
    assert not C.valid((cut, len(cut) - F.FRAMES + 1))  # the window would run past the frames
    assert not C.valid((cut[:, :20], start))  # other bands
