"""Audio and vibration event views through ROC: per-window ranking, dense layout, streaming."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.encoders.feature_roc import (
    audio_roc_step,
    delta_rank_step,
    rank_band_windows,
    vibration_roc_step,
)
from akida_edge.encoders.roc import RocParams, rank_events
from akida_edge.frontends.audio import LogMelParams, audio_events_step, audio_init
from akida_edge.frontends.delta import DeltaParams, DeltaState, delta_step
from akida_edge.frontends.vibration import VibrationParams, vibration_events_step, vibration_init

pytestmark = pytest.mark.unit

ROC = RocParams(bits=4, keep_fraction=0.5)


def _cuts(rng, n, lo, hi):
    i = 0
    while i < n:
        step = int(rng.integers(lo, hi))
        yield i, min(n, i + step)
        i += step


def _loud_quiet(rng, n, rate, axes=None):
    shape = (n,) if axes is None else (n, axes)
    gain = np.repeat(rng.uniform(0.001, 0.5, n // (rate // 10) + 1), rate // 10)[:n]
    g = gain if axes is None else gain[:, None]
    return (rng.normal(size=shape) * g).astype(np.float32)


def test_audio_roc_equals_rank_events_per_frame_and_streams(rng):
    mel, delta = LogMelParams(n_bands=16), DeltaParams(threshold=2.0)
    x = _loud_quiet(rng, 24000, 16000)
    ranked, dense, t_us, _ = audio_roc_step(x, 500_000, audio_init(mel), mel, delta, ROC)
    _, t_ref, events, _ = audio_events_step(x, 500_000, audio_init(mel), mel, delta)
    np.testing.assert_array_equal(t_us, t_ref)
    assert dense.shape == (t_us.size, 16, 2) and dense.dtype == np.uint8
    for i, t in enumerate(t_us):  # one ROC window per hop; place (band, ON/OFF) on a (1, bands, 2) grid
        frame = events[events["t"] == t].copy()
        frame["x"], frame["y"] = frame["y"], 0
        ref = rank_events(frame, (1, 16, 2), ROC, output="dense")
        np.testing.assert_array_equal(dense[i], ref[0])
        assert ranked[ranked["t"] == t].size == np.count_nonzero(ref)
    assert ranked.size > 20 and dense.max() == 15
    state, parts, rows = audio_init(mel), [], []
    for a, b in _cuts(rng, x.size, 1, 4000):
        r, d, _, state = audio_roc_step(x[a:b], 500_000 + round(a * 1e6 / 16000), state, mel, delta, ROC)
        parts.append(r)
        rows.append(d)
    np.testing.assert_array_equal(np.concatenate(parts), ranked)
    np.testing.assert_array_equal(np.concatenate(rows), dense)


def test_vibration_roc_layout_and_streaming(rng):
    p = VibrationParams(rate_hz=4000.0, window_s=0.25, hop_s=0.25, n_bands=8, n_env_bands=6)
    delta = DeltaParams(threshold=3.0)
    x = _loud_quiet(rng, 12000, 4000, axes=3)
    ranked, dense, feats, _ = vibration_roc_step(x, 0, vibration_init(3), p, delta, ROC)
    _, events, _ = vibration_events_step(x, 0, vibration_init(3), p, delta)
    assert dense.shape == (feats.t_us.size, 14, 6)
    for i, t in enumerate(feats.t_us):
        win = events[events["t"] == t].copy()
        win["x"], win["y"] = win["y"], 0  # place: band along x, channel 2·axis + OFF
        ref = rank_events(win, (1, 14, 6), ROC, output="dense")
        np.testing.assert_array_equal(dense[i], ref[0])
    assert set(np.unique(ranked["c"])) == {0, 1, 2}
    state, parts, rows = vibration_init(3), [], []
    for a, b in _cuts(rng, x.shape[0], 100, 2500):
        r, d, _, state = vibration_roc_step(x[a:b], a * 250, state, p, delta, ROC)
        parts.append(r)
        rows.append(d)
    np.testing.assert_array_equal(np.concatenate(parts), ranked)
    np.testing.assert_array_equal(np.concatenate(rows), dense)


@pytest.mark.parametrize("delta, roc", [
    (DeltaParams(threshold=1.5), RocParams(bits=8, mode="linear", max_events=7)),
    (DeltaParams(threshold=0.7, max_events=2), RocParams(bits=2, mod=0.6)),
])
def test_fused_delta_rank_equals_events_then_ranking(rng, delta, roc):
    values = np.cumsum(rng.normal(scale=1.5, size=(30, 3, 11)), axis=0).astype(np.float32)
    t_us = 1_000 + 20_000 * np.arange(30, dtype=np.int64)
    state = DeltaState(None)
    ranked, dense, fused_state = delta_rank_step(values, t_us, 70_000, state, delta, roc)
    events, ref_state = delta_step(values, t_us, 70_000, state, delta)
    ranked_ref, dense_ref = rank_band_windows(events, t_us, 11, 3, roc)
    np.testing.assert_array_equal(ranked, ranked_ref)
    np.testing.assert_array_equal(dense, dense_ref)
    np.testing.assert_array_equal(fused_state.ref, ref_state.ref)
    assert ranked.size > 30 and set(np.unique(ranked["p"])) == {-1, 1}
