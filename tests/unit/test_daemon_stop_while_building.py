"""A pipeline still being built (a first start compiles the kernels for minutes) when the daemon
stops: the warning says why it did not stop, instead of leaving a newcomer to guess."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import pytest

from akida_edge.commands.run import format_summary
from akida_edge.config import parse_config
from akida_edge.daemon import SLOW_START_S, Daemon, PipelineRunner

pytestmark = pytest.mark.unit

RELEASE = threading.Event()


def blocked_build(cfg):
    """A factory that builds until released, then fails (the runner's retry path ends at once:
    it was asked to stop)."""
    RELEASE.wait(10.0)
    raise RuntimeError("released")


def slow_config(tmp_path):
    """One custom pipeline built by `blocked_build`."""
    return parse_config({"device": {"id": "N"}, "state": {"dir": str(tmp_path)},
                         "pipelines": [{"name": "slow", "type": "custom",
                                        "factory": f"{__name__}:blocked_build",
                                        "source": {"type": "own"}}]}, str(tmp_path / "config.toml"))


def test_stop_during_a_build_says_the_pipeline_is_still_loading(tmp_path, caplog):
    config = slow_config(tmp_path)
    daemon = Daemon(config)
    daemon.link = SimpleNamespace(publish=lambda *a, **k: None)
    runner = PipelineRunner(config.pipelines[0], daemon)
    RELEASE.clear()
    try:
        runner.start()
        deadline = time.monotonic() + 5.0
        while runner.building_since is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runner.building_since is not None
        with caplog.at_level(logging.WARNING, logger="akida_edge.daemon"):
            assert runner.stop(0.05) is False
        (message,) = [r.getMessage() for r in caplog.records if "did not stop" in r.getMessage()]
        assert "slow" in message and "still loading its model" in message
    finally:
        RELEASE.set()
        runner.thread.join(5.0)
        daemon.outbox.close()
    assert not runner.thread.is_alive()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="akida_edge.daemon"):
        assert runner.stop(0.05) is True  # a stopped pipeline: no warning at all
    assert not caplog.records


def test_a_slow_build_is_said_once_while_it_runs(tmp_path, caplog):
    config = slow_config(tmp_path)
    daemon = Daemon(config)
    runner = PipelineRunner(config.pipelines[0], daemon)
    try:
        with caplog.at_level(logging.WARNING, logger="akida_edge.daemon"):
            runner.note_slow_build(time.monotonic())  # not building: nothing to say
            runner.building_since = 100.0
            runner.note_slow_build(100.0 + SLOW_START_S / 2)  # building, not yet slow
            assert not caplog.records
            runner.note_slow_build(100.0 + SLOW_START_S + 2)
            runner.note_slow_build(100.0 + 3 * SLOW_START_S)  # said once only
        (message,) = [r.getMessage() for r in caplog.records]
        assert message.startswith(f"pipeline slow still loading after {SLOW_START_S + 2:.0f} s")
        assert "compiling its kernels" in message and "akida_edge.warm" in message
    finally:
        daemon.outbox.close()


def test_the_summary_says_why_a_pipeline_never_came_online():
    def pipeline(status: str) -> dict:
        return {"status": status, "detections": 0, "restarts": 0, "last_error": ""}

    text = format_summary({"uptime_s": 20.0, "detections": 0, "telemetry_messages": 1,
                           "pipelines": {"cam0": pipeline("starting"), "kws": pipeline("online")},
                           "inferences": 0, "events": 0, "synops": 0, "chip_power_mw_mean": None,
                           "chip_energy_j": 0.0, "last_telemetry": {}})
    cam0, kws = [line for line in text.splitlines() if line.startswith(("  cam0", "  kws"))]
    assert "still loading its model when stopped" in cam0 and "akida_edge.warm" in cam0
    assert "still loading" not in kws


def test_the_chip_mean_covers_the_time_the_pipelines_ran_and_nothing_when_none_did(tmp_path):
    """Session-27 audit: the mean chip power was the energy over the whole run (loading included),
    so 28-29.9 mW for a chip whose static floor is 30 mW; with nothing run it said "0.00 mW"."""
    from akida_edge.engine.power import CHIP_STATIC_MW
    from akida_edge.pipelines.base import Activity

    config = slow_config(tmp_path)
    daemon = Daemon(config)
    try:
        runner = PipelineRunner(config.pipelines[0], daemon)
        daemon.runners["slow"] = runner
        assert daemon.summary()["chip_power_mw_mean"] is None  # nothing ran on the chip
        assert "chip (estimated)" not in format_summary({**daemon.summary(), "pipelines": {}})
        static_uj = CHIP_STATIC_MW * 1e3 * 2.0  # the floor over 2 s of windows
        runner.meter.add(Activity(inferences=20, chip_energy_uj=static_uj + 400.0, chip_static_uj=static_uj))
        summary = daemon.summary()
        assert summary["chip_seconds"] == pytest.approx(2.0)
        assert summary["chip_power_mw_mean"] == pytest.approx(CHIP_STATIC_MW + 0.2)  # 400 µJ over 2 s
        assert "over the 2.0 s the pipelines ran" in format_summary({**summary, "pipelines": {}})
    finally:
        daemon.outbox.close()
