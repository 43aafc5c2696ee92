"""Streaming framing: cut a sample stream into overlapping windows, the same wherever blocks end.

`frame_step(x, state, window, hop)` appends a block to the carried samples and returns every
complete window; the samples a later window still needs stay in the state. Feeding a signal in
any block sizes gives exactly the windows of feeding it at once (the property the front-end tests
check): window i covers samples [i·hop, i·hop + window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameState:
    """Samples carried over (n, channels) and the number of windows already emitted."""

    carry: np.ndarray
    n_done: int = 0


def frame_init(n_channels: int, dtype: np.dtype | type = np.float32) -> FrameState:
    return FrameState(np.zeros((0, n_channels), dtype), 0)


def frame_step(x: np.ndarray, state: FrameState, window: int, hop: int) -> tuple[np.ndarray, FrameState]:
    """Complete windows of ``concat(carry, x)``.

    Parameters
    ----------
    x : np.ndarray
        New samples, (n,) or (n, channels).
    state : FrameState
        From `frame_init` or the previous call.
    window, hop : int
        Window length and hop in samples, 1 <= hop <= window.

    Returns
    -------
    frames : np.ndarray
        (n_frames, window, channels), a copy.
    state : FrameState
        Carries the samples from the first window not yet complete.
    """
    if not 1 <= hop <= window:
        raise ValueError(f"framing needs 1 <= hop <= window, got hop {hop}, window {window}")
    if x.ndim == 1:
        x = x[:, None]
    buf = np.concatenate([state.carry, x.astype(state.carry.dtype, copy=False)], axis=0)
    n = buf.shape[0]
    n_frames = 0 if n < window else 1 + (n - window) // hop
    if n_frames:
        frames = np.stack([buf[i * hop : i * hop + window] for i in range(n_frames)])
    else:
        frames = np.zeros((0, window, buf.shape[1]), buf.dtype)
    keep_from = min(n_frames * hop, n)
    return frames, FrameState(buf[keep_from:].copy(), state.n_done + n_frames)
