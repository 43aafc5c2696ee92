"""`akida-edge dashboard`: the live web dashboard of the daemons' MQTT topics (DESIGN.md §4)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from akida_edge.commands._args import check_port
from akida_edge.errors import ConfigError
from akida_edge.mqtt.topics import DEFAULT_PREFIX


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dashboard", help="serve a live web dashboard fed from MQTT (localhost)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    p.add_argument("--broker-host", default="127.0.0.1", help="MQTT broker host (default 127.0.0.1)")
    p.add_argument("--broker-port", type=int, default=1883, help="MQTT broker port (default 1883)")
    p.add_argument("--prefix", default=DEFAULT_PREFIX,
                   help=f"topic prefix the daemons use (default {DEFAULT_PREFIX}, as config.toml)")
    p.add_argument("--username", default=None, help="MQTT user name")
    p.add_argument("--password-file", type=Path, default=None,
                   help="file whose first line is the MQTT password (never pass it on the command line)")
    p.add_argument("--tls-ca", type=Path, default=None,
                   help="CA certificate (PEM) of a TLS broker; turns TLS on (verifies certificate and host)")
    p.set_defaults(func=_run)


def read_password(path: Path) -> str:
    """The first line of `path` (trailing newline removed); a one-line error when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"--password-file {path}: cannot read it ({why}); "
                          "give a readable UTF-8 file holding the password") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(f"--password-file {path}: the file is empty; put the password on its first line")
    return lines[0]


def _check_ca(path: Path) -> None:
    import ssl

    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--tls-ca {path}: not a readable PEM CA certificate ({exc}); give the CA file "
                          "that signed the broker's certificate") from None


def _run(args: argparse.Namespace) -> int:
    from akida_edge.dashboard.feed import BrokerSettings
    from akida_edge.dashboard.server import DashboardServer
    from akida_edge.dashboard.topics import is_level

    check_port("--port", args.port)
    check_port("--broker-port", args.broker_port)
    if not is_level(args.prefix):
        raise ConfigError(f"--prefix {args.prefix!r}: must be one topic level of 1-64 letters, digits, "
                          "'_' or '-'")
    password = read_password(args.password_file) if args.password_file else None
    if password is not None and args.username is None:
        raise ConfigError("--password-file given without --username; add --username NAME")
    if args.tls_ca is not None:
        _check_ca(args.tls_ca)
    broker = BrokerSettings(host=args.broker_host, port=args.broker_port, prefix=args.prefix,
                            username=args.username, password=password, tls_ca=args.tls_ca)
    server = DashboardServer(args.host, args.port, broker)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    print(f"akida-edge dashboard: serving {server.url} (MQTT {args.broker_host}:{args.broker_port}, "
          f"topics {args.prefix}/#); Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
