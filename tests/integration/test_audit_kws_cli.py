"""The kws CLI with inputs a user gets wrong (session-10 audit)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from akida_edge import cli
from akida_edge.drivers.wavfile import write_wav

pytestmark = pytest.mark.integration


def test_detect_on_an_empty_recording_says_so_instead_of_finding_nothing(tmp_path, rng, capsys):
    """Before: no output and exit 0, as for a recording without keywords."""
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros((0, 1), np.float32), 16000)
    for extra in ([], ["--json"]):
        assert cli.main(["kws", "detect", *extra, str(empty), "--state", str(tmp_path / "s")]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.strip().splitlines() == [f"akida-edge: error: {empty} holds no audio samples (empty "
                                            "recording); record at least 1 s"]
    quiet = tmp_path / "quiet.wav"  # a real recording without keywords: nothing found, exit 0
    write_wav(quiet, 0.001 * rng.standard_normal(16000 * 3), 16000)
    assert cli.main(["kws", "detect", "--json", str(quiet), "--state", str(tmp_path / "s")]) == 0
    out, err = capsys.readouterr()
    assert all(json.loads(line)["file"] == str(quiet) for line in out.splitlines()) and "error" not in err
