"""`init-config` to a path that cannot be written (session-10 audit): the error called the config
file a "learned state" and suggested `--state`, which init-config has not; now it names a config
file and another path."""

from __future__ import annotations

import pytest

from akida_edge import cli

pytestmark = pytest.mark.unit


def test_an_unwritable_config_path_is_named_as_a_config_file(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder was meant\n")
    target = blocker / "config.toml"
    assert cli.main(["init-config", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"akida-edge: error: cannot write config file {target}: ")
    assert err[0].endswith(f"; {blocker} is a file, not a directory: choose another path")
    assert "learned state" not in err[0] and "--state" not in err[0]
    assert blocker.read_text() == "a file where a folder was meant\n"
    good = tmp_path / "etc" / "config.toml"
    assert cli.main(["init-config", str(good)]) == 0 and good.read_text().startswith("#")
