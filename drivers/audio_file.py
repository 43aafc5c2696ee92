"""Replay of WAV audio: any rate and channel count, mixed down to mono and resampled to 16 kHz.

The whole file is read and checked first (`drivers.wavfile`, one-line `SourceError` on a bad
file), then served in blocks of `block_s`, paced in real time (`realtime=True`, as a microphone
would deliver it) or as fast as the consumer reads, looped on request (`drivers.replay`). Chunk
times are media time from `start_us` (default 0, so replays are reproducible); a file without
samples is refused on open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.drivers.base import Pacer, check_range
from akida_edge.drivers.replay import ArrayReplaySource
from akida_edge.drivers.wavfile import read_wav
from akida_edge.errors import SourceError
from akida_edge.frontends.resample import resample

#: sample rates a WAV header may give for audio (Hz): the microphone's and the config's range
AUDIO_RATE_MIN_HZ, AUDIO_RATE_MAX_HZ = 1000, 384_000


def check_audio_rate(rate_hz: int, name: str) -> None:
    """A one-line `SourceError` when a WAV header's rate is not an audio rate: 1 Hz would stretch
    a few samples over seconds, 1 GHz squeeze a second into one sample, each classified as if sound."""
    if not AUDIO_RATE_MIN_HZ <= rate_hz <= AUDIO_RATE_MAX_HZ:
        raise SourceError(f"{name}: its header gives a sample rate of {rate_hz} Hz, not an audio rate "
                          f"({AUDIO_RATE_MIN_HZ}-{AUDIO_RATE_MAX_HZ} Hz); a corrupt header, or not a "
                          "sound recording")


def load_audio(path: str | Path, rate_hz: int = 16000) -> np.ndarray:
    """A WAV file as mono float32 at `rate_hz` (channels averaged, then resampled); its rate must
    be an audio rate (`check_audio_rate`)."""
    x, info = read_wav(path)
    check_audio_rate(info.rate_hz, str(path))
    mono = x.mean(axis=1) if info.channels > 1 else x[:, 0]
    return resample(mono, info.rate_hz, rate_hz)


@dataclass(frozen=True)
class AudioFileConfig:
    path: str
    block_s: float = 0.1
    realtime: bool = False
    rate_hz: int = 16000
    loop: bool = False
    start_us: int = 0

    def __post_init__(self) -> None:
        check_range("block_s", self.block_s, 0.0, 60.0, lo_open=True)
        check_range("rate_hz", self.rate_hz, AUDIO_RATE_MIN_HZ, AUDIO_RATE_MAX_HZ)
        check_range("start_us", self.start_us, 0, 2**62)


class AudioFileSource(ArrayReplaySource):
    """Blocks (n, 1) float32 at `rate_hz` (default 16 kHz) from a WAV file (replay: `drivers.replay`)."""

    kind = "audio"
    config: AudioFileConfig

    def __init__(self, config: AudioFileConfig, pacer: Pacer | None = None) -> None:
        super().__init__(config, pacer)

    def _load(self) -> tuple[np.ndarray, float]:
        return load_audio(self.config.path, self.config.rate_hz)[:, None], self.config.rate_hz
