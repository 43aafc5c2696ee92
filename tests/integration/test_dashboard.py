"""The dashboard end to end: real Any, the server in-process, Debian's Chromium via Playwright.

Chromium is launched from `/usr/bin/chromium` (never a downloaded browser build). Set
`AKIDA_DASHBOARD_SCREENSHOT=FILE.png` to save a screenshot of the live page while developing.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from akida_edge.cli import main as cli_main
from akida_edge.dashboard import DashboardServer
from akida_edge.dashboard.feed import BrokerSettings
from akida_edge.errors import ConfigError
from akida_edge.mqtt.testbroker import free_port

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PREFIX = "akida"  # the daemon's default prefix (config.toml)


def _poll(predicate: Any, timeout_s: float = 20.0) -> Any:
    """Return the first truthy `predicate()`, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.02)


class Publisher:
    """A paho client publishing like a daemon does (QoS 1, retained where the daemon retains)."""

    def __init__(self, broker: Any, node: str) -> None:
        self.node = node
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:6]}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.seq = 0

    def publish(self, leaf: str, payload: Any, retain: bool = False) -> None:
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        info = self.client.publish(f"{PREFIX}/{self.node}/{leaf}", body, qos=1, retain=retain)
        info.wait_for_publish(5)

    def detection(self, pipeline: str, label: str, score: float, **extra: Any) -> dict[str, Any]:
        self.seq += 1
        det = {"schema": "akida_edge.detection/1", "id": str(uuid.uuid4()), "seq": self.seq,
               "ts": int(time.time() * 1000), "node": self.node, "pipeline": pipeline, "kind": "keyword",
               "label": label, "event_type": label, "score": score, "replayed": False, **extra}
        self.publish(f"{pipeline}/detection", det)
        return det

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def publisher(mosquitto_broker: Any) -> Iterator[Publisher]:
    pub = Publisher(mosquitto_broker, f"node-{uuid.uuid4().hex[:6]}")
    yield pub
    pub.close()


@pytest.fixture
def dashboard(mosquitto_broker: Any) -> Iterator[DashboardServer]:
    broker = BrokerSettings(host=mosquitto_broker.host, port=mosquitto_broker.port, prefix=PREFIX)
    with DashboardServer("127.0.0.1", 0, broker, ping_s=1.0) as server:
        assert server.feed.wait_connected(5.0)
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (bash scripts/setup.sh installs it)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _state(server: DashboardServer) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "api/state", timeout=5) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        return json.loads(resp.read())


def _publish_demo_charts(publisher: Publisher) -> None:
    """A minute of telemetry and anomaly scores, for the development screenshot only."""
    now = int(time.time() * 1000)
    for i in range(12):
        ts = now - (11 - i) * 5000
        publisher.publish("telemetry", {"schema": "akida_edge.telemetry/1", "ts": ts,
                                        "chip_power_mw": 3.0 + (i % 4) * 0.4, "inference_ms_p50": 6.0 + i % 3,
                                        "inference_ms_p95": 9.0 + i % 5, "inferences_per_s": 31.0,
                                        "outbox_pending": 0})
        publisher.publish("vib/state", {"ts": ts, "anomaly": "OFF", "score": 1.0 + (i % 5) * 0.6,
                                        "threshold": 3.5})
    publisher.publish("vib/status", "online", retain=True)
    publisher.detection("vib", "anomaly", 4.2, kind="anomaly", anomaly_score=4.2, threshold=3.5)


def test_page_shows_device_and_live_detection(browser: Any, dashboard: DashboardServer,
                                               publisher: Publisher) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(dashboard.url)
    assert page.title() == "akida-edge dashboard"
    page.wait_for_selector("#stream.online", timeout=5000)
    page.wait_for_selector("#broker.online", timeout=5000)  # the snapshot may land after the stream opens
    assert page.text_content("#broker") == "broker online"

    publisher.publish("info", {"schema": "akida_edge.info/1", "version": "0.1.0",
                               "chip": {"type": "virtual", "name": "AKD1000"},
                               "pipelines": [{"name": "kws", "type": "kws", "source": "synthetic",
                                              "enabled": True}]}, retain=True)
    publisher.publish("status", "online", retain=True)
    card = f"#device-{publisher.node}"
    page.wait_for_selector(f"{card} .pill.online", timeout=5000)
    assert "AKD1000" in page.text_content(card)
    assert page.text_content(f"{card} li[data-pipeline=kws] .pname") == "kws"

    assert page.query_selector(f"{card} [data-figure=cpu]") is None  # no telemetry yet
    publisher.publish("telemetry", {"schema": "akida_edge.telemetry/1", "ts": int(time.time() * 1000),
                                    "chip_power_mw": 31.5, "process_cpu_pct": 8.25, "rss_anon_mb": 129.4,
                                    "rss_mb": 301.9})
    cpu = page.wait_for_selector(f"{card} [data-figure=cpu]", timeout=5000)
    assert cpu.text_content() == "8.25cpu %"
    assert page.text_content(f"{card} [data-figure=memory]") == "129memory MB"  # private memory, not RSS
    assert page.text_content(f"{card} [data-figure=power]") == "31.5power mW"

    det = publisher.detection("kws", "yes", 0.93)
    row = page.wait_for_selector(f"tr[data-id='{det['id']}']", timeout=2000)  # within 2 s (issue 6)
    assert row.query_selector("td.label").text_content() == "yes"
    assert row.query_selector("td .replayed") is None
    late = publisher.detection("kws", "stop", 0.88, replayed=True)
    row = page.wait_for_selector(f"tr[data-id='{late['id']}']", timeout=2000)
    assert row.query_selector("td.label").text_content() == "stop"
    assert row.query_selector("td .replayed").text_content() == "replayed"
    # the newest detection is on top
    assert page.get_attribute("#detections tr:first-child", "data-id") == late["id"]
    assert row.query_selector("td.span").text_content() == "–"  # a keyword has no span
    end_ms = int(time.time() * 1000)
    gesture = publisher.detection("hands", "swipe_left", 0.97, kind="gesture", t_start_ms=end_ms - 800,
                                  t_end_ms=end_ms)
    row = page.wait_for_selector(f"tr[data-id='{gesture['id']}']", timeout=2000)
    assert row.query_selector("td.span").text_content() == "0.80 s"
    assert " – " in row.query_selector("td.span").get_attribute("title")

    if os.environ.get("AKIDA_DASHBOARD_SCREENSHOT"):
        _publish_demo_charts(publisher)
        page.wait_for_timeout(800)
        page.screenshot(path=os.environ["AKIDA_DASHBOARD_SCREENSHOT"], full_page=True)
    assert errors == []
    page.close()


def test_page_shows_broker_offline_then_online(browser: Any, mosquitto_stopped: Any) -> None:
    # locator waits: no string is evaluated in the page, whose CSP forbids eval (a polled
    # wait_for_function string failed with an EvalError on a loaded machine)
    from playwright.sync_api import expect

    broker = mosquitto_stopped
    settings = BrokerSettings(host=broker.host, port=broker.port, prefix=PREFIX, min_backoff_s=0.1,
                              max_backoff_s=0.4)
    with DashboardServer("127.0.0.1", 0, settings, ping_s=1.0) as server:
        page = browser.new_page()
        page.goto(server.url)
        badge, error = page.locator("#broker"), page.locator("#broker-error")
        # generous bounds (they only cap the wait): a machine busy compiling kernels was seen to miss 5 s.
        # The page starts as "connecting…" with the offline class (index.html): wait for the state's text.
        expect(badge).to_have_text("broker offline", timeout=30000)
        expect(badge).to_have_class(re.compile(r"\boffline\b"))
        assert "unreachable" in _state(server)["broker"]["error"]
        expect(error).to_contain_text("unreachable", timeout=30000)
        broker.start()
        try:
            expect(badge).to_have_text("broker online", timeout=30000)
            expect(badge).to_have_class(re.compile(r"\bonline\b"))
            expect(error).to_have_text("", timeout=30000)
            assert _state(server)["broker"] == {**_state(server)["broker"], "connected": True, "error": None}
        finally:
            page.close()


def test_api_state_and_event_stream(dashboard: DashboardServer, publisher: Publisher) -> None:
    host, port = dashboard.httpd.server_address[:2]
    _poll(lambda: _state(dashboard)["broker"]["connected"] or None)  # a loaded machine connects late
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/events")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")

    def next_event() -> tuple[str, dict[str, Any]]:
        name, data = "", None
        deadline = time.monotonic() + 20.0  # a hang guard: the pings every second keep readline alive
        while time.monotonic() < deadline:
            line = resp.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                return name, data
        pytest.fail("no event but pings within 20 s")

    name, snap = next_event()
    assert name == "snapshot" and snap["broker"]["connected"] is True
    det = publisher.detection("kws", "go", 0.77)
    name, ev = _poll(lambda: (lambda e: e if e[0] == "detection" else None)(next_event()))
    assert ev["detection"]["id"] == det["id"] and ev["detection"]["label"] == "go"
    assert ev["detection"]["node"] == publisher.node and ev["detection"]["pipeline"] == "kws"
    conn.close()

    publisher.detection("kws", "go", 0.77, id=det["id"])  # an at-least-once repeat of the same id
    publisher.publish("status", "online", retain=True)
    # the detection creates the device entry before the retained status arrives: wait for both
    state = _poll(lambda: (lambda s: s if s["devices"] and s["counters"]["duplicates"]
                           and s["devices"][0]["status"] == "online" else None)(_state(dashboard)))
    assert [d["id"] for d in state["detections"]] == [det["id"]]
    assert state["counters"]["duplicates"] == 1
    assert state["devices"][0]["node"] == publisher.node and state["devices"][0]["status"] == "online"


def test_static_routes_and_host_check(dashboard: DashboardServer) -> None:
    for path, ctype in (("", "text/html"), ("app.js", "text/javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(dashboard.url + path, timeout=5) as resp:
            assert resp.headers["Content-Type"].startswith(ctype)
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
            assert len(resp.read()) > 100
    host, port = dashboard.httpd.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/nope")
    assert conn.getresponse().status == 404
    conn.close()
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/api/state", headers={"Host": "evil.example:80"})  # DNS rebinding
    assert conn.getresponse().status == 403
    conn.close()


def test_port_taken_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match="already in use"):
            DashboardServer("127.0.0.1", port, BrokerSettings(port=free_port()))
        assert cli_main(["dashboard", "--port", str(port), "--broker-port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"--port {port}" in err and "already in use" in err


def test_run_dashboard_port_taken_names_the_run_option(tmp_path: Any) -> None:
    """`akida-edge run --dashboard PORT` on a taken port names --dashboard (run has no --port, which
    the message used to suggest)."""
    from akida_edge.commands.run import _start_dashboard
    from akida_edge.config import parse_config

    config = parse_config({"state": {"dir": str(tmp_path)}}, str(tmp_path / "config.toml"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            _start_dashboard(config, port, free_port())
    message = str(info.value)
    assert f"--dashboard {port}:" in message and "choose another with --dashboard" in message
    assert "--port" not in message


def test_cli_reports_missing_password_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.txt"
    assert cli_main(["dashboard", "--username", "u", "--password-file", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(missing) in err


def test_cli_serves_with_broker_offline_and_stops_on_sigterm(tmp_path: Any) -> None:
    http_port, dead_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "akida_edge", "dashboard", "--port", str(http_port),
                             "--broker-port", str(dead_port)], stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stderr.readline()
        assert f"http://127.0.0.1:{http_port}/" in banner
        warning = proc.stderr.readline()
        assert f"127.0.0.1:{dead_port}" in warning and "unreachable" in warning
        assert "broker offline" in warning
        state = _poll(lambda: _get_json(f"http://127.0.0.1:{http_port}/api/state"))
        assert state["broker"]["connected"] is False and state["prefix"] == PREFIX
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def _get_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


def _make_tls(d: Any) -> dict[str, Any]:
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl CLI, EC P-256)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d.mkdir()

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=akida-edge test CA", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="ascii")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem")
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


def test_tls_broker_with_password(mosquitto_stopped: Any, tmp_path: Any) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    tls = _make_tls(tmp_path / "tls")
    pw_file = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw_file), "viewer", "s3cret"], check=True)
    broker = mosquitto_stopped
    broker.configure([f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}",
                      "allow_anonymous false", f"password_file {pw_file}"])
    broker.start()
    good = BrokerSettings(host=broker.host, port=broker.port, prefix=PREFIX, username="viewer",
                          password="s3cret", tls_ca=tls["ca"])
    with DashboardServer("127.0.0.1", 0, good) as server:
        assert server.feed.wait_connected(5.0)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2)
        pub.username_pw_set("viewer", "s3cret")
        pub.tls_set(ca_certs=str(tls["ca"]))
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        pub.publish(f"{PREFIX}/tls-node/status", "online", qos=1, retain=True).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        state = _poll(lambda: (lambda s: s if s["devices"] else None)(_state(server)))
        assert state["devices"][0]["node"] == "tls-node" and state["broker"]["connected"] is True

    bad = BrokerSettings(host=broker.host, port=broker.port, prefix=PREFIX, username="viewer",
                         password="wrong", tls_ca=tls["ca"], min_backoff_s=0.1, max_backoff_s=0.2)
    with DashboardServer("127.0.0.1", 0, bad) as server:
        error = _poll(lambda: _state(server)["broker"]["error"])
        assert "refused" in error and "authori" in error.lower()
        assert not server.feed.wait_connected(0.3)


def test_many_clients_at_once_and_ones_that_leave_early(dashboard: DashboardServer, capsys: Any,
                                                        caplog: Any) -> None:
    """Session-27 audit: the listen backlog was socketserver's 5 (100 concurrent clients waited up to
    15 s, 200 timed out) and a browser that left mid-response printed a traceback per request."""
    import threading

    assert dashboard.httpd.request_queue_size >= 128
    host, port = dashboard.httpd.server_address[:2]
    # clients that send a request and leave at once (closed before the response: a reset or a broken pipe)
    for _ in range(20):
        with socket.create_connection((host, port), timeout=5) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    statuses: list[int] = []

    def get() -> None:
        with urllib.request.urlopen(dashboard.url + "api/state", timeout=20) as resp:
            statuses.append(resp.status)

    threads = [threading.Thread(target=get) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [200] * 60
    assert "Traceback" not in capsys.readouterr().err
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
