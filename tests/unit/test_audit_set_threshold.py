"""`set_threshold` over MQTT with a value the pipeline refuses, or before the pipeline runs: one
error line naming the value (session-10 audit; before, the first was answered "internal error" with
a traceback in the log, the second was accepted and then failed the pipeline at its next start)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from akida_edge.config import parse_config
from akida_edge.mqtt import commands as cmd
from akida_edge.pipelines.anomaly import AnomalyPipeline
from akida_edge.pipelines.kws import check_threshold

pytestmark = pytest.mark.unit


class ProbabilityPipeline:
    """A pipeline whose threshold is a probability in (0, 1], refused as the kws pipeline refuses it."""

    def __init__(self) -> None:
        self.threshold = 0.7

    def set_threshold(self, value: float) -> None:
        problem = check_threshold(value)
        if problem:
            raise ValueError(f"threshold = {value}: {problem}")
        self.threshold = value


@pytest.fixture()
def daemon(tmp_path):
    from akida_edge.daemon import Daemon, PipelineRunner

    config = parse_config({"device": {"id": "N"}, "state": {"dir": str(tmp_path)},
                           "pipelines": [{"name": "kws", "type": "custom", "factory": "x:y",
                                          "source": {"type": "custom_thing"}}]},
                          str(tmp_path / "config.toml"))
    d = Daemon(config)
    d.link = SimpleNamespace(stats=SimpleNamespace(connected=False, rejected=0), wake=lambda: None)
    d.runners = {"kws": PipelineRunner(config.pipelines[0], d)}
    yield d
    d.outbox.close()


def test_a_value_the_pipeline_refuses_is_a_one_line_error_naming_it(daemon):
    runner = daemon.runners["kws"]
    runner.pipeline = ProbabilityPipeline()
    with pytest.raises(cmd.CommandError) as err:
        daemon._cmd_set_threshold({"pipeline": "kws", "value": 2})
    message = str(err.value)
    assert "internal error" not in message and "\n" not in message
    assert "'kws'" in message and "2" in message and check_threshold(2) in message
    assert runner.threshold == runner.cfg.threshold and runner.pipeline.threshold == 0.7  # unchanged
    ok = daemon._cmd_set_threshold({"pipeline": "kws", "value": 0.9})
    assert ok == {"pipeline": "kws", "threshold": 0.9}


def test_a_pipeline_not_running_yet_refuses_rather_than_failing_at_its_start(daemon):
    runner = daemon.runners["kws"]
    assert runner.pipeline is None
    with pytest.raises(cmd.CommandError, match=f"'kws' is {runner.status}, not running yet"):
        daemon._cmd_set_threshold({"pipeline": "kws", "value": 2})
    assert runner.threshold == runner.cfg.threshold  # nothing kept to be applied at the start


def test_an_anomaly_threshold_at_or_above_every_score_is_refused():
    pipeline = SimpleNamespace(lock=threading.Lock(), _override=None, detector=SimpleNamespace(threshold=0.3))
    for value in (1.0, 5.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"score in \[0, 1\)"):
            AnomalyPipeline.set_threshold(pipeline, value)
        assert pipeline.detector.threshold == 0.3
    AnomalyPipeline.set_threshold(pipeline, 0.6)
    assert pipeline.detector.threshold == 0.6 and pipeline._override == 0.6
