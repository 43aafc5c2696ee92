"""Mapping a model onto the AKD1000: hardware limits, NPs per layer, SRAM, sequences.

`map_model` first runs every hardware check (`limits.check`) and raises one `MappingError` listing
all violations; then it sizes each layer with the capacity model below and places it on NPs of the
right type, in layer order, opening a new *sequence* (a further pass over the chip) when the free
NPs run out.

Capacity model. BrainChip does not publish per-NP capacity, only NP counts (akida-facts §4.3, §5.1).
A convolutional layer needs

    NPs = max( ceil(W_in / WIDTH_PER_NP),                              input columns
               ceil(H_in·W_in·C_in / INPUTS_PER_NP + H_o·W_o·F / OUTPUTS_PER_NP),   map sizes
               ceil(weight_bits / WEIGHT_BITS_PER_NP) )                  weight memory

where H_o·W_o·F is the convolution output before pooling. The four constants are calibrated on
the published Minimal NP counts of AkidaNet (α 0.25/0.5/1.0 at 160/224, VWW 0.25@96), DS-CNN KWS,
GXNOR MNIST and Convtiny CWRU, and the per-layer counts of AkidaNet 0.5@224 (docs/mapping.md has
the table and the arithmetic): all land exactly except AkidaNet 1.0 (65 vs 68 at 160; 81 vs 116
at 224, which needs several passes). The input layer (InputConvolutional) runs in the input conversion
complex and uses no NP ("N/A" in MetaTF's tables). A FullyConnected layer takes FNPs, one per
`UNITS_PER_FNP` units; weights beyond an FNP's share of SRAM are counted as external memory, as
MetaTF reports for AkidaNet.

NP types (assumption, the suffix meanings are not public): Convolutional → CNP1,
SeparableConvolutional → CNP2 (falling back to CNP1), FullyConnected → FNP3 then FNP2.
SRAM per layer = packed weights + per-channel threshold and act_step + the input line buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from akida_edge.engine import layers as L
from akida_edge.engine.device import AKD1000, NP, Device
from akida_edge.engine.limits import Violation, check
from akida_edge.errors import MappingError

__all__ = ["LayerMapping", "Mapping", "Violation", "check", "layer_nps", "map_model", "plan"]

WIDTH_PER_NP = 32  # input columns one CNP handles (fits VWW 16, AkidaNet 0.25@160/224 20/22 exactly)
INPUTS_PER_NP = 86_016  # input values (H·W·C) per CNP (84 Ki; AkidaNet 0.5@224 conv_1..sep_7)
OUTPUTS_PER_NP = 327_680  # convolution outputs (H·W·F) per CNP (320 Ki), ≈ a quarter of the input cost
WEIGHT_BITS_PER_NP = 294_912  # 36 KB of weights per CNP (AkidaNet 0.5 sep_7 1 NP, sep_13 4 NPs)
UNITS_PER_FNP = 1024  # FullyConnected units per FNP (1000-way classifiers use 1)
NP_SRAM_BYTES = 8 * 1024 * 1024 // 80  # even split of the 8 MB over 80 NPs [derived, unverified]
CHANNEL_VARIABLE_BYTES = 5  # 20-bit threshold + 16-bit act_step, packed, per output channel
MODES = ("minimal", "all_nps")

_TYPES = {
    "Convolutional": ("CNP1",),
    "SeparableConvolutional": ("CNP2", "CNP1"),
    "FullyConnected": ("FNP3", "FNP2"),
}


@dataclass(frozen=True)
class LayerMapping:
    """Where one layer runs: its NPs (empty for the input layer), their type and its memory."""

    name: str
    kind: str
    nps: tuple[NP, ...]
    np_type: str | None
    sequence: int
    weight_bytes: int
    buffer_bytes: int
    external_bytes: int = 0
    bound: str = ""  # which capacity term decided the NP count

    @property
    def sram_bytes(self) -> int:
        return self.weight_bytes + self.buffer_bytes - self.external_bytes


@dataclass(frozen=True)
class Mapping:
    """The result of `map_model`: per-layer placement, sequences and totals."""

    device: Device
    mode: str
    layers: tuple[LayerMapping, ...]
    power_measurement: bool = False
    sequences: tuple[tuple[str, ...], ...] = field(default=())

    @property
    def np_count(self) -> int:
        return sum(len(m.nps) for m in self.layers)

    @property
    def sram_bytes(self) -> int:
        return sum(m.sram_bytes for m in self.layers)

    @property
    def external_bytes(self) -> int:
        return sum(m.external_bytes for m in self.layers)

    def layer(self, name: str) -> LayerMapping:
        for m in self.layers:
            if m.name == name:
                return m
        raise KeyError(name)


def _conv_out(layer: Any) -> tuple[int, int]:
    spec = layer.spec
    h, w, _ = layer.input_shape
    oh = L.conv_output_size(h, spec.kernel_size[0], spec.kernel_stride[0], spec.padding)[0]
    ow = L.conv_output_size(w, spec.kernel_size[1], spec.kernel_stride[1], spec.padding)[0]
    return oh, ow


def weight_bits(layer: Any) -> int:
    """Bits of all weights of a layer (packed at its weights_bits)."""
    return sum(v.size for k, v in layer.variables.items() if k.startswith("weights")) * \
        layer.spec.weights_bits


def layer_nps(layer: Any) -> tuple[int, str]:
    """NPs a layer needs under the capacity model, and which term decided it."""
    spec = layer.spec
    if spec.is_input:
        return 0, "input layer (N/A)"
    if isinstance(spec, L.FullyConnected):
        return math.ceil(spec.units / UNITS_PER_FNP), "units"
    h, w, c = layer.input_shape
    oh, ow = _conv_out(layer)
    terms = {
        "input width": math.ceil(w / WIDTH_PER_NP),
        "map size": math.ceil(h * w * c / INPUTS_PER_NP + oh * ow * spec.filters / OUTPUTS_PER_NP),
        "weights": math.ceil(weight_bits(layer) / WEIGHT_BITS_PER_NP),
    }
    bound = max(terms, key=lambda k: terms[k])
    return terms[bound], bound


def _memory(layer: Any, prev_bits: int) -> tuple[int, int]:
    """(weight bytes, buffer bytes): packed weights; channel variables and input line buffer."""
    spec = layer.spec
    if isinstance(spec, L.InputData):
        return 0, 0
    w_bytes = math.ceil(weight_bits(layer) / 8)
    h, w, c = layer.input_shape
    if isinstance(spec, L.FullyConnected):
        line = h * w * c
    else:
        line = spec.kernel_size[0] * w * c  # kernel-height rows of the input
    buf = math.ceil(line * prev_bits / 8) + CHANNEL_VARIABLE_BYTES * spec.filters
    return w_bytes, buf


def map_model(model: Any, device: Device | None = None, hw_only: bool = False,
              mode: str = "minimal") -> Mapping:
    """Check `model` against the AKD1000 and place it; sets `model.device` and `model.mapping`.

    Raises `MappingError` listing every violated limit (first line a summary), when `hw_only` and
    the model needs more than one sequence, or for an unknown `mode`."""
    mapping = plan(model, device, hw_only=hw_only, mode=mode)
    model.device = mapping.device
    model.mapping = mapping
    return mapping


def plan(model: Any, device: Device | None = None, hw_only: bool = False,
         mode: str = "minimal") -> Mapping:
    """`map_model` without touching the model (for summaries and `model check`)."""
    device = device if device is not None else AKD1000()
    if mode not in MODES:
        raise MappingError(f"map mode {mode!r} is not supported; use one of {', '.join(MODES)}")
    if not model.layers:
        raise MappingError("the model has no layers; add an input layer before mapping")
    violations = check(model, device.hw_version)
    if violations:
        lines = [f"the model breaks {len(violations)} AKD1000 hardware limit(s); fix them to map it:"]
        lines += [f"  - {v}" for v in violations]
        raise MappingError("\n".join(lines))
    placed = _place(model, device, mode)
    n_seq = max((m.sequence for m in placed), default=0) + 1
    if hw_only and n_seq > 1:
        raise MappingError(
            f"the model needs {sum(len(m.nps) for m in placed)} NPs in {n_seq} sequences, more than "
            f"one pass of the {device.np_count} NPs; map with hw_only=False or make it smaller"
        )
    sequences = tuple(tuple(m.name for m in placed if m.sequence == s) for s in range(n_seq))
    mapping = Mapping(device=device, mode=mode, layers=tuple(placed),
                      power_measurement=bool(device.soc.power_measurement_enabled),
                      sequences=sequences)
    sram = mapping.sram_bytes
    if sram > device.sram_bytes:
        raise MappingError(
            f"the model needs {sram} bytes of SRAM, more than the {device.sram_bytes} of the "
            f"{device.name}; use fewer filters or lower bit widths"
        )
    return mapping


def _place(model: Any, device: Device, mode: str) -> list[LayerMapping]:
    free = list(device.nps)
    sequence = 0
    out: list[LayerMapping] = []
    needs = []
    prev_bits = 8
    for layer in model.layers:
        n, bound = layer_nps(layer)
        needs.append((layer, n, bound, _memory(layer, prev_bits)))
        prev_bits = layer.spec.input_bits if layer.spec.is_input else layer.spec.act_bits
    for layer, n, bound, (w_bytes, buf) in needs:
        types = _TYPES.get(layer.spec.kind, ())
        if n == 0:
            out.append(LayerMapping(layer.name, layer.spec.kind, (), None, sequence, w_bytes, buf,
                                    bound=bound))
            continue
        fallback = sum(any(t in np_.types for t in types) for np_ in device.nps)
        if n > fallback:
            raise MappingError(
                f"layer {layer.name!r} needs {n} NPs ({bound}), more than the {fallback} NPs of type "
                f"{'/'.join(types)} of the {device.name}; split it into smaller layers"
            )
        got = _take(free, types, n)
        if got is None:  # chip full: a new sequence (another pass) starts with every NP free
            sequence += 1
            free = list(device.nps)
            got = _take(free, types, n)
            assert got is not None
        ext = 0
        if isinstance(layer.spec, L.FullyConnected):
            ext = max(0, w_bytes - n * NP_SRAM_BYTES)
        out.append(LayerMapping(layer.name, layer.spec.kind, tuple(got[0]), got[1], sequence,
                                w_bytes, buf, ext, bound))
    if mode == "all_nps":
        out = _spread(out, free, model)
    return out


def _take(free: list[NP], types: tuple[str, ...], n: int) -> tuple[list[NP], str] | None:
    """Take `n` free NPs able to play one of `types`: earlier types first, then NPs with the fewest
    other roles, then addresses.

    Returns the NPs and the role(s) they play ("CNP2", or "FNP3+FNP2" when mixed)."""
    def role(np_: NP) -> str:
        return next(t for t in types if t in np_.types)

    wanted = set(types)

    def spare(np_: NP) -> tuple[int, int]:  # FNPs are scarce (22 of 78): keep them for FC layers
        others = np_.types - wanted
        return (sum(t.startswith("FNP") for t in others), len(others))

    able = sorted((np_ for np_ in free if any(t in np_.types for t in types)),
                  key=lambda np_: (types.index(role(np_)), *spare(np_)))
    if len(able) < n:
        return None
    pick = able[:n]
    for np_ in pick:
        free.remove(np_)
    roles = list(dict.fromkeys(role(np_) for np_ in pick))
    return pick, "+".join(roles)


def _spread(placed: list[LayerMapping], free: list[NP], model: Any) -> list[LayerMapping]:
    """AllNps-like: give the spare NPs of the last sequence to its busiest convolutional layers
    (largest input values per NP first), for throughput."""
    last = max(m.sequence for m in placed)
    load = {layer.name: math.prod(layer.input_shape) for layer in model.layers}
    placed = list(placed)
    while True:
        cands = [(load[m.name] / len(m.nps), i) for i, m in enumerate(placed)
                 if m.sequence == last and m.nps and m.np_type and m.np_type.startswith("CNP")
                 and any(t in np_.types for np_ in free for t in m.np_type.split("+"))]
        if not cands:
            return placed
        _, i = max(cands)
        m = placed[i]
        extra = next(np_ for np_ in free if any(t in np_.types for t in m.np_type.split("+")))
        free.remove(extra)
        placed[i] = LayerMapping(m.name, m.kind, m.nps + (extra,), m.np_type, m.sequence,
                                 m.weight_bytes, m.buffer_bytes, m.external_bytes, "all_nps spread")
