"""The keyword network (PyTorch QAT description) and its training steps.

DS-CNN (Zhang et al., "Hello Edge", arXiv 1711.07128; the Akida zoo's DS-CNN KWS, akida-facts §5)
with a binary feature layer for edge learning, as in BrainChip's KWS edge-learning example:

    input 49×10×1 uint8 ─ conv 5×5/2, `width` filters, 8-bit weights, 4-bit act     (25×5)
    `blocks` × separable 3×3, `width` filters, 4-bit weights, 4-bit act; those listed in `down`
        with stride 2 (25×5 → 13×3); the last with global average pooling (before the
        activation, Akida 1.0)                                                        (1×1)
    dense `features` units, 4-bit weights, 1-bit activation  ("laq1": binary features)
    dense 12 units, 4-bit weights, no activation (logits)

The shipped model (`train.py`): width 128, 6 blocks, the first with stride 2 (so five of them
work on 13×3 maps: about 3× less compute than 25×5, and a wider receptive field).

Training (`fit`): AdamW (decoupled weight decay, Loshchilov & Hutter, arXiv 1711.05101) with a
one-cycle schedule — linear warm-up over the first `WARMUP` of the steps, then cosine decay to 0
(Smith & Topin, arXiv 1708.07120) — label smoothing 0.05 and SpecAugment. During float training a
second, float head (`aux_head`) on the binary features can classify a wider task — every
`_unknown_` word as its own class — so that the features tell words apart, not only the twelve
classes (for few-shot learning of new words); it is dropped before quantization, as in
`apps/vision/network.py`.

Needs PyTorch (the `train` extra).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from akida_edge.apps.kws import episodes, mixup
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


def build(classes: int = 12, width: int = 64, features: int = 256, blocks: int = 4,
          down: tuple[int, ...] = ()) -> QSequential:
    """The QAT DS-CNN described in the module docstring: `blocks` separable blocks of `width`
    filters, those whose index is in `down` with stride 2 (25×5 → 13×3), the last with GAP."""
    seps: list[nn.Module] = []
    for i in range(blocks):
        stride = 2 if i in down else 1
        seps += [QSeparableConv2d(width, width, 3, stride=stride, weight_bits=4), nn.BatchNorm2d(width)]
        seps += [GlobalAvgPool()] if i == blocks - 1 else []
        seps += [StepReLU(4)]
    return QSequential(
        QuantInput(bits=8, scale=1 / 255),
        QConv2d(1, width, 5, stride=2, weight_bits=8), nn.BatchNorm2d(width), StepReLU(4),
        *seps,
        nn.Flatten(), nn.Dropout(0.1), QLinear(width, features, weight_bits=4), nn.BatchNorm1d(features),
        StepReLU(1, max_value=1.0),
        QLinear(features, classes, weight_bits=4),
    )


def architecture(saved: dict) -> dict:
    """`build` keyword arguments recorded in a `kws_float.pt` (older files: 4 blocks, no stride)."""
    return {"width": int(saved["width"]), "features": int(saved["features"]),
            "blocks": int(saved.get("blocks", 4)), "down": tuple(int(i) for i in saved.get("down", ()))}


#: index of the model's Flatten (after the trunk's GAP and activation): the trunk is model[:TRUNK]
TRUNK = -6
WARMUP = 0.05  # share of the steps with a linear learning-rate warm-up
WEIGHT_DECAY = 5e-4


def spec_augment(x: torch.Tensor, gen: torch.Generator, max_t: int = 8, max_f: int = 2,
                 masks: int = 2) -> torch.Tensor:
    """SpecAugment-style masking (Park et al., arXiv 1904.08779) of NCHW uint8-valued features:
    `masks` time masks of 0..`max_t` frames and `masks` coefficient masks of 0..`max_f`
    coefficients per sample, filled with the mean code (what a normalized, featureless region reads)."""
    n, _, h, w = x.shape
    x = x.clone()
    rows = torch.arange(h).view(1, h)
    cols = torch.arange(w).view(1, w)
    mask = torch.zeros(n, h, w, dtype=torch.bool)
    for _ in range(masks):
        t_len = torch.randint(0, max_t + 1, (n,), generator=gen)
        t0 = (torch.rand(n, generator=gen) * (h - t_len + 1)).floor().long()
        f_len = torch.randint(0, max_f + 1, (n,), generator=gen)
        f0 = (torch.rand(n, generator=gen) * (w - f_len + 1)).floor().long()
        tmask = (rows >= t0.view(-1, 1)) & (rows < (t0 + t_len).view(-1, 1))
        fmask = (cols >= f0.view(-1, 1)) & (cols < (f0 + f_len).view(-1, 1))
        mask |= tmask[:, :, None] | fmask[:, None, :]
    x[:, 0][mask] = float(MEAN_CODE)
    return x


def one_cycle(step: int, steps: int, warmup: float = WARMUP) -> float:
    """Learning-rate factor at `step` of `steps`: linear 0→1 over `warmup`·steps, then
    ½(1 + cos(π·u)) with u the fraction of the remaining steps done."""
    w = max(1, int(round(warmup * steps)))
    if step < w:
        return (step + 1) / w
    return 0.5 * (1 + math.cos(math.pi * min((step - w) / max(steps - w, 1), 1.0)))


def aux_head(model: QSequential, outputs: int) -> nn.Linear:
    """A float head on the binary features (the input of the model's last layer), for `fit`'s `aux`."""
    return nn.Linear(model[-1].in_features, outputs)


def to_nchw(x_nhwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)).astype(np.float32))


def fit(model: QSequential, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, seed: int,
        x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None, batch: int = 128,
        what: str = "train", progress=sys.stderr, checkpoint=None, warmup: float = WARMUP,
        aux: tuple[nn.Module, torch.Tensor] | None = None, weight: torch.Tensor | None = None,
        mixup_alpha: float = 0.0, voice: torch.Tensor | None = None, step_hook=None,
        metric: episodes.Metric | None = None, phones: PhoneLoss | None = None,
        distill: Distill | None = None, trunk_lr: float = 1.0) -> list[dict]:
    """AdamW with the one-cycle schedule, label smoothing 0.05, SpecAugment (module docstring).

    Returns per-epoch logs: mean loss, accuracy on the (augmented) training batches `train_acc`
    and, with validation data, `val_acc`. `checkpoint(epoch, logs)` is called after every epoch.
    `aux` = (head, targets), float training only: the loss adds the cross-entropy of `head` on the
    binary features against `targets` (one per sample; -100: ignored); `loss` in the logs is the sum.
    `weight`: one weight per sample for the 12-class loss (`weighted_ce`; None: the plain mean).
    `mixup_alpha` > 0: mixup across voices (`mixup.py`; `voice`: one integer voice id per sample),
    both losses on the mixed targets. `step_hook(step, steps)` is called after every optimizer step
    (weight averaging, `averaging.step_hook`). `metric` (with `aux`): every step also draws one
    cross-voice episode of `metric.sampler` (indices into `x`), passes its clips (SpecAugment from
    their own random stream, so the other streams are unchanged) through the trunk in the same
    forward as the batch, and adds `metric.weight` × the prototypical loss on their binarized
    features (`episodes.py`); `metric_loss` in the logs is its mean (unweighted). `phones` (with
    `aux`, not with mixup): adds `phones.weight` × the mean binary cross-entropy of `phones.head` on
    the batch's binarized features (clipped straight-through gradient, `episodes.binarize`) against
    `phones.targets` over the clips of `phones.mask` (`phones.py`); `phone_loss` in the logs is its
    mean over those clips (unweighted). `distill` (not with mixup; without `aux` too, e.g. a
    quantized student of its float network): adds `distill.weight`
    × T² × KL(teacher ‖ student) of the 12-class outputs softened at T = `distill.temperature`, the
    teacher (frozen, eval mode) on the same augmented batch, per sample weighted as the 12-class loss
    (`weight`): Learning without Forgetting (Li & Hoiem, arXiv 1606.09282); `distill_loss` in the logs
    is its mean (unweighted by `distill.weight`). `trunk_lr`: the rate of every layer before the
    binary feature layer (the trunk, model[:TRUNK]) as a share of `lr`; the feature layer and the
    heads keep `lr`.
    """
    if mixup_alpha > 0 and (voice is None or len(voice) != len(x)):
        raise ValueError("fit: mixup needs one voice id per sample")
    if aux is not None and model.quantized:
        raise ValueError("fit: aux needs the float forward (before set_quantized)")
    if metric is not None and aux is None:
        raise ValueError("fit: metric learning trains the features of float training: it needs aux")
    if phones is not None and (aux is None or mixup_alpha > 0):
        raise ValueError("fit: the phonetic head trains the features of float training: it needs aux and "
                         "no mixup")
    if distill is not None and mixup_alpha > 0:
        raise ValueError("fit: distillation compares the teacher's and the student's outputs on one batch: "
                         "it needs no mixup")
    if not 0 < trunk_lr <= 1:
        raise ValueError(f"fit: trunk_lr {trunk_lr} must be in (0, 1] (a share of lr)")
    gen = torch.Generator().manual_seed(seed)
    mix_rng = np.random.default_rng([seed, 1710])  # mixup's own stream: the others are unchanged
    episode_rng = np.random.default_rng([seed, 1703])  # the episodes' own streams, likewise
    episode_gen = torch.Generator().manual_seed(seed + 1703)
    trunk_ids = {id(p) for m in list(model)[:TRUNK] for p in m.parameters()} if trunk_lr != 1.0 else set()
    named = list(model.named_parameters()) + (list(aux[0].named_parameters()) if aux is not None else [])
    named += list(phones.head.named_parameters()) if phones is not None else []
    groups = []
    for share, part in ((1.0, [p for _, p in named if id(p) not in trunk_ids]),
                        (trunk_lr, [p for _, p in named if id(p) in trunk_ids])):
        groups += [{"params": [p for p in part if p.dim() > 1], "weight_decay": WEIGHT_DECAY},
                   {"params": [p for p in part if p.dim() <= 1], "weight_decay": 0.0}]
        groups[-2]["lr"] = groups[-1]["lr"] = lr * share
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)
    if distill is not None:
        distill.teacher.eval()
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: one_cycle(s, steps, warmup))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    logs: list[dict] = []
    t0 = time.monotonic()
    trunk = model[:-1] if aux is not None else None

    def features(xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The binary-feature layer's float output for `xb`, with `metric` one episode's loss, with
        `phones` the batch's binarized features (straight-through)."""
        if metric is None and phones is None:
            return trunk(xb), None, None
        xe = xb[:0]
        if metric is not None:
            ep = metric.sampler.sample(episode_rng)
            xe = spec_augment(x[torch.from_numpy(np.concatenate([ep.support, ep.query]))], episode_gen)
        pre = model[:-2](torch.cat([xb, xe]))  # the feature layer before its activation
        feats = model[-2](pre)
        m_loss = None
        if metric is not None:
            b = episodes.binarize(pre[len(xb):])
            ns = len(ep.support)
            m_loss = episodes.prototypical_loss(b[:ns], torch.from_numpy(ep.support_word), b[ns:],
                                                torch.from_numpy(ep.query_word), metric.temperature)
        bin_b = episodes.binarize(pre[:len(xb)]) if phones is not None else None
        return feats[:len(xb)], m_loss, bin_b
    for epoch in range(epochs):
        model.train()
        if aux is not None:
            aux[0].train()
        if phones is not None:
            phones.head.train()
        order = torch.randperm(len(x), generator=gen)
        total, count, right, named, m_total = 0.0, 0, 0, 0, 0.0
        p_total, p_count, d_total = 0.0, 0, 0.0
        for i in range(0, len(x), batch):
            idx = order[i: i + batch]
            xb = spec_augment(x[idx], gen)
            wb = weight[idx] if weight is not None else None
            if mixup_alpha > 0:
                xb, perm, lam = mixup.mix(xb, voice[idx], mixup_alpha, mix_rng)
                wp = wb[perm] if wb is not None else None
            if aux is None:
                logits = model(xb)
                if mixup_alpha > 0:
                    loss = mixup.mixed_ce(logits, y[idx], y[idx][perm], lam, wb, wp)
                else:
                    loss = loss_fn(logits, y[idx]) if wb is None else weighted_ce(logits, y[idx], wb)
            elif mixup_alpha > 0:
                feats, m_loss, _ = features(xb)
                logits = model[-1](feats)
                a = aux[1][idx]
                loss = mixup.mixed_ce(aux[0](feats), a, a[perm], lam)
                loss = loss + mixup.mixed_ce(logits, y[idx], y[idx][perm], lam, wb, wp)
            else:
                feats, m_loss, bin_b = features(xb)
                logits = model[-1](feats)
                loss = torch.zeros(())
                if phones is not None and bool(phones.mask[idx].any()):
                    has = phones.mask[idx]
                    p_loss = nn.functional.binary_cross_entropy_with_logits(phones.head(bin_b[has]),
                                                                            phones.targets[idx][has])
                    loss = loss + phones.weight * p_loss
                    p_total, p_count = p_total + p_loss.item() * int(has.sum()), p_count + int(has.sum())
                if bool((aux[1][idx] >= 0).any()):  # speech windows have no word class (-100)
                    loss = loss + loss_fn(aux[0](feats), aux[1][idx])
                if bool((y[idx] >= 0).any()):  # clips of the word set carry no 12-class target (-100)
                    loss = loss + (loss_fn(logits, y[idx]) if wb is None else weighted_ce(logits, y[idx], wb))
            if distill is not None:  # never with mixup (checked above); with or without aux
                d_w = wb
                if distill.keep is not None:
                    k = distill.keep[idx].to(logits.dtype)
                    d_w = k if wb is None else wb * k
                d_loss = distill.loss(logits, xb, d_w)
                loss = loss + distill.weight * d_loss
                d_total += d_loss.item() * len(idx)
            if aux is not None and m_loss is not None:
                loss = loss + metric.weight * m_loss
                m_total += m_loss.item() * len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step_hook is not None:
                step_hook(sched.last_epoch - 1, steps)
            labelled = y[idx] >= 0
            total, count = total + loss.item() * len(idx), count + len(idx)
            right += int(((logits.detach().argmax(1) == y[idx]) & labelled).sum())
            named += int(labelled.sum())
        log = {"epoch": epoch + 1, "what": what, "loss": total / max(count, 1),
               "train_acc": right / max(named, 1)}  # over the clips with a 12-class target
        if metric is not None:
            log["metric_loss"] = m_total / max(count, 1)
        if phones is not None:
            log["phone_loss"] = p_total / max(p_count, 1)
        if distill is not None:
            log["distill_loss"] = d_total / max(count, 1)
        if x_val is not None and len(x_val):
            log["val_acc"] = float((predict(model, x_val).argmax(1) == y_val.numpy()).mean())
        logs.append(log)
        _progress(progress, what, epoch + 1, epochs, time.monotonic() - t0, log)
        if checkpoint is not None:
            checkpoint(epoch + 1, logs)
    model.eval()
    return logs


@dataclass(frozen=True)
class PhoneLoss:
    """`fit`'s phonetic term (`phones.py`): `weight` × the mean binary cross-entropy of `head` on the
    binarized features against `targets` (n, outputs), over the samples where `mask` (n,) is True."""

    head: nn.Module
    targets: torch.Tensor
    mask: torch.Tensor
    weight: float


@dataclass(frozen=True)
class Distill:
    """`fit`'s distillation term: `weight` × T² × KL(softmax(teacher/T) ‖ softmax(student/T)) over the
    12-class outputs, T = `temperature`; `teacher` is frozen (no gradient, eval mode)."""

    teacher: nn.Module
    weight: float = 1.0
    temperature: float = 2.0
    # per training sample: False leaves it out of the term (None: every sample), e.g. clips of new
    # voices whose outputs the teacher should not hold (`train.py --kokoro`)
    keep: torch.Tensor | None = None

    def loss(self, logits: torch.Tensor, xb: torch.Tensor, wb: torch.Tensor | None = None) -> torch.Tensor:
        """The term (before `weight`) for a batch: `logits` the student's on `xb`; `wb` per-sample
        weights (None: the mean)."""
        t = self.temperature
        with torch.no_grad():
            target = torch.softmax(self.teacher(xb) / t, dim=1)
        kl = (target * (torch.log(target.clamp_min(1e-12)) - torch.log_softmax(logits / t, dim=1))).sum(1)
        kl = kl * t * t
        return kl.mean() if wb is None else (kl * wb).sum() / wb.sum().clamp_min(1e-12)


def weighted_ce(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                smoothing: float = 0.05) -> torch.Tensor:
    """Σ wᵢ·CEᵢ / Σ wᵢ over the samples with a target (y ≥ 0; label smoothing `smoothing`): with
    all weights 1, the mean cross-entropy of `fit`. Zero when no sample has a target."""
    has = y >= 0
    if not bool(has.any()):
        return logits.sum() * 0.0
    ce = nn.functional.cross_entropy(logits[has], y[has], reduction="none", label_smoothing=smoothing)
    return (ce * w[has]).sum() / w[has].sum().clamp_min(1e-12)


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
    extra = f" train {log['train_acc']:.3f}" + (f" val {log['val_acc']:.3f}" if "val_acc" in log else "")
    stream.write(f"kws {what:<9} [{bar:<20}] epoch {done}/{total} loss {log['loss']:.3f}{extra} "
                 f"{elapsed_s:.0f} s, ~{left:.0f} s left\n")
    stream.flush()
