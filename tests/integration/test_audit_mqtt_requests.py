"""Requests a buggy integrator sends (session-27 audit): an MQTT 5 response topic with a wildcard
made paho raise in the daemon's MQTT thread, which died (no more responses, detections or
telemetry, no line saying so); a retained request ran again at every reconnection; an integer of
5000 digits answered "internal error" with a traceback in the log."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as paho
import pytest
from mqtt_fixtures import free_port, mosquitto  # noqa: F401 (fixture)
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from akida_edge.config import parse_config
from akida_edge.daemon import STOP_DRAIN_S, Daemon

pytestmark = pytest.mark.integration


def _client(port: int, got: list, new: threading.Event, node: str = "n6") -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="integrator", protocol=MQTTProtocolVersion.MQTTv5)

    def on_message(cl, ud, msg):
        got.append((msg.topic, json.loads(msg.payload)))
        new.set()

    subscribed = threading.Event()
    c.on_message = on_message
    c.on_subscribe = lambda cl, ud, mid, rcs, p: subscribed.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe(f"akida/{node}/response/#", 1)
    assert subscribed.wait(5)
    return c


def test_bad_requests_are_answered_and_the_link_lives_on(tmp_path, caplog):
    port = free_port()
    tick = {"name": "tick", "type": "custom", "factory": "daemon_pipelines:counter",
            "source": {"type": "synthetic", "rate_hz": 50}}
    cfg = parse_config({"device": {"id": "n6"}, "mqtt": {"port": port, "discovery": False},
                        "state": {"dir": str(tmp_path / "state")}, "pipelines": [tick]},
                       str(tmp_path / "config.toml"))
    daemon = Daemon(cfg)
    daemon.start()
    got: list = []
    new = threading.Event()
    try:
        assert daemon.link.wait_connected(10)
        c = _client(port, got, new)

        def ask(command: str, body: str, retain: bool = False, response_topic: str | None = None) -> dict:
            new.clear()
            n = len(got)
            props = None
            if response_topic is not None:
                props = Properties(PacketTypes.PUBLISH)
                props.ResponseTopic = response_topic
            c.publish(f"akida/n6/request/{command}", body, qos=1, retain=retain, properties=props)
            assert new.wait(10) or len(got) > n, f"no answer to {command}"
            while len(got) <= n:
                new.wait(1)
            return got[n][1]

        for topic in ("replies/#", "replies/+/x"):
            answer = ask("ping", json.dumps({"transaction": topic}), response_topic=topic)
            assert answer["status"] == "error" and "contains a wildcard" in answer["error"]
            assert answer["transaction"] == topic  # answered on response/ping, matchable
        # the link still answers (it had died here)
        assert ask("ping", json.dumps({"transaction": 1}))["status"] == "ok"
        answer = ask("set_threshold", '{"pipeline": "tick", "value": ' + "9" * 5000 + "}")
        assert answer["status"] == "error" and "not valid UTF-8 JSON" in answer["error"]
        assert not [r for r in caplog.records if r.levelname == "ERROR" and "command" in r.getMessage()]
        c.disconnect()
        c.loop_stop()
    finally:
        stopper = threading.Thread(target=daemon.shutdown, daemon=True)
        stopper.start()
        stopper.join(STOP_DRAIN_S + 60.0)
        assert not stopper.is_alive(), "Daemon.shutdown() hung"


def test_a_retained_request_is_refused_when_the_broker_delivers_it_again(tmp_path, mosquitto):  # noqa: F811
    """A dashboard that publishes requests with retain=True: the broker keeps the request and hands
    it to the daemon at every subscription (each reconnection, each start), overriding what was set
    since. The daemon answers such a delivery with an error instead of running it."""
    got: list = []
    new = threading.Event()
    c = _client(mosquitto.port, got, new, node="n7")
    c.publish("akida/n7/request/set_threshold", json.dumps({"pipeline": "tick", "value": 0.9,
                                                             "transaction": "kept"}), qos=1, retain=True)
    tick = {"name": "tick", "type": "custom", "factory": "daemon_pipelines:counter",
            "source": {"type": "synthetic", "rate_hz": 50}}
    cfg = parse_config({"device": {"id": "n7"}, "mqtt": {"broker": "external", "port": mosquitto.port,
                                                         "discovery": False},
                        "state": {"dir": str(tmp_path / "state")}, "pipelines": [tick]},
                       str(tmp_path / "config.toml"))
    daemon = Daemon(cfg)
    daemon.start()
    try:
        assert new.wait(20)
        topic, answer = got[0]
        assert topic == "akida/n7/response/set_threshold" and answer["transaction"] == "kept"
        assert answer["status"] == "error" and "retain flag" in answer["error"]
        assert daemon.runners["tick"].threshold != 0.9
    finally:
        c.publish("akida/n7/request/set_threshold", b"", qos=1, retain=True).wait_for_publish(5)
        c.disconnect()
        c.loop_stop()
        stopper = threading.Thread(target=daemon.shutdown, daemon=True)
        stopper.start()
        stopper.join(STOP_DRAIN_S + 60.0)
        assert not stopper.is_alive(), "Daemon.shutdown() hung"
