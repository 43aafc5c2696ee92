"""The event view of a feature stream: change against a per-element reference, as a DVS would.

Each element (a mel band, a vibration band on one axis) keeps a reference level in the log
domain. When the value moves at least one threshold θ above (below) the reference, the element
emits ON (OFF) events, one per whole threshold crossed, and the reference moves by that many
thresholds towards the value:

    n = trunc((v − r) / θ),   r ← r + n·θ,   |n| events of polarity sign(n).

This is the delta modulator of a silicon cochlea or of a DVS pixel (Lichtsteiner, Posch,
Delbruck, IEEE JSSC 43(2):566, 2008), and unlike a difference of consecutive frames
(snnTorch's `spikegen.delta`) it also fires on slow ramps. The first frame only sets the
reference. Events carry t (µs, the frame time), x (the global frame index), y (the band),
c (the channel or axis) and p (±1), in `akida_edge.events.EVENT_DTYPE`, ordered by frame, then
channel, then band; x wraps at 2^16 (t is the authoritative time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from akida_edge.events import EVENT_DTYPE


@dataclass(frozen=True)
class DeltaParams:
    """`threshold` θ in the feature's unit (dB for log energies) and a cap on events per element
    per frame (`max_events`, 0 = no cap; a cap lets the reference lag behind and catch up later)."""

    threshold: float = 2.0
    max_events: int = 0

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise ValueError(f"delta threshold must be > 0, got {self.threshold}")


@dataclass(frozen=True)
class DeltaState:
    """Reference per (channel, band); None until the first frame."""

    ref: np.ndarray | None = None


def delta_step(
    values: np.ndarray, t_us: np.ndarray, x0: int, state: DeltaState, params: DeltaParams
) -> tuple[np.ndarray, DeltaState]:
    """Events of frames `values` (n_frames, n_channels, n_bands) at times `t_us` (n_frames,).

    `x0` is the global index of the first frame (it becomes the event's x).
    """
    if values.ndim == 2:
        values = values[:, None, :]
    n_frames, n_ch, n_bands = values.shape
    ref = state.ref
    parts: list[np.ndarray] = []
    theta = float(params.threshold)
    for i in range(n_frames):
        v = values[i].astype(np.float64)
        if ref is None:
            ref = v.copy()
            continue
        n = np.trunc((v - ref) / theta).astype(np.int64)
        if params.max_events:
            np.clip(n, -params.max_events, params.max_events, out=n)
        ref = ref + n * theta
        count = np.abs(n).ravel()
        total = int(count.sum())
        if total == 0:
            continue
        flat = np.repeat(np.arange(count.size), count)
        ev = np.zeros(total, EVENT_DTYPE)
        ev["t"] = int(t_us[i])
        ev["x"] = (x0 + i) & 0xFFFF
        ev["c"] = flat // n_bands
        ev["y"] = flat % n_bands
        ev["p"] = np.sign(n.ravel()[flat])
        parts.append(ev)
    events = np.concatenate(parts) if parts else np.zeros(0, EVENT_DTYPE)
    return events, DeltaState(ref)
