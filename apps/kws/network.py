"""The keyword network (PyTorch QAT description) and its training steps.

DS-CNN (Zhang et al., "Hello Edge", arXiv 1711.07128; the Akida zoo's DS-CNN KWS, akida-facts §5)
with a binary feature layer for edge learning, as in BrainChip's KWS edge-learning example:

    input 49×10×1 uint8 ─ conv 5×5/2, `width` filters, 8-bit weights, 4-bit act     (25×5)
    4 × separable 3×3, `width` filters, 4-bit weights, 4-bit act; the 4th with global average
        pooling (before the activation, Akida 1.0)                                    (1×1)
    dense `features` units, 4-bit weights, 1-bit activation  ("laq1": binary features)
    dense 12 units, 4-bit weights, no activation (logits)

Needs PyTorch (the `train` extra).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import torch
from torch import nn

from akida_edge.apps.kws.features import MEAN_CODE
from akida_edge.convert import (
    GlobalAvgPool,
    QConv2d,
    QLinear,
    QSeparableConv2d,
    QSequential,
    QuantInput,
    StepReLU,
)


def build(classes: int = 12, width: int = 64, features: int = 256) -> QSequential:
    """The QAT DS-CNN described in the module docstring."""
    seps: list[nn.Module] = []
    for i in range(4):
        seps += [QSeparableConv2d(width, width, 3, weight_bits=4), nn.BatchNorm2d(width)]
        seps += [GlobalAvgPool()] if i == 3 else []
        seps += [StepReLU(4)]
    return QSequential(
        QuantInput(bits=8, scale=1 / 255),
        QConv2d(1, width, 5, stride=2, weight_bits=8), nn.BatchNorm2d(width), StepReLU(4),
        *seps,
        nn.Flatten(), nn.Dropout(0.1), QLinear(width, features, weight_bits=4), nn.BatchNorm1d(features),
        StepReLU(1, max_value=1.0),
        QLinear(features, classes, weight_bits=4),
    )


def spec_augment(x: torch.Tensor, gen: torch.Generator, max_t: int = 8, max_f: int = 2) -> torch.Tensor:
    """SpecAugment-style masking (Park et al., arXiv 1904.08779) of NCHW uint8-valued features:
    one time mask of 0..`max_t` frames and one band mask of 0..`max_f` bands per sample, filled
    with the band-mean code (what a normalized, featureless region reads)."""
    n, _, h, w = x.shape
    x = x.clone()
    t_len = torch.randint(0, max_t + 1, (n,), generator=gen)
    t0 = (torch.rand(n, generator=gen) * (h - t_len + 1)).floor().long()
    f_len = torch.randint(0, max_f + 1, (n,), generator=gen)
    f0 = (torch.rand(n, generator=gen) * (w - f_len + 1)).floor().long()
    rows = torch.arange(h).view(1, h)
    cols = torch.arange(w).view(1, w)
    tmask = (rows >= t0.view(-1, 1)) & (rows < (t0 + t_len).view(-1, 1))
    fmask = (cols >= f0.view(-1, 1)) & (cols < (f0 + f_len).view(-1, 1))
    mask = tmask[:, :, None] | fmask[:, None, :]
    x[:, 0][mask] = float(MEAN_CODE)
    return x


def to_nchw(x_nhwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)).astype(np.float32))


def fit(model: QSequential, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, seed: int,
        x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None, batch: int = 128,
        what: str = "train", progress=sys.stderr) -> list[dict]:
    """Adam with a cosine learning rate, label smoothing 0.05, SpecAugment; returns per-epoch logs."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1))))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    logs, t0 = [], time.monotonic()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(x), batch):
            idx = order[i: i + batch]
            xb = spec_augment(x[idx], gen)
            loss = loss_fn(model(xb), y[idx])
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
def predict(model: QSequential, x: torch.Tensor, batch: int = 512) -> np.ndarray:
    """Logits (n, classes) of the model in its current mode (float or fake-quantized)."""
    model.eval()
    out = [model(x[i: i + batch]).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, 12), np.float32)


def _progress(stream, what: str, done: int, total: int, elapsed_s: float, log: dict) -> None:
    if stream is None:
        return
    bar = "#" * int(20 * done / max(total, 1))
    left = elapsed_s / done * (total - done)
    extra = f" val {log['val_acc']:.3f}" if "val_acc" in log else ""
    stream.write(f"kws {what:<9} [{bar:<20}] epoch {done}/{total} loss {log['loss']:.3f}{extra} "
                 f"{elapsed_s:.0f} s, ~{left:.0f} s left\n")
    stream.flush()
