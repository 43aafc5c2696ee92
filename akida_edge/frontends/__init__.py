"""Front-ends: sensor chunks to feature frames (DESIGN.md §2).

Each is a pure step function ``step(x, state, params) -> (features, state)`` with frozen params
and immutable state, streaming with state carried across blocks and equal to processing the whole
signal at once:

* `audio` — 16 kHz framing, log-mel (KWS 49×10), the DS-CNN uint8 input, and the event view;
* `vibration` — windowed and envelope spectra in bands, RMS, kurtosis, crest factor, event view;
* `video` — grey frames at a target rate for the event-camera emulator;
* `delta` — the shared event view (change against a per-element reference);
* `framing`, `resample` — the streaming building blocks.
"""
