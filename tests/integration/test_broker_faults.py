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
    # CONNACK and SUBACK read (the broker records the filter before its SUBACK): subscribed for sure
    sock.settimeout(30)
    got = b""
    while len(got) < 9:
        got += sock.recv(9 - len(got))
    assert got == b"\x20\x02\x00\x00\x90\x03\x00\x01\x00", got  # granted QoS 0
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


def _publisher(port: int):
    """A raw MQTT 3.1.1 client; `send(sock)` publishes 60 kB to it at QoS 0."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port))
    var = b"\x00\x04MQTT\x04\x02\x00\x00\x00\x03pub"
    sock.sendall(bytes([0x10, len(var)]) + var)
    return sock


def _routed(sock) -> None:
    """Return once the broker has handled every publish sent on `sock`: a PINGREQ is answered
    after what came before it on the connection (CONNACK first, then PINGRESP)."""
    sock.sendall(b"\xc0\x00")
    sock.settimeout(30)
    got = b""
    while len(got) < 6:
        got += sock.recv(6 - len(got))
    assert got == b"\x20\x02\x00\x00\xd0\x00", got


def _send(sock) -> None:
    import struct

    body = struct.pack(">H", 3) + b"t/x" + bytes(60_000)
    n = len(body)
    sock.sendall(bytes([0x30, n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14]) + body)  # PUBLISH, QoS 0


def test_stopping_the_broker_with_a_stuck_subscriber_leaves_no_task_pending(broker, caplog):  # noqa: F811
    """A subscriber that stopped reading keeps its connection open at stop (closing waits for
    what is queued to it): its task was left pending and destroyed with the loop, and asyncio
    said "Task was destroyed but it is pending!" at exit. Now it is cut after a grace."""
    import asyncio
    import gc
    import logging
    import time

    from akida_edge.mqtt.broker import MAX_CLIENT_BUFFER_BYTES

    stuck = _stuck_subscriber(broker.port)
    pub = _publisher(broker.port)
    try:
        subscribed = lambda _: "#" in getattr(broker._sessions.get("stuck"), "subs", {})  # noqa: E731
        assert Recorder.wait_for(None, subscribed, 10)
        waiting = lambda: broker._sessions["stuck"].writer.transport.get_write_buffer_size()  # noqa: E731
        while waiting() < MAX_CLIENT_BUFFER_BYTES // 4:  # held for it, under the limit that cuts it
            _send(pub)
            time.sleep(0.01)
        loop = broker._loop
        with caplog.at_level(logging.INFO):
            broker.stop()
            assert not broker._thread.is_alive()
            assert not asyncio.all_tasks(loop)  # before: the stuck connection's `_serve`
            del loop
            gc.collect()
        said = [r.getMessage() for r in caplog.records]
        assert not [m for m in said if "Task was destroyed" in m]
        assert any("client stuck has not read" in m and "cut at stop" in m for m in said)
    finally:
        pub.close()
        stuck.close()


def test_a_daemon_stopped_with_a_stuck_subscriber_says_no_task_was_destroyed(tmp_path):
    """The same through `akida-edge run` (embedded broker, no pipeline): its stop wrote asyncio's
    "Task was destroyed but it is pending!" to stderr."""
    import signal
    import subprocess
    import sys

    from mqtt_fixtures import free_port, wait_listening

    port = free_port()
    (tmp_path / "config.toml").write_text(f'[device]\nid = "n"\n[mqtt]\nbroker = "embedded"\nport = {port}\n'
                                          f'[state]\ndir = "{tmp_path / "state"}"\n')
    config = tmp_path / "config.toml"
    run = [sys.executable, "-m", "akida_edge", "run", "--config", str(config)]
    daemon = subprocess.Popen(run, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        wait_listening(port, 30)
        # raced: a fixed 0.5 s for the broker to take the subscription, and `--duration 5` from
        # the start for it all; a loaded daemon stopped before, or routed nothing to the subscriber:
        # wait for the SUBACK and for the publishes to be routed, then stop it (SIGTERM, as
        # --duration does)
        stuck = _stuck_subscriber(port)
        pub = _publisher(port)
        for _ in range(100):  # 6 MB held for it: under the limit that cuts it at once
            _send(pub)
        _routed(pub)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
        pub.close()
        stuck.close()
    finally:
        daemon.kill()
    assert daemon.returncode == 0
    assert "Task was destroyed" not in err and "client stuck has not read" in err


def test_a_subscriber_gets_all_that_was_sent_to_it_before_the_broker_stopped(broker):  # noqa: F811
    """At stop the broker closed each connection at once: it stopped reading, and a socket closed
    with unread input (a subscriber's PUBACK, a PINGREQ) is reset, which makes the subscriber's
    kernel drop what it has not read yet: the daemon's last `offline` status was lost so by a
    test's subscriber on a loaded machine. Now what was sent is followed by an orderly end."""
    import threading
    import time

    sub = _stuck_subscriber(broker.port)  # subscribed to '#', reading nothing for now
    pub = _publisher(broker.port)
    _send(pub)  # 60 kB to `t/x`: most of it still in the broker when it stops
    _routed(pub)
    total = 1 + 3 + 2 + 3 + 60_000  # the PUBLISH it is sent: header, length, topic, payload
    stopper = threading.Thread(target=broker.stop)
    try:
        stopper.start()
        deadline = time.monotonic() + 10
        while broker._server.is_serving() and time.monotonic() < deadline:  # the stop has begun
            time.sleep(0.005)
        sub.sendall(b"\xc0\x00")  # a PINGREQ the stopping broker will not answer
        got = b""
        try:
            while len(got) < total - 1000:
                got += sub.recv(total - 1000 - len(got))
            time.sleep(0.3)  # the subscriber's thread busy elsewhere: the end is not read yet
            while chunk := sub.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
        assert len(got) == total, f"{total - len(got)} bytes lost"
    finally:
        stopper.join(10)
        pub.close()
        sub.close()
