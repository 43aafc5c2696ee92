"""Daemon benchmarks (`akida-edge bench daemon`): publish rate, memory, readiness, latency.

- `publish_per_s`: detections committed to the disk outbox and acknowledged (QoS 1 PUBACK) by a
  local Mosquitto, end to end (insert + publish + ack + delete), over `N_PUBLISH` messages; with
  `outbox_insert_per_s` and `outbox_drain_per_s`, its two halves measured apart.
- `ready_s`: `akida-edge run` started as a subprocess -> its retained `online` seen by a
  subscriber (warm: the second start, after Python's bytecode caches exist).
- `rss_mb`: the daemon's resident memory with one synthetic pipeline at 50 Hz, after `WARM_S`;
  `rss_anon_mb` its private part (`RssAnon`: RSS also counts shared library pages, as many as the
  page cache holds, docs/mqtt.md).
- `detection_latency_ms_p95`: capture time (`ts` in the payload, epoch ms) -> delivered to a
  subscriber on the same host, over the detections of `LATENCY_S` seconds.
- `cpu_pct_kws`: the daemon's CPU time (user + system, all threads) over `KWS_S` seconds of wall
  time, in % of one core, while its KWS pipeline spots keywords in a real-time audio stream (an
  espeak-ng scene of keywords among other speech with noise, replayed at 16 kHz in real time,
  looped), after `WARM_S` of warm-up. Mosquitto is required (`scripts/setup.sh`); without
  it the figures use the embedded broker and say so (`broker`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

SUITE = "daemon"
N_PUBLISH = 5000
WARM_S = 3.0
LATENCY_S = 4.0
RATE_HZ = 50.0
KWS_S = 15.0


class _Ticker:
    """A pipeline with no sensor: one detection every 1/rate s (the benchmark's load)."""

    def __init__(self, cfg: Any) -> None:
        self.name = cfg.name
        self.period_s = 1.0 / float(cfg.source.options.get("rate_hz", RATE_HZ))

    def run(self, stop_event: threading.Event) -> Iterator[Any]:
        from akida_edge.pipelines.base import Activity, Detection

        next_t = time.monotonic()
        while not stop_event.is_set():
            next_t += self.period_s
            stop_event.wait(max(0.0, next_t - time.monotonic()))
            yield Activity(inferences=1)
            yield Detection(label="tick", score=1.0, ts_ms=int(time.time() * 1000))


def ticker(cfg: Any) -> _Ticker:
    return _Ticker(cfg)


def _start_broker(tmp: Path) -> tuple[Any, int, str]:
    """A Mosquitto on a free loopback port, else (not installed) the embedded broker."""
    from akida_edge.mqtt.testbroker import Mosquitto, find_mosquitto, free_port

    if find_mosquitto() is not None:
        mosquitto = Mosquitto(tmp)
        mosquitto.start()
        return mosquitto, mosquitto.port, "mosquitto"
    from akida_edge.mqtt.broker import EmbeddedBroker

    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    return broker, port, "embedded"


def _stop_broker(broker: Any) -> None:
    broker.stop()


def publish_rate(tmp: Path, port: int) -> dict[str, float]:
    """Detections per second through outbox -> broker -> PUBACK -> delete, three ways.

    `publish_per_s`: a producer thread inserting as fast as it can while the link publishes (both
    in one process, as in the daemon); `outbox_insert_per_s`: inserts alone (commit per
    detection); `outbox_drain_per_s`: a pre-filled outbox sent and acknowledged.
    """
    from akida_edge.config import MqttConfig
    from akida_edge.mqtt.client import MqttLink
    from akida_edge.mqtt.outbox import Outbox
    from akida_edge.mqtt.topics import Topics

    outbox = Outbox(tmp / "bench-outbox.db")
    topics = Topics("bench", "n1")
    link = MqttLink(MqttConfig(broker="external", port=port, max_inflight=100), topics, outbox)
    link.start()
    if not link.wait_connected(10):
        raise TimeoutError("benchmark link did not connect")
    topic = str(topics.detection("k"))
    t0 = time.perf_counter()
    for i in range(N_PUBLISH):
        outbox.add_detection(topic, "n1", "k", 0, {"label": "tick", "score": 1.0, "i": i})
        link.wake()
    while link.stats.acked < N_PUBLISH and time.perf_counter() - t0 < 120:
        time.sleep(0.005)
    out = {"publish_per_s": N_PUBLISH / (time.perf_counter() - t0)}
    link.stop(2)
    t0 = time.perf_counter()
    for i in range(N_PUBLISH):
        outbox.add_detection(topic, "n1", "k", 0, {"label": "tick", "score": 1.0, "i": i})
    out["outbox_insert_per_s"] = N_PUBLISH / (time.perf_counter() - t0)
    link = MqttLink(MqttConfig(broker="external", port=port, max_inflight=100), topics, outbox)
    t0 = time.perf_counter()
    link.start()
    while link.stats.acked < N_PUBLISH and time.perf_counter() - t0 < 120:
        time.sleep(0.002)
    out["outbox_drain_per_s"] = N_PUBLISH / (time.perf_counter() - t0)
    link.stop(2)
    outbox.close()
    return out


def _config_head(port: int, state_dir: Path) -> str:
    """The [device], [mqtt] and [state] sections every benchmark daemon uses."""
    return f"""
[device]
id = "bench"
[mqtt]
broker = "external"
port = {port}
prefix = "bench"
discovery = false
[state]
dir = "{state_dir}"
"""


def _daemon_config(tmp: Path, port: int) -> Path:
    path = tmp / "config.toml"
    path.write_text(_config_head(port, tmp / "state") + f"""
[[pipelines]]
name = "tick"
type = "custom"
factory = "akida_edge.bench.daemon:ticker"
source = {{ type = "synthetic", rate_hz = {RATE_HZ} }}
""")
    return path


def _daemon_run(config: Path, port: int, measure: bool) -> dict[str, float]:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    got: list[tuple[str, bytes, float]] = []
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{time.monotonic_ns()}",
                      protocol=MQTTProtocolVersion.MQTTv5)
    subscribed = threading.Event()
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("bench/bench/#", qos=1)
    sub.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    sub.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload), time.time() * 1000.0))
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    subscribed.wait(10)
    sub.publish("bench/bench/status", b"", qos=1, retain=True).wait_for_publish(5)
    got.clear()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "akida_edge", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready_s = float("nan")
    out: dict[str, float] = {}
    try:
        while time.perf_counter() - t0 < 30:
            if any(t.endswith("/status") and p == b"online" for t, p, _ in list(got)):
                ready_s = time.perf_counter() - t0
                break
            time.sleep(0.002)
        out["ready_s"] = ready_s
        if measure:
            time.sleep(WARM_S)
            n0 = len(got)
            time.sleep(LATENCY_S)
            lat = [rx - json.loads(p)["ts"] for t, p, rx in got[n0:] if t.endswith("/detection")]
            if lat:
                out["detection_latency_ms_p95"] = float(np.percentile(lat, 95))
                out["detection_latency_ms_p50"] = float(np.percentile(lat, 50))
            with open(f"/proc/{proc.pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        out["rss_mb"] = int(line.split()[1]) / 1024.0
                    elif line.startswith("RssAnon:"):
                        out["rss_anon_mb"] = int(line.split()[1]) / 1024.0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        sub.disconnect()
        sub.loop_stop()
    return out


def _kws_config(tmp: Path, port: int) -> Path:
    from akida_edge.apps.kws.scenes import make_scene
    from akida_edge.drivers.wavfile import write_wav

    scene = make_scene(np.random.default_rng(7), "en-us", ["yes", "stop", "left", "go"])
    wav = tmp / "kws-scene.wav"
    write_wav(wav, scene.audio.reshape(-1, 1), 16000)
    path = tmp / "kws.toml"
    path.write_text(_config_head(port, tmp / "kws-state") + f"""
[[pipelines]]
name = "kws"
type = "kws"
threshold = 0.8
source = {{ type = "audio_file", path = "{wav}", realtime = true, loop = true }}
""")
    return path


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads), from /proc/PID/stat, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kws_cpu(tmp: Path, port: int) -> dict[str, float]:
    """`cpu_pct_kws` (module docstring)."""
    config = _kws_config(tmp, port)
    env = dict(os.environ, AKIDA_EDGE_STATE_DIR=str(tmp / "kws-state"))
    proc = subprocess.Popen([sys.executable, "-m", "akida_edge", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        time.sleep(WARM_S + 5.0)  # start, model load and kernel warm-up, then steady state
        if proc.poll() is not None:
            return {}
        c0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(KWS_S)
        c1, t1 = _cpu_seconds(proc.pid), time.perf_counter()
        return {"cpu_pct_kws": 100.0 * (c1 - c0) / (t1 - t0)}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="akida-bench-daemon-") as d:
        tmp = Path(d)
        broker, port, kind = _start_broker(tmp)
        try:
            figures: dict[str, Any] = {"broker": kind}
            if progress:
                print(f"bench daemon: publish_per_s over {N_PUBLISH} detections", file=progress, flush=True)
            figures.update({k: round(v, 1) for k, v in publish_rate(tmp, port).items()})
            config = _daemon_config(tmp, port)
            _daemon_run(config, port, measure=False)  # cold start: fills bytecode caches
            if progress:
                print("bench daemon: warm start, rss and latency", file=progress, flush=True)
            warm = _daemon_run(config, port, measure=True)
            figures.update({k: round(v, 3) for k, v in warm.items()})
            if progress:
                print(f"bench daemon: cpu_pct_kws over {KWS_S:.0f} s of real-time audio", file=progress,
                      flush=True)
            figures.update({k: round(v, 2) for k, v in kws_cpu(tmp, port).items()})
        finally:
            _stop_broker(broker)
    return figures
