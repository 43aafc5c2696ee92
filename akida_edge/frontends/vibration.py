"""Vibration front-end: windowed spectra, envelope spectra, RMS, kurtosis, crest factor.

Per window of `window_s` seconds every `hop_s`, per axis (the window's mean, e.g. gravity,
removed first):

* RMS = sqrt(mean(x²)); kurtosis = mean(x⁴) / mean(x²)² (Pearson; 3 for Gaussian noise,
  larger for impulsive signals such as bearing impacts); crest factor = max|x| / RMS.
* Spectrum: power of the Hann-windowed FFT summed into `n_bands` log-spaced bands between
  `f_min_hz` and the Nyquist frequency, in dB (10·log10, of mean-square units).
* Envelope spectrum (the classic bearing diagnosis of Randall & Antoni, "Rolling element bearing
  diagnostics — a tutorial", MSSP 25(2):485, 2011): the analytic signal of the band
  `envelope_band_hz` (a structural resonance the impacts excite) is formed in the frequency
  domain from the Hann-windowed spectrum (positive-frequency bins of that band only — the
  Hilbert transform via FFT), shifted to baseband and inverse transformed on a short FFT
  ("zoom", a 5-smooth size >= the band's bin count, so the envelope keeps the window's frequency
  resolution rate/window), its magnitude is the envelope; the spectrum of the envelope (mean
  removed) shows lines at BPFO/BPFI/BSF. Its power, |·|², is summed into `n_env_bands` equal
  bands from 0 (DC excluded) to `env_max_hz`, in dB.

The per-window passes (statistics, band sums, envelope magnitude) are fused numba kernels
(`frontends._kernels`); the FFTs are NumPy's.

Streaming carries the unfinished window across blocks; results equal whole-signal processing.
`vibration_events_step` gives the event view of the band features (delta modulation, see
`akida_edge.frontends.delta`): y = band index in [spectrum bands, envelope bands], c = axis.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from akida_edge.frontends import _kernels
from akida_edge.frontends.delta import DeltaParams, DeltaState, delta_step
from akida_edge.frontends.framing import FrameState, frame_init, frame_step


@dataclass(frozen=True)
class VibrationParams:
    """Vibration feature settings (rates and frequencies in Hz, times in s)."""

    rate_hz: float = 12000.0
    window_s: float = 0.5
    hop_s: float = 0.5
    n_bands: int = 16
    f_min_hz: float = 10.0
    envelope_band_hz: tuple[float, float] | None = None  # default: 0.2..0.9 of Nyquist
    n_env_bands: int = 16
    env_max_hz: float = 400.0
    floor_db: float = -120.0

    def __post_init__(self) -> None:
        if not (self.rate_hz > 0 and self.window > 8 and 1 <= self.hop <= self.window):
            raise ValueError(
                f"vibration windows need rate > 0, window > 8 samples and 1 <= hop <= window, got "
                f"rate {self.rate_hz} Hz, window {self.window_s} s, hop {self.hop_s} s"
            )
        lo, hi = self.env_band
        if not 0 <= lo < hi <= self.rate_hz / 2:
            raise ValueError(f"envelope_band_hz must lie in 0..rate/2, got {self.envelope_band_hz}")
        if not 0 < self.f_min_hz < self.rate_hz / 2:
            raise ValueError(f"f_min_hz must lie in 0..rate/2, got {self.f_min_hz}")

    @property
    def window(self) -> int:
        return int(round(self.window_s * self.rate_hz))

    @property
    def hop(self) -> int:
        return int(round(self.hop_s * self.rate_hz))

    @property
    def env_band(self) -> tuple[float, float]:
        nyq = self.rate_hz / 2
        return self.envelope_band_hz or (0.2 * nyq, 0.9 * nyq)

    @property
    def n_features_per_axis(self) -> int:
        return 3 + self.n_bands + self.n_env_bands


@dataclass(frozen=True)
class VibrationFeatures:
    """Features of n windows × A axes; `t_us` is each window's start time."""

    t_us: np.ndarray  # (n,) int64
    rms: np.ndarray  # (n, A)
    kurtosis: np.ndarray  # (n, A)
    crest: np.ndarray  # (n, A)
    band_db: np.ndarray  # (n, A, n_bands)
    env_db: np.ndarray  # (n, A, n_env_bands)

    def matrix(self) -> np.ndarray:
        """(n, A·(3 + n_bands + n_env_bands)) float32, per axis [rms, kurtosis, crest, bands, env]."""
        n, a = self.rms.shape
        per_axis = np.concatenate(
            [self.rms[..., None], self.kurtosis[..., None], self.crest[..., None], self.band_db, self.env_db],
            axis=2,
        )
        return per_axis.reshape(n, a * per_axis.shape[2]).astype(np.float32)

    def bands(self) -> np.ndarray:
        """(n, A, n_bands + n_env_bands) dB values: the input of the event view."""
        return np.concatenate([self.band_db, self.env_db], axis=2)


@lru_cache(maxsize=8)
def _plan(params: VibrationParams) -> dict:
    n = params.window
    fs = params.rate_hz
    f = np.fft.rfftfreq(n, 1 / fs)
    edges = np.geomspace(params.f_min_hz, fs / 2, params.n_bands + 1)
    band_of = np.searchsorted(edges, f, side="right") - 1
    band_of[(f < edges[0]) | (band_of >= params.n_bands)] = -1
    band_of[-1] = params.n_bands - 1 if f[-1] >= edges[0] else -1
    lo, hi = params.env_band
    k_lo, k_hi = int(np.ceil(lo * n / fs)), int(np.floor(hi * n / fs)) + 1
    # zoom FFT size: the complex baseband signal of a band of B bins needs >= B samples
    m = _fast_len(max(k_hi - k_lo, 16))
    fs_env = fs * m / n  # envelope sample rate
    f_env = np.fft.rfftfreq(m, 1 / fs_env)
    env_edges = np.linspace(0, min(params.env_max_hz, fs_env / 2), params.n_env_bands + 1)
    env_of = np.searchsorted(env_edges, f_env, side="right") - 1
    env_of[(f_env <= 0) | (env_of >= params.n_env_bands)] = -1
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
    return {
        "hann": hann,
        "band_of": _band_arrays(_spans(band_of, params.n_bands)),
        "k": (k_lo, k_hi),
        "m": m,
        "env_of": _band_arrays(_spans(env_of, params.n_env_bands)),
        "norm": float(np.sum(hann**2) * n),
        "f_env": f_env,
    }


def _fast_len(n: int) -> int:
    """The smallest 2^a·3^b·5^c >= n (sizes the FFT factorises well)."""
    best = 1 << int(np.ceil(np.log2(n)))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _spans(band_of: np.ndarray, n_bands: int) -> list[tuple[int, int] | None]:
    """(first, last + 1) bin of each band, or None for a band without bins."""
    spans: list[tuple[int, int] | None] = []
    for b in range(n_bands):
        where = np.flatnonzero(band_of == b)
        spans.append((int(where[0]), int(where[-1]) + 1) if where.size else None)
    return spans


def envelope_spectrum(frames: np.ndarray, params: VibrationParams) -> tuple[np.ndarray, np.ndarray]:
    """Envelope magnitude spectra (..., m//2 + 1) of windows (..., window) and their frequencies (Hz)."""
    plan = _plan(params)
    xc = frames - frames.mean(axis=-1, keepdims=True)
    spec = np.fft.rfft(xc * plan["hann"], axis=-1)
    return _envelope_from_spec(spec, plan), plan["f_env"]


def _envelope_spec(spec: np.ndarray, plan: dict) -> np.ndarray:
    """Complex spectrum (R, m//2 + 1) of the centred envelope of the band, for rows of spec."""
    k_lo, k_hi = plan["k"]
    m = plan["m"]
    zoom = np.zeros((spec.shape[0], m), np.complex64)
    zoom[:, : k_hi - k_lo] = spec[:, k_lo:k_hi]
    z = np.fft.ifft(zoom, axis=-1)
    env = np.empty((spec.shape[0], m), np.float32)
    _kernels.centred_magnitude(z, env)
    return np.fft.rfft(env, axis=-1)


def _envelope_from_spec(spec: np.ndarray, plan: dict) -> np.ndarray:
    rows = spec.reshape(-1, spec.shape[-1])
    env = np.abs(_envelope_spec(rows, plan)) / plan["m"]
    return env.reshape(spec.shape[:-1] + (env.shape[-1],))


def _band_arrays(spans: list[tuple[int, int] | None]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.asarray([s[0] if s else 0 for s in spans], np.int64)
    stops = np.asarray([s[1] if s else 0 for s in spans], np.int64)
    return starts, stops


def vibration_features(frames: np.ndarray, t_us: np.ndarray, params: VibrationParams) -> VibrationFeatures:
    """Features of windows (n, window, A) starting at times `t_us` (n,)."""
    plan = _plan(params)
    n, w, a = frames.shape
    if n == 0:
        z = np.zeros((0, a), np.float32)
        return VibrationFeatures(
            np.zeros(0, np.int64),
            z,
            z,
            z,
            np.zeros((0, a, params.n_bands), np.float32),
            np.zeros((0, a, params.n_env_bands), np.float32),
        )
    xw = np.empty((n, a, w), np.float32)
    stats = np.empty((n, a, 3), np.float32)
    _kernels.window_stats(np.asarray(frames, np.float32), plan["hann"], xw, stats)
    spec = np.fft.rfft(xw, axis=-1).reshape(n * a, w // 2 + 1)
    floor = 10.0 ** (params.floor_db / 10.0)
    bands = np.empty((n * a, params.n_bands), np.float32)
    _kernels.band_db(spec, *plan["band_of"], 2.0 / plan["norm"], floor, bands)
    env_spec = _envelope_spec(spec, plan)
    env = np.empty((n * a, params.n_env_bands), np.float32)
    _kernels.band_db(env_spec, *plan["env_of"], 1.0 / plan["m"] ** 2, floor, env)
    return VibrationFeatures(
        np.asarray(t_us, np.int64),
        np.ascontiguousarray(stats[..., 0]),
        np.ascontiguousarray(stats[..., 1]),
        np.ascontiguousarray(stats[..., 2]),
        bands.reshape(n, a, params.n_bands),
        env.reshape(n, a, params.n_env_bands),
    )


@dataclass(frozen=True)
class VibrationState:
    frames: FrameState
    delta: DeltaState = DeltaState()
    t_start_us: int | None = None


def vibration_init(n_axes: int) -> VibrationState:
    return VibrationState(frame_init(n_axes, np.float32))


def vibration_step(
    x: np.ndarray, t0_us: int, state: VibrationState, params: VibrationParams
) -> tuple[VibrationFeatures, VibrationState]:
    """Features of the windows a block (n, A) completes; window i starts at t_start + i·hop/rate."""
    t_start = t0_us if state.t_start_us is None else state.t_start_us
    n_before = state.frames.n_done
    frames, fstate = frame_step(np.asarray(x, np.float32), state.frames, params.window, params.hop)
    idx = n_before + np.arange(frames.shape[0])
    t_us = t_start + np.round(idx * (params.hop * 1e6 / params.rate_hz)).astype(np.int64)
    return vibration_features(frames, t_us, params), replace(state, frames=fstate, t_start_us=t_start)


def vibration(x: np.ndarray, params: VibrationParams, t0_us: int = 0) -> VibrationFeatures:
    """Features of a whole signal (n,) or (n, A)."""
    x2 = x[:, None] if x.ndim == 1 else x
    feats, _ = vibration_step(x2, t0_us, vibration_init(x2.shape[1]), params)
    return feats


def vibration_events_step(
    x: np.ndarray, t0_us: int, state: VibrationState, params: VibrationParams, delta: DeltaParams
) -> tuple[VibrationFeatures, np.ndarray, VibrationState]:
    """Features and their events (y = band in [spectrum, envelope] bands, c = axis)."""
    n_before = state.frames.n_done
    feats, new = vibration_step(x, t0_us, state, params)
    events, dstate = delta_step(feats.bands(), feats.t_us, n_before, state.delta, delta)
    return feats, events, replace(new, delta=dstate)
