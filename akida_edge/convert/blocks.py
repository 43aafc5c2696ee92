"""Group a `QSequential` into Akida 1.0 blocks, refusing what Akida 1.0 cannot run.

One Akida layer is one block (cnn2snn's rule, akida-facts §1.3 "Model-structure rules"):

    processing [+ BatchNorm] [+ MaxPool2d | GlobalAvgPool] + StepReLU

with `processing` one of `QConv2d`, `QSeparableConv2d`, `QLinear`. The last block may end without
an activation (its outputs are the logits) but then cannot pool. `nn.Flatten` is allowed only right
before a `QLinear`, and a `QLinear` after a convolution block needs it. `nn.Dropout` is ignored.
Every refusal is one line naming the module and the fix (`ModelError`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from akida_edge.convert.qat import (
    GlobalAvgPool,
    QConv2d,
    QLinear,
    QSeparableConv2d,
    QuantInput,
    StepReLU,
)
from akida_edge.errors import ModelError

PROCESSING = (QConv2d, QSeparableConv2d, QLinear)
BATCHNORM = (nn.BatchNorm2d, nn.BatchNorm1d)
POOLS = (nn.MaxPool2d, GlobalAvgPool, nn.AdaptiveAvgPool2d)
GRAMMAR = "a block is conv [+BatchNorm] [+pool] + StepReLU"


@dataclass
class Block:
    """One future Akida layer: its processing module and the optional parts that follow it."""

    name: str
    layer: nn.Module
    bn: nn.Module | None = None
    pool: nn.Module | None = None
    act: StepReLU | None = None

    @property
    def gap(self) -> bool:
        return isinstance(self.pool, (GlobalAvgPool, nn.AdaptiveAvgPool2d))


def _label(name: str, module: nn.Module) -> str:
    return f"module {name!r} ({type(module).__name__})"


def _check_pool(name: str, m: nn.Module) -> None:
    if isinstance(m, nn.AdaptiveAvgPool2d):
        size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size, m.output_size)
        if tuple(size) != (1, 1):
            raise ModelError(f"{_label(name, m)}: Akida 1.0 averages only globally; use GlobalAvgPool()")
        return
    if isinstance(m, nn.MaxPool2d):
        pad = m.padding if isinstance(m.padding, tuple) else (m.padding, m.padding)
        dil = m.dilation if isinstance(m.dilation, tuple) else (m.dilation, m.dilation)
        if any(pad) or any(d != 1 for d in dil) or m.ceil_mode:
            raise ModelError(
                f"{_label(name, m)}: Akida pools valid windows only; use padding=0, dilation=1, "
                "ceil_mode=False"
            )


def _unsupported(name: str, m: nn.Module) -> ModelError:
    hints = {
        nn.ReLU: "use StepReLU(bits) (bounded and quantized)",
        nn.ReLU6: "use StepReLU(bits, max_value=6)",
        nn.Conv2d: "use QConv2d, or QSeparableConv2d for depthwise + pointwise",
        nn.Linear: "use QLinear",
        nn.AvgPool2d: "Akida 1.0 averages only globally: use GlobalAvgPool()",
    }
    fix = next((v for k, v in hints.items() if isinstance(m, k)),
               "Akida 1.0 runs QConv2d, QSeparableConv2d, QLinear, BatchNorm, MaxPool2d, GlobalAvgPool, "
               "StepReLU, Flatten and Dropout only")
    return ModelError(f"{_label(name, m)} cannot be converted to Akida 1.0; {fix}")


def parse_blocks(model: nn.Sequential) -> tuple[QuantInput, list[Block]]:
    """The input declaration and the blocks of `model`, or `ModelError` naming what is wrong."""
    mods = [(n, m) for n, m in model.named_children() if not isinstance(m, nn.Dropout)]
    if not mods or not isinstance(mods[0][1], QuantInput):
        raise ModelError("the first module must be QuantInput(bits=...), declaring the data's bits")
    inp = mods[0][1]
    blocks: list[Block] = []
    flatten_before = False
    for idx, (name, m) in enumerate(mods[1:], start=1):
        cur = blocks[-1] if blocks else None
        open_block = cur is not None and cur.act is None
        if isinstance(m, PROCESSING):
            if open_block:
                raise ModelError(
                    f"block {cur.name!r} has no StepReLU before {_label(name, m)}; every block but the "
                    f"last must end with one ({GRAMMAR})"
                )
            prev_is_conv = cur is not None and not isinstance(cur.layer, QLinear)
            if isinstance(m, QLinear) and prev_is_conv and not flatten_before:
                raise ModelError(
                    f"{_label(name, m)} follows the convolution block {cur.name!r} without a Flatten; "
                    "insert nn.Flatten() right before it"
                )
            blocks.append(Block(name=name, layer=m))
            flatten_before = False
            continue
        if flatten_before:
            raise ModelError(
                f"nn.Flatten before {_label(name, m)}: Flatten is allowed only right before a QLinear; "
                "remove it or move it"
            )
        if isinstance(m, nn.Flatten):
            nxt = mods[idx + 1][1] if idx + 1 < len(mods) else None
            if not isinstance(nxt, QLinear):
                raise ModelError(
                    f"{_label(name, m)}: Flatten is allowed only right before a QLinear; remove it or "
                    "move it"
                )
            if open_block:
                raise ModelError(
                    f"block {cur.name!r} has no StepReLU before {_label(name, m)}; every block but the "
                    f"last must end with one ({GRAMMAR})"
                )
            flatten_before = True
            continue
        if not open_block:
            if isinstance(m, POOLS) and cur is not None:
                raise ModelError(
                    f"{_label(name, m)} comes after the activation of block {cur.name!r}; Akida 1.0 pools "
                    f"before the activation: move it before that StepReLU ({GRAMMAR})"
                )
            if isinstance(m, (*BATCHNORM, *POOLS, StepReLU)):
                raise ModelError(
                    f"{_label(name, m)} does not follow a convolution or dense layer; {GRAMMAR}"
                )
            raise _unsupported(name, m)
        if isinstance(m, BATCHNORM):
            if cur.bn is not None or cur.pool is not None:
                raise ModelError(
                    f"{_label(name, m)} in block {cur.name!r} must come right after the processing "
                    f"layer, before pooling and the activation ({GRAMMAR})"
                )
            cur.bn = m
        elif isinstance(m, POOLS):
            if isinstance(cur.layer, QLinear):
                raise ModelError(f"{_label(name, m)}: a QLinear block cannot pool; remove the pooling")
            if cur.pool is not None:
                raise ModelError(f"{_label(name, m)}: block {cur.name!r} already pools; {GRAMMAR}")
            _check_pool(name, m)
            cur.pool = m
        elif isinstance(m, StepReLU):
            cur.act = m
        else:
            raise _unsupported(name, m)
    if not blocks:
        raise ModelError("the model has no QConv2d, QSeparableConv2d or QLinear layer to convert")
    last = blocks[-1]
    if last.act is None and last.pool is not None:
        raise ModelError(
            f"block {last.name!r}: a last layer without activation cannot pool on Akida 1.0; add a "
            "StepReLU after the pooling or remove the pooling"
        )
    return inp, blocks
