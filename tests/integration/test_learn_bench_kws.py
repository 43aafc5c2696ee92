"""The learn benchmark's keyword figures (`bench._learn_kws.kws_figures`), reduced: one new word from
two clips, a few held-out voices. Checks the pipeline, not the accuracy targets (bench/)."""

from __future__ import annotations

import shutil

import pytest

from akida_edge.apps.kws.app import CLASSES
from akida_edge.bench import learn

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="espeak-ng and sox are needed (scripts/setup.sh installs them)"),
]


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """Learning must never reach the user's learned state (the figures use temporary stores)."""
    monkeypatch.setenv("AKIDA_EDGE_STATE_DIR", str(tmp_path / "default-state"))


def test_kws_figures_reduced_run_learns_a_new_word(tmp_path):
    # `backward`: the base model calls it `_unknown_`, so no confident keyword vetoes it (learn.py);
    # `follow` (which it calls `down`) is refused at the shipped false-accept rate, by design
    words, shots, test_voices, same = ("backward",), 2, 6, 3
    fig = learn.kws_figures(None, words=words, shots=shots, learners=1, test_voices=test_voices,
                            base_per_keyword=1, base_more_per_keyword=2, adapt_voices=1,
                            adapt_test_per_keyword=1, same_voice_tests=same, seed=7, front=(0.05, 0.2), tts=6)
    for key in (f"new_word_acc_{shots}shot", "new_word_acc_1shot", "adapt_acc_before", "adapt_acc_after",
                f"new_word_acc_{shots}shot_same_voice", "adapt_learned_only_acc"):
        assert 0.0 <= fig[key] <= 1.0, (key, fig[key])
    assert -1.0 <= fig["base_acc_drop"] <= 1.0
    assert fig["new_word_test_clips"] == len(words) * test_voices
    assert fig["base_test_clips"] == (10 + 1) * (1 + 2)  # keywords and _unknown_, first and further clips
    assert fig["same_voice_test_clips"] == len(words) * same
    assert fig["new_word_shot_clips"] == len(words) * shots
    assert fig["adapt_test_clips"] == 10 and fig["adapt_shot_clips"] == 10 * shots
    assert fig["new_word_learners"][0] not in fig["adapt_voices"]
    assert set(fig[f"new_word_acc_{shots}shot_by_false_accept"]) == {"0.05", "0.2"}
    # the shipped setting is one point of the trade-off curve
    assert fig[f"new_word_acc_{shots}shot_by_false_accept"]["0.05"] == fig[f"new_word_acc_{shots}shot"]
    assert fig["base_acc_drop_by_false_accept"]["0.05"] == fig["base_acc_drop"]
    # chance: a guess among the 12 base classes and the learned word; the base model alone can
    # never name the new word, so anything above chance comes from learning
    chance = 1.0 / (len(CLASSES) + len(words))
    assert fig[f"new_word_acc_{shots}shot_same_voice"] > chance, fig
    # the learned neurons match the new word better than base words (0.5: no information)
    assert fig["new_word_match_auc"] > 0.5, fig
    # beside them: the same learners with text-to-speech enrollment (`apps.kws.enroll`)
    assert fig["tts_clips_per_word"] == 6
    for key in (f"new_word_acc_{shots}shot_tts", "new_word_acc_1shot_tts", "new_word_acc_0shot_tts",
                f"new_word_acc_{shots}shot_same_voice_tts", "new_word_learned_only_acc_tts"):
        assert 0.0 <= fig[key] <= 1.0, (key, fig[key])
    assert -1.0 <= fig["base_acc_drop_tts"] <= 1.0
    assert not (tmp_path / "default-state").exists()


def test_the_dev_harness_uses_other_voices_than_the_bench_and_refuses_too_few():
    from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices
    from akida_edge.bench._learn_kws import KWS_SEED

    split = split_voices(available_languages(), available_variants(), KWS_SEED)
    fig = learn.kws_figures(None, words=("balloon",), shots=1, learners=1, test_voices=2, base_per_keyword=1,
                            adapt_voices=0, same_voice_tests=0, front=(), split_name="validation", tts=0)
    assert fig["tts_clips_per_word"] == 0 and fig["new_word_acc_1shot_tts"] is None
    validation = {v.name for v in split["validation"]}
    assert set(fig["new_word_learners"]) <= validation
    assert not set(fig["new_word_learners"]) & {v.name for v in split["test"]}
    with pytest.raises(ValueError, match="other_synth has 3 voices"):
        learn.kws_figures(None, learners=1, test_voices=8, split_name="other_synth")


@pytest.mark.skipif(shutil.which("text2wave") is None, reason="festival is needed (scripts/setup.sh --dev)")
def test_other_synth_figures_learn_on_festival_voices_with_and_without_synthesis():
    from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices
    from akida_edge.bench._learn_kws import KWS_SEED

    fig = learn.other_synth_figures(None, words=("lantern",), shots=1, per_voice=1, same_voice_tests=1,
                                    base_per_keyword=0, unknown=2, tts=3)
    split = split_voices(available_languages(), available_variants(), KWS_SEED)
    festival = [v.name for v in split["other_synth"]]
    assert fig["other_synth_learners"] == festival and all(v.startswith("festival") for v in festival)
    assert fig["other_synth_new_word_test_clips"] == len(festival) * (len(festival) - 1)
    for suffix in ("", "_tts"):
        for key in ("new_word_acc_1shot_other_synth", "new_word_acc_1shot_same_voice_other_synth"):
            assert 0.0 <= fig[key + suffix] <= 1.0, (key + suffix, fig)
        assert -1.0 <= fig["base_acc_drop_other_synth" + suffix] <= 1.0


def test_the_further_base_clips_leave_every_other_clip_alone():
    """`base_more_per_keyword` clips come from their own random stream: the new-word and adaptation
    figures keep their clips (equal figures), only the base clips grow."""
    kwargs = dict(words=("balloon",), shots=1, learners=1, test_voices=2, base_per_keyword=1, adapt_voices=1,
                  adapt_test_per_keyword=1, same_voice_tests=1, front=(), tts=0)
    few = learn.kws_figures(None, base_more_per_keyword=0, **kwargs)
    more = learn.kws_figures(None, base_more_per_keyword=1, **kwargs)
    assert (few["base_test_clips"], more["base_test_clips"]) == (11, 22)
    for key in ("new_word_acc_1shot", "new_word_acc_1shot_same_voice", "adapt_acc_before", "adapt_acc_after",
                "adapt_learned_only_acc", "new_word_learned_only_acc", "new_word_learners", "adapt_voices"):
        assert few[key] == more[key], key
