"""systemd readiness and watchdog notifications (sd_notify(3)), with no dependency.

`$NOTIFY_SOCKET` names an AF_UNIX datagram socket (a leading `@` means the abstract namespace);
outside systemd it is unset and every call is a no-op. `watchdog_interval_s()` is half of
`$WATCHDOG_USEC` (the period sd_watchdog_enabled(3) recommends), or None when no watchdog is set.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send `message` (e.g. "READY=1", "WATCHDOG=1", "STATUS=...") to systemd; False if not under it."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    addr = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(addr)
            sock.send(message.encode("utf-8"), socket.MSG_DONTWAIT)  # never block the supervisor
        return True
    except OSError:
        return False


def watchdog_interval_s() -> float | None:
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None
