"""Front-end throughput: seconds of signal processed per second of compute, on one core.

* `audio_rtf`: 16 kHz mono through the streaming log-mel front-end (30 ms / 20 ms, 512-point FFT,
  40 bands) in 100 ms blocks. Baseline: the same features frame by frame in a Python loop (one
  FFT and one filterbank product per frame), `audio_naive_ratio` = audio_rtf / naive.
* `vibration_rtf`: 3 axes at 12 kHz through the streaming vibration front-end (0.5 s windows,
  no overlap: RMS, kurtosis, crest, 16 spectrum bands, 16 envelope bands) in 100 ms blocks.
  Baseline: per window and axis, the textbook envelope (Hilbert transform by a full-length
  complex FFT pair) in a Python loop; `vibration_naive_ratio` = vibration_rtf / naive.
  `vibration_rtf_25k6` is the same at 25.6 kHz.
* `evt2_mevents_per_s`, `evt3_mevents_per_s`: decoding Prophesee recordings (in memory, 1 M
  events at 640×480; EVT 3.0 as rows of 12-pixel vectors, as a busy sensor sends them).

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


def _evt_words(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.sort(rng.integers(0, 1_000_000, n))
    x, y = rng.integers(0, 640, n), rng.integers(0, 480, n)
    kind = rng.integers(0, 2, n)
    cd = ((kind << 28) | ((t & 0x3F) << 22) | (x << 11) | y).astype(np.uint32)
    high = (0x8 << 28) | (t >> 6)
    evt2 = np.empty(2 * n, np.uint32)  # a TIME_HIGH before every event: worst case
    evt2[0::2], evt2[1::2] = high, cd
    g = n // 12  # EVT 3.0: groups of 12 pixels in a row
    tg = np.sort(rng.integers(0, 1_000_000, g))
    words = np.empty((g, 5), np.uint16)
    words[:, 0] = (0x8 << 12) | ((tg >> 12) & 0xFFF)
    words[:, 1] = (0x6 << 12) | (tg & 0xFFF)
    words[:, 2] = rng.integers(0, 480, g)
    words[:, 3] = (0x3 << 12) | (rng.integers(0, 2, g) << 11) | rng.integers(0, 640 - 12, g)
    words[:, 4] = (0x4 << 12) | 0xFFF
    return evt2, words.reshape(-1)


def _evt(n: int = 1_000_000) -> tuple[float, float]:
    from akida_edge.drivers.evt import decode

    evt2, evt3 = _evt_words(n)
    decode(evt2[:100], "evt2", np.zeros(10, np.int64), 640, 480)  # compile / load the kernels
    decode(evt3[:100], "evt3", np.zeros(10, np.int64), 640, 480)
    n3 = (evt3.size // 5) * 12
    t2 = best_seconds(lambda: decode(evt2, "evt2", np.zeros(10, np.int64), 640, 480), repeat=3)
    t3 = best_seconds(lambda: decode(evt3, "evt3", np.zeros(10, np.int64), 640, 480), repeat=3)
    return n / t2 / 1e6, n3 / t3 / 1e6


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    audio_rtf, audio_naive = _audio(20.0)
    vib_rtf, vib_naive = _vibration(20.0, 12000.0, True)
    vib_25k, _ = _vibration(10.0, 25600.0, False)
    evt2, evt3 = _evt()
    return {
        "audio_rtf": round(audio_rtf, 1),
        "audio_naive_ratio": round(audio_rtf / audio_naive, 2),
        "vibration_rtf": round(vib_rtf, 1),
        "vibration_naive_ratio": round(vib_rtf / vib_naive, 2),
        "vibration_rtf_25k6": round(vib_25k, 1),
        "evt2_mevents_per_s": round(evt2, 1),
        "evt3_mevents_per_s": round(evt3, 1),
        "targets": {"audio_rtf": 500, "vibration_rtf": 500},
    }
