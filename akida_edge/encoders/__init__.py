"""Encoders: frames or feature maps -> events or input tensors.

- `dvs`: the event-camera emulator (`DvsParams`, `DvsState`, `DvsEmulator`, `dvs_step`), with its
  NumPy twin in `dvs_numpy`; ``log_input=True`` makes it a delta modulator for feature frames;
- `roc`: rank order coding of events (`rank_events`) or feature maps (`rank_features`);
- `roc_windows`: ROC of many windows at once (`rank_places`, `dense_windows`);
- `event_windows`: event streams (Prophesee recordings, the emulator) -> time windows -> binning
  to the model's resolution -> ROC -> (n, H, W, 2) tensors (`event_windows_step`);
- `feature_roc`: the audio and vibration event views with ROC per hop / window
  (`audio_roc_step`, `vibration_roc_step`), (time, bands, 2·channels) tensors.

A camera path, frames to the input tensor of an `InputData` layer with 4 input bits::

    emulator = DvsEmulator("clean", shape=(480, 640), seed=0)
    events = emulator.step(grey_uint8_frame, t_us)               # sorted by t
    window = slice_time(events, t_us - 33_333, t_us + 1)         # akida_edge.events
    tensor = rank_events(window, (480, 640, 2), RocParams(bits=4, keep_fraction=0.1),
                         output="dense")                          # (480, 640, 2) uint8, 0 = no event
"""

from akida_edge.encoders.dvs import PRESETS, DvsEmulator, DvsParams, DvsState, dvs_step, init_state
from akida_edge.encoders.event_windows import EventWindowParams, EventWindowState, event_windows_step
from akida_edge.encoders.feature_roc import audio_roc_step, vibration_roc_step
from akida_edge.encoders.roc import RocParams, rank_events, rank_features, rank_values

__all__ = [
    "PRESETS", "DvsEmulator", "DvsParams", "DvsState", "dvs_step", "init_state",
    "RocParams", "rank_events", "rank_features", "rank_values",
    "EventWindowParams", "EventWindowState", "event_windows_step", "audio_roc_step", "vibration_roc_step",
]
