"""A publish over the embedded broker's packet limit (session-10 audit): before, the broker dropped
the connection with no reason and logged it at debug level, so a user uploading clips saw their
client disconnected and no response; now MQTT 5 clients learn the limit at CONNACK and get
DISCONNECT 0x95 *Packet too large*, and the daemon's log names the client and the sizes."""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as paho
import pytest
from mqtt_fixtures import broker  # noqa: F401 (fixture)
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from akida_edge.mqtt.broker import MAX_PACKET_BYTES, PACKET_TOO_LARGE

pytestmark = pytest.mark.integration


def _client(port: int, v5: bool, name: str) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=name,
                    protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311)
    c.connack_props, c.gone, c.got = [], threading.Event(), []
    c.reasons, c.subscribed = [], threading.Event()
    connected = threading.Event()

    def on_connect(cl, ud, flags, rc, props):
        c.connack_props.append(props)
        connected.set()

    def on_disconnect(cl, ud, flags, rc, props):
        c.reasons.append(rc)
        c.gone.set()

    c.on_connect, c.on_disconnect = on_connect, on_disconnect
    c.on_subscribe = lambda cl, ud, mid, rcs, props: c.subscribed.set()
    c.on_message = lambda cl, ud, msg: c.got.append(len(msg.payload))
    c.connect("127.0.0.1", port, keepalive=10)
    c.loop_start()
    assert connected.wait(5)
    return c


@pytest.mark.parametrize("v5", [True, False])
def test_a_publish_over_the_limit_is_refused_with_the_reason(broker, caplog, v5):  # noqa: F811
    sub = _client(broker.port, True, "listener")
    sub.subscribe("up/#", qos=1)
    assert sub.subscribed.wait(5)
    pub = _client(broker.port, v5, "uploader")
    if v5:
        assert getattr(pub.connack_props[0], "MaximumPacketSize", None) == MAX_PACKET_BYTES
    small = MAX_PACKET_BYTES // 2
    pub.publish("up/ok", b"x" * small, qos=1).wait_for_publish(10)
    for _ in range(250):  # delivered before the big one (QoS 1, the same broker thread)
        if sub.got:
            break
        threading.Event().wait(0.02)
    with caplog.at_level(logging.WARNING, logger="akida_edge.mqtt.broker"):
        pub.publish("up/big", b"x" * (MAX_PACKET_BYTES + 1000), qos=1)
        assert pub.gone.wait(10)
    if v5:
        assert [int(r.value) for r in pub.reasons] == [PACKET_TOO_LARGE]
        assert str(pub.reasons[0]) == "Packet too large"
    warned = [r.getMessage() for r in caplog.records if "over the" in r.getMessage()]
    assert len(warned) == 1 and "uploader" in warned[0] and f"{MAX_PACKET_BYTES}-byte limit" in warned[0]
    assert sub.got == [small] and not sub.gone.is_set()  # the broker and other clients go on
    # paho sends the same publish again at every reconnection: said once a minute, not each time
    # (session-27 audit: a line a second for as long as the client retried)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="akida_edge.mqtt.broker"):
        for _ in range(3):
            again = _client(broker.port, v5, "uploader")
            again.publish("up/big", b"x" * (MAX_PACKET_BYTES + 1000), qos=1)
            assert again.gone.wait(10)
            again.loop_stop()
    assert not [r for r in caplog.records if "over the" in r.getMessage()]
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
