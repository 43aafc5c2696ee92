"""Argument checks shared by the command groups (a private module: the CLI registers no command here)."""

from __future__ import annotations

from akida_edge.errors import ConfigError

PORT_MIN, PORT_MAX = 1, 65535


def check_port(option: str, value: int) -> int:
    """`value` if it is a TCP port, 1-65535, else a one-line `ConfigError` naming `option`.

    0 is refused: one cannot connect to it, and an OS-chosen listening port would be unknown to
    the user.
    """
    if not PORT_MIN <= value <= PORT_MAX:
        raise ConfigError(f"{option} {value}: not a TCP port; use {PORT_MIN}-{PORT_MAX}")
    return value
