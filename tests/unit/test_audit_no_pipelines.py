"""A config without an enabled pipeline (session-14 audit): a file cut short after its [mqtt] table,
or every entry `enabled = false`, is valid TOML and a valid config, and the daemon ran detecting
nothing without a word, while `validate-config` printed OK and no pipeline line."""

from __future__ import annotations

import logging

import pytest

from akida_edge.cli import main
from akida_edge.config import load_config
from akida_edge.daemon import Daemon

pytestmark = pytest.mark.unit

CUT_SHORT = """[device]
id = "n1"
[mqtt]
broker = "embedded"
port = 0
[state]
dir = "{state}"
"""


def test_validate_config_says_no_pipeline_is_enabled(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(CUT_SHORT.format(state=tmp_path / "state"), encoding="utf-8")
    assert main(["validate-config", str(path)]) == 0  # valid: a box may publish its status only
    out = capsys.readouterr().out
    assert "  no pipeline is enabled: `run` would publish status and telemetry only" in out
    path.write_text(path.read_text() + '[[pipelines]]\nname = "p"\ntype = "anomaly"\nenabled = false\n'
                    'source = { type = "synthetic_machine" }\n', encoding="utf-8")
    assert main(["validate-config", str(path)]) == 0
    assert "no pipeline is enabled" in capsys.readouterr().out


def test_the_daemon_warns_when_it_starts_without_a_pipeline(tmp_path, caplog):
    path = tmp_path / "config.toml"
    path.write_text(CUT_SHORT.format(state=tmp_path / "state"), encoding="utf-8")
    daemon = Daemon(load_config(path))
    with caplog.at_level(logging.WARNING, logger="akida_edge.daemon"):
        daemon.start()
        daemon.shutdown()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith(f"no pipeline is enabled in {path}: the daemon publishes status and "
                            "telemetry only") for m in warned), warned
