"""The gesture view: crop and bin, time slices as channels, ROC per slice, streaming == clip."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.vision.representation import (
    ViewParams,
    ViewStream,
    clip_tensor,
    places,
    video_events,
)
from akida_edge.encoders.roc import rank_values
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import EVENT_DTYPE

pytestmark = pytest.mark.unit


def random_events(rng, n: int, shape: tuple[int, int], t0: int, t1: int) -> np.ndarray:
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(t0, t1, n))
    ev["y"] = rng.integers(0, shape[0], n)
    ev["x"] = rng.integers(0, shape[1], n)
    ev["p"] = rng.choice([-1, 1], n)
    return ev


def moving_bar(shape: tuple[int, int], t_end_us: int, speed_px_per_s: float,
               step_us: int = 2000) -> np.ndarray:
    """Events of a vertical bar 2 px wide moving right: column x at t = x / speed."""
    h, w = shape
    rows = []
    for t in range(0, t_end_us, step_us):
        x = int(t * speed_px_per_s / 1e6)
        if x + 1 >= w:
            break
        for dx in (0, 1):
            ev = np.zeros(h, EVENT_DTYPE)
            ev["t"], ev["x"], ev["y"], ev["p"] = t, x + dx, np.arange(h), 1
            rows.append(ev)
    return np.concatenate(rows)


def test_params_round_trip_and_checks():
    p = ViewParams(size=(32, 48), bins=4, window_ms=400, hop_ms=200, bits=4)
    assert ViewParams.from_dict(p.to_dict()) == p
    assert p.tensor_shape == (32, 48, 4) and p.slice_us == 100_000
    with pytest.raises(ConfigError, match="hop_ms"):
        ViewParams(hop_ms=150)
    with pytest.raises(ConfigError, match="bits"):
        ViewParams(bits=8)
    with pytest.raises(ConfigError, match="unknown"):
        ViewParams.from_dict({"bins": 8, "colour": 1})


def test_crop_and_bin_of_a_vga_sensor():
    ev = np.zeros(4, EVENT_DTYPE)
    ev["x"] = [79, 80, 559, 560]
    ev["y"] = [0, 0, 479, 479]
    inside, place = places(ev, (480, 640), (64, 64))
    assert inside.tolist() == [False, True, True, False]
    assert place.tolist() == [0, 63 * 64 + 63]


def test_slices_hold_roc_values(rng):
    p = ViewParams()
    ev = random_events(rng, 3000, (64, 64), 0, p.window_us)
    x = clip_tensor(ev, (64, 64), p, 0, p.window_us)
    assert x.shape == p.tensor_shape and x.dtype == np.uint8
    for k in range(p.bins):
        sl = ev[(ev["t"] >= k * p.slice_us) & (ev["t"] < (k + 1) * p.slice_us)]
        counts = np.bincount(sl["y"].astype(int) * 64 + sl["x"], minlength=64 * 64).reshape(64, 64)
        active = counts > 0
        assert np.array_equal(x[..., k] > 0, active)
        # the values are those of the ranks 0..K-1, and busier pixels never read less
        expected = rank_values(int(active.sum()), p.roc).tolist()
        assert sorted(x[..., k][active].tolist(), reverse=True) == expected
        c, v = counts[active], x[..., k][active].astype(int)
        v_by_count = v[np.lexsort((-v, -c))]  # busiest first; a busier pixel never reads less
        assert np.all(np.diff(v_by_count) <= 0)


def test_bar_moving_right_lands_further_right_in_later_slices():
    p = ViewParams()
    sensor = (64, 128)  # cropped to the centre 64×64: columns 32..95
    ev = moving_bar(sensor, p.window_us, speed_px_per_s=128 / 0.8)
    x = clip_tensor(ev, sensor, p, 0, p.window_us)
    cols = np.arange(64)
    centroids = []
    for k in range(p.bins):
        active = x[..., k] > 0
        if active.any():
            centroids.append(float((active.sum(0) * cols).sum() / active.sum()))
    # the bar crosses the crop during the middle slices only; there it moves right slice by slice
    assert len(centroids) >= 3
    assert all(b > a for a, b in zip(centroids, centroids[1:], strict=False))


def test_stream_equals_clip(rng):
    p = ViewParams(bins=4, window_ms=400, hop_ms=200)
    sensor = (48, 80)
    ev = random_events(rng, 4000, sensor, 1_000, 2_000_000)
    stream = ViewStream(sensor, p)
    cuts = np.sort(rng.integers(0, ev.size, 25))
    got, ends = [], []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, ev.size], strict=True):
        t_now = int(ev["t"][b - 1]) + int(rng.integers(0, 3000)) if b > a else None
        if b < ev.size and t_now is not None:
            t_now = min(t_now, int(ev["t"][b]))
        x, e = stream.push(ev[a:b], t_now)
        got.append(x)
        ends.append(e)
    x, e = np.concatenate(got), np.concatenate(ends)
    origin = int(ev["t"][0])
    n_expected = (int(ev["t"][-1]) - origin - p.window_us) // p.hop_us + 1
    assert len(e) in (n_expected, n_expected + 1) and len(e) >= 3
    assert np.array_equal(e, origin + p.window_us + p.hop_us * np.arange(len(e)))
    for tensor, end in zip(x, e, strict=True):
        assert np.array_equal(tensor, clip_tensor(ev, sensor, p, int(end) - p.window_us, int(end)))


def test_stream_memory_stays_bounded(rng):
    p = ViewParams()
    stream = ViewStream((64, 64), p)
    frame_us, per_frame = 33_333, 200
    held, windows = [], 0
    for i in range(300):  # 10 s of a busy scene
        ev = random_events(rng, per_frame, (64, 64), i * frame_us, (i + 1) * frame_us)
        x, _ = stream.push(ev, (i + 1) * frame_us)
        windows += len(x)
        held.append((stream.nbytes, stream.pending_events))
    assert windows >= 80
    slice_frames = -(-p.slice_us // frame_us) + 1
    assert max(n for _, n in held) <= slice_frames * per_frame
    assert max(b for b, _ in held[150:]) <= max(b for b, _ in held[:150])


def test_still_clock_gives_empty_windows_and_order_is_enforced(rng):
    p = ViewParams()
    stream = ViewStream((64, 64), p, t0_us=0)
    x, e = stream.push(np.zeros(0, EVENT_DTYPE), 2 * p.window_us)
    assert len(x) == (2 * p.window_us - p.window_us) // p.hop_us + 1 and not x.any()
    late = random_events(rng, 5, (64, 64), 0, 10)
    with pytest.raises(InputDataError, match="earlier than the open slice"):
        stream.push(late)


def test_video_events_of_frames():
    frames = np.zeros((10, 40, 60), np.uint8)
    for i in range(10):
        frames[i, :, 5 * i: 5 * i + 6] = 200
    ev, shape = video_events(iter(frames), fps=30.0)
    assert shape == (40, 60) and ev.size > 0
    assert ev["t"].max() <= round(9 * 1e6 / 30) and np.all(np.diff(ev["t"]) >= 0)
