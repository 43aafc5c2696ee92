"""`validate-config` and what a pipeline needs besides its files (session-27 audit): each config
below said "OK", and `run` then failed that pipeline at every retry (or, for an empty name, exited
with a line naming neither the file nor the key). Now each is refused, naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from akida_edge import cli

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
GESTURES = ROOT / "apps" / "vision" / "model" / "gestures.aem"
KWS = ROOT / "apps" / "kws" / "model" / "kws.aem"
MIC = 'source = { type = "microphone" }\n'
CAMERA = 'source = { type = "synthetic_camera" }\n'


def _validate(tmp_path, body: str, capsys) -> tuple[int, list[str]]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(body)
    code = cli.main(["validate-config", str(cfg)])
    out, err = capsys.readouterr()
    return code, err.strip().splitlines() if code else out.strip().splitlines()


def _pipeline(kind: str, extra: str = "", name: str = "a") -> str:
    return f'[[pipelines]]\nname = "{name}"\ntype = "{kind}"\n{extra}'


@pytest.mark.parametrize("body, key, reason", [
    (_pipeline("kws", f'model = "{GESTURES}"\n' + MIC), "pipelines[0].model", "a KWS model takes"),
    (_pipeline("anomaly", f'model = "{KWS}"\nsource = {{ type = "synthetic_machine" }}\n'),
     "pipelines[0].model", "not an anomaly backbone"),
    (_pipeline("camera", f'model = "{KWS}"\noptions = {{ mode = "gestures" }}\n' + CAMERA),
     "pipelines[0].model", "not a gesture model"),
    (_pipeline("camera", f'model = "{GESTURES}"\n' + CAMERA), "pipelines[0].model",
     "does nothing in motion mode"),
    (_pipeline("camera", 'source = { type = "synthetic_camera", seed = -3 }\n'), "pipelines[0].source.seed",
     "-3"),
    (_pipeline("anomaly", 'source = { type = "synthetic_machine", seed = -1 }\n'),
     "pipelines[0].source.seed", "-1"),
    (_pipeline("custom", 'factory = "no_such_module_s27.mod:make"\n' + MIC), "pipelines[0].factory",
     "no module 'no_such_module_s27.mod'"),
    (_pipeline("kws", 'source = { type = "synthetic_speech", voice = "xx-nonexist" }\n'),
     "pipelines[0].source", "xx-nonexist"),
    (_pipeline("kws", MIC, name=""), "pipelines[0].name", "is empty"),
])
def test_a_pipeline_that_would_fail_at_every_retry_is_named(tmp_path, capsys, body, key, reason):
    code, lines = _validate(tmp_path, body, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert f"{tmp_path / 'config.toml'}: {key}" in lines[0] and reason in lines[0]
    assert "Traceback" not in lines[0]


def test_a_learned_state_dir_that_is_a_file_is_named(tmp_path, capsys):
    (tmp_path / "taken").write_text("not a directory\n")
    body = _pipeline("camera", 'options = { mode = "gestures", state_dir = "taken" }\n' + CAMERA)
    code, lines = _validate(tmp_path, body, capsys)
    assert code == 2 and "pipelines[0].options.state_dir" in lines[0] and "is a file" in lines[0]


def test_the_models_and_sources_the_pipelines_ship_with_pass(tmp_path, capsys):
    body = (_pipeline("kws", f'model = "{KWS}"\nsource = {{ type = "synthetic_speech", voice = "en-us" }}\n')
            + _pipeline("camera", f'model = "{GESTURES}"\noptions = {{ mode = "gestures" }}\n' + CAMERA, "b")
            + _pipeline("anomaly", 'source = { type = "synthetic_machine", seed = 7 }\n', "c")
            + _pipeline("custom", 'factory = "akida_edge.pipelines.kws:build"\n' + MIC, "d"))
    code, lines = _validate(tmp_path, body, capsys)
    assert code == 0 and lines[0].endswith(": OK"), lines
