"""Model toolchain: quantization-aware training (PyTorch) and conversion into Akida 1.0 layers.

Needs the `train` extra (PyTorch, CPU build): ``pip install 'akida-edge[train]'``. Nothing else in
akida-edge imports this package, so inference runs without PyTorch.

Workflow (`qat.py`, `fakequant.py`, `converter.py`)::

    model = QSequential(QuantInput(bits=8), QConv2d(1, 32, 5, stride=2, weight_bits=8),
                        nn.BatchNorm2d(32), StepReLU(4), ..., nn.Flatten(), QLinear(64, 12))
    train(model)                        # float mode
    calibrate(model, sample)            # steps and thresholds from data
    set_quantized(model)                # chip arithmetic, straight-through gradients
    train(model)                        # fine-tune
    akida_model = convert(model, sample=sample)
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "akida_edge.convert needs PyTorch; install the train extra: pip install 'akida-edge[train]'"
    ) from exc

from akida_edge.convert.blocks import Block, parse_blocks
from akida_edge.convert.converter import convert
from akida_edge.convert.fakequant import calibrate, integer_forward
from akida_edge.convert.qat import (
    GlobalAvgPool,
    QConv2d,
    QLinear,
    QSeparableConv2d,
    QSequential,
    QuantInput,
    StepReLU,
    set_quantized,
)

__all__ = [
    "Block",
    "GlobalAvgPool",
    "QConv2d",
    "QLinear",
    "QSeparableConv2d",
    "QSequential",
    "QuantInput",
    "StepReLU",
    "calibrate",
    "convert",
    "integer_forward",
    "parse_blocks",
    "set_quantized",
]
