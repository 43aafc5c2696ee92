"""The event-camera emulator against the pixel model's known answers, and numba against NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from akida_edge.encoders.dvs import (
    MIN_THRESHOLD,
    PRESETS,
    DvsEmulator,
    DvsParams,
    dvs_step,
    init_state,
    lin_log,
)
from akida_edge.encoders.dvs_numpy import dvs_step_numpy
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import EVENT_DTYPE

pytestmark = pytest.mark.unit

EXACT = DvsParams(sigma_thres=0.0)  # every pixel at the nominal 0.2 thresholds


def dn(log_level: np.ndarray | float) -> np.ndarray:
    """Float frame values whose lin-log is `log_level` (above the 20 DN floor: plain ln)."""
    return np.exp(np.asarray(log_level, dtype=np.float64))


def crossing_times(l0, l1, ref, th, t0, t1):
    """Analytic ON/OFF crossing times of a linear log ramp from l0 to l1 against ref +- k th."""
    d0, d1 = l0 - ref, l1 - ref
    n = int(math.floor(abs(d1) / th)) if abs(d1) >= th else 0
    sign = 1.0 if d1 > 0 else -1.0
    return np.array([t0 + (sign * k * th - d0) / (d1 - d0) * (t1 - t0) for k in range(1, n + 1)])


@pytest.mark.parametrize("k", [1, 3, 7])
@pytest.mark.parametrize("direction", [1, -1])
def test_step_of_k_thresholds_gives_k_events_at_interpolated_times(k, direction):
    th = EXACT.pos_thres
    l0 = math.log(100.0)
    l1 = l0 + direction * (k + 0.4) * th
    em = DvsEmulator(EXACT, shape=(1, 1))
    em.step(dn([[l0]]), 1_000)
    ev = em.step(dn([[l1]]), 11_000)
    assert ev.size == k
    assert np.all(ev["p"] == direction)
    analytic = crossing_times(l0, l1, l0, th, 1_000, 11_000)
    assert np.all(np.abs(ev["t"] - analytic) <= 0.5 + 1e-6)  # rounded to the nearest µs
    assert np.all(np.diff(ev["t"]) > 0)  # distinct times, not one shared frame time


def test_log_domain_input_is_a_delta_modulator():
    """log_input: values are log levels already (e.g. log-mel energies, negative allowed)."""
    params = DvsParams(sigma_thres=0.0, log_input=True)
    em = DvsEmulator(params, shape=(1, 3))
    em.step(np.array([[-4.0, 0.0, 2.0]]), 0)
    ev = em.step(np.array([[-4.0 + 0.65, 0.0 - 0.45, 2.0]]), 1000)
    assert [(int(e["x"]), int(e["p"])) for e in ev if e["x"] == 0] == [(0, 1)] * 3
    assert [(int(e["x"]), int(e["p"])) for e in ev if e["x"] == 1] == [(1, -1)] * 2
    analytic = crossing_times(-4.0, -3.35, -4.0, 0.2, 0, 1000)
    assert np.all(np.abs(ev[ev["x"] == 0]["t"] - analytic) <= 0.5 + 1e-6)
    with pytest.raises(InputDataError, match="finite"):
        em.step(np.array([[np.nan, 0.0, 0.0]]), 2000)


def test_uint8_frames_use_lin_log_with_a_linear_floor():
    # 5 -> 15 DN lies in the linear part: L = I ln(20)/20, so the step is 10 ln(20)/20 = 1.498.
    em = DvsEmulator(EXACT, shape=(1, 2))
    em.step(np.array([[5, 100]], np.uint8), 0)
    ev = em.step(np.array([[15, 100]], np.uint8), 1000)
    step = float(lin_log(np.array(15.0), 20.0) - lin_log(np.array(5.0), 20.0))
    assert math.isclose(step, 10 * math.log(20) / 20)
    assert ev.size == int(step / EXACT.pos_thres) and np.all(ev["x"] == 0)
    analytic = crossing_times(0.0, step, 0.0, EXACT.pos_thres, 0, 1000)
    assert np.all(np.abs(ev["t"] - analytic) <= 0.5 + 1e-6)


def test_reference_moves_by_one_threshold_per_event(rng):
    params = DvsParams(sigma_thres=0.05)
    state = init_state(params, (8, 8), seed=3)
    base = rng.uniform(60, 200, (8, 8))
    dvs_step(base, 0, state, params)
    ref0 = state.ref.copy()
    ev, state = dvs_step(base * np.exp(rng.uniform(-1.5, 1.5, (8, 8))), 5000, state, params)
    net = np.zeros(64)
    np.add.at(net, ev["y"].astype(int) * 8 + ev["x"], ev["p"].astype(float))
    th = np.where(net >= 0, state.th_on, state.th_off)
    np.testing.assert_allclose(state.ref, ref0 + net * th, rtol=0, atol=1e-12)
    # Every pixel's level is now within one threshold of its reference.
    d = state.lp - state.ref
    assert np.all(d < state.th_on) and np.all(d > -state.th_off)


def test_still_scene_gives_no_events_without_noise(rng):
    frame = rng.integers(0, 256, (20, 30)).astype(np.uint8)
    for params in (PRESETS["clean"], DvsParams.preset("noisy", leak_rate_hz=0.0, shot_noise_rate_hz=0.0)):
        em = DvsEmulator(params, shape=frame.shape, seed=1)
        assert sum(em.step(frame, t).size for t in range(0, 300_000, 10_000)) == 0


def test_brighter_gives_on_and_darker_gives_off(rng):
    frame = rng.uniform(50, 150, (10, 10))
    em = DvsEmulator(PRESETS["clean"], shape=frame.shape)
    em.step(frame, 0)
    up = em.step(frame * 2.0, 1000)
    down = em.step(frame, 2000)
    assert up.size > 0 and np.all(up["p"] == 1)
    assert down.size > 0 and np.all(down["p"] == -1)
    assert np.all((up["t"] >= 0) & (up["t"] <= 1000)) and np.all((down["t"] >= 1000) & (down["t"] <= 2000))


def test_refractory_period_suppresses_but_the_reference_still_moves():
    th, k = EXACT.pos_thres, 6
    l0 = math.log(50.0)
    l1 = l0 + (k + 0.5) * th
    times = crossing_times(l0, l1, l0, th, 0, 1000)
    for refr in (0, 150, 300, 2000):
        params = DvsParams(sigma_thres=0.0, refractory_period_us=refr)
        state = init_state(params, (1, 1))
        dvs_step(dn([[l0]]), 0, state, params)
        ev, state = dvs_step(dn([[l1]]), 1000, state, params)
        kept, last = [], -math.inf
        for t in np.floor(times + 0.5):
            if t - last >= refr:
                kept.append(t)
                last = t
        assert ev["t"].tolist() == kept
        assert math.isclose(state.ref[0], l0 + k * th, abs_tol=1e-12)


def test_seeded_mismatch_is_reproducible():
    params = DvsParams(sigma_thres=0.03)
    a, b, c = (init_state(params, (100, 100), seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.th_on, b.th_on) and np.array_equal(a.th_off, b.th_off)
    assert not np.array_equal(a.th_on, c.th_on)
    assert abs(a.th_on.std() - 0.03) < 0.003 and abs(a.th_on.mean() - 0.2) < 0.003
    assert a.th_on.min() >= MIN_THRESHOLD
    wide = init_state(DvsParams(sigma_thres=0.5), (50, 50), seed=1)
    assert wide.th_on.min() == MIN_THRESHOLD  # clipped like v2e and Metavision


def test_finer_sampling_of_a_log_ramp_gives_the_same_events(rng):
    """Streaming: one interval or the same ramp in two halves yields the same events (±1 µs)."""
    l0 = rng.uniform(4.4, 5.0, (6, 6))  # the whole ramp stays above ln(20): pure log
    l1 = l0 + rng.uniform(-1.3, 1.3, (6, 6))
    whole = DvsEmulator(EXACT, shape=(6, 6))
    whole.step(dn(l0), 0)
    ev_whole = whole.step(dn(l1), 20_000)
    halves = DvsEmulator(EXACT, shape=(6, 6))
    halves.step(dn(l0), 0)
    ev_halves = np.concatenate([halves.step(dn((l0 + l1) / 2), 10_000), halves.step(dn(l1), 20_000)])
    key = np.lexsort
    a = ev_whole[key((ev_whole["t"], ev_whole["x"], ev_whole["y"]))]
    b = ev_halves[key((ev_halves["t"], ev_halves["x"], ev_halves["y"]))]
    assert a.size == b.size > 0
    assert np.array_equal(a[["x", "y", "p"]], b[["x", "y", "p"]])
    assert np.max(np.abs(a["t"] - b["t"])) <= 1


def test_run_over_a_stack_equals_frame_by_frame(rng):
    frames = rng.integers(0, 256, (5, 9, 11)).astype(np.uint8)
    times = np.arange(5) * 33_333
    params = PRESETS["noisy"]
    one = DvsEmulator(params, shape=(9, 11), seed=4)
    stepped = np.concatenate([one.step(f, int(t)) for f, t in zip(frames, times, strict=True)])
    batch = DvsEmulator(params, shape=(9, 11), seed=4).run(frames, times)
    assert np.array_equal(stepped, batch)
    # A copied state branches the stream reproducibly (noise is counter-based, not stateful).
    em = DvsEmulator(params, shape=(9, 11), seed=4)
    em.step(frames[0], 0)
    fork = em.state.copy()
    ev_a = em.step(frames[1], 10_000)
    ev_b, _ = dvs_step(frames[1], 10_000, fork, params)
    assert np.array_equal(ev_a, ev_b)


def test_output_is_time_sorted_and_inside_the_interval(rng):
    em = DvsEmulator(PRESETS["noisy"], shape=(16, 16), seed=2)
    t_prev = 0
    em.step(rng.uniform(0, 255, (16, 16)), 0)
    for t in (10_000, 20_000, 45_000):
        ev = em.step(rng.uniform(0, 255, (16, 16)), t)
        assert ev.dtype == EVENT_DTYPE
        assert np.all(np.diff(ev["t"]) >= 0)
        assert np.all((ev["t"] >= t_prev) & (ev["t"] <= t))
        t_prev = t


@pytest.mark.parametrize("long_us", [
    10_000_000,  # 24 time bits: two radix passes of 12 bits
    1_500_000_000,  # 31 bits: three passes of 11 bits
    3_000_000_000,  # beyond the packed keys' 31 time bits: columns and a stable argsort
])
def test_long_intervals_sort_like_the_twin(rng, long_us):
    frames = rng.integers(0, 256, (2, 6, 6)).astype(np.uint8)
    a = DvsEmulator(EXACT, shape=(6, 6))
    b = init_state(EXACT, (6, 6))
    a.step(frames[0], 0)
    dvs_step_numpy(frames[0], 0, b, EXACT)
    ev = a.step(frames[1], long_us)
    assert ev.size > 10 and np.array_equal(ev, dvs_step_numpy(frames[1], long_us, b, EXACT)[0])


def test_key_buffers_grow_on_a_burst(rng):
    """A frame with far more events than the last one (the kernel's key buffer starts from the
    last frame's count and grows), in both the radix and the long-interval (argsort) paths."""
    frames = rng.integers(0, 256, (3, 48, 64)).astype(np.uint8)
    for t2 in (2_000, 3_000_000_000):
        a, b = init_state(EXACT, (48, 64)), init_state(EXACT, (48, 64))
        for t, f in zip((0, 1_000, t2), (frames[0], frames[0], frames[1]), strict=True):
            ea, a = dvs_step(f, t, a, EXACT)
            eb, b = dvs_step_numpy(f, t, b, EXACT)
            assert np.array_equal(ea, eb)
        assert ea.size > 3 * 4096  # several times the first buffer


def test_photoreceptor_low_pass_delays_events():
    shape = (1, 1)
    l0, l1 = math.log(100.0), math.log(100.0) + 10.5 * 0.2
    fast = DvsEmulator(EXACT, shape=shape)
    slow = DvsEmulator(DvsParams(sigma_thres=0.0, cutoff_hz=20.0), shape=shape)
    counts = {"fast": [], "slow": []}
    for em, name in ((fast, "fast"), (slow, "slow")):
        em.step(dn([[l0]]), 0)
        for i in range(1, 60):
            counts[name].append(em.step(dn([[l1]]), i * 5000).size)
    assert counts["fast"][0] == 10 and sum(counts["fast"]) == 10
    assert 0 < counts["slow"][0] < 10
    assert sum(counts["slow"]) == 10  # it gets there, later


def test_leak_events_are_on_and_follow_the_rate():
    params = DvsParams(sigma_thres=0.0, leak_rate_hz=5.0, noise_rate_cov_decades=0.2,
                       leak_jitter_fraction=0.1)
    em = DvsEmulator(params, shape=(20, 20), seed=5)
    frame = np.full((20, 20), 120.0)
    ev = em.run(np.repeat(frame[None], 101, 0), np.arange(101) * 10_000)  # 1 s
    rates = em.state.leak_rate
    assert ev.size > 0 and np.all(ev["p"] == 1)
    assert abs(ev.size - rates.sum() * 1.0) <= rates.size  # each pixel within one event of r_i T


def test_shot_noise_rate_and_balance():
    params = DvsParams(sigma_thres=0.0, shot_noise_rate_hz=20.0)
    em = DvsEmulator(params, shape=(40, 40), seed=6)
    frame = np.zeros((40, 40))  # darkest: i01 = 20/275
    ev = em.run(np.repeat(frame[None], 51, 0), np.arange(51) * 10_000)
    p = 20.0 * 0.01 * (1 - 0.75 * 20 / 275)
    expected = p * 1600 * 50
    assert abs(ev.size - expected) < 5 * math.sqrt(expected)
    assert abs(np.mean(ev["p"] == 1) - 0.5) < 0.05
    bright = DvsEmulator(params, shape=(40, 40), seed=6)
    ev_bright = bright.run(np.full((51, 40, 40), 255.0), np.arange(51) * 10_000)
    assert ev_bright.size < 0.4 * ev.size  # white pixels are a quarter as noisy


def test_state_size_stays_constant_on_a_long_stream(rng):
    em = DvsEmulator(PRESETS["noisy"], shape=(24, 32), seed=9)
    em.step(rng.integers(0, 256, (24, 32)).astype(np.uint8), 0)
    size = em.state.nbytes
    for i in range(1, 300):
        em.step(rng.integers(0, 256, (24, 32)).astype(np.uint8), i * 1000)
    assert em.state.nbytes == size


@pytest.mark.kernel
@pytest.mark.parametrize("preset", ["clean", "noisy"])
@pytest.mark.parametrize("refractory_us", [0, 4000])
@pytest.mark.parametrize("kind", ["uint8", "float", "log"])
def test_numba_equals_numpy(rng, preset, refractory_us, kind):
    shape = (13, 17)  # 221 pixels: exercises the tail after the 8-byte word comparison
    params = DvsParams.preset(preset, refractory_period_us=refractory_us, log_input=kind == "log")
    a, b = init_state(params, shape, seed=11), init_state(params, shape, seed=11)
    frames = rng.integers(0, 256, (6,) + shape).astype(np.uint8)
    frames[:, :6] = frames[0, :6]  # a still region
    if kind == "float":
        frames = frames * rng.uniform(0.5, 1.5, frames.shape)
    elif kind == "log":
        frames = frames / 40.0 - 3.0  # any real log levels, negative included
    for i, f in enumerate(frames):
        ea, a = dvs_step(f, 500 + i * 20_000, a, params)
        eb, b = dvs_step_numpy(f, 500 + i * 20_000, b, params)
        assert np.array_equal(ea, eb)
        for name in ("lp", "ref", "t_last", "prev"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.kernel
@pytest.mark.parametrize("kind", ["uint8", "float"])
@pytest.mark.parametrize("refractory_us", [0, 300])
@pytest.mark.parametrize("dt_us", [1000, 33_333])
def test_numba_equals_numpy_on_busy_frames(rng, kind, refractory_us, dt_us):
    """Nearly every pixel changes (the kernel's dense, vectorised chunks), with a few still pixels
    among them and steps of more than four thresholds (beyond its branch-free key path)."""
    shape = (40, 64)  # 2 560 pixels: whole chunks and a partial last one
    params = DvsParams.preset("clean", refractory_period_us=refractory_us)
    a, b = init_state(params, shape, seed=4), init_state(params, shape, seed=4)
    frames = rng.integers(30, 120, (5,) + shape).astype(np.uint8)
    frames[2] = np.minimum(frames[1].astype(np.int64) * 3, 255)  # up to ln 3 / 0.2 = 5 crossings
    still = rng.random(shape) < 0.03
    for i in range(1, len(frames)):
        frames[i][still] = frames[0][still]
    big_steps = 0
    for i, f in enumerate(frames.astype(np.float64) * 1.01 if kind == "float" else frames):
        ea, a = dvs_step(f, i * dt_us, a, params)
        eb, b = dvs_step_numpy(f, i * dt_us, b, params)
        assert np.array_equal(ea, eb)
        for name in ("lp", "ref", "t_last"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        if ea.size:
            big_steps += int(np.bincount(ea["y"].astype(np.int64) * shape[1] + ea["x"]).max() > 4)
    assert big_steps > 0 or refractory_us > 0  # (the refractory period drops most of them)


@pytest.mark.kernel
@settings(max_examples=25)
@given(
    pos=st.floats(0.05, 0.6), neg=st.floats(0.05, 0.6), sigma=st.sampled_from([0.0, 0.03]),
    cutoff=st.sampled_from([0.0, 50.0]), leak=st.sampled_from([0.0, 2.0]), shot=st.sampled_from([0.0, 30.0]),
    refr=st.sampled_from([0, 700]), log_input=st.booleans(), seed=st.integers(0, 2**32),
    dts=st.lists(st.integers(1, 40_000), min_size=1, max_size=4),
)
def test_numba_equals_numpy_on_random_settings(pos, neg, sigma, cutoff, leak, shot, refr, log_input, seed,
                                               dts):
    params = DvsParams(pos_thres=pos, neg_thres=neg, sigma_thres=sigma, cutoff_hz=cutoff, leak_rate_hz=leak,
                       shot_noise_rate_hz=shot, refractory_period_us=refr, leak_jitter_fraction=0.1,
                       noise_rate_cov_decades=0.1, log_input=log_input)
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 9)), int(rng.integers(1, 11)))
    a, b = init_state(params, shape, seed=seed), init_state(params, shape, seed=seed)
    t = int(rng.integers(-10_000, 10_000))
    for dt in [1, *dts]:
        t += dt
        frame = rng.integers(0, 256, shape).astype(np.uint8)
        if log_input:
            frame = rng.normal(0.0, 1.5, shape)
        ea, a = dvs_step(frame, t, a, params)
        eb, b = dvs_step_numpy(frame, t, b, params)
        assert np.array_equal(ea, eb)
        for name in ("ref", "lp", "t_last"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_presets_match_v2e():
    clean, noisy = DvsParams.preset("clean"), DvsParams.preset("noisy")
    assert (clean.pos_thres, clean.neg_thres, clean.sigma_thres, clean.cutoff_hz, clean.leak_rate_hz,
            clean.shot_noise_rate_hz, clean.refractory_period_us) == (0.2, 0.2, 0.02, 0, 0, 0, 0)
    assert (noisy.pos_thres, noisy.neg_thres, noisy.sigma_thres, noisy.cutoff_hz, noisy.leak_rate_hz,
            noisy.shot_noise_rate_hz, noisy.leak_jitter_fraction, noisy.noise_rate_cov_decades) == (
        0.2, 0.2, 0.05, 30, 0.1, 5.0, 0.1, 0.1)
    assert DvsParams() == clean
    assert DvsParams.preset("noisy", cutoff_hz=0.0).cutoff_hz == 0.0
    assert DvsEmulator("noisy", shape=(2, 2)).params == noisy
    with pytest.raises(ConfigError, match="unknown DVS preset"):
        DvsParams.preset("dirty")
    with pytest.raises(ConfigError, match="unknown DvsParams field"):
        DvsParams.preset("clean", threshold=0.3)


@pytest.mark.parametrize("field, value", [
    ("pos_thres", 0.0), ("neg_thres", float("nan")), ("sigma_thres", -0.1), ("cutoff_hz", -1.0),
    ("refractory_period_us", 1.5), ("refractory_period_us", -1), ("leak_jitter_fraction", 0.9),
])
def test_invalid_params_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        DvsParams(**{field: value})


def test_bad_frames_and_times_are_one_line_errors(rng):
    em = DvsEmulator(PRESETS["clean"], shape=(4, 5))
    with pytest.raises(InputDataError, match="cvtColor"):
        em.step(np.zeros((4, 5, 3), np.uint8), 0)
    with pytest.raises(InputDataError, match="does not match"):
        em.step(np.zeros((5, 4), np.uint8), 0)
    with pytest.raises(InputDataError, match=">= 0"):
        em.step(-np.ones((4, 5)), 0)
    with pytest.raises(InputDataError, match="dtype"):
        em.step(np.zeros((4, 5), complex), 0)
    em.step(np.zeros((4, 5), np.uint8), 1000)
    with pytest.raises(InputDataError, match="not after"):
        em.step(np.zeros((4, 5), np.uint8), 1000)
    with pytest.raises(InputDataError, match="mid-stream"):
        em.step(np.zeros((4, 5)), 2000)
    with pytest.raises(InputDataError, match="shape"):
        DvsEmulator(PRESETS["clean"], shape=(0, 5))
    with pytest.raises(InputDataError, match="65535"):
        DvsEmulator(PRESETS["clean"], shape=(2, 70_000))
