"""Replay of a recording held in memory as a sample array: the shared base of the file sources.

`ArrayReplaySource` serves samples (n, channels) float32 in blocks of `block_s` seconds
(⌈block_s · rate_hz⌋ samples, at least one; the last block of a pass may be shorter), paced in
real time (`realtime=True`, as the live device would deliver them) or as fast as the consumer
reads. The chunk that starts at sample m of the replay (counted across loops) has
t_us = start_us + round(m · 10^6 / rate_hz), media time from `start_us` (default 0, so replays are
reproducible). With `loop=True` the replay starts again at the first sample after the last.

A subclass only loads its file (`_load`); a file without samples is refused on `open()` with a
one-line `SourceError` naming it (a looping replay of it would otherwise serve empty chunks for
ever).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from akida_edge.drivers.base import Chunk, Pacer, Source
from akida_edge.errors import SourceError


class ReplayConfig(Protocol):
    """The fields a replay configuration provides (the file sources' frozen dataclasses)."""

    path: str
    block_s: float
    realtime: bool
    loop: bool
    start_us: int


class ArrayReplaySource(Source):
    """Blocks of a sample array loaded by `_load`, paced by `pacer`, looped on request."""

    def __init__(self, config: ReplayConfig, pacer: Pacer | None = None) -> None:
        super().__init__()
        self.config = config
        self.pacer = pacer or Pacer(config.realtime)

    def _load(self) -> tuple[np.ndarray, float]:
        """The recording as (samples (n, channels) float32, rate_hz)."""
        raise NotImplementedError

    def open(self) -> ArrayReplaySource:
        samples, rate_hz = self._load()
        if samples.shape[0] == 0:
            raise SourceError(f"{self.config.path} holds no samples; give a recording with at least one")
        self.samples, self.rate_hz = samples, float(rate_hz)
        self._n = 0  # next sample of the array
        self._media_n = 0  # samples served since open (across loops): the media clock
        self.pacer.wait(0.0)  # media time 0 is now: a block comes out when its last sample is due
        self.health.state = "open"
        return self

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        if self.health.state != "open":
            return None
        if self._n >= self.samples.shape[0]:
            if not self.config.loop:
                self.health.state = "ended"
                return None
            self._n = 0
        block = max(1, int(round(self.config.block_s * self.rate_hz)))
        data = self.samples[self._n : self._n + block]
        self.pacer.wait((self._media_n + data.shape[0]) / self.rate_hz)
        t_us = self.config.start_us + round(self._media_n * 1e6 / self.rate_hz)
        chunk = self._chunk(t_us, data, self.rate_hz)
        self._n += data.shape[0]
        self._media_n += data.shape[0]
        return chunk
