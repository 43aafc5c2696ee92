"""The source interface: backoff, reconnect with a fake clock, pacing, iteration."""

from __future__ import annotations

import numpy as np
import pytest
from akida_edge.drivers.base import Backoff, Chunk, Health, Pacer, Source, reconnect

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_backoff_delays_grow_and_cap():
    clock = FakeClock()
    b = Backoff(initial_s=0.5, max_s=5.0, factor=2.0, clock=clock, sleep=clock.sleep)
    delays = [b.failed() for _ in range(7)]
    assert delays == [min(5.0, 0.5 * 2.0**k) for k in range(7)]
    b.reset()
    assert b.failed() == 0.5


def test_reconnect_retries_with_backoff_until_success():
    clock = FakeClock()
    b = Backoff(initial_s=1.0, max_s=4.0, factor=2.0, clock=clock, sleep=clock.sleep)
    health = Health(state="open")
    outcomes = iter([False, OSError("device gone"), False, False, True])

    def attempt() -> bool:
        o = next(outcomes)
        if isinstance(o, Exception):
            raise o
        return o

    assert reconnect(attempt, b, health) is True
    assert health.reconnects == 4 and health.state == "open"
    assert health.last_error == "device gone"
    assert clock.sleeps == [1.0, 2.0, 4.0, 4.0]  # the waits between the five attempts
    assert b.attempts == 0  # reset after success


def test_reconnect_gives_up_at_timeout_and_resumes_later():
    clock = FakeClock()
    b = Backoff(initial_s=1.0, max_s=8.0, clock=clock, sleep=clock.sleep)
    health = Health()
    assert reconnect(lambda: False, b, health, timeout_s=2.5) is False
    assert health.state == "reconnecting"
    assert clock.now - 100.0 == pytest.approx(2.5)
    tried = health.reconnects
    assert reconnect(lambda: True, b, health, timeout_s=10.0) is True
    assert health.reconnects == tried and health.state == "open"


def test_backoff_rejects_bad_settings():
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial_s=2.0, max_s=1.0)


def test_pacer_waits_for_media_time():
    clock = FakeClock()
    pacer = Pacer(True, clock=clock, sleep=clock.sleep)
    for media_s in (0.0, 0.1, 0.2, 0.3):
        pacer.wait(media_s)
    assert clock.now - 100.0 == pytest.approx(0.3)
    fast = Pacer(False, clock=clock, sleep=clock.sleep)
    fast.wait(50.0)
    assert clock.now - 100.0 == pytest.approx(0.3)


class Counting(Source):
    kind = "vibration"

    def open(self):
        self.left = 3
        self.health.state = "open"
        return self

    def read(self, timeout_s=None):
        if self.left == 0:
            self.health.state = "ended"
            return None
        self.left -= 1
        return self._chunk(1000 * self.left, np.zeros((10, 1), np.float32), 1000.0)


def test_iteration_context_and_health():
    with Counting() as src:
        chunks = list(src)
    assert [c.seq for c in chunks] == [0, 1, 2]
    assert all(isinstance(c, Chunk) and c.duration_us == 10_000 for c in chunks)
    assert src.health.chunks == 3 and src.health.state == "closed"
    assert set(src.health.as_dict()) >= {"state", "last_error", "reconnects", "overflows"}


def test_make_source_builds_and_validates(tmp_path):
    from akida_edge.drivers import SOURCE_TYPES, make_source

    from akida_edge.errors import ConfigError

    src = make_source("synthetic_machine", fault="inner", rate_hz=8000.0, duration_s=0.5, block_s=0.25)
    chunks = list(src.open())
    assert len(chunks) == 2 and src.config.fault == "inner"
    with pytest.raises(ConfigError, match="unknown source type 'thermometer'"):
        make_source("thermometer")
    with pytest.raises(ConfigError, match="unknown setting colour for source type 'camera'"):
        make_source("camera", colour="red")
    with pytest.raises(ConfigError, match="severity must be in 0..1"):
        make_source("synthetic_machine", severity=3.0)
    for module, cls, cfg in SOURCE_TYPES.values():
        mod = __import__(f"akida_edge.drivers.{module}", fromlist=[cls])
        assert hasattr(mod, cls) and hasattr(mod, cfg)
