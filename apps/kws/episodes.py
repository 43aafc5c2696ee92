"""Metric learning on the binary features: cross-voice episodes and a prototypical loss (`train.py --metric`).

Few-shot learning of a new word (`learn.py`) matches a clip's 256 binary features to neurons made
from a few clips of ONE voice, and the clip to be recognised is said by ANOTHER voice. The
classification losses of `network.fit` train the features for that only indirectly. This module
trains them for it directly, with episodes (Vinyals et al., arXiv 1606.04080) of the word set
(`wordset.py`: 454 words, ~42 training voices each) and the prototypical loss of Snell et al.
("Prototypical Networks for Few-shot Learning", arXiv 1703.05175) with cosine similarity:

* an episode draws P words; for each, one voice v and up to `shots` of its clips of the word
  (the support), and `queries` clips of the word by voices other than v (the queries; never v);
* the prototype of word k is the mean of its support's features, cₖ = mean(b(sᵢ));
* a query q scores sₖ(q) = cos(b(q), cₖ)/τ and the loss is the cross-entropy of softmaxₖ sₖ(q)
  against its word, averaged over the queries.

b(·) is what the learning layer sees: the feature layer's output binarized at ½, as calibration
and conversion make it (`StepReLU(1)`: threshold s/2, s ≤ 1). The forward pass uses the binary
values; the backward pass uses the straight-through estimator clipped to |x − ½| ≤ 1 (Bengio et
al., arXiv 1308.3432; the "hard-tanh" STE of Courbariaux et al., arXiv 1602.02830), taken on the
feature layer's input to its activation (after BatchNorm), so a feature that is off (x < 0, where
the float network's clamp has no gradient) can still be turned on. A smooth surrogate (the float
features in [0, 1]) would train a quantity that calibration then throws away: session 5's pilot
found that binarizing costs nothing on the shipped features, but a loss on floats can reach its
optimum with values that all round the same way.

Needs PyTorch (the `train` extra).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

WORDS_PER_EPISODE = 32  # P: prototypes each query competes among
SHOTS = 5  # support clips per word, all of one voice (the bench's five clips of the learner)
QUERIES = 2  # query clips per word, each of a voice that is not the support's
TEMPERATURE = 0.1  # τ: cosine similarities in [0, 1] become logits in [0, 10]
THRESHOLD = 0.5  # where the feature layer's activation is binarized (calibration's s/2 with s = 1)


@dataclass(frozen=True)
class Episode:
    """Indices (into the sampler's clips, plus its `offset`) and word numbers 0..P−1 of one episode."""

    support: np.ndarray
    support_word: np.ndarray
    query: np.ndarray
    query_word: np.ndarray


class EpisodeSampler:
    """Draws cross-voice episodes (module docstring) from clips labelled by word and voice.

    `word`, `voice`: one per clip (any hashable labels); `offset` is added to every index returned
    (the clips' position in the array that training reads). Only words said by at least two voices
    can give a query of another voice; the others are never drawn.
    """

    def __init__(self, word: np.ndarray, voice: np.ndarray, offset: int = 0) -> None:
        word, voice = np.asarray(word), np.asarray(voice)
        if word.shape != voice.shape:
            raise ValueError(f"EpisodeSampler: {len(word)} words for {len(voice)} voices")
        self.offset = int(offset)
        self._by_word: list[tuple[np.ndarray, np.ndarray]] = []  # (clip indices, their voice ids)
        for w in np.unique(word):
            idx = np.flatnonzero(word == w)
            vid = np.unique(voice[idx], return_inverse=True)[1]
            if vid.max() >= 1:  # at least two voices
                self._by_word.append((idx, vid))
        if not self._by_word:
            raise ValueError("EpisodeSampler: no word is said by two voices; episodes need another voice")

    @property
    def words(self) -> int:
        return len(self._by_word)

    def sample(self, rng: np.random.Generator, words: int = WORDS_PER_EPISODE, shots: int = SHOTS,
               queries: int = QUERIES) -> Episode:
        """One episode of min(`words`, available) words: per word one random voice's clips (up to
        `shots`, in random order) as support and `queries` clips of other voices (without
        replacement while there are enough) as queries."""
        pick = rng.choice(self.words, min(words, self.words), replace=False)
        sup, sup_w, qry, qry_w = [], [], [], []
        for k, i in enumerate(pick):
            idx, vid = self._by_word[int(i)]
            v = rng.choice(np.unique(vid))
            own, other = idx[vid == v], idx[vid != v]
            s = rng.permutation(own)[:shots]
            q = rng.choice(other, queries, replace=len(other) < queries)
            sup.append(s)
            qry.append(q)
            sup_w.append(np.full(len(s), k))
            qry_w.append(np.full(len(q), k))
        cat = np.concatenate
        return Episode(cat(sup) + self.offset, cat(sup_w), cat(qry) + self.offset, cat(qry_w))


class _ClippedSTE(torch.autograd.Function):
    """H(x − t) forward; gradient 1 where |x − t| ≤ 1, else 0 (module docstring)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, threshold: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.threshold = threshold
        return (x > threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * ((x - ctx.threshold).abs() <= 1.0).to(grad.dtype), None


def binarize(x: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """The binary features (x > `threshold`) with the clipped straight-through gradient."""
    return _ClippedSTE.apply(x, threshold)


def prototypical_loss(support: torch.Tensor, support_word: torch.Tensor, query: torch.Tensor,
                      query_word: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """Mean cross-entropy of softmaxₖ(cos(q, cₖ)/τ) against each query's word; cₖ the mean of the
    support rows of word k (words numbered 0..K−1, each with a support row)."""
    k = int(support_word.max()) + 1
    onehot = nn.functional.one_hot(support_word, k).to(support.dtype)  # (S, K)
    protos = onehot.T @ support / onehot.sum(0).clamp_min(1)[:, None]  # (K, D)
    cos = nn.functional.normalize(query, dim=1, eps=1e-6) @ nn.functional.normalize(protos, dim=1, eps=1e-6).T
    return nn.functional.cross_entropy(cos / temperature, query_word)


@dataclass(frozen=True)
class Metric:
    """`network.fit`'s metric-learning term: `weight` × the prototypical loss of one episode of
    `sampler` per optimizer step, at temperature `temperature`."""

    sampler: EpisodeSampler
    weight: float
    temperature: float = TEMPERATURE
