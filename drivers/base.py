"""The common source interface every driver implements (DESIGN.md §2, STYLE.md §9).

A *Source* yields timestamped `Chunk`s: video frames, audio blocks, accelerometer blocks or event
arrays. It owns its device: `open()` acquires it (a missing device or unreadable file raises a
one-line `SourceError`), `read()` returns the next chunk, `close()` releases it, and `health`
says how it is doing (state, last error, reconnects, overflows). A driver declares its
configuration as a frozen dataclass and imports its hardware library inside `open()`, so that
optional libraries are only needed by those who use them.

`read(timeout_s)` returns a `Chunk`, or ``None`` when no chunk came within the timeout or the
source has ended; ``source.health.state == "ended"`` tells the two apart. Iterating a source
yields chunks until it ends.

Live sources that lose their device (a camera unplugged, a stream dropped) reconnect with
exponential backoff (`Backoff`): delays initial, initial·factor, ... capped at `max_s`; the clock
and the sleep function are injectable so tests run instantly with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Source states, in the order a source usually passes through them.
STATES = ("closed", "open", "reconnecting", "ended", "failed")


def check_range(name: str, value: float | None, lo: float, hi: float, *, optional: bool = False,
                lo_open: bool = False) -> None:
    """Refuse a config value outside [lo, hi] (`lo_open`: (lo, hi]) with a ValueError naming the field,
    the value and the allowed range; `optional`: None means "not set" and is accepted.

    Driver config dataclasses call it from `__post_init__`; the registry (`akida_edge.drivers`) turns
    the ValueError into a one-line `ConfigError` with the key path.
    """
    if value is None and optional:
        return
    ok = value is not None and value == value and (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        low = "(" if lo_open else "["
        none = " (or leave it out)" if optional else ""
        allowed = f"{low}{_num(lo)}, {_num(hi)}]"
        raise ValueError(f"{name} = {value!r} is out of range; use a value in {allowed}{none}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True, eq=False)
class Chunk:
    """One timestamped piece of sensor data.

    Attributes
    ----------
    t_us : int
        Capture time of the first sample or of the frame, in µs (epoch time for live sources,
        media time from the start of the file for replays unless a start time is given).
    data : np.ndarray
        Samples (n_samples, n_channels) float32 for audio and vibration, an image (H, W[, 3])
        uint8 for video, or an `EVENT_DTYPE` array for event recordings.
    rate_hz : float
        Sample rate (audio, vibration) or frame rate (video; 0 when unknown).
    kind : str
        ``"audio"``, ``"vibration"``, ``"video"`` or ``"events"``.
    seq : int
        Running number of the chunk from this source (gaps mean dropped chunks).
    """

    t_us: int
    data: np.ndarray
    rate_hz: float
    kind: str
    seq: int = 0

    @property
    def duration_us(self) -> int:
        """Time covered by a sample block (0 for frames and events)."""
        if self.kind in ("audio", "vibration") and self.rate_hz > 0:
            return int(round(self.data.shape[0] * 1e6 / self.rate_hz))
        return 0


@dataclass
class Health:
    """How a source is doing; sinks publish it as telemetry.

    `overflows` counts samples or blocks lost because the consumer was too slow (never silently:
    every loss is counted here); `dropped` counts frames skipped on purpose to meet a target rate
    or lines that could not be parsed.
    """

    state: str = "closed"
    last_error: str | None = None
    reconnects: int = 0
    overflows: int = 0
    dropped: int = 0
    chunks: int = 0
    last_t_us: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_error": self.last_error,
            "reconnects": self.reconnects,
            "overflows": self.overflows,
            "dropped": self.dropped,
            "chunks": self.chunks,
            "last_t_us": self.last_t_us,
        }


@dataclass
class Backoff:
    """Exponential backoff: delays ``initial_s · factor^k`` capped at `max_s`.

    Parameters
    ----------
    initial_s, max_s, factor : float
        First delay, largest delay and growth factor (> 1).
    clock, sleep : callables
        Monotonic clock in seconds and sleep function; injected by tests.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    attempts: int = field(default=0, init=False)
    next_at: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if not (self.initial_s > 0 and self.max_s >= self.initial_s and self.factor >= 1):
            raise ValueError(
                f"backoff needs 0 < initial_s <= max_s and factor >= 1, got "
                f"{self.initial_s}, {self.max_s}, {self.factor}"
            )

    def delay_s(self) -> float:
        """The delay after the current number of failed attempts."""
        return min(self.max_s, self.initial_s * self.factor ** max(self.attempts - 1, 0))

    def failed(self) -> float:
        """Record a failed attempt; returns the delay before the next one."""
        self.attempts += 1
        delay = self.delay_s()
        self.next_at = self.clock() + delay
        return delay

    def reset(self) -> None:
        self.attempts = 0
        self.next_at = 0.0

    def due(self) -> bool:
        return self.clock() >= self.next_at


def reconnect(
    attempt: Callable[[], bool], backoff: Backoff, health: Health, timeout_s: float | None = None
) -> bool:
    """Call `attempt` with exponential backoff until it returns True or `timeout_s` passes.

    `attempt` returns True on success, False (or raises `OSError`) on failure; each failure
    increments ``health.reconnects`` and records the error. Returns whether it succeeded. With
    ``timeout_s=None`` it tries until success (a daemon thread's loop); with a timeout it returns
    False when the time is up and the caller tries again later, the backoff state carried on.
    """
    deadline = None if timeout_s is None else backoff.clock() + timeout_s
    health.state = "reconnecting"
    while True:
        now = backoff.clock()
        if backoff.due():
            try:
                ok = attempt()
            except OSError as exc:
                ok = False
                health.last_error = str(exc)
            if ok:
                backoff.reset()
                health.state = "open"
                return True
            health.reconnects += 1
            backoff.failed()
            now = backoff.clock()
        if deadline is not None and now >= deadline:
            return False
        wait = backoff.next_at - now
        if deadline is not None:
            wait = min(wait, deadline - now)
        backoff.sleep(max(wait, 0.0))


class Source:
    """Base class of every driver: open/read/close, context manager, iteration, health."""

    kind = "data"

    def __init__(self) -> None:
        self.health = Health()
        self._seq = 0

    # --- to implement -----------------------------------------------------------------------
    def open(self) -> Source:
        raise NotImplementedError

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        raise NotImplementedError

    def close(self) -> None:
        self.health.state = "closed"

    # --- shared -----------------------------------------------------------------------------
    def _chunk(self, t_us: int, data: np.ndarray, rate_hz: float) -> Chunk:
        chunk = Chunk(int(t_us), data, float(rate_hz), self.kind, self._seq)
        self._seq += 1
        self.health.chunks += 1
        self.health.last_t_us = int(t_us)
        return chunk

    @property
    def ended(self) -> bool:
        return self.health.state in ("ended", "failed")

    def __enter__(self) -> Source:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            chunk = self.read()
            if chunk is not None:
                yield chunk
            elif self.ended:
                return


class Pacer:
    """Paces a replay in real time: `wait(media_s)` sleeps until media time `media_s` is due."""

    def __init__(
        self,
        realtime: bool,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.realtime = realtime
        self.clock = clock
        self.sleep = sleep
        self._start: float | None = None

    def wait(self, media_s: float) -> None:
        if not self.realtime:
            return
        if self._start is None:
            self._start = self.clock() - media_s
        delay = self._start + media_s - self.clock()
        if delay > 0:
            self.sleep(delay)
