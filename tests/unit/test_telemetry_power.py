"""Telemetry: pipelines on one chip share its static floor (counted once, not per pipeline)."""

from __future__ import annotations

import pytest

from akida_edge.engine.power import CHIP_STATIC_MW
from akida_edge.mqtt.telemetry import pipeline_figures

pytestmark = pytest.mark.unit


def _sample(power_mw, energy_uj=0.0, inferences=0, static_uj=0.0):
    return {"inferences": inferences, "latencies": [], "energy_uj": energy_uj, "power_mw": power_mw,
            "events": 0, "synops": 0, "total_energy_uj": energy_uj, "static_uj": static_uj,
            "total_static_uj": static_uj}


def test_static_floor_counts_once_for_two_pipelines():
    dyn_a, dyn_b = 1.25, 0.5
    out = pipeline_figures({"a": _sample(CHIP_STATIC_MW + dyn_a), "b": _sample(CHIP_STATIC_MW + dyn_b)}, 10.0)
    assert out["chip_power_mw"] == pytest.approx(CHIP_STATIC_MW + dyn_a + dyn_b)


def test_pipelines_without_power_add_their_energy_rate():
    out = pipeline_figures({"a": _sample(None, energy_uj=2000.0, inferences=4)}, 2.0)
    assert out["chip_power_mw"] == pytest.approx(2000.0 / 2.0 / 1000.0)
    assert out["chip_energy_uj_per_inference"] == pytest.approx(500.0)


def test_energy_counts_the_static_floor_once_too():
    """Session-27 audit: power counted the floor once but energy once per pipeline, so the shipped
    config's four pipelines reported ~30 mW of power and energy growing at ~120 mW (the run's
    summary: "mean 108 mW"). Each pipeline's energy includes the floor over the time it ran."""
    dt = 10.0
    floor_uj = CHIP_STATIC_MW * 1e3 * dt  # mW · s = mJ
    dyn = {"kws": 800.0, "pump": 150.0, "cam0": 40.0}
    samples = {n: _sample(CHIP_STATIC_MW + d / dt / 1e3, energy_uj=floor_uj + d, inferences=10,
                          static_uj=floor_uj) for n, d in dyn.items()}
    out = pipeline_figures(samples, dt)
    total = floor_uj + sum(dyn.values())
    assert out["chip_energy_j"] == pytest.approx(total / 1e6)
    assert out["chip_energy_uj_per_inference"] == pytest.approx(total / 30)
    # the energy's rate is the power
    assert out["chip_energy_j"] * 1e3 / dt == pytest.approx(out["chip_power_mw"], rel=1e-3)
    # a pipeline that ran part of the interval (its static share smaller): the floor is the longest
    samples["pump"] = _sample(None, energy_uj=floor_uj / 2 + 150.0, inferences=5, static_uj=floor_uj / 2)
    assert pipeline_figures(samples, dt)["chip_energy_j"] == pytest.approx(total / 1e6)
    # a custom pipeline that says no static share: its whole energy counts as its own
    samples["custom"] = _sample(None, energy_uj=500.0, inferences=1)
    assert pipeline_figures(samples, dt)["chip_energy_j"] == pytest.approx((total + 500.0) / 1e6)
