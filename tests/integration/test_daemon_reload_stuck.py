"""SIGHUP reload with a pipeline that does not stop: never two instances of one pipeline."""

from __future__ import annotations

import pytest

from akida_edge.config import load_config
from akida_edge.daemon import Daemon

pytestmark = pytest.mark.integration

CONFIG = """
[mqtt]
discovery = false
[state]
dir = "{state}"
[[pipelines]]
name = "a"
type = "custom"
factory = "daemon_pipelines:counter"
threshold = {threshold}
source = {{ type = "counter" }}
"""


class _Link:
    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def publish(self, topic: str, payload: object, retain: bool = False) -> None:
        self.sent.append((topic, payload))


class _WedgedRunner:
    """A runner whose thread does not end when asked to stop."""

    def __init__(self, cfg) -> None:
        self.cfg, self.description, self.stop_calls = cfg, {}, 0
        self.threshold = cfg.threshold  # the runner's interface: its threshold in use

    def stop(self, timeout_s: float) -> bool:
        self.stop_calls += 1
        return False


def test_reload_keeps_a_runner_that_did_not_stop(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", threshold=1.0), encoding="utf-8")
    daemon = Daemon(load_config(path))
    daemon.link = _Link()
    wedged = _WedgedRunner(daemon.config.pipelines[0])
    daemon.runners = {"a": wedged}
    started = []
    monkeypatch.setattr(daemon, "_start_pipeline", lambda p, threshold=None: started.append(p.name))
    path.write_text(CONFIG.format(state=tmp_path / "state", threshold=2.0), encoding="utf-8")
    assert daemon.reload()
    assert wedged.stop_calls == 1
    assert started == [] and daemon.runners == {"a": wedged}
    assert daemon.config.pipelines[0].threshold == 1.0  # the next reload tries again
    daemon.outbox.close()
