"""Akida 1.0 layer descriptions (DESIGN.md §3): frozen, validated, computing nothing.

Names and parameters follow MetaTF (`InputData`, `InputConvolutional`, `Convolutional`,
`SeparableConvolutional`, `FullyConnected`). A description says what a layer *is*; the reference
(`reference.py`) and the kernels (`kernels.py`) say what it *does*. Validation here is about what
the software can run; whether the AKD1000 can hold it is `mapping.py`'s question.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from akida_edge.errors import ModelError

PADDINGS = ("same", "valid")
POOL_TYPES = ("none", "max", "average")
WEIGHT_BITS = (1, 2, 4, 8)
ACT_BITS = (1, 2, 4)
INPUT_BITS = (1, 2, 4, 8)


def _pair(value: Any, what: str, layer: str) -> tuple[int, int]:
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return (int(value), int(value))
    try:
        a, b = value
        return (int(a), int(b))
    except (TypeError, ValueError):
        raise ModelError(f"layer {layer!r}: {what}={value!r} must be an int or a pair of ints") from None


def _choice(value: Any, allowed: tuple, what: str, layer: str) -> None:
    if value not in allowed:
        raise ModelError(
            f"layer {layer!r}: {what}={value!r} is not supported; use one of {', '.join(map(repr, allowed))}"
        )


def _positive(value: int, what: str, layer: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelError(f"layer {layer!r}: {what}={value!r} must be a positive integer")


@dataclass(frozen=True)
class LayerSpec:
    """Common base: every layer has a name (filled by `Model.add` when empty)."""

    name: str = ""

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def is_input(self) -> bool:
        return False

    def params(self) -> dict[str, Any]:
        """Constructor parameters as plain JSON-able values (for model files and summaries)."""
        out = {}
        for f in fields(self):
            if not f.init:
                continue
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def renamed(self, name: str) -> LayerSpec:
        return type(self)(**{**self.params(), "name": name})


@dataclass(frozen=True)
class _Processing(LayerSpec):
    """Shared parameters of the layers that compute potentials."""

    weights_bits: int = 1
    activation: bool = True
    act_bits: int = 1

    def _validate_processing(self) -> None:
        _choice(self.weights_bits, WEIGHT_BITS, "weights_bits", self.name)
        if not isinstance(self.activation, bool):
            raise ModelError(f"layer {self.name!r}: activation={self.activation!r} must be true or false")
        _choice(self.act_bits, ACT_BITS, "act_bits", self.name)


@dataclass(frozen=True)
class _Spatial(_Processing):
    """Shared parameters of the convolution-like layers."""

    kernel_size: tuple[int, int] = (3, 3)
    filters: int = 1
    padding: str = "same"
    kernel_stride: tuple[int, int] = (1, 1)
    pool_type: str = "none"
    pool_size: tuple[int, int] = (-1, -1)
    pool_stride: tuple[int, int] = (-1, -1)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kernel_size", _pair(self.kernel_size, "kernel_size", self.name))
        set_(self, "kernel_stride", _pair(self.kernel_stride, "kernel_stride", self.name))
        set_(self, "pool_size", _pair(self.pool_size, "pool_size", self.name))
        set_(self, "pool_stride", _pair(self.pool_stride, "pool_stride", self.name))
        if isinstance(self.padding, str):
            set_(self, "padding", self.padding.lower())
        if isinstance(self.pool_type, str):
            set_(self, "pool_type", self.pool_type.lower())
        self._validate()

    def _validate(self) -> None:
        self._validate_processing()
        for v in self.kernel_size:
            _positive(v, "kernel_size", self.name)
        for v in self.kernel_stride:
            _positive(v, "kernel_stride", self.name)
        _positive(self.filters, "filters", self.name)
        _choice(self.padding, PADDINGS, "padding", self.name)
        _choice(self.pool_type, POOL_TYPES, "pool_type", self.name)
        if self.pool_type == "max":
            for v in self.pool_size:
                _positive(v, "pool_size", self.name)
            for v in self.effective_pool_stride:
                _positive(v, "pool_stride", self.name)

    @property
    def effective_pool_stride(self) -> tuple[int, int]:
        """MetaTF: a negative pool stride means 'equal to pool_size'."""
        ps = self.pool_stride
        return self.pool_size if ps[0] < 0 or ps[1] < 0 else ps


@dataclass(frozen=True)
class InputData(LayerSpec):
    """Events or sparse integer tensors in [0, 2^input_bits - 1] (no weights, no computation)."""

    input_shape: tuple[int, int, int] = (1, 1, 1)
    input_bits: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", _shape3(self.input_shape, self.name))
        _choice(self.input_bits, INPUT_BITS, "input_bits", self.name)

    @property
    def is_input(self) -> bool:
        return True


@dataclass(frozen=True)
class InputConvolutional(_Spatial):
    """Image input layer: uint8 pixels (1 or 3 channels), cross-correlation, pooling, activation."""

    input_shape: tuple[int, int, int] = (1, 1, 1)
    weights_bits: int = 8
    padding_value: int = 0

    def _validate(self) -> None:
        object.__setattr__(self, "input_shape", _shape3(self.input_shape, self.name))
        super()._validate()
        if not (0 <= int(self.padding_value) <= 255):
            raise ModelError(
                f"layer {self.name!r}: padding_value={self.padding_value!r} must be a pixel value in [0, 255]"
            )

    @property
    def is_input(self) -> bool:
        return True

    @property
    def input_bits(self) -> int:
        return 8


@dataclass(frozen=True)
class Convolutional(_Spatial):
    """Convolution over 1/2/4-bit activations (computed as cross-correlation, DESIGN.md §3)."""


@dataclass(frozen=True)
class SeparableConvolutional(_Spatial):
    """Depthwise (per channel) then pointwise; exact depthwise sums, one activation at the output."""

    weights_bits: int = 2


@dataclass(frozen=True)
class FullyConnected(_Processing):
    """Dense layer over the (H, W, C)-flattened input."""

    units: int = 1

    def __post_init__(self) -> None:
        self._validate_processing()
        _positive(self.units, "units", self.name)

    @property
    def filters(self) -> int:
        return self.units

    pool_type: str = field(default="none", init=False, repr=False)


def _shape3(shape: Any, layer: str) -> tuple[int, int, int]:
    try:
        h, w, c = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ModelError(
            f"layer {layer!r}: input_shape={shape!r} must be (height, width, channels)"
        ) from None
    for v in (h, w, c):
        if v < 1:
            raise ModelError(f"layer {layer!r}: input_shape={shape!r} must have positive sizes")
    return (h, w, c)


LAYER_TYPES: dict[str, type[LayerSpec]] = {
    cls.__name__: cls
    for cls in (InputData, InputConvolutional, Convolutional, SeparableConvolutional, FullyConnected)
}


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Output size and padding-before of one spatial axis, the TensorFlow way (DESIGN.md §3).

    same: out = ceil(in / stride), total pad = max((out - 1)·stride + k - in, 0), smaller half before.
    valid: out = floor((in - k) / stride) + 1, no pad.
    """
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return out, total // 2
    out = (size - kernel) // stride + 1
    return out, 0


def output_shape(spec: LayerSpec, in_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Shape (H, W, C) of a layer's output for an input of shape `in_shape`."""
    h, w, c = in_shape
    if isinstance(spec, InputData):
        return spec.input_shape
    if isinstance(spec, FullyConnected):
        return (1, 1, spec.units)
    assert isinstance(spec, _Spatial)
    oh, _ = conv_output_size(h, spec.kernel_size[0], spec.kernel_stride[0], spec.padding)
    ow, _ = conv_output_size(w, spec.kernel_size[1], spec.kernel_stride[1], spec.padding)
    if oh < 1 or ow < 1:
        raise ModelError(
            f"layer {spec.name!r}: kernel {spec.kernel_size} with padding 'valid' does not fit its "
            f"input {in_shape}; use a smaller kernel or padding='same'"
        )
    if spec.pool_type == "max":
        (ph, pw), (sh, sw) = spec.pool_size, spec.effective_pool_stride
        if ph > oh or pw > ow:
            raise ModelError(
                f"layer {spec.name!r}: pool_size {spec.pool_size} is larger than the map ({oh}, {ow})"
            )
        oh, ow = (oh - ph) // sh + 1, (ow - pw) // sw + 1
    elif spec.pool_type == "average":
        oh, ow = 1, 1
    return (oh, ow, spec.filters)


def variable_shapes(spec: LayerSpec, in_shape: tuple[int, int, int]) -> dict[str, tuple[int, ...]]:
    """The variables a layer holds, with their shapes (DESIGN.md §3, 'Weights')."""
    if isinstance(spec, InputData):
        return {}
    c_in = in_shape[2]
    if isinstance(spec, FullyConnected):
        shapes: dict[str, tuple[int, ...]] = {"weights": (math.prod(in_shape), spec.units)}
        n_out = spec.units
    elif isinstance(spec, SeparableConvolutional):
        kh, kw = spec.kernel_size
        shapes = {"weights": (kh, kw, c_in, 1), "weights_pw": (1, 1, c_in, spec.filters)}
        n_out = spec.filters
    else:
        assert isinstance(spec, _Spatial)
        kh, kw = spec.kernel_size
        shapes = {"weights": (kh, kw, c_in, spec.filters)}
        n_out = spec.filters
    shapes["threshold"] = (n_out,)
    shapes["act_step"] = (n_out,)
    return shapes
