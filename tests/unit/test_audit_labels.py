"""A pipeline entry's `labels` list with a label the pipeline never gives (session-14 audit): the
daemon drops every detection whose label is not listed, so `labels = ["anomly"]` on an anomaly
pipeline, or a misspelt keyword, silently published nothing of what was meant, and
`validate-config` said OK."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from akida_edge.cli import main
from akida_edge.config import load_config, parse_config
from akida_edge.daemon import PipelineRunner
from akida_edge.errors import ConfigError

pytestmark = pytest.mark.unit

SOURCES = {"anomaly": '{ type = "synthetic_machine" }', "camera": '{ type = "synthetic_camera" }',
           "kws": '{ type = "synthetic_speech" }'}


def _config(tmp_path, kind: str, labels: str, options: str = "{}"):
    path = tmp_path / "config.toml"
    path.write_text(f'[[pipelines]]\nname = "p"\ntype = "{kind}"\nlabels = {labels}\n'
                    f"source = {SOURCES[kind]}\noptions = {options}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "options", "only"), [
    ("anomaly", "{}", "anomaly"),
    ("camera", "{}", "motion"),
    ("camera", '{ mode = "motion" }', "motion"),
])
def test_a_label_a_fixed_label_pipeline_never_gives_is_refused(tmp_path, capsys, kind, options, only):
    path = _config(tmp_path, kind, f'["{only}", "anomly"]', options)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: pipelines[0].labels = ") and f'use labels = ["{only}"]' in msg
    assert main(["validate-config", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    load_config(_config(tmp_path, kind, f'["{only}"]', options))  # its own label is fine


@pytest.mark.parametrize(("kind", "options"), [("kws", "{}"), ("camera", '{ mode = "gestures" }')])
def test_open_vocabularies_take_any_label_a_word_may_be_learned_later(tmp_path, kind, options):
    assert load_config(_config(tmp_path, kind, '["yes", "wave", "backward"]', options)).pipelines[0].labels


def test_the_daemon_warns_once_when_a_label_is_not_among_the_running_pipelines(caplog):
    cfg = parse_config({"pipelines": [{"name": "kws", "type": "kws", "labels": ["yes", "stpo"],
                                       "source": {"type": "synthetic_speech"}}]}).pipelines[0]
    daemon = SimpleNamespace(publish_info=lambda: None,
                             config=SimpleNamespace(mqtt=SimpleNamespace(discovery=False)))
    runner = PipelineRunner(cfg, daemon)  # type: ignore[arg-type]
    labels = ["yes", "no", "stop", "_unknown_"]
    runner.pipeline = SimpleNamespace(describe=lambda: {"labels": list(labels)})
    with caplog.at_level(logging.WARNING, logger="akida_edge.daemon"):
        runner.refresh_description()  # built
        runner.refresh_description()  # the same labels: said once
        labels.append("backward")  # a word learned: still not 'stpo'
        runner.refresh_description()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1
    assert "pipeline kws: labels 'stpo' in the config are not among its labels" in warned[0]
    caplog.clear()
    labels.append("stpo")  # learned after all: nothing more to say
    runner.refresh_description()
    assert not caplog.records and runner.labels_unknown == []
