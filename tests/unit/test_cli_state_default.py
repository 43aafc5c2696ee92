"""The CLI's learned state defaults to the daemon's (session-27 audit): after the README's first
command (`run` on ./config.toml, state in ./.akida-edge-state), `state list` said "no learned
state in ~/.local/share/..." and a word taught with `kws learn` went where the daemon never looks.
Now a command without --state takes, when $AKIDA_EDGE_STATE_DIR is not set, the [state] dir of
./config.toml (the file `run` takes without --config), else the user default."""

from __future__ import annotations

import pytest

from akida_edge.cli import main
from akida_edge.state import ENV_VAR

pytestmark = pytest.mark.unit


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path


def _listed_dir(capsys) -> str:
    out = capsys.readouterr().out.strip()
    assert out.startswith("no learned state in "), out
    return out.removeprefix("no learned state in ")


def test_without_state_the_commands_use_the_config_files_state_dir(here, capsys, monkeypatch):
    assert main(["state", "list"]) == 0
    assert _listed_dir(capsys) == str(here / "xdg" / "akida-edge" / "state")  # no ./config.toml
    (here / "config.toml").write_text('[state]\ndir = "daemon-state"\n')
    assert main(["state", "list"]) == 0
    assert _listed_dir(capsys) == str(here / "daemon-state")
    # the environment variable and --state come first, as before
    monkeypatch.setenv(ENV_VAR, str(here / "env-state"))
    assert main(["state", "list"]) == 0
    assert _listed_dir(capsys) == str(here / "env-state")
    assert main(["state", "list", "--state", str(here / "given")]) == 0
    assert _listed_dir(capsys) == str(here / "given")


def test_a_config_file_that_cannot_be_read_is_said_and_the_default_used(here, capsys, caplog):
    (here / "config.toml").write_text("[state\n")
    assert main(["state", "list"]) == 0
    assert _listed_dir(capsys) == str(here / "xdg" / "akida-edge" / "state")
    said = [r.getMessage() for r in caplog.records if "config.toml" in r.getMessage()]
    assert len(said) == 1 and "not valid TOML" in said[0] and "--state DIR" in said[0]
