"""The synthetic machine: bearing formulas, determinism, block streaming, fault signatures."""

from __future__ import annotations

import numpy as np
import pytest
from akida_edge.drivers.synthetic_machine import (
    BearingGeometry,
    MachineConfig,
    SyntheticMachine,
    SyntheticMachineSource,
    bearing_frequencies,
)

pytestmark = pytest.mark.unit


def test_bearing_identities():
    g = BearingGeometry(n_balls=12, ball_diameter_mm=10.0, pitch_diameter_mm=50.0, contact_angle_deg=15.0)
    fr = 25.0
    f = bearing_frequencies(fr, g)
    assert f.bpfo_hz + f.bpfi_hz == pytest.approx(g.n_balls * fr)  # the two ball-pass lines
    assert f.bpfo_hz == pytest.approx(g.n_balls * f.ftf_hz)  # balls pass with the cage
    r = g.ball_diameter_mm / g.pitch_diameter_mm * np.cos(np.radians(g.contact_angle_deg))
    # BSF: ball spin relative to the cage = (D / 2d)(1 - r^2) f_r
    assert f.bsf_hz == pytest.approx(g.pitch_diameter_mm / (2 * g.ball_diameter_mm) * (1 - r * r) * fr)


def test_cwru_drive_end_bearing_matches_the_published_table():
    """SKF 6205-2RS of the CWRU rig; published multiples of shaft speed 0.3983 / 3.5848 / 5.4152 /
    4.7135 (2×BSF) from the CWRU bearing data centre's table."""
    g = BearingGeometry(9, 0.3126 * 25.4, 1.537 * 25.4, 0.0)
    f = bearing_frequencies(1.0, g)
    np.testing.assert_allclose(
        [f.ftf_hz, f.bpfo_hz, f.bpfi_hz, 2 * f.bsf_hz], [0.39828, 3.5848, 5.4152, 4.7135], atol=2e-4
    )


@pytest.mark.parametrize("fault", ["none", "outer", "inner", "ball", "imbalance", "misalignment"])
def test_blocks_equal_one_long_render(fault, rng):
    m = SyntheticMachine(MachineConfig(fault=fault, axes=3, seed=11))
    whole = m.render(0, 9000)
    cuts = np.sort(rng.choice(np.arange(1, 9000), size=7, replace=False))
    parts = [m.render(a, b) for a, b in zip(np.r_[0, cuts], np.r_[cuts, 9000], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(
        SyntheticMachine(MachineConfig(fault=fault, axes=3, seed=11)).render(0, 9000), whole
    )
    other = SyntheticMachine(MachineConfig(fault=fault, axes=3, seed=12)).render(0, 9000)
    assert not np.array_equal(other, whole)


def _line(x: np.ndarray, rate: float, f_hz: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(spec[int(round(f_hz * x.size / rate))])


def test_imbalance_and_misalignment_lines():
    base = dict(speed_drift=0.0, noise_g=0.01, severity=1.0)
    n = 24000
    healthy = SyntheticMachine(MachineConfig(**base)).render(0, n)[:, 0]
    imb = SyntheticMachine(MachineConfig(fault="imbalance", **base)).render(0, n)[:, 0]
    mis = SyntheticMachine(MachineConfig(fault="misalignment", **base)).render(0, n)[:, 0]
    fr, rate = 29.95, 12000.0
    assert _line(imb, rate, fr) > 5 * _line(healthy, rate, fr)
    assert _line(mis, rate, 2 * fr) > 5 * _line(healthy, rate, 2 * fr)
    assert _line(mis, rate, 2 * fr) > _line(mis, rate, fr)


def test_severity_scales_impacts():
    cfg = dict(fault="outer", noise_g=0.0, harmonics_g=0.0, speed_drift=0.0)
    weak = SyntheticMachine(MachineConfig(severity=0.2, **cfg)).render(0, 6000)
    strong = SyntheticMachine(MachineConfig(severity=0.8, **cfg)).render(0, 6000)
    np.testing.assert_allclose(strong, 4 * weak, rtol=1e-5, atol=1e-6)


def test_source_streams_duration_and_times():
    cfg = MachineConfig(rate_hz=1000.0, resonance_hz=300.0, axes=2)
    src = SyntheticMachineSource(cfg, block_s=0.3, duration_s=1.0, start_us=0).open()
    chunks = list(src)
    assert sum(c.data.shape[0] for c in chunks) == 1000
    assert [c.t_us for c in chunks] == [0, 300_000, 600_000, 900_000]
    assert src.health.state == "ended"
    np.testing.assert_array_equal(
        np.concatenate([c.data for c in chunks]), SyntheticMachine(cfg).render(0, 1000)
    )


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="unknown fault"):
        MachineConfig(fault="cracked")
    with pytest.raises(ValueError, match="Nyquist"):
        MachineConfig(rate_hz=4000.0, resonance_hz=3000.0)
