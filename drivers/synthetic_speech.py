"""Synthetic speech: words said by espeak-ng in turn, with pauses and background noise, as a
microphone would deliver them, so that a keyword-spotting pipeline runs with no microphone and no
recording (the shipped `config.toml`'s ``kws`` pipeline).

On `open()` every word of `words` (space-separated) is synthesized once by espeak-ng
(``espeak-ng -v VOICE -s SPEED_WPM -w FILE WORD``, its own sample rate resampled to `rate_hz`),
then a script is laid out: the words in a seeded random order, each preceded by a pause of
`gap_s` · U(0.75, 1.25) seconds, over white noise at `snr_db` dB below the speech's mean power
(per-sample power while a word sounds; `snr_db` ≥ 100: no noise), and served like a WAV replay
(`drivers.replay`: blocks of `block_s`, paced in real time with `realtime`, looped with `loop`,
media time from `start_us`). Deterministic for a seed and an espeak-ng version.

Needs the `espeak-ng` program (a Debian package; `scripts/setup.sh` installs it); without it,
or with a voice it does not know, `open()` raises a one-line `SourceError` saying so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from akida_edge.drivers.base import Pacer, check_range
from akida_edge.drivers.replay import ArrayReplaySource
from akida_edge.drivers.wavfile import parse_wav
from akida_edge.errors import SourceError
from akida_edge.frontends.resample import resample

WORD_RE = re.compile(r"^[A-Za-z][A-Za-z'-]{0,31}$")
VOICE_RE = re.compile(r"^[A-Za-z0-9_+-]{1,40}$")
KEYWORDS = "yes no up down left right on off stop go"
SYNTH_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SyntheticSpeechConfig:
    words: str = KEYWORDS
    voice: str = "en-us"
    speed_wpm: int = 150
    gap_s: float = 2.0
    snr_db: float = 30.0
    seed: int = 0
    block_s: float = 0.1
    realtime: bool = False
    loop: bool = False
    rate_hz: int = 16000
    start_us: int = 0
    path: str = field(default="<synthetic speech>", init=False)  # what messages name (a replay's file)

    def __post_init__(self) -> None:
        words = self.words.split()
        if not words or not all(WORD_RE.match(w) for w in words):
            raise ValueError(f"words = {self.words!r}: give space-separated words of letters ' - "
                              "(at most 32 each), e.g. \"yes no stop go\"")
        if not VOICE_RE.match(self.voice):
            raise ValueError(f"voice = {self.voice!r} is not an espeak-ng voice name; "
                              "see `espeak-ng --voices`, e.g. \"en-us\"")
        check_range("speed_wpm", self.speed_wpm, 80, 450)
        check_range("gap_s", self.gap_s, 0.2, 60.0)
        check_range("snr_db", self.snr_db, -10.0, 200.0)
        check_range("seed", self.seed, 0, 2**32 - 1)
        check_range("block_s", self.block_s, 0.0, 60.0, lo_open=True)
        check_range("rate_hz", self.rate_hz, 8000, 48000)
        check_range("start_us", self.start_us, 0, 2**62)


def say(word: str, voice: str, speed_wpm: int, rate_hz: int) -> np.ndarray:
    """`word` said by espeak-ng as mono float32 at `rate_hz` (one-line `SourceError` on failure)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SourceError("synthetic_speech needs the espeak-ng program; install it (apt-get install "
                          "espeak-ng, as scripts/setup.sh does) or use another source")
    # a file, not --stdout: a streamed WAV header declares no true length
    with tempfile.TemporaryDirectory(prefix="akida-edge-speech-") as tmp:
        out = Path(tmp) / "word.wav"
        try:
            run = subprocess.run([exe, "-v", voice, "-s", str(speed_wpm), "-w", str(out), word],
                                 capture_output=True, timeout=SYNTH_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"espeak-ng took over {SYNTH_TIMEOUT_S:g} s to say {word!r}") from exc
        raw = out.read_bytes() if out.exists() else b""
    if run.returncode != 0 or len(raw) <= 44:
        why = run.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise SourceError(f"espeak-ng could not say {word!r} with voice {voice!r}"
                          + (f" ({why[0]})" if why else "") + "; `espeak-ng --voices` lists the voices")
    x, info = parse_wav(raw, f"espeak-ng output for {word!r}")
    return resample(x.mean(axis=1), info.rate_hz, rate_hz).astype(np.float32)


@dataclass(frozen=True)
class Script:
    """One pass of synthetic speech: the audio (n,) float32 and (word, onset s, offset s) in order."""

    audio: np.ndarray
    words: tuple[tuple[str, float, float], ...]


def script(config: SyntheticSpeechConfig) -> Script:
    """The whole pass: every word once, in a seeded order, pauses and noise between."""
    rng = np.random.default_rng(config.seed)
    said = {w: say(w, config.voice, config.speed_wpm, config.rate_hz)
            for w in dict.fromkeys(config.words.split())}
    parts: list[np.ndarray] = []
    order = list(said)
    rng.shuffle(order)
    times, n = [], 0
    for w in order:
        parts.append(np.zeros(int(config.gap_s * rng.uniform(0.75, 1.25) * config.rate_hz), np.float32))
        n += parts[-1].size
        parts.append(said[w])
        times.append((w, n / config.rate_hz, (n + said[w].size) / config.rate_hz))
        n += said[w].size
    audio = np.concatenate(parts)
    voiced = np.concatenate([said[w] for w in order])
    if config.snr_db < 100:
        power = float(np.mean(voiced.astype(np.float64) ** 2))
        audio = audio + rng.normal(0.0, np.sqrt(power / 10 ** (config.snr_db / 10)), audio.size)
    return Script(np.clip(audio, -1.0, 1.0).astype(np.float32), tuple(times))


class SyntheticSpeechSource(ArrayReplaySource):
    """Blocks (n, 1) float32 at `rate_hz` of words said by espeak-ng (module docstring)."""

    kind = "audio"
    config: SyntheticSpeechConfig

    def __init__(self, config: SyntheticSpeechConfig, pacer: Pacer | None = None) -> None:
        super().__init__(config, pacer)

    def _load(self) -> tuple[np.ndarray, float]:
        return script(self.config).audio[:, None], self.config.rate_hz
