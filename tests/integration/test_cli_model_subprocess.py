"""`akida-edge model check` through a real subprocess (entry point, exit codes, streams)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import akida_edge as ae
from akida_edge.engine import zoo

pytestmark = pytest.mark.integration


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "akida_edge", *args], capture_output=True, text=True,
                          timeout=120)


def test_check_via_subprocess(tmp_path, rng):
    good, bad = tmp_path / "kws.aem", tmp_path / "broken.aem"
    zoo.dscnn_kws(rng).save(str(good))
    ae.Model([ae.InputData(input_shape=(8, 8, 2), input_bits=8),  # 8-bit events into a Convolutional
              ae.Convolutional(kernel_size=2, filters=4, weights_bits=4, padding="valid"),
              ae.FullyConnected(units=2, weights_bits=4, activation=False)]).save(str(bad))
    ok = _run("model", "check", "--json", str(good))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["fits"] is True
    no = _run("model", "check", str(bad))
    assert no.returncode == 1 and "does NOT fit" in no.stdout and no.stderr == ""
    assert "3 hardware limit(s)" in no.stdout  # input bits, kernel_size, padding
    missing = _run("model", "summary", str(tmp_path / "missing.aem"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip().count("\n") == 0 and "Traceback" not in missing.stderr
