"""Event-camera (DVS) emulator: grey frames in, ON/OFF events out, streaming frame by frame.

Pixel model (per pixel, between two frames at t0 and t1 µs)
-----------------------------------------------------------
1. **Lin-log intensity** (v2e's ``lin_log``; Hu, Liu & Delbruck, CVPRW 2021, arXiv 2006.07722):
   L = I·ln(F)/F for I <= F, else ln(I), with F = `lin_log_floor_dn` (20 DN). I is in digital
   numbers (DN): uint8 frames as they are, float frames in the same 0-255 scale (values above 255
   are allowed, as for HDR input). Convert colour upstream, e.g. ``cv2.cvtColor(bgr,
   cv2.COLOR_BGR2GRAY)``; float frames in [0, 1] must be multiplied by 255 first.
2. **Photoreceptor low-pass** (optional, `cutoff_hz` > 0; v2e's intensity-dependent first order
   filter): eps = min(1, i01·Δt·2π·f_c) with i01 = min(1, (I + 20)/275), L_lp += eps·(L − L_lp).
   Brighter pixels are faster. Off by default: L_lp = L.
3. **Threshold crossings.** Each pixel holds a reference level `ref`. Across the interval the
   difference D(s) = L(s) − ref(s), s in [0, 1], is taken as linear: L goes linearly from the
   previous to the new (filtered) value and the leak (below) lowers `ref` at a constant rate. With
   per-pixel thresholds θ_on, θ_off (fixed-pattern mismatch: N(θ, σ) clipped at ≥ 0.01, drawn once
   from the seed, as v2e and Metavision do), D reaching +k·θ_on (k = 1..n_on, n_on = ⌊D1/θ_on⌋)
   gives ON events and −k·θ_off gives OFF events. **The reference moves by one threshold per
   crossing** (ref += n_on·θ_on − n_off·θ_off), so a large step gives several events.
4. **Timestamps per crossing** (ESIM's linear interpolation, Rebecq et al. CoRL 2018, not v2e's
   shared sub-steps): crossing k happens at s_k = (±k·θ − D0)/(D1 − D0) and is stamped
   t0 + round(s_k·(t1 − t0)) µs (half up). Events of one frame are sorted by t (stable: pixel
   order y·W + x, then crossing order, then the pixel's shot-noise event).
5. **Refractory period** (`refractory_period_us`): a crossing less than that after the pixel's last
   emitted event is dropped, **but still moves the reference** (ESIM and Metavision behaviour;
   v2e instead keeps the dropped change pending). This keeps |D| below one threshold after every
   frame, so an unchanged pixel never fires and quiet pixels can be skipped. The per-pixel clock
   of the last event is kept only while the period is set (a stream that switches the period on
   mid-way finds the clocks as they were when it was last on).
6. **Leak events** (optional, `leak_rate_hz`): `ref` drops by Δt·r_i·θ_on,i·(1 + j·√3·(2u − 1))
   per frame, where r_i = leak_rate·10^(c·N(0, 1)) is fixed per pixel (c =
   `noise_rate_cov_decades`) and u ~ U[0, 1) is drawn per pixel and frame (j =
   `leak_jitter_fraction`, the standard deviation of the factor; v2e draws it Gaussian, here uniform
   so the factor stays positive). A pixel of a still scene then emits ON events at r_i on average.
   Like v2e, the first reference is lowered by U(0, θ_on) so that leak events do not all align.
7. **Shot noise** (optional, `shot_noise_rate_hz` = R): per pixel and frame a Bernoulli draw with
   p = R·Δt·(1 − 0.75·i01)·θ_on,nominal/θ_on,i (v2e's formula: darkest pixels noisiest, a quarter of
   that at white, low-threshold pixels noisier). The event is ON or OFF with equal odds, at a
   uniform time in (t0, t1] (not at t1 as in v2e, which stacks noise on the frame time), and resets
   the reference to the current level. It bypasses the refractory period.

Randomness is counter-based (`_hash.py`): a draw depends only on (seed, frame number, pixel,
stream), so results are reproducible, independent of chunking, and equal between the numba kernels
and the NumPy twin (`dvs_numpy.py`). The state has a fixed size (a few arrays of H·W), so memory
stays bounded on endless streams; the scratch is proportional to the recent event rate (two
buffers of packed sort keys, sized from the last frame's count, grown when needed and reused from
frame to frame) and no event buffer is pre-allocated: the output is sized once the count is
known. The state keeps its last two output buffers and hands one out again once nothing else
references it (see `_output`): a consumer that drops each frame's events never pays for fresh
pages, and events it keeps are never touched.

**Log-domain input** (`log_input=True`): frames are log levels already (e.g. log-mel band
energies of an audio front-end, any real values), lin-log is skipped, and the low-pass and shot
noise take every element as fully bright (i01 = 1). The emulator is then a generic per-element
delta modulator with a reference that moves by one threshold per event (a silicon-cochlea-like
change detector); give a band vector the shape (1, n_bands).

Presets: `PRESETS["clean"]` and `PRESETS["noisy"]` carry the values of v2e's ``--dvs_params
clean|noisy`` (``EventEmulator.set_dvs_params`` in SensorsINI/v2e `v2ecore/emulator.py`): clean =
θ 0.2/0.2, σ 0.02, no low-pass, leak or shot noise, refractory 0; noisy = θ 0.2/0.2, σ 0.05,
cutoff 30 Hz, leak 0.1 Hz, shot noise 5 Hz, leak jitter 0.1, rate spread 0.1 decades,
refractory 0. Note that v2e's class defaults and CLI defaults differ from both presets (the CLI
uses σ 0.03, cutoff 300 Hz, leak 0.01 Hz, shot 0.001 Hz, refractory 0.5 ms); `DvsParams()` here
equals the clean preset.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache

import numpy as np

from akida_edge.encoders import _dvs_kernels as K
from akida_edge.encoders import _dvs_sort as S
from akida_edge.encoders._hash import mix_seed
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.events import EVENT_DTYPE

MIN_THRESHOLD = 0.01  # v2e and Metavision clip drawn thresholds here (log units)
_T_NEVER = -(1 << 62)  # "no event yet" for the refractory clock (µs)
_RADIX_MAX_SPAN_US = 1 << 31  # packed keys hold 31 time bits; longer intervals sort by argsort
_RADIX_DIGIT_BITS = 12  # at most 4096 output streams per radix pass: one pass up to 4095 µs


@dataclass(frozen=True)
class DvsParams:
    """Pixel-model parameters (log-intensity thresholds in ln units; see the module docstring)."""

    pos_thres: float = 0.2
    neg_thres: float = 0.2
    sigma_thres: float = 0.02
    cutoff_hz: float = 0.0
    leak_rate_hz: float = 0.0
    shot_noise_rate_hz: float = 0.0
    refractory_period_us: int = 0
    leak_jitter_fraction: float = 0.0
    noise_rate_cov_decades: float = 0.0
    lin_log_floor_dn: float = 20.0
    log_input: bool = False

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"DvsParams.{name}={getattr(self, name)!r}: {why}")

        for name in ("pos_thres", "neg_thres", "lin_log_floor_dn"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise bad(name, "must be a finite number > 0")
        for name in ("sigma_thres", "cutoff_hz", "leak_rate_hz", "shot_noise_rate_hz",
                     "noise_rate_cov_decades", "leak_jitter_fraction"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise bad(name, "must be a finite number >= 0")
        if self.leak_jitter_fraction > 0.5:
            raise bad("leak_jitter_fraction", "must be <= 0.5 (the leak factor must stay positive)")
        if self.noise_rate_cov_decades > 3:
            raise bad("noise_rate_cov_decades", "must be <= 3 decades")
        if not isinstance(self.log_input, (bool, np.bool_)):
            raise bad("log_input", "must be True or False")
        r = self.refractory_period_us
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
            raise bad("refractory_period_us", "must be an integer number of µs >= 0")

    @classmethod
    def preset(cls, name: str, **overrides: object) -> DvsParams:
        """A named preset (``"clean"`` or ``"noisy"``, v2e's values), optionally with overrides."""
        if name not in PRESETS:
            raise ConfigError(f"unknown DVS preset {name!r}; choose one of {', '.join(PRESETS)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(
                f"unknown DvsParams field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return replace(PRESETS[name], **overrides)  # type: ignore[arg-type]


PRESETS: dict[str, DvsParams] = {
    "clean": DvsParams(pos_thres=0.2, neg_thres=0.2, sigma_thres=0.02, cutoff_hz=0.0, leak_rate_hz=0.0,
                       shot_noise_rate_hz=0.0, refractory_period_us=0, leak_jitter_fraction=0.0,
                       noise_rate_cov_decades=0.0),
    "noisy": DvsParams(pos_thres=0.2, neg_thres=0.2, sigma_thres=0.05, cutoff_hz=30.0, leak_rate_hz=0.1,
                       shot_noise_rate_hz=5.0, refractory_period_us=0, leak_jitter_fraction=0.1,
                       noise_rate_cov_decades=0.1),
}


@dataclass
class DvsState:
    """Everything a pixel array remembers between frames (flat arrays of H·W; fixed size).

    `lp` (float64, ln units): the last (filtered) log intensity; `ref` (float64): the reference
    level; `th_on`, `th_off` (float64): per-pixel thresholds; `leak_rate` (float64 Hz, empty when
    leak is off); `t_last` (int64 µs): last emitted event per pixel, kept only while the refractory
    period is on (a stream that switches it on finds the clocks where it left them); `prev`: the
    last input frame (uint8 or float64, empty before the first frame); `events_last`: the number
    of events of the last frame (sizes the next frame's key buffers); `scratch`: key buffers
    reused from frame to frame (not part of the sensor's memory: proportional to the recent event
    rate, not counted in
    `nbytes`, never shared by copies).
    """

    shape: tuple[int, int]
    seed_key: np.uint64
    lp: np.ndarray
    ref: np.ndarray
    th_on: np.ndarray
    th_off: np.ndarray
    leak_rate: np.ndarray
    t_last: np.ndarray
    prev: np.ndarray
    t_prev_us: int = 0
    frame_count: int = 0
    events_last: int = 0
    scratch: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def nbytes(self) -> int:
        """Bytes held by the state arrays (constant once the first frame has been seen)."""
        arrays = (getattr(self, f.name) for f in fields(self))
        return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))

    def copy(self) -> DvsState:
        """A deep copy (steps update a state in place)."""
        return replace(self, scratch={}, **{f.name: getattr(self, f.name).copy() for f in fields(self)
                                            if isinstance(getattr(self, f.name), np.ndarray)})


def init_state(params: DvsParams, shape: tuple[int, int], seed: int = 0) -> DvsState:
    """A fresh state for an (H, W) sensor: thresholds and leak rates drawn from `seed`."""
    if len(shape) != 2 or not (0 < int(shape[0]) <= 65535 and 0 < int(shape[1]) <= 65535):
        raise InputDataError(f"DVS sensor shape must be (H, W), sizes in 1..65535 (uint16 x, y); got {shape}")
    h, w = int(shape[0]), int(shape[1])
    n = h * w
    rng = np.random.default_rng(seed)
    th_on = np.maximum(rng.normal(params.pos_thres, params.sigma_thres, n), MIN_THRESHOLD)
    th_off = np.maximum(rng.normal(params.neg_thres, params.sigma_thres, n), MIN_THRESHOLD)
    if params.sigma_thres == 0:
        th_on[:] = max(params.pos_thres, MIN_THRESHOLD)
        th_off[:] = max(params.neg_thres, MIN_THRESHOLD)
    if params.leak_rate_hz > 0:
        spread = 10.0 ** (params.noise_rate_cov_decades * rng.standard_normal(n))
        leak_rate = params.leak_rate_hz * spread
        ref = -rng.uniform(0.0, 1.0, n) * th_on  # desynchronises leak events (applied on frame 1)
    else:
        leak_rate = np.zeros(0)
        ref = np.zeros(n)
    return DvsState(
        shape=(h, w), seed_key=mix_seed(seed), lp=np.zeros(n), ref=ref, th_on=th_on, th_off=th_off,
        leak_rate=leak_rate, t_last=np.full(n, _T_NEVER, np.int64), prev=np.zeros(0, np.uint8),
    )


@lru_cache(maxsize=8)
def lin_log_lut(floor_dn: float) -> np.ndarray:
    """The lin-log value of every uint8 level (float64[256], read-only, cached)."""
    lut = lin_log(np.arange(256, dtype=np.float64), floor_dn)
    lut.flags.writeable = False
    return lut


def lin_log(frame_dn: np.ndarray, floor_dn: float) -> np.ndarray:
    """L = I·ln(F)/F for I <= F, ln(I) above (v2e's lin_log; continuous at F), float64."""
    x = np.asarray(frame_dn, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(x <= floor_dn, x * (math.log(floor_dn) / floor_dn), np.log(np.maximum(x, floor_dn)))


def prepare_frame(frame: np.ndarray, t_us: int, state: DvsState, log_input: bool = False) -> np.ndarray:
    """Validate one frame and its time against the state; return it flat (uint8 or float64)."""
    arr = np.asarray(frame)
    if arr.shape != state.shape:
        extra = " (colour? convert with cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))" if arr.ndim == 3 else ""
        raise InputDataError(f"DVS frame shape {arr.shape} does not match the sensor {state.shape}{extra}")
    if log_input:
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise InputDataError(f"DVS log-domain frames must be real numbers, got dtype {arr.dtype}")
        flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1) + 0.0
        if not np.all(np.isfinite(flat)):
            raise InputDataError("DVS log-domain frames must be finite (no NaN or inf)")
    elif arr.dtype == np.uint8:
        flat = np.ascontiguousarray(arr).reshape(-1)
    elif np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer):
        flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1) + 0.0  # a copy, and -0.0 -> 0.0
        if not np.all(np.isfinite(flat)) or (flat.size and flat.min() < 0):
            raise InputDataError("DVS float frames must be finite and >= 0 (linear intensity, 0-255 DN)")
    else:
        raise InputDataError(f"DVS frames must be uint8 or float grey images, got dtype {arr.dtype}")
    if state.frame_count and int(t_us) <= state.t_prev_us:
        raise InputDataError(f"frame time {int(t_us)} µs is not after the last one ({state.t_prev_us} µs)")
    if state.frame_count and flat.dtype != state.prev.dtype:
        raise InputDataError(f"frame dtype changed from {state.prev.dtype} to {flat.dtype} mid-stream")
    return flat


def log_levels(flat: np.ndarray, params: DvsParams) -> np.ndarray:
    """The log level of every pixel of a prepared frame (float64)."""
    if params.log_input:
        return flat
    if flat.dtype == np.uint8:
        return lin_log_lut(params.lin_log_floor_dn)[flat]
    return lin_log(flat, params.lin_log_floor_dn)


def first_frame(flat: np.ndarray, t_us: int, state: DvsState, params: DvsParams) -> np.ndarray:
    """Initialise the levels from the first frame (no events: nothing to compare with)."""
    lin = log_levels(flat, params)
    state.lp[:] = lin
    state.ref += lin
    state.prev = flat.copy()
    state.t_prev_us = int(t_us)
    state.frame_count = 1
    return np.zeros(0, EVENT_DTYPE)


def kernel_settings(t_us: int, state: DvsState, params: DvsParams) -> dict[str, object]:
    """The scalar settings both implementations pass around for one step."""
    t0, t1 = state.t_prev_us, int(t_us)
    dt_s = (t1 - t0) * 1e-6
    return dict(
        t0=np.int64(t0), t1=np.int64(t1), dt_s=dt_s, lpf_k=2.0 * math.pi * params.cutoff_hz,
        leak_jit=params.leak_jitter_fraction * math.sqrt(3.0),
        shot_k=params.shot_noise_rate_hz * dt_s * max(params.pos_thres, MIN_THRESHOLD),
        refr_us=np.int64(params.refractory_period_us), seed=state.seed_key,
        frame_no=np.uint64(state.frame_count), fixed_inten=1.0 if params.log_input else -1.0,
    )


def dvs_step(frame: np.ndarray, t_us: int, state: DvsState, params: DvsParams) -> tuple[np.ndarray, DvsState]:
    """Process one frame taken at `t_us` (µs): returns (events sorted by t, state).

    The state is updated in place and returned (``state.copy()`` first to branch a stream). The
    first frame only initialises the levels and gives no events. Events lie in
    [t_prev_us, t_us] and carry x, y, c = 0, p = ±1 (`EVENT_DTYPE`).
    """
    flat = prepare_frame(frame, t_us, state, params.log_input)
    if state.frame_count == 0:
        return first_frame(flat, t_us, state, params), state
    s = kernel_settings(t_us, state, params)
    if flat.dtype == np.uint8:
        logf, lut = np.zeros(0), lin_log_lut(params.lin_log_floor_dn)
    else:
        logf, lut = log_levels(flat, params), np.zeros(0)
    n = flat.size
    skip = not (params.cutoff_hz > 0 or params.leak_rate_hz > 0 or params.shot_noise_rate_hz > 0)
    group = 8 // flat.itemsize
    n_lead = n - n % group if skip else 0
    span_us = int(s["t1"] - s["t0"])
    wide = span_us >= _RADIX_MAX_SPAN_US  # frames more than 35 minutes apart: columns and a stable argsort
    bits = max(1, span_us.bit_length())
    n_digits = 1 if wide else -(-bits // _RADIX_DIGIT_BITS)
    digit_bits = 1 if wide else -(-bits // n_digits)  # 1 kHz frames: one pass of 10 bits; 30 fps: two of 8
    t_shift = 1 + (n - 1).bit_length()  # key: t - t0 | pixel | OFF (module doc of _dvs_kernels)
    key_dtype = np.uint32 if not wide and t_shift + bits <= 32 else np.uint64
    hist = np.zeros((n_digits, 1 << digit_bits), np.int64)
    keys, times, total = K.model_keys(
        skip, flat[:n_lead].view(np.uint64), state.prev[:n_lead].view(np.uint64), np.int64(group), flat,
        state.prev, logf, lut, state.lp, state.ref, state.th_on, state.th_off, state.leak_rate, state.t_last,
        s["t0"], s["t1"], s["dt_s"], s["lpf_k"], s["leak_jit"], s["shot_k"], s["refr_us"], s["seed"],
        s["frame_no"], s["fixed_inten"], np.int64(t_shift), np.int64(digit_bits), np.int64(n_digits), hist,
        _scratch(state, "keys", key_dtype), wide)
    state.scratch["keys"] = keys  # kept for the next frame (grown by the kernel on a burst)
    state.events_last = int(total)
    if wide:
        out = _sorted_by_argsort(keys[:total], times[:total], state.shape[1])
    else:
        out = _sorted_by_radix(keys, total, hist, digit_bits, t_shift, state.shape[1], int(s["t0"]),
                               _scratch(state, "tmp", key_dtype), state)
    state.prev[:] = flat
    state.t_prev_us = int(t_us)
    state.frame_count += 1
    return out, state


def _scratch(state: DvsState, name: str, dtype: type) -> np.ndarray:
    """A reusable scratch buffer of the state with room for 1.25 times the last frame's events.

    Reused between frames (fresh memory costs a page fault per 4 KiB, ~2 ms per busy VGA frame);
    replaced when too small, of another dtype, or more than four times too large (after a burst),
    so it stays proportional to the recent event rate.
    """
    need = state.events_last + state.events_last // 4 + 4096
    buf = state.scratch.get(name)
    if buf is None or buf.dtype != dtype or buf.size < need or buf.size > 4 * need:
        buf = np.empty(need, dtype)
        state.scratch[name] = buf
    return buf


def _output(state: DvsState, total: int) -> np.ndarray:
    """An uninitialised event array of `total` records, in memory its consumer has let go of if any.

    The state keeps the last two output buffers it allocated. One that nothing else references
    any more (no array, view or buffer export of it alive: CPython's reference count, the test
    NumPy's own temporary elision relies on) and that fits is handed out again as ``buf[:total]``;
    otherwise a new buffer with 25 % slack replaces the older of the two. Fresh memory costs a
    page fault per page and the kernel's zero fill, ~12 MB per busy VGA frame: a consumer that
    drops each frame's events after use (or keeps them a frame longer) never pays it, and events
    it keeps are never touched. Memory: at most two buffers of about the largest recent output.
    """
    if total == 0:
        return np.empty(0, EVENT_DTYPE)
    for name in ("out_new", "out_old"):
        buf = state.scratch.get(name)
        # references when free: the scratch dict, `buf`, and getrefcount's argument
        if buf is not None and sys.getrefcount(buf) <= 3 and total <= buf.size <= 4 * total + 65536:
            return buf[:total]
    if "out_new" in state.scratch:
        state.scratch["out_old"] = state.scratch["out_new"]
    buf = state.scratch["out_new"] = np.empty(total + total // 4, EVENT_DTYPE)
    return buf[:total]


def _sorted_by_radix(keys: np.ndarray, total: int, hist: np.ndarray, digit_bits: int, t_shift: int,
                     width: int, t0: int, tmp: np.ndarray, state: DvsState) -> np.ndarray:
    """The first `total` packed keys stably radix-sorted by time (`tmp`: as many spare slots) and
    unpacked in order (`_dvs_sort`)."""
    starts = np.cumsum(hist, axis=1) - hist  # each digit's first slot
    mask = (1 << digit_bits) - 1
    src = keys
    for d in range(hist.shape[0]):
        S.radix_pass(total, src, tmp, starts[d], t_shift + d * digit_bits, mask)
        src, tmp = tmp, src
    out = _output(state, total)
    S.unpack(total, src, t_shift, np.int64(width), np.int64(t0), out)
    return out


def _sorted_by_argsort(keys: np.ndarray, times: np.ndarray, width: int) -> np.ndarray:
    """Events from keys holding (pixel, polarity) and their times, stably sorted by time."""
    order = np.argsort(times, kind="stable")
    keys = keys[order]
    pixel = (keys >> np.uint64(1)).astype(np.int64)
    out = np.empty(keys.size, EVENT_DTYPE)
    out["t"] = times[order]
    out["x"] = pixel % width
    out["y"] = pixel // width
    out["c"] = 0
    out["p"] = np.where(keys & np.uint64(1), -1, 1)
    return out


class DvsEmulator:
    """An event camera fed with grey frames: wiring around `dvs_step` and one `DvsState`.

    ``DvsEmulator(params, shape=(H, W), seed=0).step(frame, t_us) -> events`` (sorted by t).
    """

    def __init__(self, params: DvsParams | str = "clean", shape: tuple[int, int] = (480, 640), seed: int = 0):
        self.params = DvsParams.preset(params) if isinstance(params, str) else params
        self.seed = int(seed)
        self.state = init_state(self.params, shape, self.seed)

    @property
    def shape(self) -> tuple[int, int]:
        return self.state.shape

    def step(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        """Events between the previous frame and this one (none for the first frame)."""
        events, self.state = dvs_step(frame, t_us, self.state, self.params)
        return events

    def run(self, frames: np.ndarray, times_us: np.ndarray) -> np.ndarray:
        """Process a stack of frames (N, H, W) with their times; all events, sorted by t."""
        if len(frames) != len(times_us):
            raise InputDataError(f"{len(frames)} frames but {len(times_us)} times")
        parts = [self.step(f, int(t)) for f, t in zip(frames, times_us, strict=True)]
        return np.concatenate(parts) if parts else np.zeros(0, EVENT_DTYPE)

    def reset(self) -> None:
        """Forget the scene (same thresholds and leak rates: they are the sensor's, from the seed)."""
        self.state = init_state(self.params, self.state.shape, self.seed)
