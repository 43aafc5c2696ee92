"""Statistics after inference: per-layer activity, sparsity and (when enabled) estimated power.

`report(model)` reads only `model.statistics` (the `Activity` the executor stores after every
forward) and `model.mapping`. Power figures appear when `device.soc.power_measurement_enabled`
was true when the model was mapped, as in MetaTF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from akida_edge.engine.power import PowerReport, power_report
from akida_edge.errors import ModelError


@dataclass(frozen=True)
class LayerStatistics:
    name: str
    kind: str
    nps: int | None  # None: not mapped; 0: input layer ("N/A")
    input_events: float  # per sample
    synaptic_ops: float
    output_events: float
    input_sparsity: float  # share of zero inputs, 0 = dense, 1 = silent
    output_sparsity: float


@dataclass(frozen=True)
class ModelStatistics:
    samples: int
    seconds: float  # host wall time of the forward (measured)
    layers: tuple[LayerStatistics, ...]
    power: PowerReport | None

    @property
    def inference_rate_hz(self) -> float | None:
        return self.samples / self.seconds if self.seconds > 0 else None

    def __str__(self) -> str:
        lines = [f"{'layer':<20} {'NPs':>4} {'in events':>11} {'syn. ops':>12} {'out events':>11} "
                 f"{'in sparsity':>11}"]
        for s in self.layers:
            nps = "-" if s.nps is None else ("N/A" if s.nps == 0 else str(s.nps))
            lines.append(f"{s.name:<20} {nps:>4} {s.input_events:>11.1f} {s.synaptic_ops:>12.1f} "
                         f"{s.output_events:>11.1f} {s.input_sparsity:>11.3f}")
        lines.append(f"{self.samples} sample(s) per call, per-sample figures")
        if self.power is not None:
            p = self.power
            rate = f" at {p.inference_rate_hz:.1f} inferences/s" if p.inference_rate_hz else ""
            lines.append(
                f"power (estimated, chip){rate}: static {p.static_mw:.1f} mW, dynamic "
                f"{p.dynamic_mw:.2f} mW, total {p.total_mw:.1f} mW; {p.energy_uj_per_inference:.2f} "
                f"µJ/inference ({p.dynamic_uj_per_inference:.2f} µJ dynamic)")
        return "\n".join(lines)


def report(model: Any, rate_hz: float | None = None) -> ModelStatistics:
    """Combine the last forward's activity with the mapping and, if enabled, the power model.

    `rate_hz` overrides the inference rate used for power (default: the host rate measured for
    the last forward, samples / seconds)."""
    act = model.statistics
    if act is None:
        raise ModelError("the model has no statistics yet; run model.forward(x) first")
    mapping = getattr(model, "mapping", None) if model.device is not None else None
    n = max(act.samples, 1)
    rows = []
    for la in act.layers:
        nps = None
        if mapping is not None:
            try:
                nps = len(mapping.layer(la.name).nps)
            except KeyError:
                nps = None
        out_sparsity = 1.0 - la.output_events / (n * la.output_size) if la.output_size else 0.0
        rows.append(LayerStatistics(la.name, la.kind, nps, la.input_events / n, la.synaptic_ops / n,
                                    la.output_events / n, la.input_sparsity(n), out_sparsity))
    power = None
    if mapping is not None and mapping.power_measurement:
        rate = rate_hz if rate_hz is not None else (act.samples / act.seconds if act.seconds > 0 else None)
        power = power_report(mapping, act, rate)
    return ModelStatistics(samples=act.samples, seconds=act.seconds, layers=tuple(rows), power=power)
