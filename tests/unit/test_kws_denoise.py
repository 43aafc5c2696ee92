"""The per-clip noise-robust steps of the keyword input (apps/kws/denoise.py) and the session-10 pilot
input kinds built on them (scripts/kws_pilot.py): the noise estimate is the mean of the quietest
frames; subtraction takes a stationary noise down to its spectral floor and leaves a clean clip's
speech frames as they were; CMVN gives zero mean and unit variance per coefficient."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from akida_edge.apps.kws import denoise, features

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _pilot():
    spec = importlib.util.spec_from_file_location("kws_pilot", ROOT / "scripts" / "kws_pilot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _vowel(rng, seconds: float, f0_hz: float = 140.0) -> np.ndarray:
    """A harmonic complex (a crude voiced sound) at 16 kHz, random phases, peak 0.3."""
    t = np.arange(int(seconds * 16000)) / 16000.0
    x = sum(np.sin(2 * np.pi * f0_hz * h * t + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 30))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _clip(rng, noise_rms: float) -> tuple[np.ndarray, slice]:
    """1 s: white noise of `noise_rms` everywhere plus a 0.4-s vowel in the middle; the vowel's frames."""
    x = noise_rms * rng.standard_normal(features.CLIP_SAMPLES).astype(np.float32)
    start = 5600
    x[start:start + 6400] += _vowel(rng, 0.4)
    hop, win = features.HOP_SAMPLES, features.PARAMS.window
    first, last = -(-start // hop), (start + 6400 - win) // hop  # frames wholly inside the vowel
    return x, slice(first, last + 1)


def test_noise_power_is_the_mean_of_the_quietest_frames_per_band(rng):
    p = rng.exponential(1.0, size=(3, 49, 40))
    n = denoise.noise_power(p, quiet=0.2)
    k = int(np.ceil(0.2 * 49))
    assert n.shape == (3, 1, 40)
    np.testing.assert_allclose(n[:, 0], np.sort(p, axis=1)[:, :k].mean(axis=1))
    assert np.all(n[:, 0] <= p.mean(axis=1))
    with pytest.raises(ValueError, match="quiet"):
        denoise.noise_power(p, quiet=0.0)


def test_subtraction_takes_stationary_noise_to_its_floor_and_keeps_the_vowel(rng):
    x, vowel = _clip(rng, noise_rms=0.01)
    mel = features.clip_mel(x)
    out = denoise.spectral_subtract(mel)
    assert out.shape == mel.shape and out.dtype == np.float32
    noise_only = np.r_[0:vowel.start - 2, vowel.stop + 2:features.FRAMES]
    floor_db = 10 * np.log10(denoise.BETA * denoise.noise_power(10 ** (mel.astype(np.float64) / 10)))[0]
    # most noise-only cells sit exactly on the floor β·N, far below where they were
    at_floor = np.isclose(out[noise_only], floor_db[None, :], atol=1e-3)
    assert at_floor.mean() > 0.5
    drop_db = np.median(mel[noise_only] - out[noise_only])
    assert drop_db > -10 * np.log10(denoise.BETA)  # at least the floor's depth below N (N ≤ the mean)
    # the vowel's strong cells (P ≥ 100·N) move by at most −10·log10(1 − α/100) dB
    strong = mel[vowel] > floor_db[None, :] - 10 * np.log10(denoise.BETA) + 20
    assert strong.sum() > 100
    expected = -10 * np.log10(1 - denoise.ALPHA * 10 ** (-20 / 10))
    assert np.abs(mel[vowel][strong] - out[vowel][strong]).max() <= expected + 1e-3


def test_subtraction_leaves_a_clean_clip_unchanged_where_it_is_loud(rng):
    x, vowel = _clip(rng, noise_rms=0.0)  # digital silence around the vowel
    mel = features.clip_mel(x)
    out = denoise.spectral_subtract(mel)
    loud = mel > mel.max() - features.RANGE_DB  # what survives the input's 70-dB floor
    assert loud[vowel].mean() > 0.5  # the harmonics reach 4.2 kHz; the bands above stay at the floor
    assert np.abs(out[loud] - mel[loud]).max() < 1e-3
    # and the input the network sees is the same after the floor, DCT and mean removal
    assert np.abs(features.normalize(out).astype(int) - features.normalize(mel).astype(int)).max() <= 1


def test_subtraction_rejects_settings_outside_the_method():
    with pytest.raises(ValueError, match="beta"):
        denoise.spectral_subtract(np.zeros((49, 40)), alpha=2.0, beta=1.5)


def test_cmvn_gives_zero_mean_unit_variance_and_ignores_gain_and_offset(rng):
    c = rng.normal(5.0, 12.0, size=(4, 49, 10)) * rng.uniform(0.5, 3, size=(4, 1, 10))
    d = denoise.cmvn(c)
    np.testing.assert_allclose(d.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(d.std(axis=1), 1, atol=1e-4)
    np.testing.assert_allclose(denoise.cmvn(3.0 * c - 40.0), d, atol=1e-4)  # a channel and a dynamics change
    flat = denoise.cmvn(np.full((49, 10), -70.0))
    assert np.all(flat == 0)  # a constant window: σ_min keeps it at the mean code, not NaN


def test_pilot_input_kinds_are_uint8_49x10_and_cmvn_scale_is_four(rng):
    pilot = _pilot()
    mel = np.stack([features.clip_mel(_clip(rng, r)[0]) for r in (0.0, 0.003, 0.03, 0.1)])
    x, scale = pilot.inputs("mfcc10", mel)
    assert scale is None and np.array_equal(x, features.normalize(mel))
    for kind in ("sub", "cmvn", "subcmvn"):
        x, scale = pilot.inputs(kind, mel)
        assert x.shape == (4, features.FRAMES, features.COEFFS, 1) and x.dtype == np.uint8
        x2, _ = pilot.inputs(kind, mel, scale)
        assert np.array_equal(x, x2)  # a given scale is used as is
        if kind != "sub":  # unit variance per clip and coefficient: 4 standard deviations = 4
            np.testing.assert_allclose(scale, 4.0, atol=0.02)
    # subtraction widens the range of a noisy clip's c0 (its noise frames go down to the floor)
    d_plain = pilot.cepstra(mel[3:], False, False)[0, :, 0]
    d_sub = pilot.cepstra(mel[3:], True, False)[0, :, 0]
    assert np.ptp(d_sub) > np.ptp(d_plain) + 5
    # --alpha/--beta reach the subtraction: a gentler one (α 1, β 0.1) keeps more of the noise
    d_gentle = pilot.cepstra(mel[3:], True, False, alpha=1.0, beta=0.1)[0, :, 0]
    assert np.ptp(d_plain) < np.ptp(d_gentle) < np.ptp(d_sub)
