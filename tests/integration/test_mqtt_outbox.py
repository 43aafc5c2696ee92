"""The disk outbox, payloads, topics and command parsing (real SQLite files, no broker)."""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest

from akida_edge.errors import ConfigError, MqttError, StateError
from akida_edge.mqtt import commands, payloads
from akida_edge.mqtt.broker import EmbeddedBroker
from akida_edge.mqtt.outbox import KIND_DETECTION, KIND_TELEMETRY, Outbox
from akida_edge.mqtt.topics import Topic, Topics

pytestmark = pytest.mark.integration


def test_seq_persists_across_reopen_without_holes(tmp_path):
    box = Outbox(tmp_path / "o.db")
    first = [box.add_detection("a/n/k/detection", "n", "k", 1000 + i, {"i": i}) for i in range(5)]
    box.ack([first[0][0], first[1][0]])
    box.close()
    box = Outbox(tmp_path / "o.db")  # a restart
    more = [box.add_detection("a/n/k/detection", "n", "k", 2000, {}) for _ in range(3)]
    seqs = [s for _, s, _ in first + more]
    assert seqs == list(range(1, len(seqs) + 1))
    pending = box.pending()
    assert [json.loads(m.payload)["seq"] for m in pending] == seqs[2:]
    assert len({json.loads(m.payload)["id"] for m in pending}) == len(pending)


def test_concurrent_producers_get_unique_contiguous_seq(tmp_path):
    box = Outbox(tmp_path / "o.db")
    n_threads, per = 4, 50
    def produce() -> None:
        for _ in range(per):
            box.add_detection("t/x", "n", "k", 0, {})

    threads = [threading.Thread(target=produce) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = sorted(json.loads(m.payload)["seq"] for m in box.pending(limit=10_000))
    assert seqs == list(range(1, n_threads * per + 1))


def test_payload_fields_and_replay_flag(tmp_path):
    box = Outbox(tmp_path / "o.db")
    _, seq, msg_id = box.add_detection("t/x", "node", "kws", 1234, {"label": "yes", "score": 0.9,
                                                                    "replayed": "ignored"})
    m = box.pending()[0]
    live, replay = json.loads(m.payload), json.loads(payloads.mark_replayed(m.payload))
    assert live == {**replay, "replayed": False} and replay["replayed"] is True
    head = (live["schema"], live["id"], live["seq"], live["ts"])
    assert head == (payloads.SCHEMA_DETECTION, msg_id, seq, 1234)
    assert uuid.UUID(msg_id).version == 7


def test_uuid7_is_time_ordered():
    ids = [payloads.uuid7(now_ms=1_700_000_000_000 + i) for i in range(20)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert int(uuid.UUID(ids[3]).hex[:12], 16) == 1_700_000_000_000 + 3


def test_telemetry_bounded_detections_never_dropped(tmp_path):
    box = Outbox(tmp_path / "o.db", telemetry_max_rows=10)
    for _ in range(5):
        box.add_detection("t/d", "n", "k", 0, {})
    for i in range(25):
        box.add_telemetry("t/telemetry", json.dumps({"i": i}).encode())
    rows = box.pending(limit=1000)
    tel = [json.loads(m.payload)["i"] for m in rows if m.kind == KIND_TELEMETRY]
    assert tel == list(range(15, 25))  # the newest 10, oldest dropped first
    assert sum(m.kind == KIND_DETECTION for m in rows) == 5
    assert box.telemetry_dropped == 15


def test_rejected_rows_are_kept_not_retried(tmp_path):
    box = Outbox(tmp_path / "o.db")
    row, _, _ = box.add_detection("t/denied", "n", "k", 0, {})
    box.reject(row, 0x87, "Not authorized")
    assert box.depth() == 0 and box.rejected() == [("t/denied", 0x87, "Not authorized")]


def test_topics_validated():
    t = Topics("akida", "n1")
    assert str(t.detection("kws")) == "akida/n1/kws/detection"
    assert t.command_name("akida/n1/request/ping") == "ping"
    assert t.command_name("akida/n1/request/a/b") is None
    for bad in ("a+b", "a/#", "", "a//b"):
        with pytest.raises(ValueError):
            Topic(bad)
    with pytest.raises(ConfigError):
        t.detection("bad name")


@pytest.mark.parametrize("payload", [b"{", b"[]", b"\xff", b'{"transaction": [1]}', b'{"transaction": true}',
                                     b"1" * (commands.MAX_REQUEST_BYTES + 1)])
def test_malformed_requests_answered_with_error(payload):
    table = commands.CommandTable()
    table.add("ping", lambda args: {"pong": True})
    out = json.loads(table.handle(commands.Request("ping", payload, "r")))
    assert out["status"] == "error" and out["error"] and out["schema"] == payloads.SCHEMA_RESPONSE


def test_request_transaction_echoed_and_handler_errors_contained():
    table = commands.CommandTable()
    table.add("boom", lambda args: 1 / 0)
    table.add("echo", lambda args: args)
    ok = json.loads(table.handle(commands.Request("echo", b'{"transaction": "t1", "x": 1}', "r")))
    assert ok == {**ok, "status": "ok", "transaction": "t1", "data": {"x": 1}}
    bad = json.loads(table.handle(commands.Request("boom", b'{"transaction": 7}', "r")))
    assert bad["status"] == "error" and bad["transaction"] == 7 and "ZeroDivisionError" in bad["error"]


def test_one_process_per_outbox(tmp_path):
    box = Outbox(tmp_path / "o.db")
    with pytest.raises(StateError, match="another akida-edge process"):
        Outbox(tmp_path / "o.db")
    box.close()
    Outbox(tmp_path / "o.db").close()  # released on close


def test_embedded_broker_port_in_use_is_one_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        broker = EmbeddedBroker("127.0.0.1", port)
        with pytest.raises(MqttError, match=f"127.0.0.1:{port}.*free port"):
            broker.start()


def test_size_budget_drops_telemetry_first_never_detections(tmp_path):
    budget = 256 * 1024
    box = Outbox(tmp_path / "o.db", telemetry_max_rows=1_000_000, max_bytes=budget)
    n_det = 20
    for _ in range(n_det):
        box.add_detection("t/d", "n", "k", 0, {"pad": "d" * 1000})
    blob = b"t" * 2000
    n_tel = 400  # 800 kB of telemetry: well over the budget
    for _ in range(n_tel):
        box.add_telemetry("t/telemetry", blob)
    rows = box.pending(limit=100_000)
    kept_tel = sum(m.kind == KIND_TELEMETRY for m in rows)
    assert sum(m.kind == KIND_DETECTION for m in rows) == n_det
    assert 0 < kept_tel < n_tel and box.telemetry_dropped == n_tel - kept_tel
    assert kept_tel * len(blob) <= budget and not box.over_budget
