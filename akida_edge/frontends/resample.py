"""Streaming rational resampling (polyphase windowed sinc), e.g. 44.1 kHz or 48 kHz to 16 kHz.

Output sample n sits at input position ``n·M/L`` (L/M the reduced ratio out/in) and is

    y[n] = Σ_k x[k] · h(n·M/L − k),   h(τ) = f_c · sinc(f_c·τ) · w(τ / (K/f_c)),

with cut-off ``f_c = rolloff · min(1, L/M)`` (cycles per input sample ×2, i.e. relative to the
input Nyquist), a Kaiser window w of half-width K zero crossings, and x = 0 before the start and
after `flush` (the classic band-limited interpolation of Smith, "Digital Audio Resampling Home
Page", CCRMA, 2002). The L phases of h are tabulated once. The stream is cut anywhere: feeding
blocks of any size then `flush` gives the same samples as `resample(x)` on the whole signal,
``ceil(len(x)·L/M)`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil, gcd

import numpy as np


@dataclass(frozen=True)
class ResampleParams:
    """Fixed resampler settings: rates in Hz, `zero_crossings` K, `rolloff`, Kaiser `beta`."""

    rate_in_hz: int
    rate_out_hz: int = 16000
    zero_crossings: int = 16
    rolloff: float = 0.94
    beta: float = 8.0

    def __post_init__(self) -> None:
        if self.rate_in_hz <= 0 or self.rate_out_hz <= 0:
            raise ValueError(
                f"resampling needs positive rates, got {self.rate_in_hz} -> {self.rate_out_hz} Hz"
            )

    @property
    def ratio(self) -> tuple[int, int]:
        g = gcd(int(self.rate_in_hz), int(self.rate_out_hz))
        return int(self.rate_out_hz) // g, int(self.rate_in_hz) // g


@dataclass(frozen=True)
class ResampleState:
    """Input kept (from global index `start`), the next output index, inputs seen so far."""

    buf: np.ndarray
    start: int
    n_next: int
    n_in: int


@lru_cache(maxsize=16)
def _table(params: ResampleParams) -> tuple[np.ndarray, int]:
    up, down = params.ratio
    fc = params.rolloff * min(1.0, up / down)
    half = int(ceil(params.zero_crossings / fc))
    offsets = np.arange(-half + 1, half + 1)  # k - base
    frac = np.arange(up)[:, None] / up  # phase p -> fractional position
    tau = frac - offsets[None, :]  # t_out - k
    win = np.kaiser(2 * half + 1, params.beta)
    # Kaiser window sampled continuously: interpolate on its grid of half-width `half`
    w = np.interp(tau, np.arange(-half, half + 1), win, left=0.0, right=0.0)
    h = fc * np.sinc(fc * tau) * w
    return h.astype(np.float64), half


def resample_init(params: ResampleParams, n_channels: int = 1) -> ResampleState:
    _, half = _table(params)
    return ResampleState(np.zeros((half, n_channels)), -half, 0, 0)


def _emit(state: ResampleState, params: ResampleParams, n_stop: int) -> tuple[np.ndarray, ResampleState]:
    up, down = params.ratio
    h, half = _table(params)
    end = state.start + state.buf.shape[0]
    # output n needs inputs up to base + half with base = floor(n·down/up)
    n_max = ((end - half) * up - 1) // down if end - half > 0 else -1
    n_last = min(n_max, n_stop - 1)
    n = np.arange(state.n_next, n_last + 1)
    if n.size:
        base = (n * down) // up
        phase = (n * down) % up
        idx = base[:, None] + np.arange(-half + 1, half + 1)[None, :] - state.start
        y = np.einsum("nk,nkc->nc", h[phase], state.buf[idx])
        n_next = int(n[-1]) + 1
    else:
        y = np.zeros((0, state.buf.shape[1]))
        n_next = state.n_next
    first_needed = (n_next * down) // up - half + 1
    drop = max(0, min(first_needed - state.start, state.buf.shape[0]))
    return y, ResampleState(state.buf[drop:], state.start + drop, n_next, state.n_in)


def resample_step(
    x: np.ndarray, state: ResampleState, params: ResampleParams
) -> tuple[np.ndarray, ResampleState]:
    """Resample a block (n,) or (n, channels); returns float32 samples of the same layout."""
    squeeze = x.ndim == 1
    x2 = x[:, None] if squeeze else x
    buf = np.concatenate([state.buf, x2.astype(np.float64, copy=False)], axis=0)
    state = ResampleState(buf, state.start, state.n_next, state.n_in + x2.shape[0])
    y, state = _emit(state, params, n_stop=np.iinfo(np.int64).max)
    y = y.astype(np.float32)
    return (y[:, 0] if squeeze else y), state


def resample_flush(state: ResampleState, params: ResampleParams, squeeze: bool = False) -> np.ndarray:
    """The remaining samples at the end of the stream (inputs after the end taken as zeros)."""
    up, down = params.ratio
    _, half = _table(params)
    total = -(-state.n_in * up // down)
    pad = np.zeros((2 * half + 1, state.buf.shape[1]))
    state = ResampleState(np.concatenate([state.buf, pad]), state.start, state.n_next, state.n_in)
    y, _ = _emit(state, params, n_stop=total)
    y = y.astype(np.float32)
    return y[:, 0] if squeeze else y


def resample(x: np.ndarray, rate_in_hz: int, rate_out_hz: int = 16000) -> np.ndarray:
    """Resample a whole signal (n,) or (n, channels) to `rate_out_hz` (no-op at equal rates)."""
    if int(rate_in_hz) == int(rate_out_hz):
        return x.astype(np.float32, copy=False)
    params = ResampleParams(int(rate_in_hz), int(rate_out_hz))
    state = resample_init(params, 1 if x.ndim == 1 else x.shape[1])
    y, state = resample_step(x, state, params)
    tail = resample_flush(state, params, squeeze=x.ndim == 1)
    return np.concatenate([y, tail], axis=0)
