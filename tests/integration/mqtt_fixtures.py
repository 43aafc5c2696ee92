"""A real Mosquitto per test: its own config in tmp_path, a free loopback port, killed afterwards.

The broker is `akida_edge.mqtt.testbroker.Mosquitto` (re-exported here with `free_port` and
`wait_listening`). Also a small paho subscriber that records what arrives. Used by the `*mqtt*`
and `*daemon*` integration tests (reference edge-daemon-mqtt.md §5.1).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from akida_edge.mqtt.testbroker import Mosquitto, find_mosquitto, free_port, wait_listening

__all__ = ["ROOT", "TICK", "Mosquitto", "Recorder", "brokers", "daemon_config", "free_port", "make_broker",
           "make_tls", "mosquitto", "start_daemon", "stop_daemon", "wait_listening"]


def make_broker(tmp_path: Path, *, users: dict[str, str] | None = None, acl: str | None = None,
                tls: dict[str, Path] | None = None, persistence: bool = False) -> Mosquitto:
    """A started Mosquitto in `tmp_path`: password users, an ACL, TLS and persistence optional."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (bash scripts/setup.sh installs it)")
    lines: list[str] = []
    if users:
        pw = tmp_path / "passwd"
        pw.write_text("")
        for user, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                           capture_output=True)
        os.chmod(pw, 0o600)
        lines += ["allow_anonymous false", f"password_file {pw}"]
    else:
        lines += ["allow_anonymous true"]
    if acl is not None:
        (tmp_path / "acl").write_text(acl)
        lines.append(f"acl_file {tmp_path / 'acl'}")
    if tls:
        lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
    broker = Mosquitto(tmp_path)
    broker.configure(lines, persistence=persistence)
    broker.start()
    return broker


@pytest.fixture
def broker():
    """The daemon's embedded broker on a free local port, for the test's duration."""
    from akida_edge.mqtt.broker import EmbeddedBroker

    b = EmbeddedBroker("127.0.0.1", 0)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def mosquitto(tmp_path):
    broker = make_broker(tmp_path)
    yield broker
    broker.stop()


@pytest.fixture
def brokers(tmp_path):
    """`brokers(**options)` starts a Mosquitto; every one is stopped at teardown, pass or fail."""
    started: list[Mosquitto] = []

    def start(**options) -> Mosquitto:
        started.append(make_broker(tmp_path, **options))
        return started[-1]

    yield start
    for broker in started:
        broker.stop()


@dataclass
class Recorder:
    """A v5 subscriber recording (topic, payload, retain) in arrival order."""

    port: int
    topic: str
    username: str | None = None
    password: str | None = None
    persistent: bool = False
    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{self.port}-{id(self)}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.reconnect_delay_set(0.1, 0.5)
        if self.username:
            self.client.username_pw_set(self.username, self.password)
        self._subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        props = None
        if self.persistent:  # the broker queues QoS 1 messages for us while we are away
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", self.port, clean_start=not self.persistent, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("recorder did not subscribe")

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), msg.retain))

    def json(self, suffix: str) -> list[dict]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith(suffix)]

    def payloads(self, suffix: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t.endswith(suffix)]

    def wait_for(self, predicate, timeout_s: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_tls(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl CLI, EC P-256)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (scripts/setup.sh installs it)")
    d = tmp_path / "tls"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=akida-test-ca",
        "-days", "2")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": d / "ca.crt", "cert": d / "server.crt", "key": d / "server.key"}


ROOT = Path(__file__).resolve().parents[2]


def daemon_config(tmp_path: Path, port: int, *, node: str = "n1", pipelines: str = "", extra_mqtt: str = "",
                  interval_s: float = 1.0) -> Path:
    """A config.toml for a daemon subprocess talking to an external broker on `port`."""
    text = f"""
[device]
id = "{node}"
[mqtt]
broker = "external"
port = {port}
prefix = "akida"
reconnect_min_s = 0.1
reconnect_max_s = 0.5
discovery = false
{extra_mqtt}
[state]
dir = "{tmp_path / 'state'}"
[telemetry]
interval_s = {interval_s}
{pipelines}
"""
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


TICK = """
[[pipelines]]
name = "tick"
type = "custom"
factory = "daemon_pipelines:counter"
source = {{ type = "synthetic", rate_hz = {rate} }}
"""


def start_daemon(config: Path, log: Path, **env_extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent), PYTHONUNBUFFERED="1", **env_extra)
    fh = open(log, "ab")
    proc = subprocess.Popen([str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists()
                             else "python3", "-m", "akida_edge", "run", "--config", str(config)],
                            stdout=fh, stderr=fh, env=env, cwd=str(ROOT))
    fh.close()
    return proc


def stop_daemon(proc: subprocess.Popen, timeout_s: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            return -9
    return proc.returncode
