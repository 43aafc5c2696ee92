"""`akida-edge run [--config FILE] [--duration S] [--dashboard [PORT]]`: the daemon
(see `akida_edge/daemon.py`).

Without `--config`, `./config.toml` is used if there is one, else the packaged default
(`akida_edge/default_config.toml`: the checkout's file with the state in the user default), so a
wheel install runs as is.

`--duration S` stops cleanly after S seconds (as SIGTERM would); `--dashboard [PORT]` also serves
the web dashboard (http://127.0.0.1:PORT/, default 8080) fed from the daemon's broker and prefix.
On stop a short summary goes to stdout: detections per pipeline and the telemetry figures.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from akida_edge.commands._args import check_port
from akida_edge.config import Config, resolve_config
from akida_edge.errors import ConfigError

#: sd-daemon(3) priority prefixes journald understands.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
DASHBOARD_PORT = 8080

log = logging.getLogger("akida_edge.run")


class JournalFormatter(logging.Formatter):
    """`<N>logger: message` (journald adds the time and parses the priority)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"<{_PRIORITY.get(record.levelno, 6)}>" + text.replace("\n", "\n" + " ")


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 10 * 365 * 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="run the edge daemon (pipelines, MQTT, telemetry)",
        description="Run the edge daemon: pipelines, MQTT (detections through the disk outbox "
                    "[state] dir/outbox.db, never lost while the broker is away), telemetry.",
        epilog="Signals: SIGTERM/SIGINT stop cleanly (pipelines, then the outbox is sent for up to "
               "5 s, `offline` published, exit 0); SIGHUP re-reads the config file ([[pipelines]] and "
               "[telemetry]; [device], [mqtt], [state] need a restart). Logs go to stderr, one line per "
               "event (with syslog priorities under systemd's journal; `akida-edge -v run` for debug "
               "lines). Exit 2: a configuration the daemon cannot start with, or a state directory it "
               "cannot create or lock (one line says why); one it cannot write to starts with the outbox "
               "in memory and says so (an ERROR line, `outbox_error` in telemetry). systemd unit: "
               "deploy/akida-edge.service; keys: docs/config.md.")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="config file (default: ./config.toml if there is one, else the packaged default; "
                        "`akida-edge init-config FILE` writes a copy to edit)")
    p.add_argument("--duration", type=_duration, default=None, metavar="S",
                   help="stop cleanly after S seconds and print a summary (default: run until stopped)")
    p.add_argument("--dashboard", type=int, nargs="?", const=DASHBOARD_PORT, default=None, metavar="PORT",
                   help=f"also serve the web dashboard on 127.0.0.1:PORT (default {DASHBOARD_PORT})")
    p.set_defaults(func=_run)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)


def _start_dashboard(config: Config, port: int, broker_port: int) -> Any:
    """The dashboard server, serving in the background and reading the daemon's broker."""
    from akida_edge.dashboard.feed import BrokerSettings
    from akida_edge.dashboard.server import DashboardServer

    m = config.mqtt
    broker = BrokerSettings(host=m.host, port=broker_port, prefix=m.prefix, username=m.username or None,
                            password=m.password() if m.username else None,
                            tls_ca=Path(m.tls_ca) if m.tls_ca else None)
    server = DashboardServer("127.0.0.1", port, broker, port_option="--dashboard").start()
    print(f"akida-edge dashboard: {server.url}", file=sys.stderr, flush=True)
    return server


def format_summary(summary: dict[str, Any]) -> str:
    """A few human lines: detections per pipeline, telemetry figures (estimated / measured)."""
    lines = [f"akida-edge: ran {summary['uptime_s']:.1f} s, {summary['detections']} detection(s), "
             f"{summary['telemetry_messages']} telemetry message(s)"]
    for name, p in summary["pipelines"].items():
        extra = f", last error: {p['last_error']}" if p["last_error"] else ""
        if p["status"] == "starting":
            from akida_edge.numba_config import WARM_COMMAND

            extra += (" (still loading its model when stopped: a first start compiles the kernels for "
                      f"minutes; let one run finish it, or run `{WARM_COMMAND}`)")
        lines.append(f"  {name}: {p['detections']} detection(s), {p['status']}, "
                     f"{p['restarts']} restart(s){extra}")
    lines.append(f"  inferences {summary['inferences']}, events {summary['events']}, "
                 f"synaptic ops {summary['synops']}")
    if summary["chip_power_mw_mean"] is not None:
        lines.append(f"  chip (estimated): {summary['chip_energy_j'] * 1e3:.2f} mJ, "
                     f"mean {summary['chip_power_mw_mean']:.2f} mW over the {summary['chip_seconds']:.1f} s "
                     "the pipelines ran")
    t = summary["last_telemetry"]
    keys = ("inference_ms_p50", "inference_ms_p95", "process_cpu_pct", "rss_mb", "rss_anon_mb")
    host = [f"{k} {t[k]}" for k in keys if k in t]
    if host:
        lines.append("  last telemetry: " + ", ".join(host) + " (latency and host figures measured)")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    _setup_logging(getattr(args, "verbose", False))
    if args.dashboard is not None:
        check_port("--dashboard", args.dashboard)
    config = resolve_config(args.config)
    if config.path.startswith("<"):
        log.info("no --config and no ./config.toml: running the packaged default (state in %s; "
                 "`akida-edge init-config config.toml` writes a copy to edit)", config.state_dir())
    from akida_edge.daemon import Daemon

    daemon = Daemon(config)
    stop_timer = None
    if args.duration is not None:
        stop_timer = threading.Timer(args.duration, daemon.request_stop)
        stop_timer.daemon = True
        stop_timer.start()
    if args.dashboard is not None:
        def _when_ready() -> None:
            daemon.ready.wait()
            port = daemon.broker.port if daemon.broker is not None else config.mqtt.port
            try:
                server = _start_dashboard(config, args.dashboard, port)
                daemon.on_stop.append(server.close)
            except ConfigError as exc:
                log.error("dashboard not started: %s", exc)

        threading.Thread(target=_when_ready, name="dashboard-start", daemon=True).start()
    try:
        code = daemon.run()
    finally:
        if stop_timer is not None:
            stop_timer.cancel()
    print(format_summary(daemon.summary()), flush=True)
    return code
