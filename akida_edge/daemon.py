"""The edge daemon: pipelines in their own threads, one thread owning MQTT, a supervising main loop.

Threads: one per pipeline (`PipelineRunner`: builds the pipeline, iterates `run(stop_event)`,
retries a failing pipeline or sensor with exponential backoff and reports it `offline` on
`<prefix>/<node>/<name>/status` while the others go on); `mqtt` (the `MqttLink`, owner of the
paho client); `commands` (request/response handlers); optionally `mqtt-broker` (the embedded
broker) and, on a cold kernel cache, `kernel-compile` (the child process that compiles the
kernels while the pipelines wait, `warm.ChildCompile`: the daemon does not keep the compiler's
memory). The main thread supervises: telemetry every `interval_s`, systemd notifications
(`READY=1`, `WATCHDOG=1` only while every pipeline and the MQTT thread make progress — a pipeline
still being built, e.g. compiling its kernels on a first start, counts for up to `BUILD_LIMIT_S` —,
`STATUS=`),
SIGHUP (reload; an invalid new file is logged and the running configuration kept), SIGTERM/SIGINT
(stop the pipelines, send what the outbox holds for a few seconds, publish `offline`, exit 0).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import logging
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Any

from akida_edge import __version__, sdnotify
from akida_edge.config import Config, PipelineConfig, default_config_text, load_config
from akida_edge.engine.power import CHIP_STATIC_MW
from akida_edge.errors import AkidaEdgeError, ConfigError
from akida_edge.mqtt import commands as cmd
from akida_edge.mqtt import discovery, payloads
from akida_edge.mqtt.broker import EmbeddedBroker
from akida_edge.mqtt.client import MqttLink
from akida_edge.mqtt.outbox import Outbox
from akida_edge.mqtt.telemetry import HostProbe, PipelineMeter, chip_energy_uj, pipeline_figures
from akida_edge.mqtt.topics import Topics
from akida_edge.numba_config import WARM_COMMAND
from akida_edge.pipelines.base import Activity, Detection, Pipeline, set_threshold
from akida_edge.warm import ChildCompile

log = logging.getLogger("akida_edge.daemon")

STOP_DRAIN_S = 5.0
SLOW_START_S = 10.0  # a pipeline start slower than this is said to be compiling (numba, first start)
#: how long building a pipeline may take before the systemd watchdog stops being fed: a cold numba
#: cache compiles every kernel (~2 min on two cores; a small ARM box takes several times that)
BUILD_LIMIT_S = 900.0
PATH_CHECK_S = 5.0  # how often the outbox checks that its database file is still there
#: a pipeline must run this long before its retry backoff starts again from retry_min_s: a sensor
#: that fails a moment after every start (a flaky cable, a stream that drops) backs off to
#: retry_max_s instead of restarting every retry_min_s (two log lines and an online/offline flap each)
STABLE_RUN_S = 10.0


class PipelineUnavailable(AkidaEdgeError, ImportError):
    """The pipeline type has no builder in this installation."""


def build_pipeline(cfg: PipelineConfig) -> Pipeline:
    """`akida_edge.pipelines.<type>:build(cfg)`, or the `factory` of a custom pipeline."""
    target = cfg.factory if cfg.type == "custom" else f"akida_edge.pipelines.{cfg.type}:build"
    module_name, _, func_name = target.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise PipelineUnavailable(f"pipeline {cfg.name!r}: {target} is not available ({exc})") from exc
    return func(cfg)


class PipelineRunner:
    """One pipeline in its own thread, restarted with backoff when it fails."""

    def __init__(self, cfg: PipelineConfig, daemon: Daemon) -> None:
        self.cfg = cfg
        self.daemon = daemon
        self.meter = PipelineMeter()
        self.stop_event = threading.Event()
        self.pipeline: Pipeline | None = None
        self.status = "starting"
        self.restarts = 0
        self.ended = False  # its finite source (a file replayed once) ended: the thread is done
        self.last_error = ""
        self.threshold = cfg.threshold
        self.description: dict[str, Any] = {}
        self._state: bytes | None = None
        self._source_problem = False  # the source is not open (reconnecting): reported offline
        self.building_since: float | None = None  # monotonic time `build_pipeline` began, while it runs
        self.slow_build_said = False  # `note_slow_build` logs once per runner
        self.labels_unknown: list[str] = []  # configured labels the running pipeline cannot give (warned)
        self.thread = threading.Thread(target=self._run, name=f"pipeline-{cfg.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_s: float) -> bool:
        """Ask the pipeline to stop and wait up to `timeout_s`; True when its thread has ended."""
        self.stop_event.set()
        if self.thread.ident is not None:
            self.thread.join(timeout_s)
        if self.thread.is_alive():
            log.warning("pipeline %s did not stop within %.0f s%s", self.cfg.name, timeout_s,
                        " (still loading its model; a first start compiles its kernels)"
                        if self.building_since is not None else "")
            return False
        return True

    def note_slow_build(self, now: float) -> None:
        """Log once when building has taken `SLOW_START_S`: a cold kernel cache compiles for
        minutes with nothing else to show (a short `--duration` run would otherwise end with the
        pipeline still `starting` and no word why)."""
        building = self.building_since
        if self.slow_build_said or building is None or now - building < SLOW_START_S:
            return
        self.slow_build_said = True
        child = self.daemon.compile_child
        log.warning("pipeline %s still loading after %.0f s: %s (a first start after an install or an "
                    "update: minutes; what is compiled is cached, so the next start goes on from there; "
                    "`%s` does it ahead)", self.cfg.name, now - building,
                    "waiting for its kernels, compiling in a child process"
                    if child is not None and not child.done.is_set() else "most likely compiling its kernels",
                    WARM_COMMAND)

    def refresh_description(self) -> None:
        """Re-read the pipeline's `describe()`; when it changed (built, or labels learned or
        forgotten), re-publish the retained `info` and, for a change of labels, the discovery."""
        describe = getattr(self.pipeline, "describe", None)
        if describe is None:
            return
        now = dict(describe())
        if now == self.description:
            return
        labels_changed = now.get("labels") != self.description.get("labels")
        self.description = now
        if labels_changed:
            self.check_labels(now.get("labels"))
        self.daemon.publish_info()
        if labels_changed and self.daemon.config.mqtt.discovery:
            self.daemon.send_discovery()

    def check_labels(self, running: list[str] | None) -> None:
        """Warn (once per set) when the entry's `labels` names a label the running pipeline does not
        give: its detections would be dropped (`Daemon.record_detection`), so a misspelt keyword
        silences the word meant; a word still to be learned is named too."""
        unknown = sorted(set(self.cfg.labels) - set(running)) if self.cfg.labels and running else []
        if unknown and unknown != self.labels_unknown:
            log.warning("pipeline %s: labels %s in the config are not among its labels (%s); a detection "
                        "is published only if its label is listed: fix the labels key (a typo?), or learn "
                        "the word", self.cfg.name, ", ".join(map(repr, unknown)), ", ".join(running or ()))
        self.labels_unknown = unknown

    def healthy(self, within_s: float) -> bool:
        """The thread is alive and made progress within `within_s`; while it builds its pipeline
        (a first start compiles the kernels: minutes on a small box, with no progress to report),
        alive and building for less than `BUILD_LIMIT_S`. A pipeline whose source ended has nothing
        left to wedge: healthy (else the watchdog stops, and systemd restarts the daemon, replaying
        the file again, every WatchdogSec)."""
        if self.ended:
            return True
        if not self.thread.is_alive():
            return False
        building = self.building_since
        if building is not None:
            return time.monotonic() - building < BUILD_LIMIT_S
        return time.monotonic() - self.meter.last_progress < within_s

    def threshold_in_use(self) -> float | None:
        """What the pipeline compares scores with: its own `current_threshold()` when it has one
        (an anomaly pipeline's calibrated threshold), else the entry's or `set_threshold`'s."""
        current = getattr(self.pipeline, "current_threshold", None)
        value = current() if current is not None else None
        return float(value) if value is not None else self.threshold

    def _set_status(self, status: str) -> None:
        self.status = status
        self.daemon.link.publish(str(self.daemon.topics.pipeline_status(self.cfg.name)), status, retain=True)

    def _run(self) -> None:
        backoff = self.cfg.retry_min_s
        while not self.stop_event.is_set():
            try:
                t0 = self.building_since = time.monotonic()
                try:
                    self.daemon.wait_for_kernels(self.stop_event)
                    if self.stop_event.is_set():
                        return
                    self.pipeline = build_pipeline(self.cfg)
                finally:
                    self.building_since = None
                self.meter.last_progress = time.monotonic()
                if self.threshold != self.cfg.threshold:
                    set_threshold(self.pipeline, self.threshold)
                self.refresh_description()
                self._set_status("online")
                took_s = time.monotonic() - t0
                log.info("pipeline %s online (%.1f s to load its model and warm its kernels%s)",
                         self.cfg.name, took_s, "; a first start compiles them, later starts load them "
                         "from the cache" if took_s > SLOW_START_S else "")
                self._source_problem = False
                online_at = time.monotonic()
                for item in self.pipeline.run(self.stop_event):
                    self.meter.last_progress = time.monotonic()
                    if isinstance(item, Activity) and item.source is not None:
                        self.meter.add(item)
                        self._source_down(dict(item.source))  # a sensor away: the driver retries
                    else:
                        if self._source_problem:
                            self._source_up()
                        if isinstance(item, Detection):
                            self.daemon.record_detection(self, item)
                        elif isinstance(item, Activity):
                            self.meter.add(item)
                            if item.state is not None:
                                self._publish_state(dict(item.state))
                                self.refresh_description()  # e.g. an anomaly pipeline's normal learned
                        if self.meter.last_progress - online_at >= STABLE_RUN_S:
                            backoff = self.cfg.retry_min_s
                    if self.stop_event.is_set():
                        break
                if not self.stop_event.is_set():
                    log.info("pipeline %s: its source ended", self.cfg.name)
                    self.last_error, self.ended = "its source ended", True
                    self._set_status("offline")
                    self._publish_state({"error": self.last_error})
                return
            except Exception as exc:  # a failing pipeline or sensor must not stop the others
                self.restarts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("pipeline %s failed (%s); retrying in %.1f s", self.cfg.name, self.last_error,
                          backoff)
                self._set_status("offline")
                self._publish_state({"error": self.last_error[:300], "restarts": self.restarts,
                                     "retry_in_s": backoff})
                deadline = time.monotonic() + backoff
                while not self.stop_event.is_set() and time.monotonic() < deadline:
                    self.meter.last_progress = time.monotonic()  # backing off on purpose is progress
                    self.stop_event.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                backoff = min(backoff * 2.0, self.cfg.retry_max_s)

    def _source_down(self, health: dict[str, Any]) -> None:
        """The source delivers nothing and is not open (reconnecting with backoff): `offline`, with
        the reason in the retained state, the status command and one log line per episode."""
        why = f"source {health.get('state')}: {health.get('last_error') or 'no data'}"
        if not self._source_problem or why != self.last_error:
            log.warning("pipeline %s: %s (the driver retries with backoff; %s attempt(s) so far)",
                        self.cfg.name, why, health.get("reconnects", 0))
        self._source_problem = True
        self.last_error = why
        if self.status != "offline":
            self._set_status("offline")
        self._publish_state({"error": why[:300], "reconnects": health.get("reconnects", 0)})

    def _source_up(self) -> None:
        self._source_problem = False
        log.info("pipeline %s: its source delivers again", self.cfg.name)
        self._set_status("online")

    def _publish_state(self, state: dict[str, Any]) -> None:
        body = payloads.state_payload(self.daemon.topics.node, self.cfg.name, state)
        if body != self._state:
            self._state = body
            self.daemon.link.publish(str(self.daemon.topics.state(self.cfg.name)), body, retain=True)


class Daemon:
    """Build with a validated `Config`; `run()` blocks until SIGTERM/SIGINT (or `request_stop()`)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.topics = Topics(config.mqtt.prefix, config.device.id, config.mqtt.discovery_prefix)
        legacy = Path.home() / ".local" / "state" / "akida-edge" / "outbox.db"  # the old default
        if (legacy.is_file() and legacy.parent != config.state_dir()
                and not (config.state_dir() / "outbox.db").exists()):
            log.warning("an outbox from the old default state directory is left at %s; set [state] dir = "
                        "\"%s\" to send what it holds", legacy, legacy.parent)
        self.outbox = Outbox(config.state_dir() / "outbox.db", config.state.telemetry_max_rows,
                             config.state.telemetry_max_age_s, int(config.state.outbox_max_mb * (1 << 20)))
        self.broker: EmbeddedBroker | None = None
        # replaced, never mutated in place (copy on write under the lock), so the command, telemetry
        # and watchdog threads can iterate the dict they read while a reload swaps runners
        self.runners: dict[str, PipelineRunner] = {}
        self._runners_lock = threading.Lock()
        self.commands = cmd.CommandTable()
        self.commands.add("ping", lambda args: {"pong": True}, takes=())
        self.commands.add("status", self._cmd_status, takes=())
        self.commands.add("set_threshold", self._cmd_set_threshold, takes=("pipeline", "value"))
        self.commands.add("pipeline", self._cmd_pipeline, max_bytes=cmd.MAX_UPLOAD_REQUEST_BYTES)
        self._requests: queue.Queue = queue.Queue(maxsize=10_000)
        # `pipeline` commands can take seconds (learning, synthesis): their own thread and queue, so
        # ping, status and set_threshold are answered meanwhile (each queue keeps its own order)
        self._pipeline_requests: queue.Queue = queue.Queue(maxsize=1_000)
        self._stop = threading.Event()
        self._reload = threading.Event()
        #: the pipeline a `pipeline` command (a learn: seconds) is running on; a reload leaves it
        #: as it is until the command is done, then reloads again (the new instance would not have
        #: what the command learns: it loads the learned state when it is built)
        self._commanded: str | None = None
        self._reload_after_command = False
        self._command_gate = threading.Lock()  # a reload's restarts vs. a command picking its pipeline
        self.started_ms = payloads.now_ms()
        self.started = time.monotonic()
        self.detections = 0
        self.telemetry_sent = 0
        self.last_telemetry: dict[str, Any] = {}
        self.totals = {"inferences": 0, "events": 0, "synops": 0}
        self._host: HostProbe | None = None
        self._last_tel = time.monotonic()
        self.ready = threading.Event()
        self.on_stop: list[Any] = []  # callables run first on shutdown (e.g. the `run --dashboard` server)
        self.compile_child: ChildCompile | None = None  # a cold kernel cache compiled in a child process
        self.link: MqttLink  # created in start()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        m = self.config.mqtt
        host, port = m.host, m.port
        if m.broker == "embedded":
            self.broker = EmbeddedBroker(m.host, m.port)
            self.broker.start()
            port = self.broker.port
        self.link = MqttLink(m, self.topics, self.outbox, host=host, port=port,
                             on_message=self._on_message, subscriptions=(self.topics.ha_status,))
        self._publish_retained_meta()
        self.link.start()
        self._command_thread = threading.Thread(target=self._serve_commands, args=(self._requests,),
                                                name="commands", daemon=True)
        self._command_thread.start()
        self._pipeline_command_thread = threading.Thread(
            target=self._serve_commands, args=(self._pipeline_requests,), name="pipeline-commands",
            daemon=True)
        self._pipeline_command_thread.start()
        self.compile_child = self._compile_in_child()
        for p in self.config.pipelines:
            self._start_pipeline(p)
        self.ready.set()
        sdnotify.notify("READY=1")
        log.info("akida-edge %s ready: node %s, %d pipeline(s), MQTT %s:%d, outbox %s (%d waiting)",
                 __version__, self.topics.node, len(self.runners), host, port, self.outbox.path,
                 self.outbox.depth())
        if not self.runners:  # a config cut short, or every entry disabled: say so, not a silent box
            log.warning("no pipeline is enabled in %s: the daemon publishes status and telemetry only; "
                        "add [[pipelines]] entries (docs/config.md) or enable one", self.config.path)

    def _compile_in_child(self) -> ChildCompile | None:
        """On a cold kernel cache (`warm.cache_is_warm`), compile the kernels in a child process
        (`warm.ChildCompile`) while the pipelines wait, so this process loads them from the cache
        instead of keeping the compiler's memory; None when the cache is warm, when no built-in
        pipeline is enabled, or when the config is not a file the child can read (it is then
        compiled here, as before)."""
        from akida_edge import warm

        path = self.config.path
        if not any(p.enabled and p.type != "custom" for p in self.config.pipelines):
            return None
        if not (path.startswith("<") or Path(path).is_file()):
            return None
        if warm.cache_is_warm():
            return None
        return warm.ChildCompile(None if path.startswith("<") else path).start()

    def wait_for_kernels(self, stop_event: threading.Event) -> None:
        """Return once a child compiling the kernels is done (or `stop_event` is set)."""
        if self.compile_child is not None:
            self.compile_child.wait(stop_event)

    def _start_pipeline(self, p: PipelineConfig, threshold: float | None = None) -> None:
        """Start `p`'s runner; `threshold`: a `set_threshold` value to keep (a reload's restart)."""
        if not p.enabled:
            self.link.publish(str(self.topics.pipeline_status(p.name)), "disabled", retain=True)
            return
        runner = PipelineRunner(p, self)
        if threshold is not None:
            runner.threshold = threshold  # applied once it is built, as after a failure
        with self._runners_lock:
            self.runners = {**self.runners, p.name: runner}
        runner.start()

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def run(self) -> int:
        """Install signal handlers, start, supervise until stopped; exit code 0 on a clean stop."""
        signal.signal(signal.SIGTERM, lambda s, f: self.request_stop())
        signal.signal(signal.SIGINT, lambda s, f: self.request_stop())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda s, f: self.request_reload())
        self.start()
        self.supervise()
        self.shutdown()
        return 0

    def supervise(self) -> None:
        self._host = host = HostProbe()
        self._last_tel = time.monotonic()
        wd = sdnotify.watchdog_interval_s()
        last_ping = last_path_check = 0.0
        while not self._stop.wait(0.2):
            now = time.monotonic()
            if now - last_path_check >= PATH_CHECK_S:  # outbox.db deleted under us: created again
                last_path_check = now
                self.outbox.check_path()
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            for runner in list(self.runners.values()):
                runner.note_slow_build(now)
            interval = self.config.telemetry.interval_s
            if self.config.telemetry.enabled and now - self._last_tel >= interval:
                self.publish_telemetry(host, now - self._last_tel)
                self._last_tel = now
            if wd is not None and now - last_ping >= wd:
                if self.healthy(2 * wd):
                    sdnotify.notify("WATCHDOG=1")
                    last_ping = now
                sdnotify.notify(f"STATUS={self.status_line()}")

    def shutdown(self) -> None:
        sdnotify.notify("STOPPING=1")
        for hook in self.on_stop:
            try:
                hook()
            except Exception as exc:  # a helper failing to stop must not keep the daemon up
                log.warning("on-stop hook failed: %s", exc)
        log.info("stopping: pipelines first, then the outbox is sent for up to %.0f s", STOP_DRAIN_S)
        for r in self.runners.values():
            r.stop_event.set()
        if self.compile_child is not None:  # after the stop events: a pipeline waiting for it builds nothing
            self.compile_child.stop()
        for r in self.runners.values():
            r.stop(3.0)
        for name in self.runners:  # retained: else a broker keeps saying `online` for a stopped pipeline
            self.link.publish(str(self.topics.pipeline_status(name)), "offline", retain=True)
        if self.config.telemetry.enabled and self._host is not None:
            # the last period's figures, so a short run (`run --duration`) reports them too
            self.publish_telemetry(self._host, time.monotonic() - self._last_tel)
        for requests in (self._requests, self._pipeline_requests):
            try:
                requests.put_nowait(None)  # ends the command thread
            except queue.Full:
                pass
        self.link.stop(STOP_DRAIN_S)
        if self.outbox.store_held():
            log.error("%d detection(s) held in memory could not be stored in %s (%s) and are lost with "
                      "this stop", self.outbox.held, self.outbox.path, self.outbox.error)
        left = self.outbox.depth()
        if left and self.outbox.in_memory and not self.outbox.check_path():
            log.error("%d message(s) in the outbox kept in memory (%s could not be opened) are lost with "
                      "this stop", left, self.outbox.path)
        elif left:
            log.warning("%d message(s) stay in the outbox %s and go out at the next start", left,
                        self.outbox.path)
        if self.broker is not None:
            self.broker.stop()
        self.outbox.close()
        log.info("stopped")

    # -- what the pipelines produce ------------------------------------------------------------------
    def record_detection(self, runner: PipelineRunner, det: Detection) -> None:
        """Publish a detection (through the outbox) unless the entry's non-empty `labels` list leaves its
        label out: such a detection is dropped here, not published nor counted."""
        if runner.cfg.labels and det.label not in runner.cfg.labels:
            return
        fields = {"kind": det.kind, "label": det.label, "event_type": det.label, "score": det.score,
                  "threshold": runner.threshold}
        fields.update(det.fields)
        self.outbox.add_detection(str(self.topics.detection(runner.cfg.name)), self.topics.node,
                                  runner.cfg.name, det.ts_ms, fields)
        runner.meter.detections += 1
        self.detections += 1
        self.link.wake()

    def publish_telemetry(self, host: HostProbe, dt_s: float) -> None:
        figures = host.sample()
        taken = {n: r.meter.take() for n, r in self.runners.items()}
        for sample in taken.values():
            for key in self.totals:
                self.totals[key] += sample[key]
        figures.update(pipeline_figures(taken, dt_s))
        st = self.link.stats
        figures.update({"mqtt_connected": st.connected, "outbox_pending": self.outbox.depth(),
                        "outbox_oldest_s": round(self.outbox.oldest_age_s(), 3),
                        "publish_rejected": st.rejected, "telemetry_dropped": self.outbox.telemetry_dropped,
                        "outbox_over_budget": self.outbox.over_budget,
                        "outbox_error": self.outbox.error, "outbox_held": self.outbox.held,
                        "detections_lost": self.outbox.detections_lost,
                        "detections": self.detections, "uptime_s": round(time.monotonic() - self.started, 1),
                        "pipelines_online": sum(r.status == "online" for r in self.runners.values())})
        body = payloads.telemetry_payload(self.topics.node, payloads.now_ms(),
                                          self.config.telemetry.interval_s, figures)
        if self.outbox.add_telemetry(str(self.topics.telemetry), body) is None:
            # the disk refuses writes: sent directly (lost if the broker is away too), so the
            # operator sees outbox_error and outbox_held
            self.link.publish(str(self.topics.telemetry), body, qos=1)
        self.telemetry_sent += 1
        self.last_telemetry = figures
        self.link.wake()

    def summary(self) -> dict[str, Any]:
        """What this run did (after `shutdown()`): detections per pipeline, totals and the last
        telemetry figures (chip figures estimated, host figures measured)."""
        uptime_s = time.monotonic() - self.started
        meters = [r.meter for r in self.runners.values()]
        energy_j = chip_energy_uj([m.total_energy_uj for m in meters],
                                  [m.total_static_uj for m in meters]) / 1e6
        # the chip's mean power while the pipelines ran (its static floor's time), not over the
        # whole run: loading the models and stopping draw nothing on a chip
        chip_s = max((m.total_static_uj for m in meters), default=0.0) / (CHIP_STATIC_MW * 1e3)
        mean_s = chip_s if chip_s > 0 else uptime_s if energy_j > 0 else 0.0  # 0: nothing ran on the chip
        return {"uptime_s": round(uptime_s, 1), "detections": self.detections,
                "telemetry_messages": self.telemetry_sent,
                "pipelines": {n: {"status": r.status, "detections": r.meter.detections,
                                  "restarts": r.restarts, "last_error": r.last_error}
                              for n, r in self.runners.items()},
                **self.totals, "chip_energy_j": round(energy_j, 6),
                "chip_power_mw_mean": round(energy_j / mean_s * 1e3, 3) if mean_s > 0 else None,
                "chip_seconds": round(mean_s, 1),
                "last_telemetry": dict(self.last_telemetry)}

    def healthy(self, within_s: float) -> bool:
        """Every pipeline thread progressed within `within_s` and the MQTT thread is alive."""
        link_ok = self.link._thread is not None and self.link._thread.is_alive()
        return link_ok and all(r.healthy(within_s) for r in self.runners.values())

    def status_line(self) -> str:
        online = sum(r.status == "online" for r in self.runners.values())
        mqtt = "connected" if self.link.stats.connected else "disconnected"
        held = f" (+{self.outbox.held} held in memory: {self.outbox.error})" if self.outbox.held else ""
        return (f"{online}/{len(self.runners)} pipelines online; MQTT {mqtt}; "
                f"outbox {self.outbox.depth()}{held}; {self.detections} detections")

    def publish_info(self) -> None:
        """The retained `info`: version, chip, config hash, pipelines (with what each `describe()`s:
        model name and sha256...)."""
        try:
            text = (default_config_text().encode("utf-8") if self.config.path.startswith("<")
                    else Path(self.config.path).read_bytes())
            sha = hashlib.sha256(text).hexdigest()
        except OSError:
            sha = ""
        pipes = []
        for p in self.config.pipelines:
            entry = {"name": p.name, "type": p.type, "source": p.source.type, "enabled": p.enabled}
            runner = self.runners.get(p.name)
            if runner is not None:
                entry.update({k: v for k, v in runner.description.items() if k not in entry})
            pipes.append(entry)
        info = payloads.info_payload(self.topics.node, __version__, pipes, self.started_ms, sha,
                                     {"type": "virtual", "name": "AKD1000"})
        self.link.publish(str(self.topics.info), info, retain=True)

    def _publish_retained_meta(self) -> None:
        self.publish_info()
        if self.config.mqtt.discovery:
            self.send_discovery()

    def send_discovery(self) -> None:
        """(Re)send Home Assistant device discovery (retained; also on HA's `online` birth)."""
        described = {name: list(r.description.get("labels", ())) for name, r in self.runners.items()}
        body = discovery.device_config(self.config, self.topics, described)
        self.link.publish(str(self.topics.discovery), body, retain=True)

    # -- SIGHUP ----------------------------------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the file; apply pipeline and telemetry changes; keep everything if it is invalid."""
        if self.config.path.startswith("<"):
            log.warning("reload: running the packaged default, which has no file to re-read; write one "
                        "with `akida-edge init-config FILE` and run with --config FILE")
            return False
        sdnotify.notify("RELOADING=1")
        try:
            new = load_config(self.config.path)
            # what `validate-config` checks beyond the file (a model, a recording, a voice...):
            # else a working pipeline would be swapped for one that fails at every retry
            from akida_edge.commands.config import check_files

            check_files(new, self.config.path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)
            sdnotify.notify("READY=1")
            return False
        old = self.config
        for section in ("device", "mqtt", "state"):
            if getattr(new, section) != getattr(old, section):
                log.warning("reload: [%s] changed; restart the daemon to apply it (kept the running one)",
                            section)
        new = dataclasses.replace(new, device=old.device, mqtt=old.mqtt, state=old.state)
        old_p = {p.name: p for p in old.pipelines}
        new_p = {p.name: p for p in new.pipelines}
        for what, names in (("removed", [n for n in old_p if n not in new_p]),
                            ("added", [n for n in new_p if n not in old_p]),
                            ("changed", [n for n in new_p if n in old_p and new_p[n] != old_p[n]])):
            if names:
                log.info("reload: pipeline(s) %s: %s", what, ", ".join(names))
        with self._command_gate:
            self._apply(old, new, old_p, new_p)
        self._publish_retained_meta()
        log.info("configuration reloaded from %s (%d pipelines)", new.path, len(self.runners))
        sdnotify.notify("READY=1")
        return True

    def _apply(self, old: Config, new: Config, old_p: dict[str, PipelineConfig],
               new_p: dict[str, PipelineConfig]) -> None:
        """Stop the pipelines whose entry changed or went, start the changed and new ones (a
        pipeline that does not stop, or runs a command, keeps its old entry; a later reload tries
        again)."""
        stuck: dict[str, PipelineConfig] = {}
        # `set_threshold` values survive a restart by reload unless the file changed that threshold
        overrides: dict[str, float] = {}
        for name, runner in self.runners.items():
            if name in old_p and name in new_p and runner.threshold != old_p[name].threshold:
                if new_p[name].threshold == old_p[name].threshold:
                    overrides[name] = runner.threshold
                elif new_p[name] != old_p[name]:
                    log.info("reload: pipeline %s's threshold set over MQTT (%g) is replaced by the file's "
                             "new one (%g)", name, runner.threshold, new_p[name].threshold)
        for name, p in old_p.items():
            if new_p.get(name) != p:
                if name == self._commanded:
                    log.info("reload: pipeline %s is running a command (learning); its new configuration "
                             "is applied once the command is done", name)
                    self._reload_after_command = True
                    stuck[name] = p
                    continue
                runner = self.runners.get(name)
                if runner is not None and not runner.stop(3.0):
                    # never two instances of one pipeline on one sensor: keep the old one listed (it
                    # was asked to stop) and its configuration, so the next SIGHUP tries again
                    log.error("reload: pipeline %s did not stop; kept its old configuration and did not "
                              "start the new one (send SIGHUP again, or restart the daemon)", name)
                    stuck[name] = p
                    continue
                with self._runners_lock:
                    self.runners = {n: r for n, r in self.runners.items() if n != name}
                if name not in new_p:
                    self.link.publish(str(self.topics.pipeline_status(name)), "disabled", retain=True)
                    self.link.publish(str(self.topics.state(name)), b"", retain=True)  # clears its state
        if stuck:
            kept = [stuck.get(p.name, p) for p in new.pipelines]
            kept += [p for n, p in stuck.items() if n not in new_p]
            new = dataclasses.replace(new, pipelines=tuple(kept))
        self.config = new
        for name, p in new_p.items():
            if old_p.get(name) != p and name not in stuck:
                self._start_pipeline(p, overrides.get(name))

    # -- commands ------------------------------------------------------------------------------------
    def _on_message(self, topic: str, payload: bytes, properties: object, retained: bool = False) -> None:
        """Runs in the MQTT thread: only hands work over, never blocks."""
        if topic == self.topics.ha_status:
            if payload.strip() == b"online" and self.config.mqtt.discovery:
                self.send_discovery()
            return
        name = self.topics.command_name(topic)
        if name is None:
            return
        response_topic = getattr(properties, "ResponseTopic", None) or None
        correlation = getattr(properties, "CorrelationData", None)
        try:
            valid = self.topics.response(name)
        except ConfigError:
            valid = None
        default = str(valid) if valid else f"{self.topics.base}/response/_invalid"
        refused = cmd.response_topic_problem(response_topic) if response_topic else ""
        if refused:
            response_topic = None  # answered where a request without one is
        elif retained:
            # a retained request would run again at every (re)connection and daemon start
            refused = ("request was published with the retain flag (it would run again at every "
                       "reconnection); publish it without retain")
        target = response_topic or default
        requests = self._pipeline_requests if name == "pipeline" else self._requests
        try:
            requests.put_nowait(cmd.Request(name, payload, target, correlation, refused))
        except queue.Full:
            log.warning("command queue full; request %r dropped", name[:64])

    def _serve_commands(self, requests: queue.Queue) -> None:
        while True:
            req = requests.get()
            if req is None:
                return
            response = self.commands.handle(req)
            self.link.publish(req.response_topic, response, qos=1, correlation=req.correlation)

    def _cmd_status(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"node": self.topics.node, "version": __version__, "detections": self.detections,
                "mqtt_connected": self.link.stats.connected, "outbox_pending": self.outbox.depth(),
                "last_seq": self.outbox.last_seq(), "outbox_error": self.outbox.error,
                "outbox_held": self.outbox.held,
                "pipelines": {n: {"status": r.status, "restarts": r.restarts, "last_error": r.last_error,
                                  "threshold": r.threshold_in_use()} for n, r in self.runners.items()}}

    def _cmd_set_threshold(self, args: dict[str, Any]) -> dict[str, Any]:
        name = cmd.require(args, "pipeline", str)
        value = cmd.require(args, "value", (int, float))
        if not 0.0 <= value <= 1e6 or value != value:
            raise cmd.CommandError(f"value {value!r} is out of range [0, 1e6]")
        runner = self.runners.get(name)
        if runner is None:
            raise cmd.CommandError(f"no running pipeline {name[:64]!r}; running: "
                                   + ", ".join(self.runners))
        if runner.pipeline is None:  # a value is checked by the pipeline itself: none to check it yet
            raise cmd.CommandError(f"pipeline {name!r} is {runner.status}, not running yet; send "
                                   "set_threshold again once it is online")
        try:
            adjustable = set_threshold(runner.pipeline, value)
        except ValueError as exc:  # the pipeline's own range, e.g. a probability in (0, 1]
            raise cmd.CommandError(f"pipeline {name!r} refused value {value!r}: {exc}") from None
        if not adjustable:
            raise cmd.CommandError(f"pipeline {name!r} has no adjustable threshold")
        runner.threshold = float(value)
        return {"pipeline": name, "threshold": runner.threshold}

    def _cmd_pipeline(self, args: dict[str, Any]) -> Any:
        """`{"pipeline": name, "command": cmd, ...}` -> the pipeline's `handle_command(cmd, args)`."""
        name = cmd.require(args, "pipeline", str)
        command = cmd.require(args, "command", str)
        with self._command_gate:  # not while a reload replaces pipelines
            runner = self.runners.get(name)
            if runner is None or runner.pipeline is None:
                raise cmd.CommandError(f"no running pipeline {name[:64]!r}")
            handler = getattr(runner.pipeline, "handle_command", None)
            if handler is None:
                raise cmd.CommandError(f"pipeline {name!r} takes no commands")
            self._commanded = name  # one pipeline command at a time (its own thread)
        rest = {k: v for k, v in args.items() if k not in ("pipeline", "command")}
        try:
            result = handler(command[:64], rest)
        except (ValueError, KeyError, TypeError) as exc:
            raise cmd.CommandError(f"pipeline {name!r} refused {command[:64]!r}: {exc}") from exc
        finally:
            with self._command_gate:
                self._commanded = None
                again, self._reload_after_command = self._reload_after_command, False
            if again:  # a reload left this pipeline as it was meanwhile: apply it now
                self.request_reload()
        runner.refresh_description()  # a learned or forgotten label: info and discovery follow
        return result
