"""Akida 1.0 hardware limits of the AKD1000 (`reference/akida-facts.md` §1.3), as a list of checks.

`check(model)` returns every `Violation`; it never raises for a model the software can run. Sources:
the Akida 1.0 hardware page (`doc/user_guide/hardware/1.0.rst`), the older constraints page and
compatibility checker (noted "older"), and cnn2snn's model rules. Where the sources disagree, the
rule follows what published AKD1000 zoo models prove runs on the chip (docs/mapping.md):

- InputConvolutional weights: the current page says 8 bits, the older page 1, 2, 4 or 8; GXNOR
  MNIST ("2/2/1", 2-bit input-layer weights) maps on the AKD1000, so 2, 4 and 8 are allowed
  (1-bit weights are for learning layers only).
- FullyConnected input: the current page says H = W = 1; cnn2snn converts Flatten→Dense and GXNOR
  MNIST's FullyConnected reads a 7×7×64 map on the AKD1000, so only the flattened size H·W·C ≤ 57 334
  is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from akida_edge.engine import layers as L

FC_MAX_INPUTS = 57_334  # FullyConnected H·W·C (current page; the older NSoC doc gave 81 920)
THRESHOLD_BITS = 20  # signed, Conv/Separable/FullyConnected (compatibility checker)
THRESHOLD_BITS_INPUT = 24  # signed, InputConvolutional
ACT_STEP_MAX = 65535 / 16
IN_BITS = (1, 2, 4)  # activations entering a non-input layer
ACT_BITS = (1, 2, 4)
# InputConvolutional maximum filters by (input channels, kernel size) (hardware page table)
INPUT_CONV_MAX_FILTERS = {(1, 3): 512, (1, 5): 192, (1, 7): 96, (3, 3): 192, (3, 5): 64, (3, 7): 32}
INPUT_CONV_MAX_WIDTH = 256
INPUT_CONV_MIN_SIZE = 5
CONV_MAX_HW = 4096
CONV_MAX_CHANNELS = 2048
GAP_MAX_HEIGHT = 32
GAP_MIN_ROWS = 3


@dataclass(frozen=True)
class Violation:
    """One broken limit: which layer, which parameter, its value and what the chip allows."""

    layer: str
    parameter: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return f"layer {self.layer!r}: {self.parameter}={_fmt(self.value)} (allowed: {self.allowed})"

    def as_dict(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"layer": self.layer, "parameter": self.parameter, "value": value, "allowed": self.allowed}


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    return str(value)


def check(model: Any, hw_version: str = "NSoC_v2") -> list[Violation]:
    """Every Akida 1.0 hardware limit `model` breaks on the AKD1000, in layer order."""
    out: list[Violation] = []
    layers = model.layers
    for i, layer in enumerate(layers):
        spec = layer.spec
        nxt = layers[i + 1].spec if i + 1 < len(layers) else None
        prev = layers[i - 1].spec if i > 0 else None
        v = _Collector(spec.name, out)
        if isinstance(spec, L.InputData):
            continue
        if isinstance(spec, L.InputConvolutional):
            _input_conv(spec, layer.input_shape, v)
        elif isinstance(spec, (L.Convolutional, L.SeparableConvolutional)):
            _conv(spec, layer, v)
        elif isinstance(spec, L.FullyConnected):
            _fully_connected(spec, layer.input_shape, nxt is None, v)
        if isinstance(spec, L._Spatial) and spec.pool_type == "max":
            ok = (L.Convolutional, L.SeparableConvolutional)
            if hw_version == "NSoC_v2":
                ok = ok + (L.FullyConnected,)
            if nxt is None or not isinstance(nxt, ok):
                names = "a Convolutional or SeparableConvolutional" + (
                    " or FullyConnected" if hw_version == "NSoC_v2" else "")
                v("next layer after max pooling", nxt.kind if nxt is not None else "none (last layer)",
                  f"{names} layer")
        if prev is not None and not spec.is_input:
            in_bits = prev.input_bits if isinstance(prev, L.InputData) else prev.act_bits
            if in_bits not in IN_BITS:
                v("input bits", in_bits, _set(IN_BITS))
        if spec.act_bits not in ACT_BITS:
            v("act_bits", spec.act_bits, _set(ACT_BITS))
        _variables(layer, v)
    return out


class _Collector:
    def __init__(self, layer: str, out: list[Violation]) -> None:
        self.layer, self.out = layer, out

    def __call__(self, parameter: str, value: Any, allowed: str) -> None:
        self.out.append(Violation(self.layer, parameter, value, allowed))


def _set(values: tuple) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}"


def _input_conv(spec: L.InputConvolutional, in_shape: tuple[int, int, int], v: _Collector) -> None:
    h, w, c = in_shape
    if c not in (1, 3):
        v("input channels", c, "{1, 3}")
    if w > INPUT_CONV_MAX_WIDTH or w < INPUT_CONV_MIN_SIZE:
        v("input width", w, f"[{INPUT_CONV_MIN_SIZE}, {INPUT_CONV_MAX_WIDTH}]")
    if h < INPUT_CONV_MIN_SIZE:
        v("input height", h, f">= {INPUT_CONV_MIN_SIZE}")
    k = spec.kernel_size
    if k[0] != k[1] or k[0] not in (3, 5, 7):
        v("kernel_size", k, "3×3, 5×5 or 7×7")
    if any(s not in (1, 2, 3) for s in spec.kernel_stride):
        v("kernel_stride", spec.kernel_stride, "1, 2 or 3")
    limit = INPUT_CONV_MAX_FILTERS.get((c, k[0])) if k[0] == k[1] else None
    if limit is not None and spec.filters > limit:
        v("filters", spec.filters, f"<= {limit} for {c} input channel(s) and a {k[0]}×{k[1]} kernel")
    if spec.pool_type == "average":
        v("pool_type", "average", "none or max (no average pooling in the input layer)")
    elif spec.pool_type == "max":
        if spec.pool_size not in ((1, 2), (2, 1), (2, 2)):
            v("pool_size", spec.pool_size, "1×2, 2×1 or 2×2")
        if spec.effective_pool_stride != spec.pool_size:
            v("pool_stride", spec.effective_pool_stride, "equal to pool_size")
    if spec.weights_bits not in (2, 4, 8):
        v("weights_bits", spec.weights_bits, "{2, 4, 8} (1-bit weights only for learning layers)")


def _conv(spec: L._Spatial, layer: Any, v: _Collector) -> None:
    h, w, c = layer.input_shape
    sep = isinstance(spec, L.SeparableConvolutional)
    if h > CONV_MAX_HW or w > CONV_MAX_HW:
        v("input size", (h, w), f"height and width <= {CONV_MAX_HW}")
    if c > CONV_MAX_CHANNELS:
        v("input channels", c, f"<= {CONV_MAX_CHANNELS}")
    if sep and (h, w) == (1, 1):
        v("input size", (h, w), "larger than 1×1 for SeparableConvolutional (use FullyConnected)")
    k = spec.kernel_size
    sizes = (3, 5, 7) if sep else (1, 3, 5, 7)
    if k[0] != k[1] or k[0] not in sizes:
        v("kernel_size", k, ", ".join(f"{s}×{s}" for s in sizes))
    stride = spec.kernel_stride
    if any(s not in (1, 2) for s in stride) or stride[0] != stride[1]:
        v("kernel_stride", stride, "1 or 2")
    elif stride == (2, 2) and k != (3, 3):
        v("kernel_stride", stride, "2 only with a 3×3 kernel")
    if spec.padding != "same":
        v("padding", spec.padding, "same")
    if spec.pool_type == "max":
        if spec.pool_size != (2, 2):
            v("pool_size", spec.pool_size, "2×2")
        ps = spec.effective_pool_stride
        if ps[0] != ps[1] or ps[0] not in (1, 2):
            v("pool_stride", ps, "1 or 2 (at most pool_size)")
    elif spec.pool_type == "average":
        oh = L.conv_output_size(h, k[0], stride[0], spec.padding)[0]
        if oh > GAP_MAX_HEIGHT:
            v("global average pooling input height", oh, f"<= {GAP_MAX_HEIGHT}")
        if oh < GAP_MIN_ROWS:
            v("global average pooling input rows", oh, f">= {GAP_MIN_ROWS}")
    if spec.weights_bits not in (2, 4):  # Conv: 1-bit only for native learning, not on the chip
        what = "{2, 4}" if sep else "{2, 4} (1-bit weights only for learning layers)"
        v("weights_bits", spec.weights_bits, what)


def _fully_connected(spec: L.FullyConnected, in_shape: tuple[int, int, int], last: bool,
                     v: _Collector) -> None:
    n = int(np.prod(in_shape))
    if n > FC_MAX_INPUTS:
        v("input size", n, f"H·W·C <= {FC_MAX_INPUTS}")
    if spec.weights_bits not in (1, 2, 4):
        v("weights_bits", spec.weights_bits, "{1, 2, 4}")
    elif spec.weights_bits == 1 and not last:
        v("weights_bits", 1, "{2, 4} (1-bit weights only for the learning layer, the last one)")


def _variables(layer: Any, v: _Collector) -> None:
    bits = THRESHOLD_BITS_INPUT if isinstance(layer.spec, L.InputConvolutional) else THRESHOLD_BITS
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    t = layer.variables.get("threshold")
    if t is not None and t.size and (t.min() < lo or t.max() > hi):
        bad = int(t.min()) if t.min() < lo else int(t.max())
        v("threshold", bad, f"[{lo}, {hi}] ({bits}-bit signed)")
    s = layer.variables.get("act_step")
    if s is not None and s.size and float(s.max()) > ACT_STEP_MAX:
        v("act_step", float(s.max()), f"<= {ACT_STEP_MAX} (16-bit in 1/16 units)")
