"""Integration fixtures: a real Mosquitto per test on a free loopback port (reference §5.1).

The broker itself is `akida_edge.mqtt.testbroker.Mosquitto` (shared with `mqtt_fixtures` and the
daemon benchmark).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from akida_edge.mqtt.testbroker import Mosquitto, find_mosquitto


@pytest.fixture
def mosquitto_stopped(tmp_path: Path) -> Iterator[Mosquitto]:
    """A configured Mosquitto on a free port, not started yet (`start()` it); killed after the test."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (bash scripts/setup.sh installs it)")
    broker = Mosquitto(tmp_path)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_broker(mosquitto_stopped: Mosquitto) -> Mosquitto:
    """A running Mosquitto (anonymous, loopback only), killed after the test."""
    mosquitto_stopped.start()
    return mosquitto_stopped
