"""`validate-config` and the files a config names (session-10 audit): a `model` or a replay source's
`path` that does not exist said "OK", and `run` then failed that pipeline at every retry; now
validate-config names the key, the value and where a relative path is looked for."""

from __future__ import annotations

import os

import numpy as np
import pytest

from akida_edge import cli
from akida_edge.drivers.wavfile import write_wav

pytestmark = pytest.mark.unit

PIPELINE = '[[pipelines]]\nname = "a"\ntype = "kws"\n'
MIC = 'source = { type = "microphone" }\n'
REPLAY = 'source = { type = "audio_file", path = "speech.wav" }\n'


def _validate(tmp_path, body: str, capsys) -> tuple[int, list[str]]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(body)
    code = cli.main(["validate-config", str(cfg)])
    out, err = capsys.readouterr()
    return code, err.strip().splitlines() if code else out.strip().splitlines()


def test_a_missing_model_or_recording_is_named_by_validate_config(tmp_path, rng, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "config.toml"
    code, lines = _validate(tmp_path, PIPELINE + 'model = "/no/such/kws.aem"\n' + MIC, capsys)
    assert code == 2 and lines == [f"akida-edge: error: {cfg}: pipelines[0].model = '/no/such/kws.aem' does "
                                   "not exist; give the path of the file"]
    code, lines = _validate(tmp_path, PIPELINE + REPLAY, capsys)
    assert code == 2 and len(lines) == 1
    assert f"pipelines[0].source.path = 'speech.wav' does not exist (relative to the working directory " \
           f"{os.getcwd()})" in lines[0]
    code, lines = _validate(tmp_path, PIPELINE + f'source = {{ type = "audio_file", path = "{tmp_path}" }}\n',
                            capsys)
    assert code == 2 and "is a directory" in lines[0]
    write_wav(tmp_path / "speech.wav", 0.1 * rng.standard_normal(1600).astype(np.float32), 16000)
    code, lines = _validate(tmp_path, PIPELINE + REPLAY, capsys)
    assert code == 0 and lines[0] == f"{cfg}: OK"
    # a disabled pipeline is not checked (it will not run)
    code, _ = _validate(tmp_path, PIPELINE + 'enabled = false\nmodel = "/no/such.aem"\n' + MIC, capsys)
    assert code == 0


def test_a_recording_its_source_cannot_read_is_named_by_validate_config(tmp_path, rng, capsys, monkeypatch):
    """Session-14 audit: a replay source's file that exists but is not what its driver reads (a text
    file named .wav, a CSV separated by semicolons, a WAV with no samples) said "OK", and `run`
    failed that pipeline at every retry; now it is named with the driver's own reason."""
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "config.toml"
    (tmp_path / "speech.wav").write_text("hello\n")
    code, lines = _validate(tmp_path, PIPELINE + REPLAY, capsys)
    assert lines == [f"akida-edge: error: {cfg}: pipelines[0].source: speech.wav is not a WAV file (no "
                     "RIFF/WAVE header)"] and code == 2
    (tmp_path / "v.csv").write_text("t;x\n0;1\n")
    vib = ('[[pipelines]]\nname = "v"\ntype = "anomaly"\n'
           'source = { type = "vibration_file", path = "v.csv" }\n')
    code, lines = _validate(tmp_path, vib, capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"akida-edge: error: {cfg}: pipelines[0].source: v.csv:1: the columns are "
                               "separated by semicolons")
    write_wav(tmp_path / "v.wav", np.zeros(0, np.float32), 16000)
    code, lines = _validate(tmp_path, vib.replace("v.csv", "v.wav"), capsys)
    assert code == 2 and lines == [f"akida-edge: error: {cfg}: pipelines[0].source: v.wav holds no samples; "
                                   "give a recording with at least one"]
    write_wav(tmp_path / "v.wav", 0.1 * rng.standard_normal(3000).astype(np.float32), 3000)
    code, lines = _validate(tmp_path, vib.replace("v.csv", "v.wav"), capsys)
    assert code == 0 and lines[0] == f"{cfg}: OK"


def test_a_model_key_naming_a_file_that_is_no_model_is_named_by_validate_config(tmp_path, capsys):
    """Session-14 audit: `model = "notes.txt"` (or a copy cut short) said "OK"."""
    from akida_edge.apps.kws.app import MODEL_PATH

    cfg = tmp_path / "config.toml"
    (tmp_path / "notes.txt").write_text("not a model\n")
    code, lines = _validate(tmp_path, PIPELINE + f'model = "{tmp_path / "notes.txt"}"\n' + MIC, capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"akida-edge: error: {cfg}: pipelines[0].model: {tmp_path / 'notes.txt'}: not "
                               "an akida-edge model file")
    code, lines = _validate(tmp_path, PIPELINE + f'model = "{MODEL_PATH}"\n' + MIC, capsys)
    assert code == 0 and lines[0] == f"{cfg}: OK"
