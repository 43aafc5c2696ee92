"""Per-layer activity of an inference: what the power model and the telemetry consume.

The executor (`execute.py`) fills one `LayerActivity` per layer for every `forward`, summed over
the batch; `Model.statistics` holds the latest `Activity`. Definitions (per sample, summed over
the batch):

- `input_events`: non-zero input values of the layer (an event is a non-zero value);
- `synaptic_ops`: multiply-accumulates the event-driven hardware performs, i.e. for every input
  event its fan-out (the (output position, output channel) pairs whose receptive field holds it);
  separable layers count depthwise fan-out plus pointwise fan-out of the non-zero depthwise sums;
- `output_events`: non-zero outputs after activation (and pooling); for a last layer without
  activation, its non-zero potentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LayerActivity:
    name: str
    kind: str
    input_size: int  # values per sample at the layer's input (H·W·C)
    output_size: int  # values per sample at its output
    input_events: int = 0
    synaptic_ops: int = 0
    output_events: int = 0

    def input_sparsity(self, samples: int) -> float:
        """Share of zero inputs (0 = dense, 1 = silent)."""
        if samples <= 0 or self.input_size <= 0:
            return 0.0
        return 1.0 - self.input_events / (samples * self.input_size)


@dataclass
class Activity:
    samples: int = 0
    layers: list[LayerActivity] = field(default_factory=list)
    seconds: float = 0.0  # host wall time of the forward

    @property
    def synaptic_ops(self) -> int:
        return sum(layer.synaptic_ops for layer in self.layers)

    @property
    def events(self) -> int:
        return sum(layer.input_events for layer in self.layers)

    def per_sample(self) -> dict[str, float]:
        n = max(self.samples, 1)
        return {"events": self.events / n, "synaptic_ops": self.synaptic_ops / n}
