"""`akida-edge demo`: the engine tour runs end to end and reports a bit-exact check."""

from __future__ import annotations

import pytest

from akida_edge.cli import main

pytestmark = pytest.mark.integration


def test_demo_maps_runs_and_checks_against_the_reference(capsys):
    assert main(["demo", "--samples", "4", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "5 of 78 NPs" in out  # the DS-CNN's published minimal mapping
    assert "bit-exact" in out and "µJ/inference" in out


def test_demo_rejects_a_bad_sample_count(capsys):
    assert main(["demo", "--samples", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--samples 0" in err


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_demo_rejects_a_seed_numpy_cannot_take(capsys, seed):
    """Session-27 audit: `--seed -1` ended in numpy's traceback."""
    assert main(["demo", "--samples", "2", "--seed", seed]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--seed {seed} is out of range" in err
