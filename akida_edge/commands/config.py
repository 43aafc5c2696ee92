"""`akida-edge validate-config FILE`: check a configuration file without running anything."""

from __future__ import annotations

import argparse

from akida_edge.config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("validate-config", help="check a config.toml and print a summary")
    p.add_argument("file", metavar="FILE", help="the config.toml to check")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    m = cfg.mqtt
    where = "embedded broker" if m.broker == "embedded" else f"{m.host}:{m.port}"
    tls = ", TLS" if m.tls_ca or m.tls_cert else ""
    auth = f", user {m.username!r}" if m.username else ""
    print(f"{args.file}: OK")
    print(f"  device {cfg.device.id}; MQTT v{m.protocol} via {where}{tls}{auth}; prefix {m.prefix!r}")
    print(f"  state in {cfg.state_dir()}; telemetry every {cfg.telemetry.interval_s:g} s")
    for p in cfg.pipelines:
        state = "" if p.enabled else " (disabled)"
        print(f"  pipeline {p.name}: {p.type} from {p.source.type}{state}")
    return 0
