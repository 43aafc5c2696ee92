"""The packaged default config (`akida_edge/default_config.toml`): a wheel install runs with no file
of its own; the default is the checkout's config.toml except for where the state goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from akida_edge.cli import main
from akida_edge.config import default_config_text, load_config, parse_config, resolve_config, tomllib

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def _without_state_dir(text: str) -> dict:
    data = tomllib.loads(text)
    data["state"].pop("dir")
    return data


def test_the_packaged_default_is_the_checkouts_config_but_for_the_state_dir():
    shipped, packaged = (ROOT / "config.toml").read_text(), default_config_text()
    assert _without_state_dir(shipped) == _without_state_dir(packaged)
    assert tomllib.loads(shipped)["state"]["dir"]  # the checkout keeps its state beside the file
    assert tomllib.loads(packaged)["state"]["dir"] == ""  # a wheel: the user default, never site-packages
    assert parse_config(tomllib.loads(packaged), "<packaged>").pipelines


def test_resolve_prefers_the_given_file_then_the_local_one_then_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AKIDA_EDGE_STATE_DIR", str(tmp_path / "user-state"))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    packaged = resolve_config(None)
    assert packaged.path.startswith("<") and packaged.state_dir() == tmp_path / "user-state"
    local = tmp_path / "config.toml"
    local.write_text(default_config_text().replace('id = "edge-1"', 'id = "local-7"'))
    assert resolve_config(None).device.id == "local-7"
    other = tmp_path / "other.toml"
    other.write_text(default_config_text().replace('id = "edge-1"', 'id = "other-3"'))
    assert resolve_config(other).device.id == "other-3"


def test_init_config_writes_the_default_and_keeps_an_existing_file(tmp_path, capsys):
    target = tmp_path / "config.toml"
    assert main(["init-config", str(target)]) == 0
    assert target.read_text() == default_config_text()
    assert load_config(target).device.id == "edge-1"
    assert target.stat().st_mode & 0o044 == 0o044  # readable by a service's own user (no secret inside)
    target.write_text("# mine\n")
    assert main(["init-config", str(target)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and "--force" in err[0]
    assert target.read_text() == "# mine\n"  # nothing lost
    assert main(["init-config", "--force", str(target)]) == 0
    assert target.read_text() == default_config_text()


def test_init_config_into_a_folder_is_one_line(tmp_path, capsys):
    assert main(["init-config", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "folder" in err[0] and "Traceback" not in err[0]


def test_a_daemon_on_the_packaged_default_refuses_a_reload_and_says_why(tmp_path, monkeypatch, caplog):
    from akida_edge.daemon import Daemon

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AKIDA_EDGE_STATE_DIR", str(tmp_path / "state"))
    daemon = Daemon(resolve_config(None))
    with caplog.at_level("WARNING"):
        assert daemon.reload() is False
    assert any("init-config" in r.getMessage() for r in caplog.records)
