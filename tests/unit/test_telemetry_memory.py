"""Telemetry's memory figures: `rss_anon_mb` is the process's private memory, part of `rss_mb`,
and follows what the process itself allocates (`rss_mb` also counts mapped library pages)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from akida_edge.mqtt.telemetry import HostProbe

pytestmark = [pytest.mark.unit,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")]


def test_private_memory_is_part_of_rss_and_follows_allocations():
    before = HostProbe().sample()
    assert 0 < before["rss_anon_mb"] <= before["rss_mb"]
    block = np.ones(96 * 2**20, np.uint8)  # 96 MiB, every page written
    after = HostProbe().sample()
    assert after["rss_anon_mb"] - before["rss_anon_mb"] >= 90
    assert after["rss_anon_mb"] <= after["rss_mb"]
    del block
