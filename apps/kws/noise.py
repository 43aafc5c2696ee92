"""Background noises for keyword-spotting data, and mixing at a signal-to-noise ratio.

Every generator returns float32 of unit RMS at 16 kHz, from a seeded `numpy.random.Generator`:

* `white`, `pink` (1/f power), `brown` (1/f², high-passed at ~20 Hz);
* `hum`: mains at 50 or 60 Hz with random harmonics up to the 8th, plus a little white noise;
* `fan`: low-passed noise (corner 200..1500 Hz) with a slightly wobbling blade tone;
* `clicks`: sparse decaying bursts (keyboards, taps);
* `music`: a few harmonic notes with attack/decay envelopes;
* `babble`: crops of a track of several voices speaking other words (made by the caller).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE_HZ = 16000
KINDS = ("white", "pink", "brown", "hum", "fan", "clicks", "music", "babble")


def _unit(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return (x / rms).astype(np.float32) if rms > 0 else x.astype(np.float32)


def _shaped(n: int, rng: np.random.Generator, gain) -> np.ndarray:
    """White noise shaped in frequency by gain(f_hz)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE_HZ)
    return np.fft.irfft(spec * gain(f), n)


def generate(kind: str, n: int, rng: np.random.Generator, babble: np.ndarray | None = None) -> np.ndarray:
    """`n` samples of unit-RMS noise of `kind` (one of `KINDS`)."""
    t = np.arange(n) / SAMPLE_RATE_HZ
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped(n, rng, lambda f: 1 / np.sqrt(np.maximum(f, 20.0)))
    elif kind == "brown":
        x = _shaped(n, rng, lambda f: 1 / np.maximum(f, 20.0))
    elif kind == "hum":
        f0 = (50.0, 60.0)[int(rng.integers(0, 2))]
        x = sum(rng.uniform(0, 1) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
                for k in range(1, 9))
        x = _unit(x) + 0.05 * rng.standard_normal(n)
    elif kind == "fan":
        fc = rng.uniform(200, 1500)
        x = _unit(_shaped(n, rng, lambda f: 1 / (1 + (f / fc) ** 2)))
        blade = rng.uniform(80, 400) * (1 + 0.01 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
        x = x + rng.uniform(0.1, 0.6) * np.sin(2 * np.pi * np.cumsum(blade) / SAMPLE_RATE_HZ)
    elif kind == "clicks":
        x = np.zeros(n)
        for start in rng.integers(0, n, int(rng.integers(3, 25))):
            m = int(rng.integers(40, 400))
            burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (m / 5))
            x[start: start + m] += burst[: n - start]
        x = x + 0.01 * rng.standard_normal(n)
    elif kind == "music":
        x = np.zeros(n)
        for _ in range(int(rng.integers(3, 9))):
            f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
            start = int(rng.integers(0, n))
            env = np.exp(-np.arange(n - start) / (rng.uniform(0.1, 0.6) * SAMPLE_RATE_HZ))
            note = sum(np.sin(2 * np.pi * k * f0 * t[: n - start]) / k**1.5 for k in range(1, 6))
            x[start:] += env * note
        x = x + 0.01 * rng.standard_normal(n)
    elif kind == "babble":
        if babble is None or babble.size < n:
            return generate("pink", n, rng)
        start = int(rng.integers(0, babble.size - n + 1))
        x = babble[start: start + n] + 0.01 * rng.standard_normal(n)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; use one of {', '.join(KINDS)}")
    return _unit(np.asarray(x, dtype=np.float64))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, active: slice) -> np.ndarray:
    """speech + g·noise with 10·log10(P_speech / P_noise) = snr_db, P_speech over the `active` part."""
    p_s = float(np.mean(speech[active].astype(np.float64) ** 2))
    p_n = float(np.mean(noise.astype(np.float64) ** 2))
    if p_s == 0 or p_n == 0:
        return speech.copy()
    g = np.sqrt(p_s / (p_n * 10 ** (snr_db / 10)))
    return (speech + g * noise).astype(np.float32)
