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

`rank_band_windows` ranks an event list (the definition, on `delta_step`'s events);
`delta_rank_step`, which the two steps use, fuses the delta modulator and the ranking in one numba
pass that never builds the event list (same output; ~100x less time per block).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from akida_edge.encoders.roc import RocParams, rank_values
from akida_edge.encoders.roc_windows import dense_windows, rank_places
from akida_edge.events import RANKED_EVENT_DTYPE
from akida_edge.frontends.audio import AudioState, LogMelParams, logmel_step
from akida_edge.frontends.delta import DeltaParams, DeltaState
from akida_edge.frontends.vibration import VibrationFeatures, VibrationParams, VibrationState, vibration_step
from akida_edge.numba_config import kernel


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


@lru_cache(maxsize=32)
def _tables(params: RocParams, n_places: int) -> tuple[np.ndarray, np.ndarray]:
    """keep[m] = params.n_keep(m) and value[K, r] = rank_values(K, params)[r], for m, K <= n_places."""
    keep = np.asarray([params.n_keep(m) for m in range(n_places + 1)], np.int64)
    value = np.zeros((n_places + 1, max(n_places, 1)), np.uint8)
    for k in range(1, n_places + 1):
        value[k, :k] = rank_values(k, params)
    return keep, value


@kernel()
def _delta_rank_kernel(values, ref, theta, max_events, keep, value, t_us, x0, n_bands,
                       o_t, o_x, o_y, o_c, o_p, o_rank, o_value, dense):
    """Delta modulation (`frontends.delta.delta_step`, same float64 operations) and ROC per frame.

    values (n_frames, n_elem) float64, element e = channel·n_bands + band; ref (n_elem,) updated.
    Per frame the elements that fired (n != 0) are ranked by |n| (their event count) descending,
    ties by element order (the order of their first events in `delta_step`), a stable insertion
    sort (n_elem is small); the first keep[m] are written to the ranked columns and to `dense`
    (n_frames, n_bands, 2·channels). Returns the number of ranked events written.
    """
    n_elem = values.shape[1]
    n = np.empty(n_elem, np.int64)
    active = np.empty(n_elem, np.int64)
    j = 0
    for i in range(values.shape[0]):
        m = 0
        for e in range(n_elem):
            ne = np.int64((values[i, e] - ref[e]) / theta)  # truncation towards zero, as np.trunc
            if max_events > 0:
                ne = min(max(ne, -max_events), max_events)
            ref[e] = ref[e] + ne * theta
            n[e] = ne
            if ne != 0:
                a = abs(ne)
                pos = m
                while pos > 0 and abs(n[active[pos - 1]]) < a:
                    active[pos] = active[pos - 1]
                    pos -= 1
                active[pos] = e
                m += 1
        k = keep[m]
        for r in range(k):
            e = active[r]
            band = e % n_bands
            ch = e // n_bands
            off = 1 if n[e] < 0 else 0
            o_t[j] = t_us[i]
            o_x[j] = (x0 + i) & 0xFFFF
            o_y[j] = band
            o_c[j] = ch
            o_p[j] = -1 if off else 1
            o_rank[j] = r
            o_value[j] = value[k, r]
            dense[i, band, 2 * ch + off] = value[k, r]
            j += 1
    return j


def delta_rank_step(
    values: np.ndarray, t_us: np.ndarray, x0: int, state: DeltaState, delta: DeltaParams, roc: RocParams
) -> tuple[np.ndarray, np.ndarray, DeltaState]:
    """`delta_step` then `rank_band_windows`, fused in one numba pass without the event list.

    `values` (n_frames, n_channels, n_bands) at times `t_us`; `x0` the global index of the first
    frame. Returns (ranked, dense (n_frames, n_bands, 2·n_channels), state), equal to
    ``rank_band_windows(*delta_step(values, t_us, x0, state, delta)...)`` (tests check it).
    """
    n_frames, n_ch, n_bands = values.shape
    dense = np.zeros((n_frames, n_bands, 2 * n_ch), np.uint8)
    v = np.ascontiguousarray(values, np.float64).reshape(n_frames, n_ch * n_bands)
    ref, skip = state.ref, 0
    if ref is None:
        if n_frames == 0:
            return np.zeros(0, RANKED_EVENT_DTYPE), dense, state
        ref, skip = v[0].copy(), 1  # the first frame only sets the reference
    ref = np.array(ref, np.float64).reshape(-1)
    keep, value = _tables(roc, n_ch * n_bands)
    ranked = np.zeros((n_frames - skip) * n_ch * n_bands, RANKED_EVENT_DTYPE)
    k = _delta_rank_kernel(v[skip:], ref, float(delta.threshold), int(delta.max_events), keep, value,
                           np.asarray(t_us, np.int64)[skip:], int(x0) + skip, n_bands,
                           *(ranked[f] for f in RANKED_EVENT_DTYPE.names), dense[skip:])
    return ranked[:k].copy(), dense, DeltaState(ref.reshape(n_ch, n_bands))


def audio_roc_step(
    x: np.ndarray, t0_us: int, state: AudioState, mel: LogMelParams, delta: DeltaParams, roc: RocParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, AudioState]:
    """Mono block `x` (first sample at `t0_us`) -> (ranked, dense (n_frames, n_bands, 2), frame t_us,
    state): one ROC window per log-mel frame (hop). Same frames, times and state as
    `audio_events_step`."""
    t_start = t0_us if state.t_start_us is None else state.t_start_us
    n_before = state.frames.n_done
    frames, new = logmel_step(x, state, mel)
    idx = n_before + np.arange(frames.shape[0])
    t_us = t_start + np.round(idx * (mel.hop * 1e6 / mel.rate_hz)).astype(np.int64)  # as audio_events_step
    ranked, dense, dstate = delta_rank_step(frames[:, None, :], t_us, n_before, state.delta, delta, roc)
    return ranked, dense, t_us, replace(new, delta=dstate, t_start_us=t_start)


def vibration_roc_step(
    x: np.ndarray, t0_us: int, state: VibrationState, params: VibrationParams, delta: DeltaParams,
    roc: RocParams,
) -> tuple[np.ndarray, np.ndarray, VibrationFeatures, VibrationState]:
    """Block (n, A) -> (ranked, dense (n_windows, n_bands + n_env_bands, 2·A), features, state):
    one ROC window per feature window (spectrum and envelope bands of every axis). Same features
    and state as `vibration_events_step`."""
    n_before = state.frames.n_done
    feats, new = vibration_step(x, t0_us, state, params)
    ranked, dense, dstate = delta_rank_step(feats.bands(), feats.t_us, n_before, state.delta, delta, roc)
    return ranked, dense, feats, replace(new, delta=dstate)
