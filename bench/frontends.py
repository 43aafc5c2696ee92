"""Front-end throughput: seconds of signal processed per second of compute, on one core.

* `audio_rtf`: 16 kHz mono through the streaming log-mel front-end (30 ms / 20 ms, 512-point FFT,
  40 bands) in 100 ms blocks. Baseline: the same features frame by frame in a Python loop (one
  FFT and one filterbank product per frame), `audio_naive_ratio` = audio_rtf / naive.
* `vibration_rtf`: 3 axes at 12 kHz through the streaming vibration front-end (0.5 s windows,
  no overlap: RMS, kurtosis, crest, 16 spectrum bands, 16 envelope bands) in 100 ms blocks.
  Baseline: per window and axis, the textbook envelope (Hilbert transform by a full-length
  complex FFT pair) in a Python loop; `vibration_naive_ratio` = vibration_rtf / naive.
  `vibration_rtf_25k6` is the same at 25.6 kHz.

Target (issue 3): audio_rtf and vibration_rtf >= 500. One core by construction: NumPy's FFT
(pocketfft) is single-threaded and the front-ends use no BLAS product (per-band sums instead,
which also keeps streaming bit-identical to batch processing).
"""

from __future__ import annotations

from typing import IO, Any

import numpy as np
from akida_edge.bench.timing import best_seconds

from akida_edge.frontends.audio import LogMelParams, _window, audio_init, logmel_step, mel_filterbank
from akida_edge.frontends.vibration import VibrationParams, vibration_init, vibration_step

SUITE = "frontends"


def _stream(fn, x: np.ndarray, block: int) -> None:
    state = None
    for i in range(0, x.shape[0], block):
        state = fn(x[i : i + block], state)


def _audio(seconds: float) -> tuple[float, float]:
    p = LogMelParams()
    rng = np.random.default_rng(1)
    x = (0.1 * rng.normal(size=int(seconds * p.rate_hz))).astype(np.float32)

    def fast() -> None:
        state = audio_init(p)
        for i in range(0, x.size, 1600):
            _, state = logmel_step(x[i : i + 1600], state, p)

    w, norm = _window(p)
    fb = mel_filterbank(p)

    def naive() -> None:
        for start in range(0, x.size - p.window + 1, p.hop):
            spec = np.fft.rfft(x[start : start + p.window] * w, n=p.n_fft)
            np.log10((fb @ (np.abs(spec) ** 2)) / norm + 1e-10)

    return seconds / best_seconds(fast, repeat=3), seconds / best_seconds(naive, repeat=2)


def _vibration(seconds: float, rate_hz: float, naive_too: bool) -> tuple[float, float | None]:
    p = VibrationParams(rate_hz=rate_hz)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(int(seconds * rate_hz), 3)).astype(np.float32)
    block = int(0.1 * rate_hz)

    def fast() -> None:
        state = vibration_init(3)
        for i in range(0, x.shape[0], block):
            _, state = vibration_step(x[i : i + block], 0, state, p)

    def naive() -> None:
        n = p.window
        for start in range(0, x.shape[0] - n + 1, p.hop):
            for a in range(3):
                seg = x[start : start + n, a].astype(np.float64)
                seg = seg - seg.mean()
                rms = np.sqrt(np.mean(seg**2))
                _ = np.mean(seg**4) / rms**4, np.max(np.abs(seg)) / rms
                spec = np.fft.fft(seg * np.hanning(n))
                h = np.zeros(n)
                h[0] = 1
                h[1 : (n + 1) // 2] = 2
                env = np.abs(np.fft.ifft(spec * h))
                np.abs(np.fft.rfft(env - env.mean()))

    rtf = seconds / best_seconds(fast, repeat=3)
    return rtf, (seconds / best_seconds(naive, repeat=2) if naive_too else None)


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    audio_rtf, audio_naive = _audio(20.0)
    vib_rtf, vib_naive = _vibration(20.0, 12000.0, True)
    vib_25k, _ = _vibration(10.0, 25600.0, False)
    return {
        "audio_rtf": round(audio_rtf, 1),
        "audio_naive_ratio": round(audio_rtf / audio_naive, 2),
        "vibration_rtf": round(vib_rtf, 1),
        "vibration_naive_ratio": round(vib_rtf / vib_naive, 2),
        "vibration_rtf_25k6": round(vib_25k, 1),
        "targets": {"audio_rtf": 500, "vibration_rtf": 500},
    }
