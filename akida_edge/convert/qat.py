"""PyTorch modules for Akida-1.0-compatible quantization-aware training (QAT).

A model is a `QSequential` of these modules and a few plain ones (`nn.BatchNorm2d/1d`,
`nn.MaxPool2d`, `nn.Flatten`, `nn.Dropout`), grouped into Akida blocks by `blocks.parse_blocks`:

    QuantInput  ->  [QConv2d | QSeparableConv2d | QLinear] [+BatchNorm] [+MaxPool2d | GlobalAvgPool]
                    + StepReLU   ...   last block: processing [+BatchNorm] (no activation)

Two modes (`set_quantized`):

* *float* (pre-training): ordinary convolutions, batch norm, bounded ReLU (clip at `max_value`);
* *quantized*: the integer arithmetic of the chip, run in PyTorch with straight-through
  estimators (`fakequant.py`): b-bit integer weights (symmetric grid ±(2^(b−1)−1); 1 bit is
  {0, 1}), per output channel except depthwise kernels (per tensor, since depthwise sums enter the
  pointwise sum unscaled), BatchNorm folded with its running statistics, and the step activation

      y = clip(ceil((x − T) / s), 0, 2^b − 1) · s

  with a learnable threshold T and step s per tensor (Akida 1.0 output quantizers are per tensor;
  akida-facts §1.3, §2.1.3). Global average pooling sits before the activation (Akida 1.0).

Workflow: train in float mode, `calibrate` on sample data (sets s and T layer by layer from the
pre-activation statistics of the already quantized layers below), `set_quantized(model, True)`,
fine-tune, then `converter.convert`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from akida_edge.engine.layers import conv_output_size
from akida_edge.errors import InputDataError, ModelError


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity gradient (straight-through estimator)."""
    return x + (torch.round(x) - x).detach()


def weight_levels(bits: int) -> tuple[int, int]:
    """Integer range of b-bit Akida weights: {0, 1} for 1 bit, ±(2^(b−1) − 1) otherwise."""
    if bits == 1:
        return (0, 1)
    k = 2 ** (bits - 1) - 1
    return (-k, k)


def quantize_weights(w: torch.Tensor, bits: int, per_channel: bool,
                     coarsen: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer-valued weights and their float step Δ (shape (out,)), with w ≈ w_int·Δ.

    Symmetric b-bit grid: Δ = max|w| / (2^(b−1) − 1), w_int = clip(round(w/Δ)); 1 bit: {0, 1}
    with Δ the mean of the positive weights, w_int = [w > Δ/2]. The gradient passes straight
    through the rounding; Δ is treated as a constant (it follows the weights, not the loss).
    `coarsen` (per output channel, ≥ 1) multiplies Δ: the grid then spans only ±max/coarsen
    levels (used when a channel's act_step would overflow its field, see `fakequant.block_ints`).
    """
    dims = tuple(range(1, w.dim()))
    if bits == 1:
        pos = w.clamp_min(0)
        count = (w > 0).sum(dim=dims).clamp_min(1)
        delta = (pos.sum(dim=dims) / count).clamp_min(1e-8).detach()
        if not per_channel:
            delta = delta.mean().expand_as(delta)
        d = delta.view(-1, *([1] * len(dims)))
        hard = (w > d / 2).to(w.dtype)
        return w / d + (hard - w / d).detach(), delta
    lo, hi = weight_levels(bits)
    if per_channel:
        m = w.detach().abs().amax(dim=dims)
    else:
        m = w.detach().abs().max().expand(w.shape[0])
    delta = m.clamp_min(1e-8) / hi
    if coarsen is not None:
        delta = delta * coarsen
    d = delta.view(-1, *([1] * len(dims)))
    return torch.clamp(round_ste(w / d), lo, hi), delta


def pad_same(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: str) -> torch.Tensor:
    """Zero padding of an NCHW tensor the TensorFlow way (DESIGN.md §3), via the engine's rule."""
    if padding == "valid":
        return x
    pads = []
    for size, k, s in zip(x.shape[-2:], kernel, stride, strict=True):
        out, before = conv_output_size(int(size), k, s, "same")
        total = max((out - 1) * s + k - int(size), 0)
        pads.append((before, total - before))
    (ht, hb), (wl, wr) = pads
    return F.pad(x, (wl, wr, ht, hb))


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _check_choice(value: object, allowed: tuple, what: str, owner: str) -> None:
    if value not in allowed:
        raise ModelError(f"{owner}: {what}={value!r} is not supported; use one of {allowed}")


class QuantInput(nn.Module):
    """Declares the data: integers in [0, 2^bits − 1] (the input layer's bits equal the data's).

    The float network sees `x · scale`. Data that are not such integers raise `InputDataError`
    instead of being clipped silently.
    """

    def __init__(self, bits: int = 8, scale: float = 1.0 / 255) -> None:
        super().__init__()
        _check_choice(bits, (1, 2, 4, 8), "bits", "QuantInput")
        if not scale > 0:
            raise ModelError(f"QuantInput: scale={scale!r} must be positive")
        self.bits = bits
        self.scale = float(scale)

    def check(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float32)
        hi = 2**self.bits - 1
        if x.numel() and (x.min() < 0 or x.max() > hi or not torch.equal(x, torch.round(x))):
            raise InputDataError(
                f"QuantInput(bits={self.bits}): data must be integers in [0, {hi}], got values in "
                f"[{float(x.min()):g}, {float(x.max()):g}]; quantize the data to {self.bits} bits "
                "or declare the data's bits"
            )
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.check(x) * self.scale


class QConv2d(nn.Module):
    """Convolution (cross-correlation) with TF 'same'/'valid' padding and b-bit weights."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: str = "same", weight_bits: int = 4,
                 bias: bool = True) -> None:
        super().__init__()
        _check_choice(padding, ("same", "valid"), "padding", "QConv2d")
        _check_choice(weight_bits, (1, 2, 4, 8), "weight_bits", "QConv2d")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), padding
        self.weight_bits = weight_bits
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(x, self.kernel_size, self.stride, self.padding)
        return F.conv2d(x, self.weight, self.bias, self.stride)

    def int_weights(self, coarsen: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        w, delta = quantize_weights(self.weight, self.weight_bits, per_channel=True, coarsen=coarsen)
        return [w], delta

    def int_potential(self, a: torch.Tensor, w: list[torch.Tensor]) -> torch.Tensor:
        return F.conv2d(pad_same(a, self.kernel_size, self.stride, self.padding), w[0], None, self.stride)


class QSeparableConv2d(nn.Module):
    """Depthwise (per channel, per-tensor weight step) then pointwise (per-channel step) convolution.

    One weight bit width for both parts, one activation at the output (Akida's
    SeparableConvolutional). The depthwise sums enter the pointwise sum exactly.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 3,
                 stride: int | tuple[int, int] = 1, padding: str = "same", weight_bits: int = 4,
                 bias: bool = True) -> None:
        super().__init__()
        _check_choice(padding, ("same", "valid"), "padding", "QSeparableConv2d")
        _check_choice(weight_bits, (1, 2, 4, 8), "weight_bits", "QSeparableConv2d")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), padding
        self.weight_bits = weight_bits
        self.depthwise = nn.Parameter(torch.empty(in_channels, 1, *self.kernel_size))
        self.pointwise = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        nn.init.kaiming_uniform_(self.depthwise, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.pointwise, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(x, self.kernel_size, self.stride, self.padding)
        x = F.conv2d(x, self.depthwise, None, self.stride, groups=self.in_channels)
        return F.conv2d(x, self.pointwise, self.bias)

    def int_weights(self, coarsen: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        dw, d_dw = quantize_weights(self.depthwise, self.weight_bits, per_channel=False)
        pw, d_pw = quantize_weights(self.pointwise, self.weight_bits, per_channel=True, coarsen=coarsen)
        return [dw, pw], d_dw[0] * d_pw

    def int_potential(self, a: torch.Tensor, w: list[torch.Tensor]) -> torch.Tensor:
        a = pad_same(a, self.kernel_size, self.stride, self.padding)
        d = F.conv2d(a, w[0], None, self.stride, groups=self.in_channels)
        return F.conv2d(d, w[1])


class QLinear(nn.Module):
    """Dense layer with b-bit weights (Akida's FullyConnected)."""

    def __init__(self, in_features: int, out_features: int, weight_bits: int = 4, bias: bool = True) -> None:
        super().__init__()
        _check_choice(weight_bits, (1, 2, 4, 8), "weight_bits", "QLinear")
        self.in_features, self.out_features, self.weight_bits = in_features, out_features, weight_bits
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def int_weights(self, coarsen: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        w, delta = quantize_weights(self.weight, self.weight_bits, per_channel=True, coarsen=coarsen)
        return [w], delta

    def int_potential(self, a: torch.Tensor, w: list[torch.Tensor]) -> torch.Tensor:
        return F.linear(a, w[0])


class StepReLU(nn.Module):
    """Bounded step ReLU at 1/2/4 bits: y = clip(ceil((x − T)/s), 0, 2^b − 1)·s.

    Float mode: clip(x, 0, max_value). `calibrate` sets s = min(percentile, max_value)/(2^b − 1)
    and T = s/2, so that the ceil behaves like round-to-nearest at the start of fine-tuning (the
    same half-step that cnn2snn adds to the threshold, akida-facts §2.1.4).
    """

    def __init__(self, bits: int = 4, max_value: float = 6.0) -> None:
        super().__init__()
        _check_choice(bits, (1, 2, 4), "bits", "StepReLU")
        self.bits = bits
        self.max_value = float(max_value)
        step = self.max_value / (2**bits - 1)
        self.step = nn.Parameter(torch.tensor(step))
        self.threshold = nn.Parameter(torch.tensor(step / 2))

    @property
    def levels(self) -> int:
        return 2**self.bits - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, 0.0, self.max_value)


class GlobalAvgPool(nn.Module):
    """Global average pooling over H and W (NCHW -> N, C, 1, 1), before the activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class QSequential(nn.Sequential):
    """A sequence of QAT modules; `quantized` switches between the float and the integer forward."""

    quantized: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quantized:
            return super().forward(x)
        from akida_edge.convert.fakequant import integer_forward

        return integer_forward(self, x).output


def set_quantized(model: QSequential, quantized: bool = True) -> QSequential:
    """Switch the model to the integer (fake-quantized) forward, checking its block structure."""
    from akida_edge.convert.blocks import parse_blocks

    if quantized:
        parse_blocks(model)
    model.quantized = bool(quantized)
    return model
