"""The gesture network (PyTorch QAT description), its training steps and its export.

After the Akida zoo's DVS gesture net (`convtiny_dvs`, akida-facts §5: conv 16/16/32/64 with 2×2
max pooling, conv 128 + global average pooling, a 256-unit layer with binary output spikes, dense
classes), with a FullyConnected binary feature layer so the last stage can learn on the chip:

    input 64×64×bins, 2-bit ROC values (InputData)
    conv 3×3 stride 2, w1 filters, 4-bit weights, 4-bit act                    (32×32)
    conv 3×3 stride 2, w2                                                      (16×16)
    conv 3×3 stride 2, w3                                                      (8×8)
    conv 3×3, w4, global average pooling (before the activation, Akida 1.0)    (1×1)
    dense `features` units, 4-bit weights, 1-bit activation  ("features": binary features)
    dense len(CLASSES) units, 4-bit weights, no activation   ("classifier": logits)

Widths (w1..w4) = (16, 32, 64, 128) for the shipped model. Strided 3×3 convolutions (Akida 1.0
`Convolutional` allows stride 2 with 3×3 kernels) replace the zoo's max pooling: 8.3 M MACs per
dense inference instead of 19 M, so the full training fits in about half an hour of one core.
Needs PyTorch (the `train` extra).
"""

from __future__ import annotations

import math
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from akida_edge.apps.vision.labels import CLASSES
from akida_edge.apps.vision.representation import ViewParams
from akida_edge.convert import (
    GlobalAvgPool,
    QConv2d,
    QLinear,
    QSequential,
    QuantInput,
    StepReLU,
    convert,
)
from akida_edge.engine.mapping import check
from akida_edge.engine.model import Model
from akida_edge.errors import MappingError

FEATURE_LAYER = "features"
WIDTHS = (16, 32, 64, 128)


def build(view: ViewParams | None = None, classes: int = len(CLASSES), widths: tuple[int, ...] = WIDTHS,
          features: int = 256) -> QSequential:
    """The QAT network described in the module docstring."""
    view = view or ViewParams()
    levels = 2 ** view.bits - 1
    mods: list[tuple[str, nn.Module]] = [("quant_input", QuantInput(bits=view.bits, scale=1.0 / levels))]
    c_in = view.bins
    for i, w in enumerate(widths):
        last = i == len(widths) - 1
        mods += [(f"conv_{i + 1}", QConv2d(c_in, w, 3, stride=1 if last else 2, weight_bits=4)),
                 (f"bn_{i + 1}", nn.BatchNorm2d(w))]
        mods += [(f"pool_{i + 1}", GlobalAvgPool())] if last else []
        mods += [(f"act_{i + 1}", StepReLU(4))]
        c_in = w
    mods += [("flatten", nn.Flatten()), ("dropout", nn.Dropout(0.2)),
             (FEATURE_LAYER, QLinear(c_in, features, weight_bits=4)),
             ("bn_features", nn.BatchNorm1d(features)),
             ("act_features", StepReLU(1, max_value=1.0)),
             ("classifier", QLinear(features, classes, weight_bits=4))]
    return QSequential(OrderedDict(mods))


def to_nchw(x_nhwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)).astype(np.float32))


def augment(x: torch.Tensor, gen: torch.Generator, max_shift: int = 6) -> torch.Tensor:
    """Random translation of each sample by up to ±`max_shift` pixels (zeros shifted in): where a
    gesture happens in the view must not matter. Direction and time order are left alone."""
    n, _, h, w = x.shape
    out = torch.zeros_like(x)
    dy = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen).tolist()
    dx = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen).tolist()
    for i in range(n):
        ys, yd = _shift(dy[i], h)
        xs, xd = _shift(dx[i], w)
        out[i, :, yd, xd] = x[i, :, ys, xs]
    return out


def _shift(d: int, n: int) -> tuple[slice, slice]:
    """(source, destination) slices moving an axis of length n by d."""
    return (slice(0, n - d), slice(d, n)) if d >= 0 else (slice(-d, n), slice(0, n + d))


def aux_head(model: QSequential, outputs: int) -> nn.Linear:
    """A float head on the binary features, for the wider training task (`fit`'s `aux`)."""
    return nn.Linear(model.classifier.in_features, outputs)


def fit(model: QSequential, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, seed: int,
        x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None, batch: int = 64,
        what: str = "train", progress=sys.stderr,
        aux: tuple[nn.Module, torch.Tensor] | None = None) -> list[dict]:
    """Adam with a cosine learning rate, label smoothing 0.05, random translations; per-epoch logs.

    `aux` = (head, targets): float training only; the loss adds the cross-entropy of `head` on
    the binary features against `targets` (one per sample, -100: ignored), so the features must
    also tell those classes apart; `model`'s own classifier is trained on `y` as usual.
    """
    if aux is not None and model.quantized:
        raise ValueError("fit: aux needs the float forward (before set_quantized)")
    gen = torch.Generator().manual_seed(seed)
    params = list(model.parameters()) + (list(aux[0].parameters()) if aux is not None else [])
    opt = torch.optim.Adam(params, lr=lr)
    trunk = model[:-1] if aux is not None else None
    steps = max(1, epochs * math.ceil(len(x) / batch))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1))))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    logs, t0 = [], time.monotonic()
    for epoch in range(epochs):
        model.train()
        if aux is not None:
            aux[0].train()
        order = torch.randperm(len(x), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(x), batch):
            idx = order[i: i + batch]
            if aux is None:
                loss = loss_fn(model(augment(x[idx], gen)), y[idx])
            else:
                feats = trunk(augment(x[idx], gen))
                loss = loss_fn(model.classifier(feats), y[idx]) + loss_fn(aux[0](feats), aux[1][idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        log = {"epoch": epoch + 1, "loss": total / max(count, 1)}
        if x_val is not None and len(x_val):
            log["val_acc"] = float((predict(model, x_val).argmax(1) == y_val.numpy()).mean())
        logs.append(log)
        _progress(progress, what, epoch + 1, epochs, time.monotonic() - t0, log)
    model.eval()
    return logs


@torch.no_grad()
def predict(model: QSequential, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Logits (n, classes) of the model in its current mode (float or fake-quantized)."""
    model.eval()
    out = [model(x[i: i + batch]).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def to_akida(model: QSequential, sample: torch.Tensor, view: ViewParams, labels: tuple[str, ...],
             **metadata: Any) -> Model:
    """Convert (`akida_edge.convert`), check against the AKD1000 limits, and attach the metadata
    `model.GestureModel` reads: labels, view, feature layer (plus `metadata`, e.g. placeholder)."""
    akida = convert(model, sample=sample)
    violations = check(akida)
    if violations:
        raise MappingError("the converted model breaks AKD1000 limits: " + "; ".join(map(str, violations)))
    akida.metadata = {"app": "vision", "labels": list(labels), "view": view.to_dict(),
                      "feature_layer": FEATURE_LAYER, **metadata}
    return akida


def save(akida: Model, path: str | Path) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return akida.save(str(path))


def _progress(stream, what: str, done: int, total: int, elapsed_s: float, log: dict) -> None:
    if stream is None:
        return
    bar = "#" * int(20 * done / max(total, 1))
    left = elapsed_s / done * (total - done)
    extra = f" val {log['val_acc']:.3f}" if "val_acc" in log else ""
    stream.write(f"vision {what:<9} [{bar:<20}] epoch {done}/{total} loss {log['loss']:.3f}{extra} "
                 f"{elapsed_s:.0f} s, ~{left:.0f} s left\n")
    stream.flush()
