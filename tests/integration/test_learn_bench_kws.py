"""The learn benchmark's keyword figures (`bench.learn.kws_figures`), reduced: one new word from
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
    words, shots, test_voices = ("follow",), 2, 6
    fig = learn.kws_figures(None, words=words, shots=shots, learners=1, test_voices=test_voices,
                            base_per_keyword=1, adapt_voices=1, adapt_test_per_keyword=1, seed=7)
    for key in (f"new_word_acc_{shots}shot", "new_word_acc_1shot", "adapt_acc_before", "adapt_acc_after"):
        assert 0.0 <= fig[key] <= 1.0, (key, fig[key])
    assert -1.0 <= fig["base_acc_drop"] <= 1.0
    assert fig["new_word_test_clips"] == len(words) * test_voices
    assert fig["new_word_shot_clips"] == len(words) * shots
    assert fig["adapt_test_clips"] == 10 and fig["adapt_shot_clips"] == 10 * shots
    assert fig["new_word_learners"][0] not in fig["adapt_voices"]
    # chance: a guess among the 12 base classes and the learned word; the base model alone can
    # never name the new word, so anything above chance comes from learning
    chance = 1.0 / (len(CLASSES) + len(words))
    assert fig[f"new_word_acc_{shots}shot"] > chance, fig
    assert not (tmp_path / "default-state").exists()
