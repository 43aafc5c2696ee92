"""Text-to-speech enrollment (`apps.kws.enroll`, ``kws learn --synthesize``): deterministic clips of
the spelling by training voices only; the CLI learns from them, with or without the user's clips,
and refuses what it cannot do with a one-line reason."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from akida_edge import cli
from akida_edge.apps.kws import enroll, known_words
from akida_edge.apps.kws.app import Spotter
from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices
from akida_edge.drivers.wavfile import write_wav
from akida_edge.errors import ConfigError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="espeak-ng and sox are needed (scripts/setup.sh installs them)"),
]


def test_clips_are_one_second_deterministic_and_by_training_voices_only(monkeypatch):
    said: list[str] = []
    real = known_words.clip

    def spy(rng, voice, word):
        said.append(voice)
        return real(rng, voice, word)

    monkeypatch.setattr(known_words, "clip", spy)
    a = enroll.spoken_clips("lantern", 6)
    b = enroll.spoken_clips("lantern", 6)
    other = enroll.spoken_clips("pebble", 6)
    assert len(a) == 6 and all(x.shape == (16000,) and x.dtype == np.float32 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # the same for every device
    assert not np.array_equal(a[0], other[0])
    split = split_voices(available_languages(), available_variants(), known_words.SEED)
    held_out = {v.name for s in ("validation", "test", "cross_family") for v in split[s]}
    assert said and set(said) <= set(enroll.training_voices()) and not set(said) & held_out
    assert len(set(said[:6])) >= 5  # many voices, not one
    assert enroll.spoken_clips("lantern", 0) == []


def test_missing_tools_are_named_with_the_fix(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "sox" else "/usr/bin/" + name)
    with pytest.raises(ConfigError, match=r"needs sox on the PATH.*apt-get install sox.*--synthesize 0"):
        enroll.spoken_clips("lantern", 3)


def test_learn_from_the_spelling_alone_then_with_clips(tmp_path, rng, capsys):
    state = str(tmp_path / "state")
    assert cli.main(["kws", "learn", "--label", "lantern", "--synthesize", "8", "--state", state]) == 0
    out = capsys.readouterr()
    assert "from 0 clip(s) and 8 synthesized (24 samples)" in out.out and "synthesizing 8 clips" in out.err
    spotter = Spotter(state_dir=state)
    assert spotter.learned.words == ["lantern"]
    # the learned word now matches a fresh clip of it by a held-out voice better than another word
    voice = split_voices(available_languages(), available_variants(), known_words.SEED)["test"][0].name
    fresh = [known_words.clip(rng, voice, w) for w in ("lantern", "lantern", "window", "window")]
    from akida_edge.apps.kws import features as F

    m = spotter.learned.matches(np.stack([F.clip_features(x) for x in fresh]))[:, 0]
    assert min(m[:2]) > max(m[2:])
    wav = tmp_path / "mine.wav"
    write_wav(wav, known_words.clip(rng, voice, "lantern"), 16000)
    assert cli.main(["kws", "learn", "--label", "lantern", str(wav), "--synthesize", "4",
                     "--state", state]) == 0
    assert "from 1 clip(s) and 4 synthesized (15 samples)" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["--label", "lantern"], "--record N to say it N times into the microphone, or --synthesize N"),
    (["--label", "lantern", "--synthesize", "-1"], "--synthesize -1: give a number of clips >= 0"),
    (["--label", "yes", "--synthesize", "4"], "'yes' is a base keyword"),
])
def test_what_cannot_be_learned_is_refused_in_one_line(tmp_path, capsys, args, needle):
    assert cli.main(["kws", "learn", *args, "--state", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not list(tmp_path.iterdir())  # nothing written
