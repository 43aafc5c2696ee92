"""Convert a quantization-aware-trained `QSequential` into an akida-edge `Model` (Akida 1.0 layers).

Each block (`blocks.parse_blocks`) becomes one layer; its variables are the integers the
fake-quantized forward already uses (`fakequant.block_ints`), so the converted model computes
exactly what the PyTorch model computes in quantized mode:

* weights: torch (out, in, kh, kw) -> Akida (kh, kw, in, out); depthwise (c, 1, kh, kw) ->
  (kh, kw, c, 1); dense (out, C·H·W in torch's C, H, W order) -> (H·W·C, out) in Akida's H, W, C
  order. All are cross-correlations, as in the engine (no kernel flip).
* `threshold` = θ = round((T − β')/α) in accumulator units: the bias and folded BatchNorm shift
  live here (cnn2snn's "bias -> threshold"; our activation is a ceil from the start, so the
  half step cnn2snn adds is already inside T, see `qat.StepReLU`).
* `act_step` = σ = round(16·s/α)/16 (1/16 units, exact by construction: the rounded value is the
  one trained). Global average pooling becomes `pool_type="average"` with the same θ and σ: the
  engine's N·T rule is the pooled activation exactly.
* the data: 8-bit data enter through `InputConvolutional` (a `QConv2d` on 1 or 3 channels, 8-bit
  weights); 1/2/4-bit data through `InputData(input_bits)` followed by the first block.

What Akida 1.0 cannot run is refused with a one-line `ModelError` naming the module and the fix
(block structure, input rules here), and, when `akida_edge.engine.mapping.check` is available,
with a `MappingError` listing every hardware-limit violation (kernels, strides, pooling, bits,
channel counts, variable ranges).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch

from akida_edge.convert.blocks import Block, parse_blocks
from akida_edge.convert.fakequant import block_ints
from akida_edge.convert.qat import QConv2d, QLinear, QSeparableConv2d, QSequential, QuantInput
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model
from akida_edge.errors import MappingError, ModelError


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _pool_params(block: Block) -> dict[str, Any]:
    if block.pool is None:
        return {"pool_type": "none"}
    if block.gap:
        return {"pool_type": "average"}
    k, s = block.pool.kernel_size, block.pool.stride
    k = (k, k) if isinstance(k, int) else tuple(k)
    s = (s, s) if isinstance(s, int) else tuple(s)
    return {"pool_type": "max", "pool_size": k, "pool_stride": s}


def _spec(block: Block, name: str, first: bool, inp: QuantInput,
          input_shape: tuple[int, int, int]) -> L.LayerSpec:
    m = block.layer
    act = {"activation": block.act is not None, "act_bits": block.act.bits if block.act else 1}
    if isinstance(m, QLinear):
        return L.FullyConnected(units=m.out_features, weights_bits=m.weight_bits, name=name, **act)
    spatial = {"kernel_size": m.kernel_size, "filters": m.out_channels, "padding": m.padding,
               "kernel_stride": m.stride, "weights_bits": m.weight_bits, "name": name,
               **_pool_params(block), **act}
    if first and inp.bits == 8:
        return L.InputConvolutional(input_shape=input_shape, padding_value=0, **spatial)
    if isinstance(m, QSeparableConv2d):
        return L.SeparableConvolutional(**spatial)
    return L.Convolutional(**spatial)


def _check_input(inp: QuantInput, first: Block, input_shape: tuple[int, int, int]) -> None:
    if inp.bits != 8:
        return
    m = first.layer
    if not isinstance(m, QConv2d):
        raise ModelError(
            f"module {first.name!r} ({type(m).__name__}) cannot take 8-bit data: on Akida 1.0 they enter "
            "only through a QConv2d on 1 or 3 channels (InputConvolutional); start with a QConv2d or "
            "quantize the data to 1, 2 or 4 bits"
        )
    if input_shape[2] not in (1, 3):
        raise ModelError(
            f"module {first.name!r}: 8-bit data with {input_shape[2]} channels; InputConvolutional takes 1 "
            "or 3 channels: reduce the channels or quantize the data to 1, 2 or 4 bits (InputData)"
        )
    if m.weight_bits != 8:
        raise ModelError(
            f"module {first.name!r}: the input layer on 8-bit data has weight_bits={m.weight_bits}; "
            "InputConvolutional needs 8-bit weights: set weight_bits=8"
        )


def _weights(block: Block, ints_w: list[np.ndarray], in_shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
    m = block.layer
    if isinstance(m, QSeparableConv2d):
        return {"weights": ints_w[0].transpose(2, 3, 0, 1), "weights_pw": ints_w[1].transpose(2, 3, 1, 0)}
    if isinstance(m, QLinear):
        h, w, c = in_shape
        out = ints_w[0].shape[0]
        if h * w * c != ints_w[0].shape[1]:
            raise ModelError(
                f"module {block.name!r} (QLinear): in_features={ints_w[0].shape[1]} but its input is "
                f"{in_shape} = {h * w * c} values; set in_features={h * w * c}"
            )
        return {"weights": ints_w[0].reshape(out, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, out)}
    return {"weights": ints_w[0].transpose(2, 3, 1, 0)}


def _input_shape(inp: QuantInput, input_shape: Any, sample: Any) -> tuple[int, int, int]:
    if sample is not None:
        x = torch.as_tensor(np.asarray(sample) if not isinstance(sample, torch.Tensor) else sample)
        inp.check(x)  # the data must fit the declared bits (InputDataError otherwise)
        shape = (x.shape[2], x.shape[3], x.shape[1]) if x.dim() == 4 else (1, 1, x.shape[-1])
        if input_shape is not None and tuple(input_shape) != shape:
            raise ModelError(
                f"input_shape={tuple(input_shape)} does not match the sample's {shape} (H, W, C)"
            )
        return tuple(int(v) for v in shape)  # type: ignore[return-value]
    if input_shape is None:
        raise ModelError("convert needs input_shape=(height, width, channels) or a sample of the data")
    return L._shape3(input_shape, "input")


def hardware_violations(model: Model) -> list[Any] | None:
    """`akida_edge.engine.mapping.check(model)` if that module exists, else None."""
    try:
        mapping = importlib.import_module("akida_edge.engine.mapping")
    except ImportError:
        return None
    check = getattr(mapping, "check", None)
    return None if check is None else list(check(model))


@torch.no_grad()
def convert(model: QSequential, input_shape: tuple[int, int, int] | None = None, *, sample: Any = None,
            input_bits: int | None = None, check_hardware: bool = True) -> Model:
    """The Akida 1.0 model computing exactly what `model` computes in quantized mode.

    Parameters
    ----------
    model : the QAT model (calibrated; trained in quantized mode or not).
    input_shape : (H, W, C) of one sample; taken from `sample` (NCHW tensor) when given.
    sample : data to check against the declared input bits (integers in [0, 2^bits − 1]).
    input_bits : the data's bits, if known; must equal `QuantInput.bits`.
    check_hardware : refuse models that break the AKD1000 limits (needs `engine.mapping`).
    """
    inp, blocks = parse_blocks(model)
    if input_bits is not None and input_bits != inp.bits:
        raise ModelError(
            f"the data have {input_bits}-bit values but QuantInput declares bits={inp.bits}; set "
            f"QuantInput(bits={input_bits}) and calibrate again"
        )
    shape = _input_shape(inp, input_shape, sample)
    _check_input(inp, blocks[0], shape)
    out = Model()
    if inp.bits != 8:
        out.add(L.InputData(input_shape=shape, input_bits=inp.bits, name="input"))
    s = torch.tensor(inp.scale)
    for i, block in enumerate(blocks):
        name = block.name if not block.name.isdigit() else ""
        in_shape = out.layers[-1].output_shape if out.layers else shape
        out.add(_spec(block, name, i == 0, inp, shape))
        layer = out.layers[-1]
        ints = block_ints(block, s)
        for var, value in _weights(block, [_np(w) for w in ints.weights], in_shape).items():
            layer.set_variable(var, np.rint(value).astype(np.int64))
        layer.set_variable("threshold", np.rint(_np(ints.threshold)).astype(np.int64))
        layer.set_variable("act_step", _np(ints.act_step).astype(np.float64))
        s = block.act.step.abs().clamp_min(1e-8) if block.act is not None else torch.ones(())
    if check_hardware:
        violations = hardware_violations(out)
        if violations:
            raise MappingError(
                f"the converted model breaks {len(violations)} AKD1000 limit(s): "
                + "; ".join(str(v) for v in violations)
                + "; change those layers or convert with check_hardware=False to run in software only"
            )
    return out
