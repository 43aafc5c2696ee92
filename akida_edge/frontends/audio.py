"""Audio front-end: 16 kHz framing, log-mel filterbank, its event view and the DS-CNN input tensor.

Log-mel (the keyword-spotting features of Zhang et al., "Hello Edge", arXiv 1711.07128):
a frame of `window_ms` every `hop_ms` (30 ms / 20 ms gives 49 frames for one second at 16 kHz:
1 + (16000 − 480) // 320), a periodic Hann window, the power spectrum of an `n_fft`-point FFT,
triangular mel filters (HTK mel scale m = 2595·log10(1 + f/700), peak 1) between `f_min_hz` and
`f_max_hz`, and

    L[band] = 10·log10( Σ_k F[band, k]·|X[k]|² / (Σ w / 2)² + 10^(floor_db/10) )   (dBFS)

so a full-scale sine on an FFT bin at a band's centre reads 0 dB plus the Hann window's leakage
into the neighbouring bins (at most +1.8 dB). Streaming carries the unfinished frame across
blocks; frames are bit-identical to processing the whole signal at once (the filterbank is a
fused numba kernel summing each band in a fixed order, `frontends._kernels.mel_db`).

`kws_input_tensor` gives the 49×10 uint8 tensor a DS-CNN `InputConvolutional` takes: 10 mel bands
from 20 Hz to 4 kHz, one second (shorter clips padded with zeros, longer cut), mapped linearly
from [db_floor, db_ceil] = [−90, +10] dBFS onto 0..255 (0.392 dB per step), clipped. (Hello
Edge and BrainChip's DS-CNN example use 49×10 MFCCs; here the 10 values are log-mel bands
without the DCT, and the models of this project are trained on exactly these tensors.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from akida_edge.frontends import _kernels
from akida_edge.frontends.delta import DeltaParams, DeltaState, delta_step
from akida_edge.frontends.framing import FrameState, frame_init, frame_step


@dataclass(frozen=True)
class LogMelParams:
    """Log-mel settings (rates in Hz, times in ms)."""

    rate_hz: int = 16000
    window_ms: float = 30.0
    hop_ms: float = 20.0
    n_fft: int = 512
    n_bands: int = 40
    f_min_hz: float = 20.0
    f_max_hz: float = 8000.0
    floor_db: float = -100.0

    def __post_init__(self) -> None:
        if self.window > self.n_fft:
            raise ValueError(f"log-mel window {self.window} samples exceeds n_fft {self.n_fft}")
        if not 0 <= self.f_min_hz < self.f_max_hz <= self.rate_hz / 2:
            raise ValueError(
                f"log-mel band edges must satisfy 0 <= f_min < f_max <= rate/2, got "
                f"{self.f_min_hz}..{self.f_max_hz} Hz at {self.rate_hz} Hz"
            )
        if not 1 <= self.n_bands <= self.n_fft // 2:
            raise ValueError(f"log-mel n_bands must be in 1..{self.n_fft // 2}, got {self.n_bands}")

    @property
    def window(self) -> int:
        return int(round(self.window_ms * self.rate_hz / 1000))

    @property
    def hop(self) -> int:
        return int(round(self.hop_ms * self.rate_hz / 1000))


#: The DS-CNN keyword-spotting shape: 49 frames × 10 bands per second.
KWS_PARAMS = LogMelParams(n_bands=10, f_max_hz=4000.0)
KWS_DB_RANGE = (-90.0, 10.0)


def hz_to_mel(f_hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f_hz, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(params: LogMelParams) -> np.ndarray:
    """Triangular filters (n_bands, n_fft/2 + 1), peak 1, edges equally spaced in mel."""
    edges = mel_to_hz(np.linspace(hz_to_mel(params.f_min_hz), hz_to_mel(params.f_max_hz), params.n_bands + 2))
    f = np.arange(params.n_fft // 2 + 1) * params.rate_hz / params.n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (f[None, :] - lo) / (mid - lo)
    fall = (hi - f[None, :]) / (hi - mid)
    fb = np.clip(np.minimum(rise, fall), 0.0, None)
    empty = fb.sum(axis=1) == 0
    if empty.any():
        # a band narrower than one FFT bin takes the nearest bin, so no band is always silent
        for b in np.flatnonzero(empty):
            fb[b, int(np.argmin(np.abs(f - mid[b, 0])))] = 1.0
    return fb.astype(np.float32)


@lru_cache(maxsize=16)
def _window(params: LogMelParams) -> tuple[np.ndarray, float]:
    n = params.window
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)  # periodic Hann
    return w, float((w.sum() / 2.0) ** 2)


@lru_cache(maxsize=16)
def _sparse_filterbank(params: LogMelParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The filterbank's nonzeros band after band: bin indices, weights and each band's start."""
    fb = mel_filterbank(params)
    idx, wts, starts = [], [], []
    for b in range(fb.shape[0]):
        nz = np.flatnonzero(fb[b])
        starts.append(sum(len(i) for i in idx))
        idx.append(nz)
        wts.append(fb[b, nz])
    return np.concatenate(idx), np.concatenate(wts).astype(np.float32), np.asarray(starts)


def logmel_frames(frames: np.ndarray, params: LogMelParams) -> np.ndarray:
    """Log-mel (n_frames, n_bands) float32 dBFS of windows (n_frames, window)."""
    w, norm = _window(params)
    spec = np.fft.rfft(np.asarray(frames, np.float32) * w, n=params.n_fft, axis=-1)
    idx, wts, starts = _sparse_filterbank(params)
    out = np.empty((spec.shape[0], params.n_bands), np.float32)
    # a fused kernel over the filterbank's nonzeros (~2 per bin), summing each band sequentially:
    # not a BLAS product, whose summation order may depend on the number of frames — streaming
    # must give bit-identical frames whatever the block sizes
    _kernels.mel_db(spec, idx, wts, starts, 1.0 / norm, 10.0 ** (params.floor_db / 10.0), out)
    return out


@dataclass(frozen=True)
class AudioState:
    frames: FrameState
    delta: DeltaState = DeltaState()
    t_start_us: int | None = None


def audio_init(params: LogMelParams = LogMelParams()) -> AudioState:
    return AudioState(frame_init(1, np.float32))


def logmel_step(x: np.ndarray, state: AudioState, params: LogMelParams) -> tuple[np.ndarray, AudioState]:
    """Log-mel frames completed by the mono block `x` (float, full scale ±1, at `rate_hz`)."""
    frames, fstate = frame_step(
        np.asarray(x, np.float32).reshape(-1), state.frames, params.window, params.hop
    )
    return logmel_frames(frames[:, :, 0], params), replace(state, frames=fstate)


def logmel(x: np.ndarray, params: LogMelParams = LogMelParams()) -> np.ndarray:
    """Log-mel of a whole mono signal: (1 + (n − window) // hop, n_bands)."""
    y, _ = logmel_step(x, audio_init(params), params)
    return y


def audio_events_step(
    x: np.ndarray, t0_us: int, state: AudioState, params: LogMelParams, delta: DeltaParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, AudioState]:
    """Log-mel frames, their times and their events for a block whose first sample is at `t0_us`.

    The stream's start time is taken from the first block; frame i starts at
    ``t_start + i·hop / rate`` (µs, rounded), so times do not depend on how the stream was cut.
    Returns (frames (n, n_bands), t_us (n,), events, state).
    """
    t_start = t0_us if state.t_start_us is None else state.t_start_us
    n_before = state.frames.n_done
    mel, new = logmel_step(x, state, params)
    idx = n_before + np.arange(mel.shape[0])
    t_us = t_start + np.round(idx * (params.hop * 1e6 / params.rate_hz)).astype(np.int64)
    events, dstate = delta_step(mel[:, None, :], t_us, n_before, state.delta, delta)
    return mel, t_us, events, replace(new, delta=dstate, t_start_us=t_start)


def kws_input_tensor(
    x_16k: np.ndarray, params: LogMelParams = KWS_PARAMS, db_range: tuple[float, float] = KWS_DB_RANGE
) -> np.ndarray:
    """The uint8 (49, 10, 1) DS-CNN input for one second of 16 kHz mono audio (see module doc)."""
    n = params.rate_hz
    x = np.zeros(n, np.float32)
    src = np.asarray(x_16k, np.float32).reshape(-1)[:n]
    x[: src.size] = src
    mel = logmel(x, params)
    lo, hi = db_range
    q = np.round((mel - lo) * (255.0 / (hi - lo)))
    return np.clip(q, 0, 255).astype(np.uint8)[:, :, None]
