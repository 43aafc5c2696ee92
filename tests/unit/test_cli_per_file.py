"""`commands._files.PerFile`: a bad file costs only itself, is named in one line, and sets exit 1."""

from __future__ import annotations

import json

import pytest

from akida_edge.commands._files import PerFile
from akida_edge.errors import InputDataError

pytestmark = pytest.mark.unit


def _work(path: str) -> int:
    if path.startswith("bad"):
        raise InputDataError("holds no audio samples")  # a message that does not name the file
    if path.startswith("gone"):
        raise FileNotFoundError(2, "No such file or directory", path)
    return len(path)


def test_bad_files_are_reported_once_each_and_the_others_processed(capsys):
    files = PerFile(as_json=True)
    got = list(files.results(["a.wav", "bad.wav", "bb.wav", "gone.wav"], _work))
    assert got == [("a.wav", 5), ("bb.wav", 6)]
    assert files.failed == 2 and files.exit_code == 1
    out, err = capsys.readouterr()
    errors = [json.loads(line) for line in out.splitlines()]
    assert [e["file"] for e in errors] == ["bad.wav", "gone.wav"] and all(e["error"] for e in errors)
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "bad.wav" in lines[0] and "gone.wav" in lines[1]
    assert all(line.startswith("akida-edge: error: ") for line in lines)


def test_all_good_exits_0_and_prints_nothing(capsys):
    files = PerFile()
    assert [r for _, r in files.results(["x", "yy"], _work)] == [1, 2]
    assert files.exit_code == 0 and capsys.readouterr() == ("", "")


def test_an_error_outside_the_file_errors_is_a_bug_and_propagates():
    def broken(path: str) -> None:
        raise ValueError("a bug, not a bad file")

    with pytest.raises(ValueError):
        list(PerFile().results(["a"], broken))
    files = PerFile(errors=(ValueError,))
    assert list(files.results(["a"], broken)) == [] and files.failed == 1
