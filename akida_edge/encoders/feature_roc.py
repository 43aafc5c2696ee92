"""Audio and vibration event views through rank order coding: one window per audio hop (log-mel
frame) or per vibration block (feature window), streaming.

Each step runs the front-end's event view (`akida_edge.frontends.delta`: change in log band energy
against a reset reference, ON/OFF events, one per threshold crossed), then ranks every window's
events with `akida_edge.encoders.roc_windows.rank_places` (ROC, Thorpe & Gautrais 1998; see
`akida_edge.encoders.roc` for what is kept and the decode property). A place is a (band, tensor
channel) pair with the channel layout of `akida_edge.events.to_dense` (``2c`` ON, ``2c + 1`` OFF
for channel/axis c), so its strength is the number of thresholds the band crossed in that window.

Outputs of a step over the windows the block completes:

- ``ranked``: `RANKED_EVENT_DTYPE`, per window in rank order, each kept place's first event
  (x = global window index mod 2^16, y = band, c = channel/axis, p) with `rank` and `value`;
- ``dense``: (n_windows, n_bands, 2·channels) uint8, rows = windows in time: the values of the
  kept places, 0 elsewhere. Stacking consecutive rows gives an `InputData` tensor of shape
  (time, bands, 2·channels), e.g. 49 × 10 × 2 for one second of KWS-shaped audio.

State lives in the front-end's state (framing and delta references); the ROC is per window, so
the output does not depend on how the signal was cut into blocks (tests check it).
"""

from __future__ import annotations

import numpy as np

from akida_edge.encoders.roc import RocParams
from akida_edge.encoders.roc_windows import dense_windows, rank_places
from akida_edge.events import RANKED_EVENT_DTYPE
from akida_edge.frontends.audio import AudioState, LogMelParams, audio_events_step
from akida_edge.frontends.delta import DeltaParams
from akida_edge.frontends.vibration import (
    VibrationFeatures,
    VibrationParams,
    VibrationState,
    vibration_events_step,
)


def rank_band_windows(
    events: np.ndarray, window_t_us: np.ndarray, n_bands: int, n_channels: int, params: RocParams
) -> tuple[np.ndarray, np.ndarray]:
    """ROC of band events per window; returns (ranked events, dense (n_windows, n_bands, 2·C)).

    `events` come from `delta_step` (y = band, c = channel, t = its window's time), grouped by
    window; `window_t_us` (n_windows,) are the windows' times, strictly increasing.
    """
    window = np.searchsorted(window_t_us, events["t"])
    place = events["y"].astype(np.int64) * (2 * n_channels) + 2 * events["c"].astype(np.int64) + (
        events["p"] < 0)
    first, rank, value = rank_places(window, place, params)
    ranked = np.zeros(first.size, RANKED_EVENT_DTYPE)
    src = events[first]
    for name in ("t", "x", "y", "c", "p"):
        ranked[name] = src[name]
    ranked["rank"] = rank
    ranked["value"] = value
    dense = dense_windows(window[first], place[first], value, window_t_us.size, (n_bands, 2 * n_channels))
    return ranked, dense


def audio_roc_step(
    x: np.ndarray, t0_us: int, state: AudioState, mel: LogMelParams, delta: DeltaParams, roc: RocParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, AudioState]:
    """Mono block `x` (first sample at `t0_us`) -> (ranked, dense (n_frames, n_bands, 2), frame t_us,
    state): one ROC window per log-mel frame (hop)."""
    _, t_us, events, state = audio_events_step(x, t0_us, state, mel, delta)
    ranked, dense = rank_band_windows(events, t_us, mel.n_bands, 1, roc)
    return ranked, dense, t_us, state


def vibration_roc_step(
    x: np.ndarray, t0_us: int, state: VibrationState, params: VibrationParams, delta: DeltaParams,
    roc: RocParams,
) -> tuple[np.ndarray, np.ndarray, VibrationFeatures, VibrationState]:
    """Block (n, A) -> (ranked, dense (n_windows, n_bands + n_env_bands, 2·A), features, state):
    one ROC window per feature window (spectrum and envelope bands of every axis)."""
    feats, events, state = vibration_events_step(x, t0_us, state, params, delta)
    n_axes = feats.rms.shape[1] if feats.rms.ndim == 2 else 1
    n_bands = params.n_bands + params.n_env_bands
    ranked, dense = rank_band_windows(events, feats.t_us, n_bands, n_axes, roc)
    return ranked, dense, feats, state
