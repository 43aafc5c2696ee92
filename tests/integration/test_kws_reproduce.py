"""`scripts/reproduce_kws_model.sh --small`: the one command that reproduces the shipped KWS model runs
its twelve stages end to end (smoke-sized data, so its model is not the shipped one) and makes every
file the shipped model directory holds, with a converted model that agrees with its PyTorch twin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration, pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="espeak-ng and sox are needed (scripts/setup.sh installs them)"),
]
ROOT = Path(__file__).resolve().parents[2]


def test_the_reproduction_command_runs_every_stage(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "model"
    env = dict(os.environ, PYTHON=sys.executable, AKIDA_EDGE_STATE_DIR=str(tmp_path / "state"))
    run = subprocess.run(["bash", str(ROOT / "scripts" / "reproduce_kws_model.sh"), "--small",
                          str(tmp_path / "work"), str(out)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    steps = [ln for ln in run.stderr.splitlines() if ln.startswith("reproduce_kws_model: step ")]
    assert [s.split()[2] for s in steps] == [f"{i}/12:" for i in range(1, 13)]
    artifacts = {".aem", ".pt", ".json", ".md", ".png"}
    shipped = {p.name for p in (ROOT / "apps" / "kws" / "model").iterdir() if p.suffix in artifacts}
    assert {"kws.aem", "kws_float.pt", "metrics.json", "REPORT.md", "confusion.png"} <= shipped
    assert shipped <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["agreement"] == 1.0 and metrics["nps"] > 0
    # the intermediate networks of stages 1 and 3 are where the script says, so a rerun skips them
    assert (tmp_path / "work" / "ckpt" / "float-seed2.pt").is_file()
    assert (tmp_path / "work" / "s5" / "kws_float.pt").is_file()
    assert (tmp_path / "work" / "s6" / "kws_float.pt").is_file()  # session 6's network, stage 7's start
    s12 = json.loads((tmp_path / "work" / "s12" / "metrics.json").read_text())  # stage 9's teacher
    assert s12["more_words"] == 1 and s12["probe_epochs"] == 10
    # stage 9: a continuation of stage 7's float network distilling its outputs (the session-15 model)
    s15 = json.loads((tmp_path / "work" / "s15" / "metrics.json").read_text())
    assert s15["more_words"] == 2 and s15["probe_epochs"] == 10 and s15["distill"] == 1.0
    assert s15["epochs_float_continued"] == 2 and s15["seed"] == 5 and s15["qat_distill"] == 0.0
    assert (tmp_path / "work" / "ckpt12" / "float-continued-seed2.pt").is_file()  # stage 9: start, teacher
    # the shipped file: stage 12, stage 9's float network trained 2 more epochs with the Kokoro
    # clips (stage 10) and words (stage 11), distilling its outputs, then quantized learning its soft outputs
    assert metrics["qat_distill"] == 1.0 and metrics["distill"] == 1.0 and metrics["float_reused"]
    assert metrics["seed"] == 13 and metrics["epochs_float_continued"] == 2 and metrics["more_words"] == 3
    assert metrics["kokoro_train_clips"] > 0 and metrics["kokoro_word_clips"] > 0
    # stages 10 and 11 are the accented sets, and the metrics say so
    assert metrics["kokoro_word_accented"]
    assert len(metrics["kokoro_train_voices"]) == 36
    assert (tmp_path / "work" / "ckpt15" / "float-continued-seed5.pt").is_file()  # stage 12's start
    assert (tmp_path / "work" / "ckpt21" / "float-continued-seed13.pt").is_file()
    kokoro_set = json.loads((tmp_path / "work" / "kws-kokoro-accented" / "manifest.json").read_text())
    assert kokoro_set["config"]["accented"]  # stage 10: the accented voices too
