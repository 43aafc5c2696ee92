"""A sensor that fails a moment after every start (a flaky cable, a stream that drops)."""

from __future__ import annotations

import re
import time

import pytest
from mqtt_fixtures import daemon_config, mosquitto, start_daemon, stop_daemon  # noqa: F401

pytestmark = pytest.mark.integration

FLAKY = """
[[pipelines]]
name = "flaky"
type = "custom"
factory = "daemon_pipelines:counter"
retry_min_s = 0.1
retry_max_s = 0.8
source = { type = "synthetic", rate_hz = 50, fail_after_s = 0.1 }
"""


def test_a_source_failing_after_each_start_backs_off_to_retry_max(mosquitto, tmp_path):  # noqa: F811
    # every run yielded a few detections, and each one set the backoff back to retry_min_s: the
    # pipeline restarted every retry_min_s for ever (two log lines and an online/offline flap each)
    log = tmp_path / "d.log"
    proc = start_daemon(daemon_config(tmp_path, mosquitto.port, pipelines=FLAKY), log)
    try:
        deadline = time.monotonic() + 30  # a hang guard
        while time.monotonic() < deadline and log.read_text().count("retrying in") < 6:
            time.sleep(0.1)
    finally:
        assert stop_daemon(proc) == 0
    failed = re.findall(r"pipeline flaky failed .*; retrying in ([0-9.]+) s", log.read_text())
    delays = [float(d) for d in failed]
    assert delays[:6] == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8], delays
