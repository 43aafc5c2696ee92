"""`akida-edge model summary|check` in-process, on the DS-CNN and on a model breaking many limits."""

from __future__ import annotations

import json

import pytest

import akida_edge as ae
from akida_edge.cli import main
from akida_edge.engine import limits, zoo

pytestmark = pytest.mark.unit


def broken_model() -> ae.Model:
    """Runs in software, breaks several AKD1000 limits at once."""
    m = ae.Model()
    m.add(ae.InputConvolutional(input_shape=(300, 300, 2), kernel_size=4, filters=16, weights_bits=4,
                                act_bits=4, pool_type="max", pool_size=3))
    m.add(ae.Convolutional(kernel_size=5, filters=8, kernel_stride=2, padding="valid", weights_bits=1,
                           act_bits=4))
    m.add(ae.SeparableConvolutional(kernel_size=3, filters=8, weights_bits=8, act_bits=2,
                                    pool_type="average"))
    m.add(ae.FullyConnected(units=4, weights_bits=4, activation=False))
    return m


@pytest.fixture
def files(tmp_path, rng):
    good = tmp_path / "kws.aem"
    zoo.dscnn_kws(rng).save(str(good))
    bad = tmp_path / "broken.aem"
    broken_model().save(str(bad))
    return good, bad


def test_summary_lists_layers_nps_and_sram(files, capsys):
    good, _ = files
    assert main(["model", "summary", str(good)]) == 0
    out = capsys.readouterr().out
    model = ae.load_model(str(good))
    for layer in model.layers:
        assert layer.name in out and layer.spec.kind in out
    assert "N/A" in out and "of 78 NPs" in out and "of 8 MB" in out


def test_check_passes_on_the_dscnn(files, capsys):
    good, _ = files
    assert main(["model", "check", str(good)]) == 0
    assert "fits the AKD1000" in capsys.readouterr().out
    assert main(["model", "check", "--json", str(good)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fits"] is True and result["violations"] == []
    assert result["nps"] == sum(result["layers"].values()) and result["nps_available"] == 78


def test_check_lists_every_violation(files, capsys):
    _, bad = files
    expected = limits.check(broken_model())
    assert len(expected) >= 5
    assert main(["model", "check", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "does NOT fit" in out[0] and str(len(expected)) in out[0]
    assert out[1:] == [f"  - {v}" for v in expected]
    assert main(["model", "check", "--json", str(bad)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["fits"] is False
    assert result["violations"] == [v.as_dict() for v in expected]
    assert main(["model", "summary", str(bad)]) == 0
    assert "does NOT fit" in capsys.readouterr().out


def test_missing_and_corrupt_files_are_one_line(files, tmp_path, capsys):
    good, _ = files
    cut = tmp_path / "cut.aem"
    cut.write_bytes(good.read_bytes()[:200])
    for path in (tmp_path / "nope.aem", cut):
        for action in ("summary", "check"):
            assert main(["model", action, str(path)]) == 2
            err = capsys.readouterr().err
            assert err.startswith("akida-edge: error: ") and err.count("\n") == 1
            assert str(path) in err
