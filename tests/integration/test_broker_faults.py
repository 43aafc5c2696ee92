"""The embedded broker under a misbehaving client: a subscriber that stops reading (a hung consumer
with keep-alive 0) is disconnected once `MAX_CLIENT_BUFFER_BYTES` wait for it, instead of holding
every message in the broker's memory."""

from __future__ import annotations

import numpy as np
import pytest
from mqtt_fixtures import Recorder, broker  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def _stuck_subscriber(port: int):
    """A raw MQTT 3.1.1 client with keep-alive 0 that subscribes to `#` and never reads its socket
    again (a consumer process that hung: nothing ends its connection)."""
    import socket
    import struct

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    cid = b"stuck"
    var = b"\x00\x04MQTT\x04\x02\x00\x00" + struct.pack(">H", len(cid)) + cid
    sock.sendall(bytes([0x10, len(var)]) + var)
    sub = struct.pack(">HH", 1, 1) + b"#\x00"
    sock.sendall(bytes([0x82, len(sub)]) + sub)
    return sock


def test_embedded_broker_closes_a_subscriber_that_never_reads(broker, rng):  # noqa: F811
    """Before: every message for it piled up in the broker's memory, without bound."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from akida_edge.mqtt import broker as broker_module

    stuck = _stuck_subscriber(broker.port)
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="pub")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        subscribed = lambda _: "#" in getattr(broker._sessions.get("stuck"), "subs", {})  # noqa: E731
        assert Recorder.wait_for(None, subscribed, 10)
        payload = rng.integers(0, 256, size=64 * 1024, dtype=np.uint8).tobytes()
        limit = getattr(broker_module, "MAX_CLIENT_BUFFER_BYTES", 8 << 20)
        sent = 0
        while "stuck" in broker._sessions and sent < 4 * limit + (32 << 20):  # far past any socket buffer
            pub.publish("load/x", payload, qos=0).wait_for_publish(10)
            sent += len(payload)
        held = broker._sessions.get("stuck")
        assert held is None, (sent, held and held.writer.transport.get_write_buffer_size())  # bytes held
        assert sent <= limit + (32 << 20)
    finally:
        pub.loop_stop()
        pub.disconnect()
        stuck.close()
