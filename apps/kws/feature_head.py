"""Retrain the binary feature layer and the heads of a trained KWS network on its frozen trunk.

The cheap way to give the 256 binary features word identity (`train.py --words ... --head-only`):
the convolutional trunk (input conv and separable blocks, up to the global average pooling: 128
values per clip) stays as trained; its outputs are computed once, and only

    dense 128 → `features` (BatchNorm, binary activation) → dense → 12 classes

are trained again, together with a float auxiliary head on the binary features that names every
word of a wider vocabulary — the `_unknown_` words of the keyword data set (`train.AUX_WORDS`) and
the words of the word set (`wordset.py`) — as in `network.fit`'s `aux`. Word-set clips have no
12-class target (they are not `_unknown_` examples of the keyword task); keyword clips have both.

The feature layer starts from the trained network's (`reinit=False`) or afresh. Training: AdamW,
the one-cycle schedule and label smoothing of `network.fit`; the trunk's dropout (0.1) on its
outputs. Trunk outputs are float-mode values (the binary activation is clip(x, 0, 1) in float
mode, binarized by calibration and quantization-aware training afterwards, `train.py`).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import torch
from torch import nn

from akida_edge.apps.kws import episodes, network
from akida_edge.convert import QSequential

TRUNK = network.TRUNK  # the model's Flatten: the trunk is model[:TRUNK]


@torch.no_grad()
def trunk_outputs(model: QSequential, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """(n, width) outputs of the trunk (the network up to and including its Flatten), eval mode."""
    model.eval()
    trunk = model[: len(model) + TRUNK + 1]
    out = [trunk(x[i: i + batch]) for i in range(0, len(x), batch)]
    return torch.cat(out) if out else torch.zeros((0, model[TRUNK + 2].in_features))


@torch.no_grad()
def binary_features(model: QSequential, trunk: torch.Tensor, threshold: float = 0.5) -> np.ndarray:
    """uint8 (n, features): the feature layer's float activation (clip(x, 0, 1)) above
    `threshold` — the binarization that calibration gives (step 1, threshold ½ of it)."""
    model.eval()
    head = model[TRUNK + 2: -1]  # dense, BatchNorm, activation
    return (head(trunk) > threshold).numpy().astype(np.uint8)


def retrain(model: QSequential, trunk: torch.Tensor, y: torch.Tensor, aux_y: torch.Tensor, aux_classes: int,
            epochs: int = 30, lr: float = 3e-3, batch: int = 256, seed: int = 1, reinit: bool = True,
            binary: bool = False, weight: torch.Tensor | None = None, phones: network.PhoneLoss | None = None,
            progress=sys.stderr) -> nn.Linear:
    """Train model[TRUNK+1:] (dropout, dense, BatchNorm, activation, dense) on trunk outputs.

    `y`: 12-class targets (-100: none, word-set clips); `aux_y`: the auxiliary head's targets
    (`aux_classes` classes, -100: none). Returns the auxiliary head (float; dropped before
    quantization). The model's other layers are not touched. `binary`: the heads see the features
    binarized at ½ (straight-through gradient, Bengio et al. 2013, arXiv 1308.3432), as the
    converted model's learning layer will. `weight`: per-sample weights of the 12-class loss
    (`network.weighted_ce`; None: the plain mean). `phones`: the phonetic head is trained too (in
    place), on the features binarized at ½ with the clipped straight-through gradient, as in
    `network.fit` (`phones.py`)."""
    torch.manual_seed(seed)
    tail = model[len(model) + TRUNK + 1:]
    if reinit:
        for layer in tail:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
    aux = network.aux_head(model, aux_classes)
    params = list(tail.parameters()) + list(aux.parameters())
    params += list(phones.head.parameters()) if phones is not None else []
    decay = [p for p in params if p.dim() > 1]
    other = [p for p in params if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": network.WEIGHT_DECAY},
                             {"params": other, "weight_decay": 0.0}], lr=lr)
    steps = epochs * math.ceil(len(trunk) / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: network.one_cycle(s, steps))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05, ignore_index=-100)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.monotonic()
    for epoch in range(epochs):
        tail.train()
        aux.train()
        if phones is not None:
            phones.head.train()
        order = torch.randperm(len(trunk), generator=gen)
        total = 0.0
        for i in range(0, len(trunk), batch):
            idx = order[i: i + batch]
            pre = tail[:-2](trunk[idx])  # the feature layer before its activation
            feats = tail[-2](pre)
            if binary:
                feats = feats + ((feats > 0.5).float() - feats).detach()
            loss = torch.zeros(())
            if bool((aux_y[idx] >= 0).any()):  # speech windows have no word class (-100)
                loss = loss + loss_fn(aux(feats), aux_y[idx])
            if phones is not None and bool(phones.mask[idx].any()):
                on = phones.mask[idx]
                loss = loss + phones.weight * nn.functional.binary_cross_entropy_with_logits(
                    phones.head(episodes.binarize(pre[on])), phones.targets[idx][on])
            has = y[idx] >= 0
            if bool(has.any()):
                if weight is None:
                    loss = loss + loss_fn(tail[-1](feats[has]), y[idx][has])
                else:
                    loss = loss + network.weighted_ce(tail[-1](feats), y[idx], weight[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if progress is not None and (epoch + 1 == epochs or (epoch + 1) % 5 == 0):
            progress.write(f"kws head      epoch {epoch + 1}/{epochs} loss {total / len(trunk):.3f} "
                           f"{time.monotonic() - t0:.0f} s\n")
            progress.flush()
    model.eval()
    aux.eval()
    if phones is not None:
        phones.head.eval()
    return aux


def probe(model: QSequential, head: nn.Linear, x: torch.Tensor, aux_y: torch.Tensor, epochs: int,
          lr: float = 3e-3, batch: int = 512, seed: int = 1, progress=sys.stderr) -> list[dict]:
    """Fit the auxiliary `head` alone (in place) on the frozen network's float binary-feature
    outputs (clip(x, 0, 1), eval mode, computed once): a linear probe before fine-tuning (LP-FT,
    Kumar et al., ICLR 2022, arXiv 2202.10054). A head that starts at random (a saved network without
    one, or new words) otherwise sends large, random gradients into the features it is meant to
    shape during the first steps of fine-tuning. AdamW, the one-cycle schedule, label smoothing 0.05
    as `network.fit`; `aux_y` -100: no word class (ignored). Returns one log per epoch."""
    model.eval()
    trunk = model[:-1]
    with torch.no_grad():
        feats = torch.cat([trunk(x[i: i + batch]) for i in range(0, len(x), batch)])
    keep = aux_y >= 0
    feats, targets = feats[keep], aux_y[keep]
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=network.WEIGHT_DECAY)
    steps = epochs * math.ceil(len(feats) / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: network.one_cycle(s, steps, network.WARMUP))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    logs, t0 = [], time.monotonic()
    for epoch in range(epochs):
        head.train()
        order = torch.randperm(len(feats), generator=gen)
        total, right = 0.0, 0
        for i in range(0, len(feats), batch):
            idx = order[i: i + batch]
            out = head(feats[idx])
            loss = loss_fn(out, targets[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            right += int((out.argmax(1) == targets[idx]).sum())
        logs.append({"epoch": epoch + 1, "what": "probe", "loss": total / max(1, len(feats)),
                     "acc": right / max(1, len(feats)), "s": round(time.monotonic() - t0, 1)})
        if progress is not None:
            progress.write(f"kws probe  epoch {epoch + 1}/{epochs}: loss {logs[-1]['loss']:.3f} "
                           f"acc {logs[-1]['acc']:.3f} ({logs[-1]['s']:.0f} s)\n")
    head.eval()
    return logs
