"""`python -m akida_edge.warm` (run by scripts/setup.sh): builds every pipeline of a config and the
keyword spotter, so the kernels are compiled before the first start and the first learn."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from akida_edge.config import load_config
from akida_edge.warm import warm

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_warm_builds_every_pipeline_of_the_shipped_config(tmp_path):
    text = (ROOT / "config.toml").read_text().replace('dir = ".akida-edge-state"', f'dir = "{tmp_path}"')
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    out = io.StringIO()
    took = warm(str(cfg), out)
    lines = out.getvalue().splitlines()
    names = [p.name for p in load_config(cfg).pipelines]
    assert names and all(any(f"pipeline {n} (" in ln and "ready in" in ln for ln in lines) for n in names)
    assert any("keyword spotter ready" in ln for ln in lines)
    assert took >= 0


def test_a_missing_config_is_one_line_and_exit_1(tmp_path):
    r = subprocess.run([sys.executable, "-m", "akida_edge.warm", "--config", str(tmp_path / "nope.toml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("akida-edge: error:")]
    assert len(err) == 1 and "nope.toml" in err[0] and "Traceback" not in r.stderr


@pytest.mark.slow
def test_after_the_warm_a_first_learn_reaches_no_new_kernel(tmp_path):
    """A device's first `learn` over MQTT (a kws word, a gesture) loads its kernels from numba's cache
    instead of compiling them in the daemon: in a fresh process, after the pipelines' `warm_run`,
    the learns reach no kernel signature the warm did not (`learn_after_warm.py`), and the warm
    wrote no learned state."""
    pytest.importorskip("akida_edge.apps.kws.learn", reason="the kws app is not installed")
    pytest.importorskip("akida_edge.apps.vision.learn", reason="the vision app is not installed")
    state = tmp_path / "state"
    state.mkdir()
    r = subprocess.run([sys.executable, str(Path(__file__).with_name("learn_after_warm.py")), str(state)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["learned"] == [["lantern"], ["flick"]]
    assert not [n for n in out["after_warm"] if "learned" in n]
    assert {"kws.learned", "vision.learned"} <= set(out["after_learn"])
    assert out["new"] == []
