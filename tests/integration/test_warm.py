"""`python -m akida_edge.warm` (run by scripts/setup.sh): builds every pipeline of a config and the
keyword spotter, so the kernels are compiled before the first start."""

from __future__ import annotations

import io
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
