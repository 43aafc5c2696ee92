"""Counter-based uniform random numbers shared by the numba kernels and their NumPy twins.

A uniform u in [0, 1) is a pure function of (seed, frame, pixel, stream): the SplitMix64 finaliser
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators", OOPSLA) applied to a
Weyl-style mix of the four counters, keeping the top 53 bits. No state advances, so results do not
depend on the order pixels are visited, on how frames are chunked, or on which implementation
(numba or NumPy) computes them: the same idea as the counter-based RNG of eventcv-core
(see shared/reference/encoders-and-peers.md §1.6). All arithmetic is uint64 and wraps on purpose.
"""

from __future__ import annotations

import numpy as np

from akida_edge.numba_config import kernel

_K_FRAME = np.uint64(0x9E3779B97F4A7C15)
_K_PIXEL = np.uint64(0xD1B54A32D192ED03)
_K_STREAM = np.uint64(0x8CB92BA72F3D8DD7)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2^-53

# Streams: one per independent use, so draws never collide.
STREAM_LEAK = 0
STREAM_SHOT = 1
STREAM_SHOT_TIME = 2
STREAM_SHOT_POLARITY = 3


@kernel()
def uniform(seed: np.uint64, frame: np.uint64, pixel: np.uint64, stream: np.uint64) -> float:
    """u in [0, 1) from the four counters (numba; all arguments uint64)."""
    x = seed + frame * _K_FRAME + pixel * _K_PIXEL + stream * _K_STREAM
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    x = x ^ (x >> _S31)
    return float(x >> _S11) * _TWO_M53


def uniform_np(seed: int, frame: int, pixel: np.ndarray, stream: int) -> np.ndarray:
    """NumPy twin of `uniform` over an array of pixel indices (bit-identical results)."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed) + np.uint64(frame) * _K_FRAME + np.uint64(stream) * _K_STREAM
             + pixel.astype(np.uint64) * _K_PIXEL)
        x = (x ^ (x >> _S30)) * _M1
        x = (x ^ (x >> _S27)) * _M2
        x = x ^ (x >> _S31)
    return (x >> _S11).astype(np.float64) * _TWO_M53


def mix_seed(seed: int) -> np.uint64:
    """A well-spread 64-bit key from any integer seed (SplitMix64 finaliser of the seed)."""
    x = np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> _S30)) * _M1
        x = (x ^ (x >> _S27)) * _M2
        x = x ^ (x >> _S31)
    return np.uint64(x[0])
