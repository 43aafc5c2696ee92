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


def test_reload_refuses_what_validate_config_refuses_and_says_what_changes(tmp_path, caplog):
    """Session-27 audit: a reload whose file named a model that does not exist was applied ("configuration
    reloaded"): the running pipeline was stopped and its replacement failed at every retry, where
    `validate-config` refuses the file. And a reload said only how many pipelines there were."""
    import logging

    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", threshold=1.0), encoding="utf-8")
    daemon = Daemon(load_config(path))
    daemon.start()
    try:
        assert daemon.ready.wait(10)
        runner = daemon.runners["tick"]
        missing = tmp_path / "nope.aem"
        broken = CONFIG.format(state=tmp_path / "state", threshold=2.0) + f'model = "{missing}"\n'
        path.write_text(broken, encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="akida_edge.daemon"):
            assert not daemon.reload()
        refused = [r.getMessage() for r in caplog.records if "reload refused" in r.getMessage()]
        assert len(refused) == 1 and "pipelines[0].model" in refused[0] and "does not exist" in refused[0]
        assert daemon.runners["tick"] is runner and runner.thread.is_alive()
        assert daemon.config.pipelines[0].threshold == 1.0
        caplog.clear()
        path.write_text(CONFIG.format(state=tmp_path / "state", threshold=2.0), encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="akida_edge.daemon"):
            assert daemon.reload()
        assert "reload: pipeline(s) changed: tick" in [r.getMessage() for r in caplog.records]
    finally:
        daemon.request_stop()
        daemon.shutdown()


def test_a_set_threshold_value_survives_a_reload_that_restarts_the_pipeline(tmp_path, caplog):
    """Session-27 audit: docs/mqtt.md says set_threshold values are kept across pipeline restarts,
    but a reload that restarted the pipeline (another key of its entry changed) dropped it without
    a word. Now it is kept, unless the file changed that threshold itself (said in the log)."""
    import logging

    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", threshold=1.0), encoding="utf-8")
    daemon = Daemon(load_config(path))
    daemon.start()

    def built(name: str):
        runner = daemon.runners[name]
        while runner.pipeline is None:
            threading.Event().wait(0.05)
        return runner

    try:
        assert daemon.ready.wait(10)
        built("tick")
        assert daemon._cmd_set_threshold({"pipeline": "tick", "value": 3.0})["threshold"] == 3.0
        # another key of the entry changes (its rate): restarted, the value kept
        faster = CONFIG.format(state=tmp_path / "state", threshold=1.0).replace("= 20", "= 25")
        path.write_text(faster, encoding="utf-8")
        assert daemon.reload()
        runner = built("tick")
        assert runner.threshold == 3.0 and runner.pipeline.threshold == 3.0
        # the file changes the threshold itself: the file's value, said
        path.write_text(CONFIG.format(state=tmp_path / "state", threshold=2.0), encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="akida_edge.daemon"):
            assert daemon.reload()
        runner = built("tick")
        assert runner.threshold == 2.0 and runner.pipeline.threshold == 2.0
        assert any("set over MQTT (3) is replaced by the file's new one (2)" in r.getMessage()
                   for r in caplog.records)
    finally:
        daemon.request_stop()
        daemon.shutdown()
