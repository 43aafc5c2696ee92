"""SIGHUP while a pipeline runs a long command (a `learn`: uploads, synthesis, seconds): the reload
leaves that pipeline as it is until the command is done, then applies its new entry. Before, the
reload replaced the pipeline mid-command: the new instance, built meanwhile, loaded the learned
state before the command saved what it learned, so a word the response said was learned was not
spotted until the next restart."""

from __future__ import annotations

import threading

import pytest

from akida_edge.config import load_config
from akida_edge.daemon import Daemon

pytestmark = pytest.mark.integration

CONFIG = """
[device]
id = "n1"
[mqtt]
broker = "embedded"
port = 0
discovery = false
[state]
dir = "{state}"
[telemetry]
enabled = false
[[pipelines]]
name = "tick"
type = "custom"
factory = "daemon_pipelines:counter"
threshold = {threshold}
source = {{ type = "synthetic", rate_hz = 20 }}
"""


def test_reload_waits_for_the_pipeline_command_then_applies(tmp_path):
    import daemon_pipelines

    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", threshold=1.0), encoding="utf-8")
    daemon_pipelines.RELEASE.clear()
    daemon = Daemon(load_config(path))
    daemon.start()
    try:
        runner = daemon.runners["tick"]
        assert daemon.ready.wait(10)
        while runner.pipeline is None:
            threading.Event().wait(0.05)
        answers: list = []
        learning = threading.Thread(target=lambda: answers.append(
            daemon._cmd_pipeline({"pipeline": "tick", "command": "wait"})))
        learning.start()
        assert daemon_pipelines.WAITING.wait(10)  # the command runs on the pipeline (a learn)
        path.write_text(CONFIG.format(state=tmp_path / "state", threshold=2.0), encoding="utf-8")
        assert daemon.reload()
        assert daemon.runners["tick"] is runner and runner.thread.is_alive()  # not replaced mid-command
        assert daemon.config.pipelines[0].threshold == 1.0
        daemon_pipelines.RELEASE.set()
        learning.join(30)
        assert answers == [{"released": True}]
        assert daemon._reload.is_set()  # the command done, the reload is asked for again
        daemon._reload.clear()
        assert daemon.reload()
        assert daemon.runners["tick"] is not runner and daemon.config.pipelines[0].threshold == 2.0
    finally:
        daemon_pipelines.RELEASE.set()
        daemon.request_stop()
        daemon.shutdown()
