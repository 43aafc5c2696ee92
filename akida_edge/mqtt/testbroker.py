"""A throwaway Mosquitto on a free loopback port, for the integration tests and the benchmarks.

One `mosquitto -c <conf>` subprocess with its own config and log in a work directory
(reference edge-daemon-mqtt.md §5.1: listeners from the config file, never `-p`; `user root` when
run as root so the broker can read 0600 password files). Not used by the daemon itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"
_SBIN = "/usr/sbin/mosquitto"  # Debian installs it here, often not on a non-root user's PATH


def find_mosquitto() -> str | None:
    """Path of the `mosquitto` executable (PATH, then /usr/sbin), or None if it is not installed."""
    return shutil.which("mosquitto") or (_SBIN if os.access(_SBIN, os.X_OK) else None)


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on `host` right now (small race until the user binds it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout_s: float = 10.0, host: str = LOOPBACK) -> None:
    """Return once something accepts TCP connections on `host:port`; `TimeoutError` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s") from None
            time.sleep(0.02)


class Mosquitto:
    """One Mosquitto process in `workdir` listening on `host:port`; `stop()`/`start()` keep both.

    Parameters
    ----------
    workdir : Path
        Holds `mosquitto.conf` and `mosquitto.log` (and the persistence file if enabled).
    port : int, optional
        Listener port; a free one by default.
    exe : str, optional
        The mosquitto executable; `find_mosquitto()` by default.

    `configure(lines)` rewrites the config before `start()`: a fixed global head, the listener,
    then `lines` (listener options such as `cafile` apply to it; auth options are global because
    `per_listener_settings false`). The default allows anonymous clients.
    """

    def __init__(self, workdir: Path, port: int | None = None, *, host: str = LOOPBACK,
                 exe: str | None = None) -> None:
        found = exe or find_mosquitto()
        if found is None:
            raise FileNotFoundError("mosquitto is not installed (bash scripts/setup.sh installs it)")
        self.exe = found
        self.host = host
        self.port = free_port(host) if port is None else port
        self.workdir = Path(workdir)
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.configure()

    def configure(self, lines: Sequence[str] = ("allow_anonymous true",), *,
                  persistence: bool = False) -> None:
        """Write the config: global head, `listener port host`, then `lines`.

        `persistence=True` keeps retained messages and sessions in `workdir` across restarts
        (saved every second).
        """
        store = (["persistence true", f"persistence_location {self.workdir}/", "autosave_interval 1"]
                 if persistence else ["persistence false"])
        head = ["per_listener_settings false", *store, "log_dest stdout", "log_type error",
                "log_type warning", "log_type notice", "log_type information",
                "max_inflight_messages 100", "max_queued_messages 100000"]
        if os.geteuid() == 0:  # else mosquitto drops to user 'mosquitto' and cannot read 0600 files
            head.insert(0, "user root")
        text = "\n".join([*head, f"listener {self.port} {self.host}", *lines]) + "\n"
        self.conf.write_text(text, encoding="ascii")

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it listens; `RuntimeError` with the log tail if it does not."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=log)
        try:
            wait_listening(self.port, timeout_s, self.host)
        except TimeoutError as exc:
            self.stop()
            tail = self.log.read_text(errors="replace")[-500:]
            raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port}: {tail}") from exc

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; a no-op if not running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
