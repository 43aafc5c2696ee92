"""Event streams to window tensors: windowing, binning, ROC, chunking invariance, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.encoders.dvs import DvsEmulator
from akida_edge.encoders.event_windows import EventWindowParams, EventWindowState, event_windows_step
from akida_edge.encoders.roc import RocParams, rank_events
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import empty, slice_time

pytestmark = pytest.mark.unit

PARAMS = EventWindowParams((48, 64), out_shape=(12, 16), window_us=1000,
                           roc=RocParams(bits=4, keep_fraction=0.5))


def _stream(rng, n, t0=5_000, span=10_500):
    ev = empty(n)
    ev["t"] = t0 + np.sort(rng.integers(0, span, n))
    ev["x"] = rng.integers(0, 64, n)
    ev["y"] = rng.integers(0, 48, n)
    ev["p"] = rng.choice([-1, 1], n)
    return ev


def _run(ev, cuts, params=PARAMS):
    state, tensors, starts = EventWindowState(), [], []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        t, s, state = event_windows_step(ev[a:b], state, params)
        tensors.append(t)
        starts.append(s)
    t, s, state = event_windows_step(ev[:0], state, params, flush=True)
    return np.concatenate(tensors + [t]), np.concatenate(starts + [s]), state


def test_windows_are_binned_slices_ranked(rng):
    ev = _stream(rng, 3000)
    tensors, starts, state = _run(ev, [0, ev.size])
    n = (int(ev["t"][-1]) - int(ev["t"][0])) // 1000 + 1
    assert tensors.shape == (n, 12, 16, 2) and tensors.dtype == np.uint8
    np.testing.assert_array_equal(starts, ev["t"][0] + 1000 * np.arange(n))
    for k, t0 in enumerate(starts):
        part = slice_time(ev, int(t0), int(t0) + 1000).copy()
        part["x"] //= 4
        part["y"] //= 4
        np.testing.assert_array_equal(tensors[k], rank_events(part, (12, 16, 2), PARAMS.roc, output="dense"))
    assert tensors.max() == 15 and np.count_nonzero(tensors) > 100 and state.pending.size == 0


def test_chunking_does_not_change_the_tensors(rng):
    ev = _stream(rng, 4000)
    whole = _run(ev, [0, ev.size])
    cuts = sorted({0, ev.size, *rng.integers(0, ev.size, 15).tolist()})
    parts = _run(ev, cuts)
    np.testing.assert_array_equal(parts[0], whole[0])
    np.testing.assert_array_equal(parts[1], whole[1])


def test_clock_closes_empty_windows_and_late_events_are_errors(rng):
    ev = _stream(rng, 200, t0=0, span=900)
    t, s, state = event_windows_step(ev, EventWindowState(), PARAMS, t_now_us=3500)
    assert t.shape[0] == 3 and not t[1:].any() and t[0].any()
    late = ev[:1].copy()
    late["t"] = 2000
    with pytest.raises(InputDataError, match="earlier than the open window"):
        event_windows_step(late, state, PARAMS)
    outside = ev[:1].copy()
    outside["t"], outside["x"] = 4000, 64
    with pytest.raises(InputDataError, match="outside the 64x48 sensor"):
        event_windows_step(outside, state, PARAMS)
    with pytest.raises(ConfigError, match="window_us"):
        EventWindowParams((48, 64), window_us=0)


def test_emulator_frames_feed_the_same_path(rng):
    emu = DvsEmulator("clean", shape=(48, 64), seed=3)
    state, rows = EventWindowState(), []
    for i in range(6):
        frame = np.full((48, 64), 60, np.uint8)
        frame[10:30, 5 * i:5 * i + 12] = 200
        events = emu.step(frame, i * 1000)
        t, _, state = event_windows_step(events, state, PARAMS, t_now_us=i * 1000)
        rows.append(t)
    tensors = np.concatenate(rows)
    assert tensors.shape[1:] == (12, 16, 2) and tensors.shape[0] >= 4
    assert tensors[..., 0].any() and tensors[..., 1].any()  # leading edge ON, trailing edge OFF
