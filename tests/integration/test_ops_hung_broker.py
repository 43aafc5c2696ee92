"""A broker that hangs (its process stopped: connections held open, nothing answered), as a
broker host that swaps itself to death or a firewall that drops packets looks to the daemon."""

from __future__ import annotations

import logging
import signal
import time

import pytest
from mqtt_fixtures import mosquitto  # noqa: F401

from akida_edge.config import MqttConfig
from akida_edge.mqtt.client import MqttLink
from akida_edge.mqtt.outbox import Outbox
from akida_edge.mqtt.topics import Topics

pytestmark = pytest.mark.integration


def test_a_hung_broker_is_one_line_per_problem_and_named_as_hung(mosquitto, tmp_path, caplog,  # noqa: F811
                                                                  monkeypatch):
    import paho.mqtt.client as paho

    connect = paho.Client.connect

    def late_connect(self, *args, **kwargs):  # the MQTT thread descheduled once CONNECT is written
        rc = connect(self, *args, **kwargs)
        time.sleep(0.05)
        return rc

    # raced: the wait for a CONNACK was timed from after connect() returned, paho's keepalive from
    # inside it; a thread descheduled between the two named a hung broker "closed before CONNACK ... TLS"
    monkeypatch.setattr(paho.Client, "connect", late_connect)
    cfg = MqttConfig(broker="external", port=mosquitto.port, keepalive_s=5, reconnect_min_s=0.1,
                     reconnect_max_s=0.2)
    outbox = Outbox(tmp_path / "outbox.db")
    link = MqttLink(cfg, Topics("akida", "n1"), outbox)
    link.start()
    try:
        assert link.wait_connected(10)
        with caplog.at_level(logging.WARNING, logger="akida_edge.mqtt"):
            mosquitto.proc.send_signal(signal.SIGSTOP)
            deadline = time.monotonic() + 30  # keepalive 5 s: lost after ~7.5 s, an attempt fails 5 s later
            while time.monotonic() < deadline and link.stats.connect_failures < 1:
                time.sleep(0.1)
            mosquitto.proc.send_signal(signal.SIGCONT)
        assert link.stats.connect_failures >= 1
        lines = [r.getMessage() for r in caplog.records]
        # the keepalive timeout was logged twice (paho reports it twice)
        assert sum("lost" in m for m in lines) == 1, lines
        attempts = [m for m in lines if "CONNACK" in m]
        # was: "connection closed before CONNACK (MQTT_ERR_NO_CONN); check mqtt.port and the TLS settings"
        assert attempts and all("does not answer" in m and "TLS" not in m for m in attempts), attempts
        assert link.wait_connected(30)  # the broker answers again
    finally:
        if mosquitto.proc is not None:
            mosquitto.proc.send_signal(signal.SIGCONT)
        link.stop(1)
        outbox.close()
