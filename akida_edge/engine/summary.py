"""`summary(model)`: a text table of the model and of its fit on the AKD1000."""

from __future__ import annotations

from typing import Any

from akida_edge.engine import layers as L
from akida_edge.engine.device import AKD1000
from akida_edge.engine.mapping import layer_nps, plan
from akida_edge.engine.modelfile import model_hash
from akida_edge.errors import MappingError


def parameter_count(layer: Any) -> int:
    """Weights of a layer (thresholds and act_steps not counted, as in Keras' weight counts)."""
    return sum(v.size for k, v in layer.variables.items() if k.startswith("weights"))


def _bits(spec: L.LayerSpec) -> str:
    if isinstance(spec, L.InputData):
        return f"in {spec.input_bits}"
    act = str(spec.act_bits) if spec.activation else "-"
    return f"w {spec.weights_bits} / a {act}"


def summary(model: Any, device: Any = None) -> str:
    """Layers, kinds, output shapes, parameters, bit widths, NPs (of the device's) and SRAM."""
    if not model.layers:
        return "empty model (no layers)"
    device = device if device is not None else (model.device or AKD1000())
    mapping, violations = None, []
    try:
        # planned afresh: variables may have changed since map(); same device and mode
        previous = getattr(model, "mapping", None)
        mapping = plan(model, device, mode=previous.mode if previous is not None else "minimal")
    except MappingError as exc:
        lines_ = str(exc).splitlines()
        violations = [f"  - {line.lstrip(' -')}" for line in (lines_[1:] or lines_)]
    nw = max(18, *(len(layer.name) for layer in model.layers))
    header = f"{'layer':<{nw}} {'kind':<23} {'output':<14} {'params':>9} {'bits':<10} {'NPs':>4}"
    lines = [header, "-" * len(header)]
    total = 0
    for layer in model.layers:
        n_params = parameter_count(layer)
        total += n_params
        if mapping is not None:
            nps = len(mapping.layer(layer.name).nps)
        else:
            nps = layer_nps(layer)[0]
        nps_s = "N/A" if layer.spec.is_input else str(nps)
        shape = "×".join(str(v) for v in layer.output_shape)
        lines.append(f"{layer.name:<{nw}} {layer.spec.kind:<23} {shape:<14} {n_params:>9} "
                     f"{_bits(layer.spec):<10} {nps_s:>4}")
    lines.append("-" * len(header))
    lines.append(f"parameters: {total}   content sha256: {model_hash(model)[:16]}")
    if mapping is not None:
        seq = len(mapping.sequences)
        lines.append(
            f"{device.name}: {mapping.np_count} of {device.np_count} NPs ({mapping.mode} mapping, "
            f"{seq} sequence{'s' if seq > 1 else ''}), SRAM {mapping.sram_bytes / 1024:.1f} KB of "
            f"{device.sram_bytes // 2**20} MB"
            + (f", external memory {mapping.external_bytes / 1024:.1f} KB" if mapping.external_bytes
               else ""))
    else:
        lines.append(f"does NOT fit the {device.name}: {len(violations)} problem(s)")
        lines += violations
    return "\n".join(lines)
