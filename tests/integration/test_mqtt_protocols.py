"""MQTT 3.1.1 against Mosquitto, and MQTT 5 request/response properties on an in-process daemon."""

from __future__ import annotations

import json
import logging
import threading

import paho.mqtt.client as paho
import pytest
from mqtt_fixtures import Recorder, free_port, mosquitto  # noqa: F401 (fixture)
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from akida_edge.config import MqttConfig, parse_config
from akida_edge.daemon import STOP_DRAIN_S, Daemon
from akida_edge.mqtt.client import MqttLink
from akida_edge.mqtt.outbox import Outbox
from akida_edge.mqtt.topics import Topics

pytestmark = pytest.mark.integration


def test_mqtt_311_delivers_and_warns(mosquitto, tmp_path, caplog):  # noqa: F811
    rec = Recorder(mosquitto.port, "akida/#")
    outbox = Outbox(tmp_path / "o.db")
    topics = Topics("akida", "old")
    link = MqttLink(MqttConfig(broker="external", port=mosquitto.port, protocol="3.1.1"), topics, outbox)
    with caplog.at_level(logging.WARNING, logger="akida_edge.mqtt"):
        link.start()
    assert any("3.1.1" in r.getMessage() for r in caplog.records)
    n = 30
    for i in range(n):
        outbox.add_detection(str(topics.detection("k")), "old", "k", 0, {"i": i})
    link.wake()
    assert rec.wait_for(lambda r: len(r.json("/k/detection")) == n)
    assert [d["seq"] for d in rec.json("/k/detection")] == list(range(1, n + 1))
    link.stop(2)
    assert rec.wait_for(lambda r: r.payloads("akida/old/status")[-1:] == [b"offline"])
    rec.close()


def test_v5_response_topic_and_correlation_data(tmp_path):
    port = free_port()
    tick = {"name": "tick", "type": "custom", "factory": "daemon_pipelines:counter",
            "source": {"type": "synthetic", "rate_hz": 50}}
    cfg = parse_config({"device": {"id": "n5"}, "mqtt": {"port": port, "discovery": False},
                        "state": {"dir": str(tmp_path / "state")}, "pipelines": [tick]},
                       str(tmp_path / "config.toml"))
    daemon = Daemon(cfg)
    daemon.start()
    try:
        assert daemon.link.wait_connected(10)
        got: list = []
        done = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id="asker", protocol=MQTTProtocolVersion.MQTTv5)

        def on_message(cl, ud, msg):
            got.append((msg.topic, json.loads(msg.payload), getattr(msg.properties, "CorrelationData", None)))
            done.set()

        subscribed = threading.Event()
        c.on_message = on_message
        c.on_subscribe = lambda cl, ud, mid, rcs, p: subscribed.set()
        c.connect("127.0.0.1", port)
        c.loop_start()
        c.subscribe("replies/asker", 1)
        assert subscribed.wait(5)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "replies/asker"
        props.CorrelationData = b"corr-42"
        c.publish("akida/n5/request/status", json.dumps({"transaction": "t-9"}), qos=1, properties=props)
        assert done.wait(10)
        topic, body, corr = got[0]
        assert topic == "replies/asker" and corr == b"corr-42"
        assert body["status"] == "ok" and body["transaction"] == "t-9" and body["data"]["node"] == "n5"
        # a pipeline's own commands, through `request/pipeline`
        for i, command in enumerate(("count", "explode")):
            done.clear()
            props.CorrelationData = f"c{i}".encode()
            req = {"transaction": i, "pipeline": "tick", "command": command, "echo": "hi"}
            c.publish("akida/n5/request/pipeline", json.dumps(req), qos=1, properties=props)
            assert done.wait(10)
        ok, bad = got[1][1], got[2][1]
        assert ok["status"] == "ok" and ok["data"]["echo"] == "hi" and ok["data"]["count"] >= 0
        assert bad["status"] == "error" and "explode" in bad["error"] and bad["transaction"] == 1
        c.disconnect()
        c.loop_stop()
    finally:
        # a hang guard, not a speed check: shutdown drains for at most STOP_DRAIN_S
        stopper = threading.Thread(target=daemon.shutdown, daemon=True)
        stopper.start()
        stopper.join(STOP_DRAIN_S + 60.0)
        assert not stopper.is_alive(), "Daemon.shutdown() hung"


def test_a_long_pipeline_command_does_not_hold_up_ping(tmp_path):
    import daemon_pipelines

    port = free_port()
    tick = {"name": "tick", "type": "custom", "factory": "daemon_pipelines:counter",
            "source": {"type": "synthetic", "rate_hz": 50}}
    cfg = parse_config({"device": {"id": "n6"}, "mqtt": {"port": port, "discovery": False},
                        "state": {"dir": str(tmp_path / "state")}, "pipelines": [tick]},
                       str(tmp_path / "config.toml"))
    daemon_pipelines.RELEASE.clear()
    daemon = Daemon(cfg)
    daemon.start()
    try:
        assert daemon.link.wait_connected(10)
        rec = Recorder(port, "akida/n6/response/#")
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id="asker6", protocol=MQTTProtocolVersion.MQTTv5)
        c.connect("127.0.0.1", port)
        c.loop_start()
        c.publish("akida/n6/request/pipeline", json.dumps({"transaction": "long", "pipeline": "tick",
                                                            "command": "wait"}), qos=1)
        c.publish("akida/n6/request/ping", json.dumps({"transaction": "p"}), qos=1)
        # the ping is answered while the pipeline command still runs (one command thread: never)
        assert rec.wait_for(lambda r: r.json("/response/ping"), timeout_s=10)
        assert rec.json("/response/ping")[0]["data"] == {"pong": True} and not rec.json("/response/pipeline")
        daemon_pipelines.RELEASE.set()
        assert rec.wait_for(lambda r: r.json("/response/pipeline"), timeout_s=10)
        done = rec.json("/response/pipeline")[0]
        assert done["transaction"] == "long" and done["data"] == {"released": True}
        c.disconnect()
        c.loop_stop()
        rec.close()
    finally:
        daemon_pipelines.RELEASE.set()
        stopper = threading.Thread(target=daemon.shutdown, daemon=True)
        stopper.start()
        stopper.join(STOP_DRAIN_S + 60.0)
        assert not stopper.is_alive(), "Daemon.shutdown() hung"
