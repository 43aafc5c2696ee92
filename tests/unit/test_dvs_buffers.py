"""The DVS emulator's busy path: key widths, pixel decoding, reused buffers, refractory clocks."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.encoders.dvs import DvsEmulator, DvsParams, dvs_step, init_state
from akida_edge.encoders.dvs_numpy import dvs_step_numpy

pytestmark = pytest.mark.unit


def _busy_frames(rng: np.random.Generator, shape: tuple[int, int], n: int) -> np.ndarray:
    """Frames where nearly every pixel changes (dense chunks), some by more than four thresholds."""
    frames = rng.integers(30, 120, (n,) + shape).astype(np.uint8)
    frames[1::3] = np.minimum(frames[1::3].astype(np.int64) * 3, 255)
    return frames


@pytest.mark.kernel
@pytest.mark.parametrize("dt_us", [1000, 100_000_000])  # 32-bit keys; 27 time bits: 64-bit keys
def test_dense_chunks_equal_the_twin_for_both_key_widths(rng, dt_us):
    shape = (40, 64)
    params = DvsParams.preset("clean")
    a, b = init_state(params, shape, seed=3), init_state(params, shape, seed=3)
    for i, f in enumerate(_busy_frames(rng, shape, 5)):
        ea, a = dvs_step(f, i * dt_us, a, params)
        eb, b = dvs_step_numpy(f, i * dt_us, b, params)
        assert np.array_equal(ea, eb)
        assert np.array_equal(a.ref, b.ref) and np.array_equal(a.lp, b.lp)
    assert a.scratch["keys"].dtype == (np.uint32 if dt_us == 1000 else np.uint64)


@pytest.mark.kernel
def test_pixel_positions_decode_exactly_on_the_widest_sensor(rng):
    """Keys carry the pixel index; x and y come back through a float reciprocal of W."""
    shape = (2, 65535)
    params = DvsParams.preset("clean")
    a, b = init_state(params, shape, seed=1), init_state(params, shape, seed=1)
    frames = rng.integers(30, 120, (2,) + shape).astype(np.uint8)
    for i, f in enumerate(frames):
        ea, a = dvs_step(f, i * 1000, a, params)
        eb, b = dvs_step_numpy(f, i * 1000, b, params)
    assert np.array_equal(ea, eb)
    assert ea["x"].max() == shape[1] - 1 and ea["y"].max() == 1


def test_events_the_caller_keeps_are_never_overwritten(rng):
    em = DvsEmulator("clean", shape=(48, 64), seed=2)
    frames = _busy_frames(rng, (48, 64), 12)
    em.step(frames[0], 0)
    kept, copies = [], []
    for i in range(1, 12):
        ev = em.step(frames[i], i * 1000)
        if i % 3 == 0:
            kept.append(ev)  # whole arrays
        elif i % 3 == 1:
            kept.append(ev[5:50])  # a view only
        copies.append(kept[-1].copy() if i % 3 != 2 else None)
        del ev
    for held, copy in zip(kept, [c for c in copies if c is not None], strict=True):
        assert np.array_equal(held, copy)


def test_dropped_output_memory_is_reused(rng):
    """A consumer that drops each frame's events gets the state's buffers back (no fresh pages)."""
    em = DvsEmulator("clean", shape=(48, 64), seed=2)
    frames = _busy_frames(rng, (48, 64), 8)
    em.step(frames[0], 0)
    owners = []
    for i in range(1, 8):
        ev = em.step(frames[i], i * 1000)
        assert ev.size > 0 and any(ev.base is buf for buf in em.state.scratch.values())
        owners.append(id(ev.base))  # the buffers stay alive in the state, so ids are not recycled
        del ev
    assert len(set(owners)) == 1  # dropped at once: the same buffer every frame
    held = [em.step(frames[i % 8], (8 + i) * 1000) for i in range(3)]
    assert len({id(ev.base) for ev in held}) == 3  # kept: never handed out twice


def test_refractory_clocks_are_kept_only_while_the_period_is_on(rng):
    frames = _busy_frames(rng, (8, 8), 4)
    off, on = DvsParams.preset("clean"), DvsParams.preset("clean", refractory_period_us=100)
    state = init_state(off, (8, 8), seed=0)
    never = state.t_last.copy()
    for i, f in enumerate(frames[:2]):
        ev, state = dvs_step(f, i * 1000, state, off)
    assert ev.size > 0 and np.array_equal(state.t_last, never)
    ev, state = dvs_step(frames[2], 2000, state, on)
    last = np.full(64, np.iinfo(np.int64).min)
    np.maximum.at(last, ev["y"].astype(np.int64) * 8 + ev["x"], ev["t"])
    fired = last > np.iinfo(np.int64).min
    assert fired.any() and np.array_equal(state.t_last[fired], last[fired])
    assert np.array_equal(state.t_last[~fired], never[~fired])
