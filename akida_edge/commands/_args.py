"""Argument checks shared by the command groups (a private module: the CLI registers no command here)."""

from __future__ import annotations

import argparse

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


#: what a command's ``--state`` defaults to, for its help text
STATE_HELP = ("per-device learned state (default: $AKIDA_EDGE_STATE_DIR, else the [state] dir of "
              "./config.toml when there is one, as `run` takes it, else the user data directory)")


def default_state(args: argparse.Namespace) -> None:
    """A command with ``--state`` that was not given one uses the daemon's state directory: that of
    ./config.toml (the file `run` takes without ``--config``) when $AKIDA_EDGE_STATE_DIR is not set.
    So `kws learn` after the README's `run` teaches the daemon's kws pipeline, and `state list`
    shows what the daemon learned. A ./config.toml that cannot be read is said, once, and the
    learned-state default is used."""
    import logging
    import os
    from pathlib import Path

    from akida_edge.state import ENV_VAR

    if getattr(args, "state", "") is not None or os.environ.get(ENV_VAR) or not Path("config.toml").is_file():
        return
    from akida_edge.config import load_config

    try:
        args.state = str(load_config("config.toml").state_dir())
    except ConfigError as exc:
        logging.getLogger("akida_edge.cli").warning("%s; the learned state is taken from the default "
                                                    "directory instead (or give --state DIR)", exc)
