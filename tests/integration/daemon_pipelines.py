"""Test pipelines for the daemon integration tests (loaded with `type = "custom"`, `factory`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from akida_edge.config import PipelineConfig
from akida_edge.errors import SourceError
from akida_edge.pipelines.base import Activity, Detection

RELEASE = threading.Event()  # ends the `wait` command (in-process daemons only)
WAITING = threading.Event()  # set while a `wait` command runs
GO = threading.Event()  # a `gated` counter starts counting once it is set (in-process daemons only)


class Counter:
    """Emits one detection every 1/rate_hz seconds (label `tick`, score = count), with activity.

    `fail_after_s` on the source makes it raise `SourceError` after that long (a sensor that
    goes away), to test the retries; `end_after_n` ends the run after that many detections (a
    finite source: a file replayed once); `gated = true` holds the first detection until `GO` is
    set (a test subscribed to the daemon's own broker, which starts with it, sees seq 1).
    """

    def __init__(self, cfg: PipelineConfig) -> None:
        self.name = cfg.name
        self.rate_hz = float(cfg.source.options.get("rate_hz", 10.0))
        self.fail_after_s = cfg.source.options.get("fail_after_s")
        self.end_after_n = cfg.source.options.get("end_after_n")
        self.gated = bool(cfg.source.options.get("gated", False))
        self.threshold = cfg.threshold
        self.count = 0

    def set_threshold(self, value: float) -> None:
        self.threshold = value

    def describe(self) -> dict:
        return {"model": "counter", "model_sha256": "0" * 64, "rate_hz": self.rate_hz}

    def handle_command(self, command: str, args: dict) -> dict:
        if command == "wait":  # a long command (as a `learn`): until the test sets RELEASE
            WAITING.set()
            try:
                return {"released": RELEASE.wait(30)}
            finally:
                WAITING.clear()
        if command != "count":
            raise ValueError(f"unknown command {command!r}; known: count, wait")
        return {"count": self.count, "echo": args.get("echo")}

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        while self.gated and not GO.wait(0.05):
            if stop_event.is_set():
                return
        t0 = time.monotonic()
        period = 1.0 / self.rate_hz
        next_t = t0
        while not stop_event.is_set():
            if self.end_after_n is not None and self.count >= self.end_after_n:
                return
            if self.fail_after_s is not None and time.monotonic() - t0 >= self.fail_after_s:
                raise SourceError(f"{self.name}: synthetic sensor unplugged")
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                stop_event.wait(delay)
            self.count += 1
            t_ms = int(time.time() * 1000)
            yield Activity(inferences=1, latency_ms=(1.0,), events=10, synops=100, chip_energy_uj=2.0)
            yield Detection(label="tick", score=float(self.count), ts_ms=t_ms, kind="keyword")


def counter(cfg: PipelineConfig) -> Counter:
    return Counter(cfg)


class Stuck:
    """Yields once, then hangs without yielding (a wedged sensor read) until stopped."""

    def __init__(self, cfg: PipelineConfig) -> None:
        self.name = cfg.name

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        yield Activity(inferences=1)
        stop_event.wait()


def stuck(cfg: PipelineConfig) -> Stuck:
    return Stuck(cfg)


def slow_build(cfg: PipelineConfig) -> Counter:
    """A `counter` whose building takes `build_s` seconds of the source's options (a first start
    compiling its kernels), with nothing to report meanwhile."""
    time.sleep(float(cfg.source.options.get("build_s", 1.0)))
    return Counter(cfg)
