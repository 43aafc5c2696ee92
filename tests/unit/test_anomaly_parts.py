"""Anomaly app parts without the backbone: the K-means peer, episodes, encoder, AUC."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.anomaly import features
from akida_edge.apps.anomaly.episodes import EpisodeTracker, episodes
from akida_edge.apps.anomaly.kmeans import KMeansAnomaly, kmeans
from akida_edge.bench.anomaly import auc

pytestmark = pytest.mark.unit


def _blobs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two well separated clusters in 2-D: a ring of 8 points of radius 1 around each centre."""
    angles = np.arange(8) * np.pi / 4
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    centres = np.array([[0.0, 0.0], [20.0, 5.0]])
    x = np.concatenate([c + ring for c in centres])
    return x[rng.permutation(len(x))], centres


def test_kmeans_finds_the_two_clusters(rng):
    x, centres = _blobs(rng)
    c, labels = kmeans(x, 2, seed=1)
    order = np.argsort(c[:, 0])
    np.testing.assert_allclose(c[order], centres, atol=1e-9)
    for j in range(2):
        members = x[labels == j]
        np.testing.assert_allclose(members.mean(0), c[j], atol=1e-9)


def test_kmeans_anomaly_score_is_distance_to_the_nearest_cluster_edge(rng):
    x, centres = _blobs(rng)
    model = KMeansAnomaly(clusters=2, seed=0).fit(x)
    mean, std = x.mean(0), x.std(0)
    z_centres = (centres - mean) / std
    ring_z = (x - mean) / std
    # radius of each cluster in standardized space: the farthest member from its centre
    near = np.argmin(((ring_z[:, None] - z_centres[None]) ** 2).sum(-1), axis=1)
    radius = np.array([np.sqrt(((ring_z[near == j] - z_centres[j]) ** 2).sum(1)).max() for j in range(2)])
    queries = np.array([[0.0, 0.0], [3.0, 0.0], [20.0, 9.0], [10.0, 2.0]])
    zq = (queries - mean) / std
    expected = (np.sqrt(((zq[:, None] - z_centres[None]) ** 2).sum(-1)) - radius[None]).min(1)
    np.testing.assert_allclose(model.score(queries), expected, atol=1e-9)
    assert model.score(queries[:1])[0] < 0  # a cluster's centre is inside it
    assert (model.score(x) <= 1e-9).all()  # every training point lies within its cluster


def test_episodes_need_consecutive_windows_and_close_after_normal_ones():
    flags = [0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1]
    t = np.arange(len(flags)) * 0.25
    eps = episodes(t, 0.5, np.asarray(flags, float), flags, on_windows=2, off_windows=4)
    assert [(e.start_s, e.end_s) for e in eps] == [(t[4], t[8] + 0.5), (t[14], t[15] + 0.5)]
    assert eps[0].windows == 4  # windows 4, 5, 6 and 8; the lone window 1 opened nothing
    tracker = EpisodeTracker(on_windows=1, off_windows=1)
    assert tracker.step(0.0, 0.5, 0.9, True)[0][0] == "start"
    assert tracker.step(0.25, 0.75, 0.1, False)[0][0] == "end"
    with pytest.raises(ValueError):
        EpisodeTracker(on_windows=0)


def test_encode_centres_the_reference_and_steps_deviations(rng):
    f = features.N_FEATURES
    ref = rng.normal(size=(2, f)).astype(np.float32)
    step = rng.uniform(0.5, 2.0, (2, f)).astype(np.float32)
    k = rng.integers(-20, 21, size=(3, 2, f))
    values = (ref[None] + k * step[None]).astype(np.float32)
    q = features.encode(values, ref, step)
    assert q.shape == (6, 1, 1, f) and q.dtype == np.uint8
    expected = np.clip(k + features.CENTER, 0, 2**features.INPUT_BITS - 1).reshape(6, 1, 1, f)
    np.testing.assert_array_equal(q, expected)


def test_reference_is_median_and_floored_std(rng):
    values = rng.normal(size=(41, 2, features.N_FEATURES)).astype(np.float32)
    values[:, :, 5] = 3.0  # a constant feature: its step is the floor
    med, step = features.reference(values)
    np.testing.assert_allclose(med, np.median(values, axis=0))
    assert np.allclose(step[:, 5], features.STEP_FLOOR[5])
    others = np.delete(np.arange(features.N_FEATURES), 5)
    expected = np.maximum(features.STEP_SIGMA * values.std(0), features.STEP_FLOOR)
    np.testing.assert_allclose(step[:, others], expected[:, others], rtol=1e-6)


def test_auc_counts_ties_half(rng):
    neg = rng.normal(size=200)
    pos = rng.normal(size=150) + 1.0
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auc(neg, pos) == pytest.approx(pairs)
    assert auc(np.zeros(4), np.zeros(3)) == 0.5
    assert auc(np.zeros(4), np.ones(3)) == 1.0


def test_windows_of_a_short_or_resampled_recording(rng):
    x = rng.normal(size=(features.PARAMS.window - 1, 1)).astype(np.float32)
    assert features.windows(x, features.RATE_HZ).shape == (0, 1, features.N_FEATURES)
    y = rng.normal(size=(48000, 2)).astype(np.float32)  # 2 s at 24 kHz
    v = features.windows(y, 24000)
    expected = (2 * features.RATE_HZ - features.PARAMS.window) // features.PARAMS.hop + 1
    assert v.shape == (expected, 2, features.N_FEATURES)


def test_calibration_windows_are_blocks_spread_over_the_recording():
    from akida_edge.apps.anomaly.detector import calibration_mask

    n, block, fraction = 119, 4, 0.2
    mask = calibration_mask(n, fraction, block)
    idx = np.flatnonzero(mask)
    assert idx[-1] == n - 1 and idx[0] < n // 2  # from the end back to the first half
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    assert all(len(r) == block for r in runs)
    assert abs(mask.mean() - fraction) <= block / n
    short = calibration_mask(5, fraction, block)  # one block would be everything
    assert 0 < short.sum() < 5 and short[-1]


@pytest.mark.parametrize("rate_factor", [1, 2])
def test_window_stream_equals_whole_recording(rng, rate_factor):
    rate_hz = features.RATE_HZ * rate_factor
    n = int(rate_hz * (features.PARAMS.window_s + 6 * features.PARAMS.hop_s)) + 17
    x = rng.normal(0.0, 1.0, (n, 2)).astype(np.float32)
    whole = features.windows(x, rate_hz)
    stream, parts = features.WindowStream(), []
    cuts = np.sort(rng.choice(np.arange(1, n), 9, replace=False))
    for block in np.split(x, cuts):
        parts.append(stream.push(block, rate_hz))
    streamed = np.concatenate(parts)
    # a resampling stream holds back its filter's delay: at most the last window is still open
    assert whole.shape[0] >= 6 and whole.shape[0] - (rate_factor > 1) <= streamed.shape[0] <= whole.shape[0]
    np.testing.assert_allclose(streamed, whole[:len(streamed)], rtol=0, atol=1e-3)
