"""Dashboard topic parsing, snapshot state and SSE fan-out (pure Python, no broker, no browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akida_edge.commands.dashboard import read_password
from akida_edge.dashboard.hub import CLOSE, Hub, encode
from akida_edge.dashboard.state import CHART_KEYS, MAX_PAYLOAD_BYTES, MAX_TEXT, DashboardState
from akida_edge.dashboard.topics import ParsedTopic, is_level, parse, subscription
from akida_edge.errors import ConfigError

pytestmark = pytest.mark.unit
P = "akida-edge"


def _b(obj: object) -> bytes:
    return obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()


# -- topics ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("topic", "expected"), [
    (f"{P}/edge-1/status", ParsedTopic("edge-1", "status")),
    (f"{P}/edge-1/info", ParsedTopic("edge-1", "info")),
    (f"{P}/edge-1/telemetry", ParsedTopic("edge-1", "telemetry")),
    (f"{P}/edge-1/kws/detection", ParsedTopic("edge-1", "detection", "kws")),
    (f"{P}/edge-1/vib_0/state", ParsedTopic("edge-1", "state", "vib_0")),
    (f"{P}/edge-1/kws/status", ParsedTopic("edge-1", "pipeline", "kws")),
    (f"{P}/edge-1/request/status", None),
    (f"{P}/edge-1/response/status", None),
    (f"{P}/edge-1/kws/threshold/set", None),
    (f"{P}/edge-1/other", None),
    (f"{P}/edge-1", None),
    ("other/edge-1/status", None),
    (f"{P}/bad node/status", None),
    (f"{P}//status", None),
    ("homeassistant/device/x/config", None),
])
def test_parse_topics(topic: str, expected: ParsedTopic | None) -> None:
    assert parse(P, topic) == expected


def test_subscription_and_levels() -> None:
    assert subscription(P) == f"{P}/#"
    assert is_level("akida") and is_level("a_b-9") and not is_level("a/b") and not is_level("")
    assert not is_level("x" * 65)


# -- state -------------------------------------------------------------------------------------------
def _detection(i: int, **extra: object) -> dict[str, object]:
    return {"schema": "akida_edge.detection/1", "id": f"id-{i}", "seq": i, "ts": 1_000 + i, "kind": "keyword",
            "label": "yes", "score": 0.5 + i / 1000, "replayed": False, **extra}


def test_device_status_info_and_pipelines() -> None:
    st = DashboardState(P)
    events = st.apply(f"{P}/n1/status", b"online", now_ms=10)
    assert events[0]["type"] == "device" and events[0]["device"]["status"] == "online"
    info = {"schema": "akida_edge.info/1", "version": "0.1.0", "chip": {"type": "virtual", "name": "AKD1000"},
            "pipelines": [{"name": "kws", "type": "kws", "source": "synthetic", "enabled": True},
                          {"name": "cam", "type": "camera", "source": "replay", "enabled": False}]}
    st.apply(f"{P}/n1/info", _b(info))
    st.apply(f"{P}/n1/kws/status", b"online")
    dev = st.snapshot()["devices"][0]
    assert dev["node"] == "n1" and dev["status"] == "online" and dev["info"]["version"] == "0.1.0"
    assert dev["info"]["chip"] == "AKD1000 virtual"
    pipes = {p["name"]: p for p in dev["pipelines"]}
    assert pipes["kws"]["status"] == "online" and pipes["kws"]["type"] == "kws"
    assert pipes["cam"]["status"] == "disabled"
    st.apply(f"{P}/n1/status", b"offline")
    assert st.snapshot()["devices"][0]["status"] == "offline"


def test_detections_newest_first_bounded_and_deduplicated(rng) -> None:
    keep = 8
    st = DashboardState(P, max_detections=keep)
    order = rng.permutation(20)
    for i in order:
        st.apply(f"{P}/n1/kws/detection", _b(_detection(int(i))))
    repeat = st.apply(f"{P}/n1/kws/detection", _b(_detection(int(order[-1]), replayed=True)))
    assert repeat == []
    snap = st.snapshot()
    assert [d["id"] for d in snap["detections"]] == [f"id-{int(i)}" for i in order[::-1][:keep]]
    assert snap["counters"]["duplicates"] == 1
    first = snap["detections"][0]
    assert first["node"] == "n1" and first["pipeline"] == "kws" and first["replayed"] is False
    assert first["score"] == pytest.approx(0.5 + int(order[-1]) / 1000)


def test_detection_event_keeps_fields_and_replayed_flag() -> None:
    st = DashboardState(P)
    det = _detection(3, replayed=True, scores={"yes": 0.9}, label="x" * (MAX_TEXT + 50))
    (event,) = st.apply(f"{P}/n1/kws/detection", _b(det), now_ms=99)
    d = event["detection"]
    assert event["type"] == "detection" and d["id"] == "id-3" and d["seq"] == 3 and d["ts"] == det["ts"]
    assert d["replayed"] is True and d["received_ms"] == 99 and "scores" not in d
    assert d["label"] == "x" * MAX_TEXT
    gesture = {**_detection(4), "t_start_ms": 1000, "t_end_ms": 1800}  # a gesture's span
    (event,) = st.apply(f"{P}/n1/hands/detection", _b(gesture), now_ms=100)
    assert (event["detection"]["t_start_ms"], event["detection"]["t_end_ms"]) == (1000, 1800)


def test_telemetry_history_and_chart_keys() -> None:
    st = DashboardState(P, history_points=5)
    for i in range(7):
        body = {"schema": "akida_edge.telemetry/1", "ts": 1000 * i, "chip_power_mw": 1.0 + i,
                "inference_ms_p95": 2.0 * i, "nested": {"x": 1}, "cpu_ratio": 0.25}
        (event,) = st.apply(f"{P}/n1/telemetry", _b(body))
        assert event["type"] == "telemetry" and event["point"]["chip_power_mw"] == 1.0 + i
    snap = st.snapshot()
    hist = snap["telemetry_history"]["n1"]
    assert [p["ts"] for p in hist] == [1000 * i for i in range(2, 7)]
    assert set(hist[0]) == {"ts", *CHART_KEYS}
    assert hist[-1]["inference_ms_p50"] is None and hist[-1]["inference_ms_p95"] == 12.0
    tel = snap["devices"][0]["telemetry"]
    assert tel["cpu_ratio"] == 0.25 and "nested" not in tel


def test_anomaly_scores_from_state_and_detections() -> None:
    st = DashboardState(P)
    events = st.apply(f"{P}/n1/vib/state", _b({"ts": 5, "anomaly": "OFF", "score": 1.5, "threshold": 3.0}))
    assert [e["type"] for e in events] == ["device", "anomaly"]
    st.apply(f"{P}/n1/vib/detection", _b(_detection(1, kind="anomaly", label="anomaly", anomaly_score=4.5,
                                                      threshold=3.0, ts=9)))
    st.apply(f"{P}/n1/kws/state", _b({"ts": 6, "label": "yes", "score": 0.9}))  # not an anomaly score
    hist = st.snapshot()["anomaly_history"]
    assert list(hist) == ["n1/vib"]
    assert [(p["ts"], p["score"], p["threshold"]) for p in hist["n1/vib"]] == [(5, 1.5, 3.0), (9, 4.5, 3.0)]


def test_malformed_and_foreign_messages_are_counted_not_fatal() -> None:
    st = DashboardState(P)
    assert st.apply(f"{P}/n1/kws/detection", b"{not json") == []
    assert st.apply(f"{P}/n1/telemetry", b"[1, 2]") == []
    assert st.apply(f"{P}/n1/status", b"\xff\xfe") == []
    assert st.apply(f"{P}/n1/info", b"{}" + b" " * MAX_PAYLOAD_BYTES) == []
    assert st.apply(f"{P}/n1/info", b"[" * (MAX_PAYLOAD_BYTES - 1)) == []  # nesting too deep for json
    assert st.apply("elsewhere/n1/status", b"online") == []
    assert st.apply(f"{P}/n1/request/learn", b"{}") == []
    det = _detection(1, score=float("nan"))
    st.apply(f"{P}/n1/kws/detection", json.dumps(det).encode())
    snap = st.snapshot()
    assert snap["counters"] == {"messages": 8, "ignored": 2, "malformed": 5, "duplicates": 0}
    assert snap["detections"][0]["score"] is None
    json.dumps(snap, allow_nan=False)  # the snapshot is always valid JSON


def test_broker_link_events_only_on_change() -> None:
    st = DashboardState(P)
    assert st.set_broker(False, None) == []
    (ev,) = st.set_broker(False, "unreachable (Connection refused)")
    assert ev["type"] == "broker" and ev["broker"]["error"] == "unreachable (Connection refused)"
    assert st.set_broker(True)[0]["broker"]["connected"] is True
    assert st.snapshot()["broker"]["connected"] is True


# -- hub ---------------------------------------------------------------------------------------------
def test_hub_drops_only_the_slow_client() -> None:
    depth = 4
    hub = Hub(client_queue=depth)
    slow, fast = hub.subscribe(), hub.subscribe()
    assert slow is not None and fast is not None
    events = [{"type": "detection", "n": i} for i in range(depth + 1)]
    for i, e in enumerate(events):
        hub.publish([e])
        if i < depth:
            assert fast.get(0.0) == encode("detection", e)
    assert slow.dropped and not fast.dropped and len(hub) == 1 and hub.dropped_clients == 1
    assert slow.get(0.0) == CLOSE
    assert fast.get(0.0) == encode("detection", events[-1])
    assert fast.get(0.0) is None  # nothing more: a ping is due
    hub.close()
    assert fast.get(0.0) == CLOSE and len(hub) == 0


def test_hub_refuses_clients_beyond_the_limit() -> None:
    hub = Hub(max_clients=2)
    assert hub.subscribe() and hub.subscribe() and hub.subscribe() is None


def test_sse_encoding_is_one_data_line() -> None:
    msg = encode("detection", {"label": "a\nb"})
    lines = msg.decode().split("\n")
    assert lines[0] == "event: detection" and lines[1].startswith("data: ") and lines[2:] == ["", ""]
    assert json.loads(lines[1][6:]) == {"label": "a\nb"}


# -- CLI helpers -------------------------------------------------------------------------------------
def test_read_password(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("s3cret\nignored\n", encoding="utf-8")
    assert read_password(f) == "s3cret"
    f.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        read_password(f)
    with pytest.raises(ConfigError, match="cannot read"):
        read_password(tmp_path / "missing")


def test_cli_argument_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from akida_edge.cli import main

    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n", encoding="ascii")
    pw = tmp_path / "pw"
    pw.write_text("x\n", encoding="utf-8")
    cases = [(["--tls-ca", str(bogus)], "--tls-ca"), (["--prefix", "a/b"], "--prefix"),
             (["--port", "70000"], "--port 70000"), (["--password-file", str(pw)], "--username")]
    for argv, needle in cases:
        assert main(["dashboard", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("akida-edge: error: ") and needle in err


def test_chart_series_are_bounded_in_number_too() -> None:
    """Session-27 audit: history was bounded per series only; a rogue publisher of 256 nodes × 64
    anomaly pipelines grew the daemon's memory linearly (782 k points: +190 MB, `/api/state` 34 MB)."""
    from akida_edge.dashboard.state import MAX_PIPELINES, MAX_SERIES

    st = DashboardState(P, history_points=4)
    nodes = MAX_SERIES // MAX_PIPELINES + 1  # one node more than the series allow
    for n in range(nodes):
        for p in range(MAX_PIPELINES):
            for ts in range(6):
                st.apply(f"{P}/n{n}/p{p}/state", _b({"ts": ts, "anomaly": "OFF", "score": 0.1,
                                                      "threshold": 0.5}))
    hist = st.snapshot()["anomaly_history"]
    assert len(hist) == MAX_SERIES and all(len(v) == 4 for v in hist.values())
    assert st.counters["ignored"] == (nodes * MAX_PIPELINES - MAX_SERIES) * 6  # the later series' points
