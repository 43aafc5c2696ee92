"""`compose.stream_start_us`: where a sample stream's first sample lies on the wall clock, as each
chunk says it (live sources: every chunk; replays in media time: the first)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from akida_edge.drivers.base import Chunk
from akida_edge.pipelines.compose import MEDIA_TIME_LIMIT_US, stream_start_us

pytestmark = pytest.mark.unit
RATE_HZ = 16000.0


def chunk(t_us: int, n: int = 1600) -> Chunk:
    return Chunk(t_us=t_us, data=np.zeros((n, 1), np.float32), rate_hz=RATE_HZ, kind="audio", seq=0)


def test_a_live_stream_follows_its_chunks_stamps():
    t0 = 1_700_000_000_000_000
    assert stream_start_us(None, chunk(t0), 0) == t0
    # 10 chunks of 0.1 s later, stamped on time: the same start
    assert stream_start_us(t0, chunk(t0 + 1_000_000), 16000) == t0
    # the sound card ran 50 ppm fast for a day: its stamps (resynchronised to the clock) say so
    n_day = int(RATE_HZ * 86_400 * (1 + 50e-6))
    assert stream_start_us(t0, chunk(t0 + 86_400_000_000), n_day) == t0 + 86_400_000_000 - round(
        n_day * 1e6 / RATE_HZ)
    # the wall clock stepped an hour forward after 2 s of samples
    assert stream_start_us(t0, chunk(t0 + 2_000_000 + 3_600_000_000), 32000) == t0 + 3_600_000_000


def test_a_media_time_replay_keeps_the_start_it_got_first():
    before = time.time_ns() // 1000
    start = stream_start_us(None, chunk(0), 0)
    assert before <= start <= time.time_ns() // 1000 and start >= MEDIA_TIME_LIMIT_US
    assert stream_start_us(start, chunk(5_000_000), 80_000) == start
