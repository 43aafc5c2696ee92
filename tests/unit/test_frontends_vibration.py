"""Vibration front-end: statistics, spectra, envelope spectra, streaming == batch, event view."""

from __future__ import annotations

import numpy as np
import pytest
from akida_edge.drivers.synthetic_machine import MachineConfig, SyntheticMachine

from akida_edge.frontends.delta import DeltaParams
from akida_edge.frontends.vibration import (
    VibrationParams,
    envelope_spectrum,
    vibration,
    vibration_events_step,
    vibration_init,
    vibration_step,
)

pytestmark = pytest.mark.unit


def test_statistics_of_a_sine_and_of_noise(rng):
    p = VibrationParams(rate_hz=8000.0, window_s=1.0, hop_s=1.0)
    t = np.arange(8000) / 8000
    amp = 0.7
    sine = amp * np.sin(2 * np.pi * 50 * t) + 1.0  # +1 g of gravity: removed as the mean
    noise = rng.normal(size=8000 * 4)
    fs = vibration(sine.astype(np.float32), p)
    assert fs.rms[0, 0] == pytest.approx(amp / np.sqrt(2), rel=1e-3)
    assert fs.crest[0, 0] == pytest.approx(np.sqrt(2), rel=1e-3)
    assert fs.kurtosis[0, 0] == pytest.approx(1.5, rel=1e-3)  # mean sin^4 / (mean sin^2)^2 = 3/8 / 1/4
    fn = vibration(noise.astype(np.float32), p)
    assert np.all(np.abs(fn.kurtosis - 3.0) < 0.3)


def test_band_energy_follows_the_tone():
    p = VibrationParams(rate_hz=8000.0, window_s=0.5, hop_s=0.5, n_bands=8)
    t = np.arange(4000) / 8000
    low = vibration(np.sin(2 * np.pi * 30 * t).astype(np.float32), p).band_db[0, 0]
    high = vibration(np.sin(2 * np.pi * 2500 * t).astype(np.float32), p).band_db[0, 0]
    edges = np.geomspace(p.f_min_hz, 4000, p.n_bands + 1)
    assert int(np.argmax(low)) == int(np.searchsorted(edges, 30) - 1)
    assert int(np.argmax(high)) == int(np.searchsorted(edges, 2500) - 1)


@pytest.mark.parametrize(
    "fault, attr, mult", [("outer", "bpfo_hz", 1), ("inner", "bpfi_hz", 1), ("ball", "bsf_hz", 2)]
)
def test_envelope_spectrum_shows_the_defect_frequency(fault, attr, mult):
    cfg = MachineConfig(fault=fault, severity=0.8, speed_drift=0.0, seed=5)
    m = SyntheticMachine(cfg)
    p = VibrationParams(rate_hz=cfg.rate_hz, window_s=2.0, hop_s=2.0)
    env, f = envelope_spectrum(m.render(0, p.window)[:, 0][None, :], p)
    sel = (f > 20) & (f < 400)
    peak = f[sel][np.argmax(env[0][sel])]
    target = mult * getattr(m.frequencies, attr)
    assert abs(peak - target) <= 1.5 * (f[1] - f[0])


def test_streaming_equals_batch(rng):
    p = VibrationParams(rate_hz=4000.0, window_s=0.25, hop_s=0.125)
    x = rng.normal(size=(4000 * 3, 3)).astype(np.float32)
    whole = vibration(x, p, t0_us=5_000)
    state, mats, times, i = vibration_init(3), [], [], 0
    while i < x.shape[0]:
        n = int(rng.integers(1, 1500))
        f, state = vibration_step(x[i : i + n], 5_000 + i * 250, state, p)
        mats.append(f.matrix())
        times.append(f.t_us)
        i += n
    np.testing.assert_array_equal(np.concatenate(mats), whole.matrix())
    np.testing.assert_array_equal(np.concatenate(times), whole.t_us)
    assert whole.matrix().shape == (1 + (x.shape[0] - p.window) // p.hop, 3 * p.n_features_per_axis)


def test_event_view_streaming_and_polarity(rng):
    p = VibrationParams(rate_hz=4000.0, window_s=0.25, hop_s=0.25)
    d = DeltaParams(threshold=3.0)
    gain = np.repeat([0.01, 1.0, 0.01], 4000)[:, None]  # +40 dB, then back
    x = (rng.normal(size=(12000, 2)) * gain).astype(np.float32)
    feats, ev, _ = vibration_events_step(x, 0, vibration_init(2), p, d)
    rise_frame = 4000 // p.hop
    fall_frame = 8000 // p.hop
    assert np.all(ev["p"][ev["x"] == rise_frame] == 1) and np.any(ev["x"] == rise_frame)
    assert np.all(ev["p"][ev["x"] == fall_frame] == -1) and np.any(ev["x"] == fall_frame)
    assert set(np.unique(ev["c"])) == {0, 1}
    state, parts, i = vibration_init(2), [], 0
    while i < x.shape[0]:
        n = int(rng.integers(100, 3000))
        _, e, state = vibration_events_step(x[i : i + n], i * 250, state, p, d)
        parts.append(e)
        i += n
    np.testing.assert_array_equal(np.concatenate(parts), ev)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="envelope_band_hz"):
        VibrationParams(rate_hz=1000.0, envelope_band_hz=(100.0, 900.0))
    with pytest.raises(ValueError, match="hop"):
        VibrationParams(window_s=0.1, hop_s=0.2)
