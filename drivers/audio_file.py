"""Replay of WAV audio: any rate and channel count, mixed down to mono and resampled to 16 kHz.

The whole file is read and checked first (`drivers.wavfile`, one-line `SourceError` on a bad
file), then served in blocks of `block_s`, paced in real time (`realtime=True`, as a microphone
would deliver it) or as fast as the consumer reads. Chunk times are media time from `start_us`
(default 0, so replays are reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.drivers.base import Chunk, Pacer, Source, check_range
from akida_edge.drivers.wavfile import read_wav
from akida_edge.frontends.resample import resample


def load_audio(path: str | Path, rate_hz: int = 16000) -> np.ndarray:
    """A WAV file as mono float32 at `rate_hz` (channels averaged, then resampled)."""
    x, info = read_wav(path)
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
        check_range("rate_hz", self.rate_hz, 1000, 384_000)
        check_range("start_us", self.start_us, 0, 2**62)



class AudioFileSource(Source):
    """Blocks (n, 1) float32 at 16 kHz from a WAV file."""

    kind = "audio"

    def __init__(self, config: AudioFileConfig, pacer: Pacer | None = None) -> None:
        super().__init__()
        self.config = config
        self.pacer = pacer or Pacer(config.realtime)

    def open(self) -> AudioFileSource:
        self.samples = load_audio(self.config.path, self.config.rate_hz)[:, None]
        self._n = 0
        self._media_n = 0
        self.pacer.wait(0.0)  # media time 0 is now: a block comes out when its last sample is due
        self.health.state = "open"
        return self

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        if self.health.state != "open":
            return None
        rate = self.config.rate_hz
        block = max(1, int(round(self.config.block_s * rate)))
        if self._n >= self.samples.shape[0]:
            if not (self.config.loop and self.samples.shape[0]):
                self.health.state = "ended"
                return None
            self._n = 0
        data = self.samples[self._n : self._n + block]
        self.pacer.wait((self._media_n + data.shape[0]) / rate)
        chunk = self._chunk(self.config.start_us + round(self._media_n * 1e6 / rate), data, rate)
        self._n += data.shape[0]
        self._media_n += data.shape[0]
        return chunk
