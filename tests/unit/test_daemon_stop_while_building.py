"""A pipeline still being built (a first start compiles the kernels for minutes) when the daemon
stops: the warning says why it did not stop, instead of leaving a newcomer to guess."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import pytest

from akida_edge.config import parse_config
from akida_edge.daemon import Daemon, PipelineRunner

pytestmark = pytest.mark.unit

RELEASE = threading.Event()


def blocked_build(cfg):
    """A factory that builds until released, then fails (the runner's retry path ends at once:
    it was asked to stop)."""
    RELEASE.wait(10.0)
    raise RuntimeError("released")


def test_stop_during_a_build_says_the_pipeline_is_still_loading(tmp_path, caplog):
    config = parse_config({"device": {"id": "N"}, "state": {"dir": str(tmp_path)},
                           "pipelines": [{"name": "slow", "type": "custom",
                                          "factory": f"{__name__}:blocked_build",
                                          "source": {"type": "own"}}]}, str(tmp_path / "config.toml"))
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
