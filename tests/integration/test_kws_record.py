"""Recording a word from the microphone (`apps.kws.record`, `kws learn --record N`): the utterances
said on their own are cut out verbatim, a sentence and a click are skipped with the reason, silence
times out with one line, and the CLI learns the recorded word. The "microphone" is a seeded 16 kHz
signal of espeak-ng words in faint noise, fed in 100-ms blocks."""

from __future__ import annotations

import shutil
import subprocess
import types

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from akida_edge import cli
from akida_edge.apps.kws import record as R
from akida_edge.drivers.wavfile import read_wav
from akida_edge.errors import InputDataError
from akida_edge.frontends.resample import resample

pytestmark = pytest.mark.integration
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed", allow_module_level=True)

RATE = 16000
BLOCK = 1600


def spoken(tmp_path, text: str) -> np.ndarray:
    path = tmp_path / f"{len(text)}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    x, info = read_wav(path)
    x = resample(x[:, 0], info.rate_hz, RATE)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return (0.3 * x[loud[0]: loud[-1] + 1] / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """(signal, where each `banana` starts and ends, the sentence alone): quiet, banana, a sentence,
    banana, a click, banana, quiet; faint white noise throughout."""
    d = tmp_path_factory.mktemp("words")
    word, sentence = spoken(d, "banana"), spoken(d, "the quick brown fox jumps over the lazy dog")
    click = np.zeros(480, np.float32)
    click[:160] = 0.3
    rng = np.random.default_rng(20261127)
    parts, where, at = [], [], 0

    def add(x: np.ndarray, is_word: bool = False) -> None:
        nonlocal at
        if is_word:
            where.append((at, at + x.size))
        parts.append(x)
        at += x.size

    gap = np.zeros(int(1.2 * RATE), np.float32)
    add(np.zeros(int(1.5 * RATE), np.float32))
    for piece in (word, sentence, word, click, word):
        add(piece, piece is word)
        add(gap)
    add(np.zeros(2 * RATE, np.float32))
    signal = np.concatenate(parts)
    return signal + 1e-3 * rng.standard_normal(signal.size).astype(np.float32), where, sentence


def blocks(signal: np.ndarray):
    return (signal[i: i + BLOCK] for i in range(0, signal.size, BLOCK))


def test_each_word_said_on_its_own_is_cut_out_and_the_rest_is_skipped_with_the_reason(scene):
    signal, where, _ = scene
    said: list[str] = []
    clips = R.record(blocks(signal), "banana", 3, said.append)
    assert len(clips) == 3
    windows = sliding_window_view(signal, 64)
    for clip, (start, end) in zip(clips, where, strict=True):
        at = np.flatnonzero((windows == clip[:64]).all(axis=1))
        assert at.size == 1  # a verbatim slice of the stream
        lo, hi = int(at[0]), int(at[0]) + clip.size
        assert lo <= start + 0.05 * RATE and hi >= end - 0.05 * RATE  # the word, within a frame or two
        assert clip.size <= (R.MAX_MS + 2 * R.PAD_MS) / 1000 * RATE + 480
    skipped = [line for line in said if "skipped" in line]
    assert any("s of speech" in line for line in skipped)  # the sentence
    assert any("too short" in line for line in skipped)  # the click
    assert sum(line.startswith("say 'banana'") for line in said) == 3
    assert [line.strip() for line in said if "got" in line][-1].startswith("got 3/3")


def test_silence_times_out_with_one_line_and_an_ended_stream_says_so(scene):
    signal, _, _ = scene
    quiet = signal[: int(1.4 * RATE)]
    ticks = iter(range(10_000))
    long_quiet = np.tile(quiet, 20)  # 28 s: past the wait, by samples and by the clock
    with pytest.raises(InputDataError) as exc:
        R.record(blocks(long_quiet), "banana", 2, lambda line: None, clock=lambda: float(next(ticks)))
    assert "heard no word" in str(exc.value) and "0 of 2" in str(exc.value) and "\n" not in str(exc.value)
    # speech that never pauses (a radio beside the microphone) times out too, rather than waiting forever
    sentence = scene[2]
    talk = np.concatenate([quiet, np.tile(sentence, int(30 * RATE / sentence.size) + 1)])
    ticks = iter(range(10_000))
    with pytest.raises(InputDataError, match="heard no word said on its own"):
        R.record(blocks(talk), "banana", 2, lambda line: None, clock=lambda: float(next(ticks)))
    with pytest.raises(InputDataError, match="ended after 0 of 2"):
        R.record(blocks(quiet), "banana", 2, lambda line: None)


class FakeMicrophone:
    """`MicrophoneSource` for the CLI: the scene's blocks as chunks, as a context manager."""

    signal: np.ndarray = np.zeros(0, np.float32)

    def __init__(self, config) -> None:
        self.config = config

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __iter__(self):
        for x in blocks(FakeMicrophone.signal):
            yield types.SimpleNamespace(data=x[:, None])


def test_kws_learn_records_from_the_microphone(scene, tmp_path, monkeypatch, capsys):
    from akida_edge.drivers import microphone

    FakeMicrophone.signal = scene[0]
    monkeypatch.setattr(microphone, "MicrophoneSource", FakeMicrophone)
    state = str(tmp_path / "state")
    assert cli.main(["kws", "learn", "--label", "banana", "--record", "3", "--state", state]) == 0
    out = capsys.readouterr()
    assert "learned 'banana' from 3 recorded, 0 clip(s)" in out.out and "say 'banana' (3/3)" in out.err
    assert cli.main(["kws", "learned", "--state", state]) == 0
    assert "banana" in capsys.readouterr().out


def test_recordings_can_be_saved_as_wav_to_learn_again(scene, tmp_path, monkeypatch, capsys):
    from akida_edge.drivers import microphone

    FakeMicrophone.signal = scene[0]
    monkeypatch.setattr(microphone, "MicrophoneSource", FakeMicrophone)
    saved, state = tmp_path / "takes", str(tmp_path / "state")
    assert cli.main(["kws", "learn", "--label", "banana", "--record", "3", "--save", str(saved),
                     "--state", state]) == 0
    assert f"saved 3 recording(s) in {saved}" in capsys.readouterr().err
    files = sorted(saved.glob("banana-*.wav"))
    clips = R.record(blocks(scene[0]), "banana", 3, lambda line: None)
    assert [f.name[-6:] for f in files] == ["-1.wav", "-2.wav", "-3.wav"]
    for f, clip in zip(files, clips, strict=True):
        x, info = read_wav(f)
        assert info.rate_hz == RATE and np.allclose(x[:, 0], clip, atol=1 / 32768)
    # the saved files teach the word like the recording did (e.g. to a fresh state)
    again = str(tmp_path / "again")
    assert cli.main(["kws", "learn", "--label", "banana", *map(str, files), "--state", again]) == 0
    assert "from 3 clip(s)" in capsys.readouterr().out
    assert cli.main(["kws", "learn", "--label", "banana", "--save", str(saved), "--state", again]) != 0
    assert "add --record N" in capsys.readouterr().err


@pytest.mark.parametrize("n", ["-1", str(21)])
def test_a_bad_record_count_is_one_line(n, tmp_path, capsys):
    assert cli.main(["kws", "learn", "--label", "banana", "--record", n, "--state", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip()
    assert f"--record {n}" in err and "0..20" in err and len(err.splitlines()) == 1
