"""Telemetry: pipelines on one chip share its static floor (counted once, not per pipeline)."""

from __future__ import annotations

import pytest

from akida_edge.engine.power import CHIP_STATIC_MW
from akida_edge.mqtt.telemetry import pipeline_figures

pytestmark = pytest.mark.unit


def _sample(power_mw, energy_uj=0.0, inferences=0):
    return {"inferences": inferences, "latencies": [], "energy_uj": energy_uj, "power_mw": power_mw,
            "events": 0, "synops": 0, "total_energy_uj": energy_uj}


def test_static_floor_counts_once_for_two_pipelines():
    dyn_a, dyn_b = 1.25, 0.5
    out = pipeline_figures({"a": _sample(CHIP_STATIC_MW + dyn_a), "b": _sample(CHIP_STATIC_MW + dyn_b)}, 10.0)
    assert out["chip_power_mw"] == pytest.approx(CHIP_STATIC_MW + dyn_a + dyn_b)


def test_pipelines_without_power_add_their_energy_rate():
    out = pipeline_figures({"a": _sample(None, energy_uj=2000.0, inferences=4)}, 2.0)
    assert out["chip_power_mw"] == pytest.approx(2000.0 / 2.0 / 1000.0)
    assert out["chip_energy_uj_per_inference"] == pytest.approx(500.0)
