"""Non-keyword speech for the false-alarm figure: filler-only scenes and their count (`bench kws`)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from akida_edge.apps.kws import scenes, sentences, vocabulary
from akida_edge.apps.kws.app import Detection
from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
from akida_edge.bench import kws as bench_kws

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="espeak-ng and sox are needed (scripts/setup.sh installs them)"),
]


def test_trailing_filler_extends_a_scene_without_changing_it() -> None:
    plain = scenes.make_scene(np.random.default_rng(3), "en-us", ["yes"], filler_utterances=1, snr_db=None)
    longer = scenes.make_scene(np.random.default_rng(3), "en-us", ["yes"], filler_utterances=1, snr_db=None,
                               trailing_filler=2)
    assert longer.keywords == plain.keywords
    assert longer.audio.size > plain.audio.size
    np.testing.assert_array_equal(longer.audio[: plain.audio.size], plain.audio)
    assert longer.filler_speech_s > plain.filler_speech_s


def test_a_filler_only_scene_has_speech_and_no_keyword() -> None:
    scene = scenes.make_scene(np.random.default_rng(4), "en-us", [], trailing_filler=2, snr_db=20.0)
    assert scene.keywords == []
    assert scene.filler_speech_s > 0.5
    assert scene.audio.size / 16000 > scene.filler_speech_s  # pauses between the utterances


class _FiresTwice:
    """A spotter that reports two detections in every recording it is given, of three it found
    before its isolated-command gate."""

    def __init__(self) -> None:
        self.recordings = 0

    def detect_audio(self, x: np.ndarray, ungated: list | None = None) -> list[Detection]:
        self.recordings += 1
        assert x.ndim == 1 and x.size > 16000
        kept = [Detection("left", 100.0, 0.9), Detection("yes", 900.0, 0.95)]
        if ungated is not None:
            ungated.extend(kept + [Detection("no", 1500.0, 0.92)])
        return kept


def _assert_counts(out: dict, name: str, spotter: _FiresTwice) -> None:
    """Every detection of `spotter` counted as a false alarm in the figures named after `name`."""
    assert out[f"{name}_speech_s"] >= 4.0
    assert out[f"{name}_false_alarms"] == 2 * spotter.recordings
    assert out[f"{name}_false_alarms_by_label"] == {"left": spotter.recordings, "yes": spotter.recordings}
    rate = out[f"{name}_false_alarms"] / (out[f"{name}_speech_s"] / 3600)
    assert out[f"false_alarms_per_hour_{name}"] == pytest.approx(rate, rel=0.02)  # speech_s is rounded
    assert out[f"false_alarms_per_hour_{name}_gate_off"] == pytest.approx(1.5 * rate, rel=0.02)
    assert set(out) == {f"false_alarms_per_hour_{name}", f"{name}_false_alarms", f"{name}_speech_s",
                        f"{name}_false_alarms_by_label", f"false_alarms_per_hour_{name}_gate_off"}


def test_every_detection_on_filler_speech_counts_as_a_false_alarm() -> None:
    spotter = _FiresTwice()
    _assert_counts(bench_kws.filler_false_alarms(spotter, None, seconds=4.0, utterances=2), "filler", spotter)


def test_the_filler_word_pool_is_a_parameter_and_defaults_to_the_unknown_words() -> None:
    kwargs = {"filler_utterances": 1, "snr_db": None}
    default = scenes.make_scene(np.random.default_rng(5), "en-us", ["yes"], **kwargs)
    unknown = scenes.make_scene(np.random.default_rng(5), "en-us", ["yes"], filler_words=UNKNOWN_WORDS,
                                **kwargs)
    unseen = scenes.make_scene(np.random.default_rng(5), "en-us", ["yes"],
                               filler_words=vocabulary.BENCH_FILLER_WORDS, **kwargs)
    np.testing.assert_array_equal(default.audio, unknown.audio)
    assert unseen.audio.size != default.audio.size or not np.array_equal(unseen.audio, default.audio)


def test_unseen_word_false_alarms_have_their_own_figures_and_scenes() -> None:
    spotter = _FiresTwice()
    _assert_counts(bench_kws.unseen_false_alarms(spotter, None, seconds=4.0, utterances=2), "unseen_words",
                   spotter)
    seen = next(bench_kws.filler_scenes(4.0, 2))
    unseen = next(bench_kws.unseen_filler_scenes(4.0, 2))
    assert unseen.voice != seen.voice or not np.array_equal(unseen.audio[:16000], seen.audio[:16000])


def test_a_filler_utterance_can_be_a_drawn_sentence_and_is_recorded() -> None:
    kwargs = {"filler_utterances": 1, "snr_db": None, "trailing_filler": 1}
    words = scenes.make_scene(np.random.default_rng(6), "en-us", ["yes"], **kwargs)
    said = scenes.make_scene(np.random.default_rng(6), "en-us", ["yes"], filler_text=sentences.sentence,
                             **kwargs)
    assert [len(s.filler) for s in (words, said)] == [2, 2]
    assert all(set(text.split()) <= set(UNKNOWN_WORDS) for text, _, _ in words.filler)
    assert all(4 <= len(sentences.tokens(text)) <= 14 and text[-1] in ".?" for text, _, _ in said.filler)
    (_, on0, off0), (_, on1, _) = said.filler
    assert 0 < on0 < off0 < said.keywords[0][1] < said.keywords[0][2] < on1  # in the order said
    assert said.filler_speech_s == pytest.approx(sum(off - on for _, on, off in said.filler) / 1000, abs=1e-3)


def test_sentence_false_alarms_have_their_own_figures_and_scenes() -> None:
    spotter = _FiresTwice()
    _assert_counts(bench_kws.sentence_false_alarms(spotter, None, seconds=4.0, utterances=2), "sentences",
                   spotter)
    scene = next(bench_kws.sentence_filler_scenes(4.0, 2))
    assert scene.keywords == [] and len(scene.filler) == 2
    assert all(not set(sentences.tokens(text)) & sentences.FORBIDDEN for text, _, _ in scene.filler)
    own = next(bench_kws.filler_scenes(4.0, 2, stream=96, text=sentences.sentence))  # stream [SEED, 96]
    assert own.filler == scene.filler
    for other in (97, 98):  # the unseen words' and the filler's streams
        shared = next(bench_kws.filler_scenes(4.0, 2, stream=other, text=sentences.sentence))
        assert shared.filler != scene.filler
