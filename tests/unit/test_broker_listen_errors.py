"""The embedded broker's error when it cannot listen names the key that would fix it (session-27
audit: a host that is not this machine's was told to change [mqtt] port)."""

from __future__ import annotations

import socket

import pytest

from akida_edge.errors import MqttError
from akida_edge.mqtt.broker import EmbeddedBroker

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["not a host", "192.0.2.1"])  # no such name; TEST-NET-1, not ours
def test_a_host_it_cannot_listen_on_points_at_mqtt_host(host):
    broker = EmbeddedBroker(host, 0)
    with pytest.raises(MqttError) as info:
        broker.start()
    msg = str(info.value)
    assert f"cannot listen on {host}:0" in msg and "set [mqtt] host" in msg and "\n" not in msg


def test_a_port_in_use_points_at_mqtt_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = EmbeddedBroker("127.0.0.1", port)
        with pytest.raises(MqttError) as info:
            broker.start()
    assert "set [mqtt] port to a free port" in str(info.value)
