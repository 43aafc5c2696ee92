"""The clips kept with the learned KWS words (`apps.kws.kept_clips`): the learning slice gives the
same samples as the whole clip, and the store layout round-trips, caps, forgets and refuses."""

from __future__ import annotations

import logging

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


def same(a: C.Clip, b: C.Clip) -> bool:
    return np.array_equal(a[0], b[0]) and a[1] == b[1]


def filled(rng: np.random.Generator) -> C.KeptClips:
    kept = C.KeptClips()
    kept.add("banana", [C.learning_slice(clip(rng, 70)) for _ in range(3)])
    kept.add("yes", [C.learning_slice(clip(rng, 30)) for _ in range(2)])
    kept.add("banana", [C.learning_slice(clip(rng, 49))])
    return kept


def test_the_state_layout_round_trips_the_learn_calls_in_order(rng):
    kept = filled(rng)
    again = C.KeptClips.from_state(*kept.to_state())
    assert [w for w, _ in again.batches()] == ["banana", "yes", "banana"]
    assert [len(c) for _, c in again.batches()] == [3, 2, 1]
    for (_, a), (_, b) in zip(kept.batches(), again.batches(), strict=True):
        assert all(same(x, y) for x, y in zip(a, b, strict=True))
    assert again.why_not_replayable() is None and again.count("banana") == 4


def test_forgetting_a_word_drops_its_clips_and_its_learn_calls(rng):
    kept = filled(rng)
    yes = kept.batches()[1][1]
    kept.forget("banana")
    assert kept.batch_words == ["yes"] and kept.count("banana") == 0
    assert len(kept.batches()) == 1
    assert all(same(a, b) for a, b in zip(kept.batches()[0][1], yes, strict=True))
    assert C.KeptClips.from_state(*kept.to_state()).batch_words == ["yes"]


def test_over_the_cap_the_oldest_clips_go_and_are_counted(rng, monkeypatch, caplog):
    monkeypatch.setattr(C, "PER_WORD", 4)
    kept = filled(rng)  # banana 4, yes 2
    newest = [C.learning_slice(clip(rng, 60)) for _ in range(3)]
    with caplog.at_level(logging.WARNING, logger="akida_edge.apps.kws.kept_clips"):
        kept.add("banana", newest)
    assert kept.count("banana") == 4 and kept.count("yes") == 2 and kept.dropped == {"banana": 3}
    assert "3 oldest were dropped" in caplog.text
    # what is left of banana: the last clip of its second call, then the new call's three
    assert [w for w, _ in kept.batches()] == ["yes", "banana", "banana"]
    assert same(kept.batches()[2][1][0], newest[0]) and not same(kept.batches()[1][1][0], newest[0])
    assert C.KeptClips.from_state(*kept.to_state()).dropped == {"banana": 3}


def test_no_clips_or_another_front_end_cannot_be_replayed(rng):
    assert "keeps no clips" in C.KeptClips.from_state({}, {}).why_not_replayable()
    kept = filled(rng)
    extra, arrays = kept.to_state()
    extra["clip_front_end"] = extra["clip_front_end"].replace('"n_bands": 40', '"n_bands": 64')
    assert "other log-mel settings" in C.KeptClips.from_state(extra, arrays).why_not_replayable()


def test_inconsistent_arrays_are_refused(rng):
    extra, arrays = filled(rng).to_state()
    broken = dict(arrays, clip_frames=arrays["clip_frames"][:-1])
    with pytest.raises(ValueError, match="inconsistent"):
        C.KeptClips.from_state(extra, broken)
    with pytest.raises(ValueError, match="inconsistent"):
        C.KeptClips.from_state(dict(extra, batch_words=["banana"]), arrays)
