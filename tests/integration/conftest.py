"""Integration fixtures: a real Mosquitto per test on a free loopback port (reference §5.1)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (small race until the user binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(host: str, port: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Mosquitto:
    """One `mosquitto -c <conf>` subprocess listening on `host:port`; `stop()` / `start()` again.

    `configure(lines)` rewrites the config (e.g. TLS files, `password_file`) before `start()`.
    """

    def __init__(self, workdir: Path, port: int) -> None:
        self.host, self.port = "127.0.0.1", port
        self.workdir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.configure(["allow_anonymous true"])

    def configure(self, lines: list[str]) -> None:
        head = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr"]
        if os.geteuid() == 0:  # else mosquitto drops to user 'mosquitto' and cannot read 0600 files
            head.insert(0, "user root")
        self.conf.write_text("\n".join(head + lines) + "\n", encoding="ascii")

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=log, stderr=log)
        try:
            wait_listening(self.host, self.port)
        except OSError as exc:
            self.stop()
            tail = self.log.read_text()[-500:]
            raise RuntimeError(f"mosquitto did not listen on {self.port}: {tail}") from exc

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture
def mosquitto_stopped(tmp_path: Path) -> Iterator[Mosquitto]:
    """A configured Mosquitto on a free port, not started yet (`start()` it); killed after the test."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (bash scripts/setup.sh installs it)")
    broker = Mosquitto(tmp_path, free_port())
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_broker(mosquitto_stopped: Mosquitto) -> Mosquitto:
    """A running Mosquitto (anonymous, loopback only), killed after the test."""
    mosquitto_stopped.start()
    return mosquitto_stopped
