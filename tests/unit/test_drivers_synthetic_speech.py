"""The synthetic speech source (`drivers/synthetic_speech.py`): words said by espeak-ng, laid out with
pauses and noise, served as a microphone would; clear errors without espeak-ng or with a bad voice."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from akida_edge.drivers import check_settings, make_source
from akida_edge.drivers import synthetic_speech as S
from akida_edge.errors import ConfigError, SourceError

pytestmark = [pytest.mark.unit,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is needed "
                                 "(scripts/setup.sh installs it)")]
RATE = 16000


def test_every_word_once_in_a_seeded_order_with_its_times():
    cfg = S.SyntheticSpeechConfig(words="yes no stop", gap_s=0.5, snr_db=200, seed=3)
    a, b = S.script(cfg), S.script(cfg)
    assert np.array_equal(a.audio, b.audio) and a.words == b.words  # deterministic
    assert sorted(w for w, _, _ in a.words) == ["no", "stop", "yes"]
    previous_off = 0.0
    for _, on, off in a.words:
        assert 0.5 * 0.75 - 1 / RATE <= on - previous_off <= 0.5 * 1.25 + 1 / RATE  # the pause before it
        assert on < off <= a.audio.size / RATE
        assert np.abs(a.audio[int(on * RATE): int(off * RATE)]).max() > 0.05  # the word sounds there
        previous_off = off
    first_on = a.words[0][1]
    assert np.abs(a.audio[: int(first_on * RATE)]).max() == 0.0  # no noise at snr_db >= 100
    orders = {tuple(w for w, _, _ in S.script(S.SyntheticSpeechConfig(words="yes no stop", gap_s=0.3,
                                                                        seed=s)).words) for s in range(6)}
    assert len(orders) > 1  # the seed picks the order


def test_noise_sits_snr_db_below_the_speech():
    cfg = S.SyntheticSpeechConfig(words="go", gap_s=2.0, snr_db=20.0, seed=1)
    sc = S.script(cfg)
    (_, on, off), = sc.words
    speech = S.say("go", cfg.voice, cfg.speed_wpm, RATE)
    noise = sc.audio[: int(on * RATE)]
    snr = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert abs(snr - 20.0) < 0.5


def test_served_in_blocks_and_looped():
    src = make_source("synthetic_speech", words="up", gap_s=0.2, block_s=0.25, loop=True).open()
    n = src.samples.shape[0]
    got = 0
    while got < 2 * n:
        chunk = src.read()
        assert chunk is not None and chunk.kind == "audio" and chunk.rate_hz == RATE
        assert chunk.data.shape[1] == 1 and chunk.data.shape[0] <= int(0.25 * RATE)
        got += chunk.data.shape[0]
    src.close()


@pytest.mark.parametrize("settings, needle", [
    ({"words": "yes; rm -rf"}, "words"), ({"words": ""}, "words"), ({"voice": "en us"}, "voice"),
    ({"gap_s": 0.0}, "gap_s"), ({"speed_wpm": 10}, "speed_wpm"),
])
def test_bad_settings_are_one_line_config_errors(settings, needle):
    with pytest.raises(ConfigError, match=needle):
        check_settings("synthetic_speech", settings, "pipelines[0].source")


def test_without_espeak_or_with_an_unknown_voice_open_says_what_to_do(monkeypatch):
    with pytest.raises(SourceError, match="xx-nope.*espeak-ng --voices"):
        make_source("synthetic_speech", voice="xx-nope").open()
    monkeypatch.setattr(S.shutil, "which", lambda name: None)
    with pytest.raises(SourceError, match="needs the espeak-ng program.*apt-get install espeak-ng"):
        make_source("synthetic_speech").open()
