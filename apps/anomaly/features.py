"""Front-end and encoder of the anomaly app: recordings -> feature windows -> 4-bit input tensor.

Every recording is first brought to `RATE_HZ` (12 kHz, the CWRU drive-end rate; polyphase
resampling, `akida_edge.frontends.resample`), so the band layout is the same for every file.
The front-end (`akida_edge.frontends.vibration`) then gives, per window of `PARAMS.window_s`
every `PARAMS.hop_s` and per axis: RMS, kurtosis, crest factor, `n_bands` log-spaced spectrum
bands (dB) and `n_env_bands` envelope-spectrum bands (dB) up to `env_max_hz` (bearing defect
lines of shafts up to 60 Hz with up to 16 rolling elements lie below it). Each axis of a window is
one sample: an accelerometer's axes see the same machine through different gains.

The values fed to the chip (`feature_values`): 20·log10(RMS) (dB re 1 g), log2(kurtosis),
crest factor, the band and envelope dB. `encode` compares them with a per-device *reference*
(the median of the machine's normal windows, learned by `anomaly fit`, DESIGN.md §2: "a
feature frame is compared with a per-element reference") and quantizes the deviation to
`INPUT_BITS` bits in steps of the machine's own standard deviation of each feature. The
reference makes the backbone's input independent of a machine's
own levels (its speed, noise, resonance), so a backbone trained on other machines transfers.
This is the one place the encoding happens, so that a rank-order-coding encoder
(`akida_edge.encoders.roc`) can take its place later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from akida_edge.frontends.resample import resample
from akida_edge.frontends.vibration import VibrationFeatures, VibrationParams, vibration

RATE_HZ = 12000
INPUT_BITS = 4
PARAMS = VibrationParams(rate_hz=RATE_HZ, window_s=1.0, hop_s=0.5, n_bands=24, f_min_hz=10.0,
                         n_env_bands=24, env_max_hz=600.0)
N_FEATURES = PARAMS.n_features_per_axis
#: `load_windows` refuses a recording larger than this at `RATE_HZ` (float32, all axes): the front-end
#: takes a file whole, so a day logged at a low rate would otherwise be upsampled into tens of GB
MAX_ANALYSIS_BYTES = 2 * 2**30


def to_analysis_rate(samples: np.ndarray, rate_hz: float) -> np.ndarray:
    """Samples (n, axes) at `RATE_HZ` (resampled when the recording has another rate)."""
    x = np.asarray(samples, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if int(round(rate_hz)) != RATE_HZ:
        x = resample(x, int(round(rate_hz)), RATE_HZ)
    return x


def feature_values(feats: VibrationFeatures) -> np.ndarray:
    """(windows, axes, N_FEATURES) float32: [rms dB, log2 kurtosis, crest, bands dB, envelope dB]."""
    rms_db = 20 * np.log10(np.maximum(feats.rms, 1e-6))
    kurt = np.log2(np.maximum(feats.kurtosis, 1e-3))
    stats = np.stack([rms_db, kurt, feats.crest], axis=-1)
    return np.concatenate([stats, feats.band_db, feats.env_db], axis=-1).astype(np.float32)


def windows(samples: np.ndarray, rate_hz: float) -> np.ndarray:
    """Feature values (windows, axes, N_FEATURES) of a recording (n, axes) at any rate."""
    x = to_analysis_rate(samples, rate_hz)
    if x.shape[0] < PARAMS.window:
        return np.zeros((0, x.shape[1], N_FEATURES), np.float32)
    return feature_values(vibration(x, PARAMS))



class WindowStream:
    """Streaming `windows`: blocks of any rate in, the feature values of each window they complete out.

    Blocks are resampled to `RATE_HZ` in a stream (`frontends.resample`, restarted when the rate
    changes) and cut by the streaming front-end (`frontends.vibration.vibration_step`), so the
    values equal those of `windows` on the concatenated samples. Used by `anomaly watch` and by the
    daemon's anomaly pipeline.
    """

    def __init__(self) -> None:
        self._vstate = self._rs = self._rparams = None

    def push(self, data: np.ndarray, rate_hz: float) -> np.ndarray:
        """Feature values (windows, axes, N_FEATURES) of the windows this block (n, axes) completes."""
        from akida_edge.frontends.resample import ResampleParams, resample_init, resample_step
        from akida_edge.frontends.vibration import vibration_init, vibration_step

        x = np.asarray(data, np.float32)
        rate = int(round(rate_hz))
        if rate != RATE_HZ:
            if self._rparams is None or self._rparams.rate_in_hz != rate:
                self._rparams = ResampleParams(rate, RATE_HZ)
                self._rs = resample_init(self._rparams, x.shape[1])
            x, self._rs = resample_step(x, self._rs, self._rparams)
        if self._vstate is None:
            self._vstate = vibration_init(x.shape[1])
        feats, self._vstate = vibration_step(x, 0, self._vstate, PARAMS)
        return feature_values(feats)

CENTER = 2 ** (INPUT_BITS - 1)  # the level of "no deviation from the reference"
STEP_SIGMA = 1.0  # one encoder level = this many standard deviations of normal running
#: smallest step per feature: 0.1 dB for levels (RMS, bands), 0.005 for log2 kurtosis, 0.01 for the
#: crest factor — below the spread of normal running (log2 kurtosis of 0.5 s of Gaussian noise
#: varies by ~0.02: a coarser floor hid mild bearing faults, whose first sign is kurtosis)
STEP_FLOOR = np.array([0.1, 0.005, 0.01] + [0.1] * (PARAMS.n_bands + PARAMS.n_env_bands), np.float32)


def reference(values: np.ndarray, step_sigma: float = STEP_SIGMA,
              step_floor: np.ndarray = STEP_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """The per-axis reference of normal windows (windows, axes, F): (median, step), each (axes, F).

    step = max(`step_sigma` × standard deviation over the windows, `step_floor`) (the defaults
    `STEP_SIGMA`, `STEP_FLOOR`; a backbone file states those it was trained with): one level of
    the encoder is one standard deviation of the machine's own normal running (a per-device
    standardization, as Edge Impulse's scaler, but fitted on the device); 4 bits then span
    −8..+7 standard deviations, beyond which a feature saturates (0.5 was tried: finer steps
    but earlier saturation scored lower on the benchmark)."""
    med = np.median(values, axis=0).astype(np.float32)
    floor = np.asarray(step_floor, np.float32)[None]
    step = np.maximum(step_sigma * values.std(axis=0), floor).astype(np.float32)
    return med, step


def encode(values: np.ndarray, ref: np.ndarray, step: np.ndarray, bits: int = INPUT_BITS) -> np.ndarray:
    """The model's input tensor (windows·axes, 1, 1, F) uint8 of feature values (windows, axes, F).

    Each feature is compared with the device's reference (axes, F) of normal running, as an
    event camera compares a pixel with its reference level:
    q = clip(round((v − ref) / step) + CENTER, 0, 2^bits − 1), so normal running sits around
    CENTER and a feature one step (`reference`) away moves one level.
    """
    levels = 2**bits - 1
    dev = (values.astype(np.float64) - ref[None].astype(np.float64)) / step[None].astype(np.float64)
    q = np.clip(np.rint(dev) + CENTER, 0, levels)
    return q.astype(np.uint8).reshape(-1, 1, 1, values.shape[-1])


def load_windows(path: str | Path, rate_hz: float | None = None) -> tuple[np.ndarray, float]:
    """Feature values of a WAV or CSV recording (`drivers.vibration.load_vibration`) and its rate;
    `rate_hz`: the rate of a CSV without a time column."""
    from akida_edge.drivers.vibration import load_vibration
    from akida_edge.errors import InputDataError

    samples, rate_hz = load_vibration(path, rate_hz)
    axes = samples.shape[1] if samples.ndim > 1 else 1
    per_s = RATE_HZ * axes * 4  # bytes per second of recording at the analysis rate
    seconds = len(samples) / rate_hz
    if seconds * per_s > MAX_ANALYSIS_BYTES:  # the whole recording is brought to RATE_HZ at once
        raise InputDataError(
            f"{path}: {seconds:.0f} s of {axes}-axis vibration is {seconds * per_s / 2**30:.1f} GiB at the "
            f"analysis rate {RATE_HZ} Hz, over the {MAX_ANALYSIS_BYTES / 2**30:.0f} GiB taken at once; "
            f"split it into files of at most {MAX_ANALYSIS_BYTES / per_s:.0f} s")
    return windows(samples, rate_hz), rate_hz
