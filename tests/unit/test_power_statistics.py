"""Power model calibration and the statistics report (with `Activity` objects built by hand)."""

from __future__ import annotations

import dataclasses

import pytest

import akida_edge as ae
from akida_edge.engine import power, statistics, zoo
from akida_edge.engine.activity import Activity, LayerActivity
from akida_edge.errors import ModelError

pytestmark = pytest.mark.unit

# AkidaNet 0.5@224 on the AKD1000 board (doc/power_number.rst): floor, average, rate, energy
FLOOR_MW, AVG_MW, FPS, MJ_PER_FRAME = 905.21, 981.0, 51.28, 19.13


def test_calibration_reproduces_the_published_akidanet_figures():
    model = zoo.akidanet(0.5, 224)
    mapping = model.map(ae.AKD1000())
    report = power.power_report(mapping, power.nominal_activity(model), FPS)
    above_idle_mj = (AVG_MW - FLOOR_MW) / FPS
    assert report.dynamic_uj_per_inference / 1e3 == pytest.approx(above_idle_mj, rel=0.01)
    assert report.board_total_mw == pytest.approx(AVG_MW, rel=0.01)
    assert report.board_total_mw / FPS == pytest.approx(MJ_PER_FRAME, rel=0.01)  # mW / Hz = mJ
    assert report.label == "estimated" and report.basis == "chip"


def test_kws_stays_under_the_published_claims():
    model = zoo.dscnn_kws()
    mapping = model.map(ae.AKD1000())
    rate_hz = 1000.0  # "< 1 ms per inference" at its limit
    report = power.power_report(mapping, power.nominal_activity(model), rate_hz)
    assert report.total_mw < 250.0
    assert report.energy_uj_per_inference == pytest.approx(report.total_mw * 1e3 / rate_hz)


def _activity(model, events: int, sops: int, samples: int = 1) -> Activity:
    layers = [LayerActivity(layer.name, layer.spec.kind, 100, 50, events * samples, sops * samples,
                            events * samples) for layer in model.layers]
    return Activity(samples=samples, layers=layers, seconds=0.01)


def test_still_input_costs_only_the_static_floor():
    model = zoo.dscnn_kws()
    mapping = model.map()
    report = power.power_report(mapping, _activity(model, 0, 0), 50.0)
    assert report.dynamic_mw == 0.0 and report.dynamic_uj_per_inference == 0.0
    assert report.total_mw == report.static_mw == power.CHIP_STATIC_MW
    assert report.energy_uj_per_inference == pytest.approx(power.CHIP_STATIC_MW * 1e3 / 50.0)


def test_dynamic_energy_is_linear_in_activity_and_per_sample():
    model = zoo.dscnn_kws()
    mapping = model.map()
    one = power.power_report(mapping, _activity(model, 100, 1000), 10.0)
    two = power.power_report(mapping, _activity(model, 200, 2000), 10.0)
    batch = power.power_report(mapping, _activity(model, 100, 1000, samples=8), 10.0)
    assert two.dynamic_uj_per_inference == pytest.approx(2 * one.dynamic_uj_per_inference)
    assert batch.dynamic_uj_per_inference == pytest.approx(one.dynamic_uj_per_inference)
    per_layer = (1000 * power.E_SOP_PJ + 100 * power.E_EVENT_PJ) * 1e-6
    assert one.per_layer_dynamic_uj["separable_1"] == pytest.approx(per_layer)
    with pytest.raises(ValueError, match="rate_hz"):
        power.power_report(mapping, _activity(model, 1, 1), 0.0)


def test_statistics_report_power_only_when_enabled_at_map_time():
    model = zoo.dscnn_kws()
    with pytest.raises(ModelError, match="forward"):
        statistics.report(model)
    model.statistics = _activity(model, 40, 400, samples=4)
    device = ae.AKD1000()
    model.map(device)
    plain = statistics.report(model)
    assert plain.power is None
    assert [s.nps for s in plain.layers] == [len(m.nps) for m in model.mapping.layers]
    device.soc.power_measurement_enabled = True
    assert statistics.report(model).power is None  # enabled after mapping: not measured
    model.map(device)
    report = statistics.report(model)
    assert report.power is not None
    assert report.inference_rate_hz == pytest.approx(4 / 0.01)
    assert report.power.inference_rate_hz == pytest.approx(4 / 0.01)
    row = report.layers[1]
    assert (row.input_events, row.synaptic_ops, row.output_events) == (40, 400, 40)
    assert row.input_sparsity == pytest.approx(1 - 40 / 100)  # 100 input values per sample
    assert row.output_sparsity == pytest.approx(1 - 40 / 50)
    assert "estimated" in str(report)
    fixed = statistics.report(model, rate_hz=2.0)
    assert fixed.power.dynamic_mw == pytest.approx(2.0 * fixed.power.dynamic_uj_per_inference * 1e-3)


def test_statistics_without_mapping_has_no_np_counts():
    model = zoo.dscnn_kws()
    model.statistics = dataclasses.replace(_activity(model, 1, 1), seconds=0.0)
    report = statistics.report(model)
    assert all(s.nps is None for s in report.layers) and report.power is None
    assert report.inference_rate_hz is None
