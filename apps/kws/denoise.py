"""Per-clip noise-robust steps for the keyword input: mel spectral subtraction and CMVN (session 10).

Both act on one window at a time (the 49 frames of `features.FRAMES`), are deterministic and cost
a few microseconds per clip on the host; the chip still sees the 49 × 10 uint8 input.

**Spectral subtraction in the mel domain** (Berouti, Schwartz & Makhoul, "Enhancement of speech
corrupted by acoustic noise", ICASSP 1979; applied to mel filter-bank energies as in the ETSI
advanced front-end, ES 202 050). With P[t, b] = 10^(L[t, b]/10) the power of mel band b in frame
t (L in dBFS), the noise power of each band is estimated from the clip itself as the mean power of
its quietest frames (the `quiet` fraction of the frames, at least one, ranked per band; a one-clip
form of the minimum-statistics idea of Martin, IEEE Trans. Speech Audio Proc. 9(5), 2001, without
its bias compensation, which the over-subtraction factor absorbs):

    N[b] = mean of the ⌈quiet · T⌉ smallest P[·, b]
    S[t, b] = P[t, b] − α · N[b]   if that exceeds β · N[b],   else β · N[b]

α > 1 over-subtracts (the noise power of a frame fluctuates about N), β sets the residual floor
(β · N, −13 dB for β = 0.05, which masks the "musical" residue). The result is returned in dB.
A clean clip's quiet frames are at the log-mel floor (digital silence, −100 dBFS), so its speech
frames are changed by a negligible amount; a stationary noise's frames drop to β · N.

**Cepstral mean and variance normalization** (Viikki & Laurila, "Cepstral domain segmental
feature vector normalization for noise robust speech recognition", Speech Communication 25, 1998):

    d[t, k] = (c[t, k] − mean_t c[·, k]) / max(std_t c[·, k], σ_min)

per utterance (here: per 1-s window) and per coefficient. The mean removes a fixed channel; the
variance term undoes the compression of the cepstral dynamics that additive noise causes (noise
fills the valleys, so the coefficients vary less over time). σ_min (dB) keeps a constant window
(digital silence) at zero instead of dividing by zero.
"""

from __future__ import annotations

import numpy as np

ALPHA = 2.0
BETA = 0.05
QUIET = 0.2
SIGMA_MIN_DB = 1.0


def noise_power(power: np.ndarray, quiet: float = QUIET) -> np.ndarray:
    """Per-band noise power (..., 1, bands): the mean of the ⌈quiet·T⌉ smallest powers over frames.

    Parameters
    ----------
    power : (..., T, bands) linear power.
    quiet : fraction of the T frames taken as noise-only, in (0, 1].
    """
    if not 0.0 < quiet <= 1.0:
        raise ValueError(f"quiet fraction {quiet}: must be in (0, 1]")
    p = np.asarray(power, np.float64)
    n = max(1, int(np.ceil(quiet * p.shape[-2])))
    low = np.partition(p, n - 1, axis=-2)[..., :n, :]
    return low.mean(axis=-2, keepdims=True)


def spectral_subtract(mel_db: np.ndarray, alpha: float = ALPHA, beta: float = BETA,
                      quiet: float = QUIET) -> np.ndarray:
    """Log-mel (..., T, bands) dB after Berouti subtraction of the clip's own noise estimate (module doc).

    Returns float32 dB of the same shape: 10·log10(max(P − α·N, β·N)), P = 10^(L/10).
    """
    if alpha < 0 or not 0 < beta < 1:
        raise ValueError(f"spectral subtraction alpha {alpha}, beta {beta}: need alpha >= 0, 0 < beta < 1")
    p = 10.0 ** (np.asarray(mel_db, np.float64) / 10.0)
    n = noise_power(p, quiet)
    s = np.maximum(p - alpha * n, beta * n)
    return (10.0 * np.log10(s)).astype(np.float32)


def cmvn(c: np.ndarray, sigma_min: float = SIGMA_MIN_DB) -> np.ndarray:
    """Per-utterance cepstral mean and variance normalization over the frame axis (-2) (module doc).

    Parameters
    ----------
    c : (..., T, coeffs) cepstra in dB units.
    sigma_min : dB; the smallest standard deviation divided by (a constant window stays 0).
    """
    c = np.asarray(c, np.float32)
    d = c - c.mean(axis=-2, keepdims=True)
    return d / np.maximum(d.std(axis=-2, keepdims=True), np.float32(sigma_min))
