"""`akida-edge run [--config FILE]`: the daemon (see `akida_edge/daemon.py`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from akida_edge.config import load_config

#: sd-daemon(3) priority prefixes journald understands.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    """`<N>logger: message` (journald adds the time and parses the priority)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"<{_PRIORITY.get(record.levelno, 6)}>" + text.replace("\n", "\n" + " ")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run the edge daemon (pipelines, MQTT, telemetry)")
    p.add_argument("--config", default="config.toml", metavar="FILE",
                   help="config file (default: config.toml)")
    p.set_defaults(func=_run)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)


def _run(args: argparse.Namespace) -> int:
    _setup_logging(getattr(args, "verbose", False))
    config = load_config(args.config)
    from akida_edge.daemon import Daemon

    return Daemon(config).run()
