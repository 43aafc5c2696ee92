"""scripts/setup.sh, run against stub dpkg/id/python: which system packages each mode asks for, and no
CUDA-sized torch fallback."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "setup.sh"
# espeak-ng: the shipped config's speech source; with sox: kws learn --synthesize
RUNTIME = {"libportaudio2", "python3-venv", "espeak-ng", "sox"}
# the keyword data set's second and third synthesizers, for --dev (tests) and --train
SPEECH = {"flite", "festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts"}
# mosquitto-clients: mosquitto_sub/pub for docs/mqtt.md's "Try it"
TOOLS = {"mosquitto", "mosquitto-clients", "openssl", "chromium", "espeak-ng", "sox"} | SPEECH


def _stub(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _run(tmp_path: Path, *args: str, dpkg_ok: bool) -> subprocess.CompletedProcess:
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(SCRIPT, tmp_path / "scripts" / "setup.sh")
    stubs = tmp_path / "stubs"
    _stub(stubs / "dpkg", "exit 0" if dpkg_ok else "exit 1")  # every package installed / missing
    _stub(stubs / "id", "echo 1000")  # not root: the script lists what is missing instead of apt-get
    _stub(stubs / "systemctl", "exit 1")
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(tmp_path / "scripts" / "setup.sh"), *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)


def _asked_for(result: subprocess.CompletedProcess) -> list[str]:
    line = next(ln for ln in result.stderr.splitlines() if "install these system packages" in ln)
    return line.split("first:", 1)[1].split()


@pytest.mark.parametrize("args, expected", [((), RUNTIME), (("--dev",), RUNTIME | TOOLS),
                                            (("--train",), RUNTIME | {"espeak-ng", "sox"} | SPEECH),
                                            (("--dev", "--train"), RUNTIME | TOOLS)])
def test_system_packages_per_mode(tmp_path, args, expected):
    result = _run(tmp_path, *args, dpkg_ok=False)
    assert result.returncode == 1
    asked = _asked_for(result)
    assert set(asked) == expected and len(asked) == len(set(asked))


def test_failed_torch_cpu_install_stops_without_a_fallback(tmp_path):
    log = tmp_path / "pip.log"
    _stub(tmp_path / ".venv" / "bin" / "python",
          f'echo "$*" >> {log}\ncase "$*" in *torch*) exit 1 ;; esac\nexit 0')
    result = _run(tmp_path, "--train", dpkg_ok=True)
    assert result.returncode == 1
    assert "could not install the PyTorch CPU build" in result.stderr
    calls = log.read_text().splitlines()
    assert [c for c in calls if "torch" in c] == ["-m pip install -q torch==2.13.0"]
    assert not any("-e" in c.split() for c in calls)  # stopped before installing the project
