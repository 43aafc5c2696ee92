"""A real Mosquitto per test: its own config in tmp_path, a free loopback port, killed afterwards.

Also a small paho subscriber that records what arrives. Used by the `*mqtt*` and `*daemon*`
integration tests (reference edge-daemon-mqtt.md §5.1: `user root` so a root-run broker can read
0600 password files; listeners from the config file, never `-p`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists()
                                           else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


@dataclass
class Mosquitto:
    """One broker process; `stop()`/`start()` keep the same port and config."""

    conf: Path
    port: int
    log: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=fh, stderr=fh)
        fh.close()
        wait_listening(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def make_broker(tmp_path: Path, *, users: dict[str, str] | None = None, acl: str | None = None,
                tls: dict[str, Path] | None = None) -> Mosquitto:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (bash scripts/setup.sh installs it)")
    port = free_port()
    lines = ["user root", "per_listener_settings false", "persistence false", "log_dest stdout",
             "log_type error", "log_type warning", "log_type notice", "log_type information",
             "max_inflight_messages 100", "max_queued_messages 100000"]
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
    lines.append(f"listener {port} 127.0.0.1")
    if tls:
        lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    broker = Mosquitto(conf=conf, port=port, log=tmp_path / "mosquitto.log")
    broker.start()
    return broker


@pytest.fixture
def mosquitto(tmp_path):
    broker = make_broker(tmp_path)
    yield broker
    broker.stop()


@dataclass
class Recorder:
    """A v5 subscriber recording (topic, payload, retain) in arrival order."""

    port: int
    topic: str
    username: str | None = None
    password: str | None = None
    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{self.port}-{id(self)}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if self.username:
            self.client.username_pw_set(self.username, self.password)
        self._subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", self.port)
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
        self.client.loop_stop()
        self.client.disconnect()
