"""Encoders: frames or feature maps -> events or input tensors.

- `dvs`: the event-camera emulator (`DvsParams`, `DvsState`, `DvsEmulator`, `dvs_step`), with its
  NumPy twin in `dvs_numpy`;
- `roc`: rank order coding of events (`rank_events`) or feature maps (`rank_features`).
"""

from akida_edge.encoders.dvs import PRESETS, DvsEmulator, DvsParams, DvsState, dvs_step, init_state
from akida_edge.encoders.roc import RocParams, rank_events, rank_features, rank_values

__all__ = [
    "PRESETS", "DvsEmulator", "DvsParams", "DvsState", "dvs_step", "init_state",
    "RocParams", "rank_events", "rank_features", "rank_values",
]
