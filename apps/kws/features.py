"""The keyword model's input: MFCCs with the channel and level removed, 8-bit, 49 × 10.

Training (`train.py`), the app (`app.py`: files, long recordings and the microphone) and the
benchmarks all go through `normalize` on log-mel frames of `akida_edge.frontends.audio.logmel`
with `PARAMS` (its defaults: 30 ms frames every 20 ms, 40 mel bands 20 Hz–8 kHz, dBFS), so that
49 frames cover one second:

1. dynamic-range floor: L ← max(L, max(L) − `RANGE_DB`), so digital silence and very faint
   noise do not dominate step 3 (a clean synthetic clip and a slightly noisy real one look alike);
2. MFCCs: c = DCT-II (orthonormal) of the 40 log-mel values, first `COEFFS` = 10 coefficients
   (in dB units), as the 49×10 MFCC input of Hello Edge's and the Akida zoo's DS-CNN
   (Zhang et al., arXiv 1711.07128);
3. per-utterance cepstral mean removal: d[t, k] = c[t, k] − mean_t c[·, k]. A fixed microphone or
   room EQ and the recording level add a constant per band in dB, hence per coefficient, so
   they vanish (Atal 1974; the classic CMN);
4. 8-bit scaling: q = clip(round(128 + d · 127 / `SCALE_DB`[k]), 0, 255), `SCALE_DB` = 4 standard
   deviations of d per coefficient, measured once on the training split (rounded constants).

(`frontends.audio.kws_input_tensor` — 10 log-mel bands to 4 kHz, fixed dB range — was the first
choice; it lost the fricatives above 4 kHz and did not remove the channel: 72 % on held-out
voices against this input's figure in `model/REPORT.md`.)

The window is one second; a recording is cut into windows whose starts are on frame boundaries
(multiples of the 20 ms hop), so the frames of a window are exactly the frames of the whole
signal (`logmel` is frame-local), and the log-mel is computed once per recording.
"""

from __future__ import annotations

import numpy as np

from akida_edge.frontends.audio import LogMelParams, logmel

PARAMS = LogMelParams()  # 40 bands, 20 Hz - 8 kHz, 30 ms / 20 ms
FRAMES = 1 + (PARAMS.rate_hz - PARAMS.window) // PARAMS.hop  # 49
MEL_BANDS = PARAMS.n_bands  # 40
COEFFS = 10
BANDS = COEFFS  # the model input's width
HOP_SAMPLES = PARAMS.hop  # 320 (20 ms)
CLIP_SAMPLES = PARAMS.rate_hz  # 1 s at 16 kHz
RANGE_DB = 70.0
SCALE_DB = np.array([204.0, 92.0, 54.0, 47.0, 50.0, 42.0, 35.0, 30.0, 27.0, 25.0], np.float32)
MEAN_CODE = 128


def _dct_matrix(n_in: int = MEL_BANDS, n_out: int = COEFFS) -> np.ndarray:
    """Orthonormal DCT-II rows: D[k, j] = sqrt(2/n)·cos(π k (j + ½)/n), row 0 scaled by 1/√2."""
    k, j = np.arange(n_out)[:, None], np.arange(n_in)[None, :]
    d = np.sqrt(2.0 / n_in) * np.cos(np.pi / n_in * (j + 0.5) * k)
    d[0] /= np.sqrt(2.0)
    return d.astype(np.float32)


DCT = _dct_matrix()


def normalize(mel_db: np.ndarray) -> np.ndarray:
    """uint8 (..., FRAMES, COEFFS, 1) from log-mel windows (..., FRAMES, MEL_BANDS) dBFS (module doc)."""
    mel = np.asarray(mel_db, np.float32)
    peak = mel.max(axis=(-2, -1), keepdims=True)
    mel = np.maximum(mel, peak - RANGE_DB)
    c = mel @ DCT.T
    d = c - c.mean(axis=-2, keepdims=True)
    q = np.clip(np.round(MEAN_CODE + d * (127.0 / SCALE_DB)), 0, 255)
    return q.astype(np.uint8)[..., None]


def clip_mel(x_16k: np.ndarray) -> np.ndarray:
    """Log-mel (FRAMES, MEL_BANDS) of one second of 16 kHz mono (zero-padded or cut)."""
    x = np.zeros(CLIP_SAMPLES, np.float32)
    src = np.asarray(x_16k, np.float32).reshape(-1)[:CLIP_SAMPLES]
    x[: src.size] = src
    return logmel(x, PARAMS)


def clip_features(x_16k: np.ndarray) -> np.ndarray:
    """The uint8 (FRAMES, BANDS, 1) model input of one 1-s clip (longer clips are cut, see
    `app.classify_audio` for centring a word)."""
    return normalize(clip_mel(x_16k))


def batch_features(audio: np.ndarray) -> np.ndarray:
    """uint8 (n, FRAMES, BANDS, 1) of n clips (n, samples), int16 (full scale 32768) or float."""
    a = np.asarray(audio)
    scale = 1.0 / 32768.0 if a.dtype == np.int16 else 1.0
    return np.stack([clip_features(row.astype(np.float32) * scale) for row in a]) if len(a) else \
        np.zeros((0, FRAMES, BANDS, 1), np.uint8)


def window_features(mel_db: np.ndarray, hop_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs of every 1-s window of a recording's log-mel frames (n, MEL_BANDS), one window
    every `hop_frames` frames; returns (uint8 (w, FRAMES, BANDS, 1), first frame index (w,))."""
    mel = np.asarray(mel_db, np.float32)
    if mel.shape[0] < FRAMES:
        pad = np.full((FRAMES - mel.shape[0], mel.shape[1]), PARAMS.floor_db, np.float32)
        mel = np.concatenate([mel, pad])
    starts = np.arange(0, mel.shape[0] - FRAMES + 1, max(1, int(hop_frames)))
    windows = np.lib.stride_tricks.sliding_window_view(mel, (FRAMES, mel.shape[1]))[:, 0][starts]
    return normalize(windows), starts
