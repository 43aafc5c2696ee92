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
