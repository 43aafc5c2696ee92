"""Microphone through PortAudio (`sounddevice.InputStream`), resampled to 16 kHz mono.

The PortAudio callback copies each block into a bounded ring (a deque of at most `buffer_s`
seconds of blocks) and returns: it never blocks and never allocates more than the ring holds.
When the consumer falls behind, the oldest block is dropped and counted in
``health.overflows`` (PortAudio's own input-overflow flag is counted too), so no loss is silent.
`read()` drains the ring, mixes the channels down, resamples to 16 kHz (streaming polyphase,
`frontends.resample`) and returns blocks of about `block_s`. A stream that stops (device
unplugged) is reopened with exponential backoff; ``health`` shows ``reconnecting`` meanwhile.

The device is chosen by index or by (part of its) name; with PortAudio missing or no such input
device, `open()` raises a one-line `SourceError` listing the input devices there are.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from akida_edge.drivers.base import Backoff, Chunk, Source, check_range, reconnect
from akida_edge.errors import SourceError
from akida_edge.frontends.resample import ResampleParams, resample_init, resample_step


@dataclass(frozen=True)
class MicrophoneConfig:
    device: int | str | None = None  # None: the system default input
    rate_hz: int | None = None  # capture rate; None: the device's default rate
    channels: int = 1
    block_s: float = 0.1
    buffer_s: float = 5.0
    out_rate_hz: int = 16000

    def __post_init__(self) -> None:
        if isinstance(self.device, int) and not 0 <= self.device <= 1024:
            raise ValueError(f"device = {self.device!r} is out of range; use a device index in [0, 1024] "
                             "or a name (or leave it out: the system default)")
        check_range("rate_hz", self.rate_hz, 1000, 384_000, optional=True)
        check_range("channels", self.channels, 1, 32)
        check_range("block_s", self.block_s, 0.001, 10.0)
        check_range("buffer_s", self.buffer_s, self.block_s, 600.0)
        check_range("out_rate_hz", self.out_rate_hz, 1000, 384_000)



def _input_devices(sd) -> str:
    try:
        devices = sd.query_devices()
    except Exception as exc:  # PortAudio errors are not OSError subclasses
        return f"(cannot list devices: {exc})"
    names = [f"{i}: {d['name']}" for i, d in enumerate(devices) if d.get("max_input_channels", 0) > 0]
    return "; ".join(names) if names else "none"


class MicrophoneSource(Source):
    """Blocks (n, 1) float32 at 16 kHz from a PortAudio input device."""

    kind = "audio"

    def __init__(self, config: MicrophoneConfig = MicrophoneConfig(), backoff: Backoff | None = None) -> None:
        super().__init__()
        self.config = config
        self.backoff = backoff or Backoff()
        self._stream = None

    def open(self) -> MicrophoneSource:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise SourceError(
                f"microphone needs PortAudio (apt-get install libportaudio2) and sounddevice: {exc}"
            ) from None
        c = self.config
        if isinstance(c.device, str) and c.device.strip().isdigit():
            c = replace(c, device=int(c.device))  # "2" from a config file means device index 2
            self.config = c
        try:
            info = sd.query_devices(c.device, "input")
        except Exception:
            what = "no default input device" if c.device is None else f"no input device {c.device!r}"
            raise SourceError(f"{what}; input devices: {_input_devices(sd)}") from None
        rate = int(c.rate_hz or info["default_samplerate"])
        self._sd = sd
        self.rate_hz = rate
        self._ring: deque[np.ndarray] = deque(maxlen=max(2, int(np.ceil(c.buffer_s / c.block_s))))
        self._ready = threading.Event()
        self._start_stream()
        self._resample = ResampleParams(rate, c.out_rate_hz) if rate != c.out_rate_hz else None
        self._rstate = resample_init(self._resample, 1) if self._resample else None
        self._t_next_us: int | None = None
        self.health.state = "open"
        return self

    def _start_stream(self) -> bool:
        c, sd = self.config, self._sd
        try:
            self._stream = sd.InputStream(
                device=c.device,
                samplerate=self.rate_hz,
                channels=c.channels,
                dtype="float32",
                blocksize=max(1, int(self.rate_hz * c.block_s)),
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:  # PortAudioError is not an OSError
            self._stream = None
            raise SourceError(
                f"cannot open input device {c.device!r} at {self.rate_hz} Hz, {c.channels} channel(s): "
                f"{exc}; input devices: {_input_devices(sd)}"
            ) from None
        return True

    def _stop_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:  # a device that vanished may fail to close; it is gone either way
                pass
            self._stream = None

    def _callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        """PortAudio thread: copy, append, signal. Never blocks."""
        if status and getattr(status, "input_overflow", False):
            self.health.overflows += 1
        if len(self._ring) == self._ring.maxlen:
            self.health.overflows += 1  # the oldest block is about to be dropped
        self._ring.append((time.time_ns() // 1000, indata.copy()))
        self._ready.set()

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        """The samples captured since the last read (at least one block), or None on timeout.

        A stream that stopped (device unplugged) is reopened with exponential backoff.
        """
        if self.health.state not in ("open", "reconnecting"):
            return None
        clock = self.backoff.clock
        deadline = None if timeout_s is None else clock() + timeout_s
        while not self._ring:
            if self.health.state == "reconnecting" or not getattr(self._stream, "active", True):
                if self.health.state == "open":
                    self.health.last_error = f"input device {self.config.device!r} stopped; reconnecting"
                    self._stop_stream()
                remaining = None if deadline is None else max(0.0, deadline - clock())
                if not reconnect(self._start_stream, self.backoff, self.health, remaining):
                    return None
                continue
            wait = 0.5 if deadline is None else min(0.5, deadline - clock())
            if wait <= 0:
                return None
            self._ready.wait(wait)
            self._ready.clear()
        blocks = []
        t_first = None
        while self._ring:
            t_us, block = self._ring.popleft()
            if t_first is None:
                t_first = t_us - int(block.shape[0] * 1e6 / self.rate_hz)
            blocks.append(block)
        if not blocks:
            return None
        x = np.concatenate(blocks).mean(axis=1)
        if self._resample is not None:
            x, self._rstate = resample_step(x, self._rstate, self._resample)
        if self._t_next_us is None or abs(t_first - self._t_next_us) > 100_000:
            self._t_next_us = t_first  # first block, or resynchronised after a loss
        t_us = self._t_next_us
        self._t_next_us = t_us + int(round(x.shape[0] * 1e6 / self.config.out_rate_hz))
        return self._chunk(t_us, x.astype(np.float32)[:, None], self.config.out_rate_hz)

    def close(self) -> None:
        self._stop_stream()
        super().close()
