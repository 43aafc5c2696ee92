"""Mixup across voices, in feature space (`train.py --mixup ALPHA`).

Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", arXiv 1710.09412) trains on
convex combinations of two examples and of their targets:

    x̃ = λ·xᵢ + (1 − λ)·xⱼ,     loss = λ·CE(f(x̃), yᵢ) + (1 − λ)·CE(f(x̃), yⱼ),     λ ~ Beta(α, α)

which favours a network that behaves linearly between training examples — a regularizer aimed at
what the KWS model lacks: the fit on training voices is high and the gap is to voices it never
heard (docs/kws.md, session 4). Here the examples are the 49 × 10 uint8 MFCC codes the network
reads (`features.py`: per-utterance mean removed), mixed after SpecAugment and rounded back to
integer codes (the input layer takes 8-bit integers), with one λ per pair. The partner of clip i
is clip π(i) of a random permutation of the batch, and only pairs of **different voices** mix: a
pair of one voice keeps λ = 1 (unmixed), so every mixed input holds two speakers (with ~370
training voices this is nearly every pair). Both heads get the mixed targets (`mixed_ce`): the
12-class head and the auxiliary word head; a target that is absent (-100: a speech window has no
word class) drops its term, and the per-clip weights of the new negatives (`train.fit_data`) weigh
each term.

Needs PyTorch (the `train` extra).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def mix(x: torch.Tensor, voice: torch.Tensor, alpha: float, rng: np.random.Generator
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x̃, π, λ) for a batch `x` (N, C, H, W) of integer codes and its voice ids (N,): π a random
    permutation, λ ~ Beta(α, α) per clip (float32), set to 1 where voice[π(i)] == voice[i]."""
    if not alpha > 0:
        raise ValueError(f"mix: alpha {alpha} must be > 0")
    n = len(x)
    perm = torch.from_numpy(rng.permutation(n))
    lam = torch.from_numpy(rng.beta(alpha, alpha, n).astype(np.float32))
    lam[voice[perm] == voice] = 1.0
    shape = (n,) + (1,) * (x.dim() - 1)
    mixed = torch.round(lam.view(shape) * x + (1 - lam.view(shape)) * x[perm])
    return mixed, perm, lam


def mixed_ce(logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: torch.Tensor,
             w_a: torch.Tensor | None = None, w_b: torch.Tensor | None = None,
             smoothing: float = 0.05) -> torch.Tensor:
    """Σᵢ [λᵢ·wₐᵢ·CE(ℓᵢ, aᵢ) + (1 − λᵢ)·w_bᵢ·CE(ℓᵢ, bᵢ)] / Σᵢ [λᵢ·wₐᵢ + (1 − λᵢ)·w_bᵢ] over the terms
    whose target is present (≥ 0); weights default to 1, label smoothing `smoothing`. With λ = 1
    it is `network.weighted_ce` (the plain mean with unit weights); zero when no target is present."""
    ones = torch.ones(len(logits))
    terms, norms = [], []
    for y, w, share in ((y_a, w_a, lam), (y_b, w_b, 1 - lam)):
        has = y >= 0
        c = (share * (ones if w is None else w))[has]
        if bool(has.any()):
            ce = nn.functional.cross_entropy(logits[has], y[has], reduction="none", label_smoothing=smoothing)
            terms.append((ce * c).sum())
            norms.append(c.sum())
    if not terms:
        return logits.sum() * 0.0
    return sum(terms) / sum(norms).clamp_min(1e-12)
