"""The embedded broker against real paho clients, MQTT 5 and 3.1.1."""

from __future__ import annotations

import re
import threading

import numpy as np
import paho.mqtt.client as paho
import pytest
from mqtt_fixtures import broker  # noqa: F401 (fixture)
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from akida_edge.mqtt.topics import matches

pytestmark = pytest.mark.integration


def _client(port: int, v5: bool, name: str, will: tuple[str, bytes] | None = None):
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=name,
                    protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311)
    got: list = []
    lock = threading.Lock()
    acks: list = []

    def on_message(cl, ud, msg):
        with lock:
            got.append((msg.topic, bytes(msg.payload), msg.retain))

    c.on_message = on_message
    c.on_publish = lambda cl, ud, mid, rc, p: acks.append((mid, rc))
    if will:
        c.will_set(will[0], will[1], qos=1, retain=True)
    connected = threading.Event()
    subscribed = threading.Event()
    c.on_connect = lambda cl, ud, f, rc, p: connected.set()
    c.on_subscribe = lambda cl, ud, mid, rcs, p: subscribed.set()
    c.connect("127.0.0.1", port, keepalive=5)
    c.loop_start()
    assert connected.wait(5)
    c.got, c.acks, c.subscribed = got, acks, subscribed
    return c


def _wait(cond, timeout_s=5.0):
    ev = threading.Event()
    for _ in range(int(timeout_s / 0.02)):
        if cond():
            return True
        ev.wait(0.02)
    return cond()


@pytest.mark.parametrize("sub_v5, pub_v5", [(True, True), (False, True), (True, False)])
def test_wildcards_qos1_and_retained(broker, sub_v5, pub_v5):  # noqa: F811
    pub = _client(broker.port, pub_v5, "pub")
    pub.publish("a/n1/info", b"retained-info", qos=1, retain=True).wait_for_publish(5)
    sub = _client(broker.port, sub_v5, "sub")
    sub.subscribe([("a/+/k/detection", 1), ("a/n1/#", 1)])
    assert sub.subscribed.wait(5)
    assert _wait(lambda: ("a/n1/info", b"retained-info", True) in sub.got)
    n = 50
    infos = [pub.publish("a/n1/k/detection", str(i).encode(), qos=1) for i in range(n)]
    pub.publish("b/n1/k/detection", b"not-matching", qos=1)
    for info in infos:
        info.wait_for_publish(5)
    expected = [str(i).encode() for i in range(n)]
    # both filters match: one copy (the broker delivers once per subscription set), in order
    assert _wait(lambda: [p for t, p, _ in sub.got if t == "a/n1/k/detection"] == expected)
    assert all(t.startswith("a/") for t, _, _ in sub.got)
    assert all(not rc.is_failure for _, rc in pub.acks)
    pub.publish("a/n1/info", b"", qos=1, retain=True).wait_for_publish(5)
    late = _client(broker.port, sub_v5, "late")
    late.subscribe("a/#", 1)
    assert late.subscribed.wait(5)
    pub.publish("a/x", b"ping", qos=1).wait_for_publish(5)
    assert _wait(lambda: any(t == "a/x" for t, _, _ in late.got))
    assert not any(t == "a/n1/info" for t, _, _ in late.got)  # the empty payload deleted it
    for c in (pub, sub, late):
        c.disconnect()
        c.loop_stop()


def test_will_on_abnormal_disconnect_only(broker):  # noqa: F811
    watcher = _client(broker.port, True, "watcher")
    watcher.subscribe("w/#", 1)
    assert watcher.subscribed.wait(5)
    clean = _client(broker.port, True, "clean", will=("w/clean/status", b"offline"))
    clean.disconnect()
    clean.loop_stop()
    crash = _client(broker.port, True, "crash", will=("w/crash/status", b"offline"))
    crash.loop_stop()
    crash.socket().close()  # no DISCONNECT: the broker must publish the will
    assert _wait(lambda: ("w/crash/status", b"offline", False) in watcher.got)
    assert not any(t == "w/clean/status" for t, _, _ in watcher.got)
    watcher.disconnect()
    watcher.loop_stop()


def _regex_oracle(filt: str, topic: str) -> bool:
    """An independent reading of MQTT §4.7: `+` one level, `#` the parent and all below."""
    if topic.startswith("$") and filt[:1] in "+#":
        return False
    pattern = "/".join("[^/]*" if lv == "+" else re.escape(lv) for lv in filt.split("/"))
    pattern = pattern.replace("/\\#", "(/.*)?") if filt.endswith("/#") else pattern
    pattern = ".*" if filt == "#" else pattern
    return re.fullmatch(pattern, topic) is not None


@pytest.mark.parametrize("filt, topic", [("a/+/c", "a/b/c"), ("a/#", "a"), ("a/#", "a/b/c"), ("#", "x"),
                                         ("+/+", "a/b"), ("a/+", "a/b/c"), ("#", "$SYS/x"), ("a/b", "a/c"),
                                         ("a/+/#", "a/b"), ("+", "")])
def test_topic_matching(filt, topic):
    assert matches(filt, topic) == _regex_oracle(filt, topic)


def test_v5_properties_forwarded_and_garbage_survived(broker, rng):  # noqa: F811
    import socket

    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    for _ in range(5):  # random bytes, a CONNECT with a wrong protocol, a huge length: each costs one socket
        with socket.create_connection(("127.0.0.1", broker.port)) as s:
            s.sendall(rng.integers(0, 256, 64, dtype=np.uint8).tobytes())
    with socket.create_connection(("127.0.0.1", broker.port)) as s:
        s.sendall(b"\x10\xff\xff\xff\x7f")
    sub = _client(broker.port, True, "sub5")
    sub.subscribe("p/#", 1)
    assert sub.subscribed.wait(5)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "p/reply"
    props.CorrelationData = b"\x00\x01corr"
    props.UserProperty = ("k", "v")
    pub = _client(broker.port, True, "pub5")
    got_props = []
    sub.on_message = lambda c, u, m: got_props.append(m.properties)
    pub.publish("p/q", b"x", qos=1, properties=props).wait_for_publish(5)
    assert _wait(lambda: got_props)
    p = got_props[0]
    assert (p.ResponseTopic, p.CorrelationData, p.UserProperty) == ("p/reply", b"\x00\x01corr", [("k", "v")])
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()


@pytest.mark.parametrize("field", ["ResponseTopic", "ContentType", "UserProperty", "topic"])
def test_a_string_with_u0000_closes_the_senders_connection_not_the_subscribers(broker, field):  # noqa: F811
    """Session-27 audit: a PUBLISH whose ResponseTopic held U+0000 was forwarded as it was, and
    every subscriber's paho client dropped its connection ("Protocol error"), the daemon's too (its
    will: `offline`). A UTF-8 string field with U+0000 is a malformed packet (MQTT 5 §1.5.4): the
    broker closes the sender's connection and forwards nothing."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    sub = _client(broker.port, True, "sub-nul")
    lost: list = []
    sub.on_disconnect = lambda c, u, f, rc, p: lost.append(rc)
    sub.subscribe("n/#", 1)
    assert sub.subscribed.wait(5)
    pub = _client(broker.port, True, "pub-nul")
    pub_lost = threading.Event()
    pub.on_disconnect = lambda c, u, f, rc, p: pub_lost.set()
    props = Properties(PacketTypes.PUBLISH)
    topic = "n/bad\x00topic" if field == "topic" else "n/x"
    if field == "UserProperty":
        props.UserProperty = ("k", "v\x00w")
    elif field != "topic":
        setattr(props, field, "a\x00b")
    pub.publish(topic, b"x", qos=1, properties=props)
    assert pub_lost.wait(5)
    pub.loop_stop()
    ok = _client(broker.port, True, "pub-ok")
    ok.publish("n/fine", b"y", qos=1).wait_for_publish(5)
    assert _wait(lambda: [t for t, _, _ in sub.got] == ["n/fine"])  # the bad one was not forwarded
    assert lost == [] and sub.is_connected()
    for c in (ok, sub):
        c.disconnect()
        c.loop_stop()


def test_a_client_gone_at_stop_does_not_leave_the_others_unclosed(caplog):
    """Session-27 audit: at stop, `write_eof` on a connection whose client had just gone raised
    ENOTCONN, which ended the shutdown's loop over the connections: the others were not closed in
    order, their tasks were destroyed pending and asyncio printed "Task exception was never
    retrieved" and "Event loop is closed"."""
    import errno
    import logging

    from akida_edge.mqtt.broker import EmbeddedBroker
    from akida_edge.mqtt.testbroker import free_port

    b = EmbeddedBroker("127.0.0.1", free_port())
    b.start()
    gone, stays = _client(b.port, True, "gone"), _client(b.port, True, "stays")
    assert _wait(lambda: len(b._sessions) == 2)

    def enotconn() -> None:
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

    b._sessions["gone"].writer.write_eof = enotconn
    with caplog.at_level(logging.DEBUG):
        b.stop()
    assert not b._thread.is_alive() and b._loop.is_closed()
    noise = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert noise == [], noise
    for c in (gone, stays):
        c.loop_stop()
