"""Two daemons configured with the same node id on one broker (a copied config.toml)."""

from __future__ import annotations

import logging
import time

import pytest
from mqtt_fixtures import mosquitto  # noqa: F401

from akida_edge.config import MqttConfig
from akida_edge.mqtt.client import MqttLink
from akida_edge.mqtt.outbox import Outbox
from akida_edge.mqtt.topics import Topics

pytestmark = pytest.mark.integration


def test_two_links_with_one_client_id_back_off_and_say_why(mosquitto, tmp_path, caplog):  # noqa: F811
    # each connection takes the broker session from the other; reconnecting at once after a
    # connection that lasted a moment made them flap every reconnect_min_s (~20 a second here)
    cfg = MqttConfig(broker="external", port=mosquitto.port, reconnect_min_s=0.05, reconnect_max_s=1.0)
    links = [MqttLink(cfg, Topics("akida", "n1"), Outbox(tmp_path / f"outbox{i}.db")) for i in range(2)]
    with caplog.at_level(logging.INFO, logger="akida_edge.mqtt"):
        for link in links:
            link.start()
        time.sleep(6.0)  # the scenario's length, not a wait for a condition
        for link in links:
            link.stop(1)
    connects = sum(link.stats.connects for link in links)
    # backing off 0.05, 0.1, ... 1 s: about 10 connections each in 6 s; flapping: over 100 in all
    assert 2 <= connects <= 40, connects
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("'akida-edge-n1'" in m and "[device] id = 'n1'" in m for m in errors)
    assert len(errors) <= 2  # once per daemon, not once per connection
    for link in links:
        link.outbox.close()
