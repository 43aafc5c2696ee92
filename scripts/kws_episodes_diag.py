"""Diagnostic of `train.py --metric` (docs/kws-learning.md §13): the prototypical loss and accuracy
of float KWS networks on cross-voice episodes (`apps/kws/episodes.py`), in eval mode, without
augmentation, on the feature layer's output binarized at ½:

* ``train``: 32-way episodes of the word set's training words by the training voices (what the
  loss is trained on);
* ``dev``: 24-way episodes of the dev words by the validation voices (never trained on).

Each: 60 seeded episodes, up to 5 support clips of one voice and 2 queries of other voices per word.

    python scripts/kws_episodes_diag.py NAME=FILE.pt ... [--words data/kws-words]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from akida_edge.apps.kws import episodes, network, train

EPISODES = 60
SEED = 11


@torch.no_grad()
def measure(model, data: dict[str, np.ndarray], words: int) -> dict[str, float]:
    sampler = episodes.EpisodeSampler(data["word"], data["voice"])
    rng = np.random.default_rng(SEED)
    losses, accs = [], []
    for _ in range(EPISODES):
        ep = sampler.sample(rng, words=words, shots=5, queries=2)
        pre = model[:-2](network.to_nchw(data["x"][np.concatenate([ep.support, ep.query])]))
        b, ns = (pre > episodes.THRESHOLD).float(), len(ep.support)
        sw, qw = torch.from_numpy(ep.support_word), torch.from_numpy(ep.query_word)
        losses.append(float(episodes.prototypical_loss(b[:ns], sw, b[ns:], qw)))
        onehot = torch.nn.functional.one_hot(sw, int(sw.max()) + 1).float()
        protos = torch.nn.functional.normalize(onehot.T @ b[:ns], dim=1)
        accs.append(float(((torch.nn.functional.normalize(b[ns:], dim=1) @ protos.T).argmax(1) == qw)
                          .float().mean()))
    return {"loss": round(float(np.mean(losses)), 3), "acc": round(float(np.mean(accs)), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", metavar="NAME=FILE.pt")
    ap.add_argument("--words", type=Path, default=Path("data/kws-words"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    sets = {"train": (train.load_features(args.words, "train", None), 32),
            "dev": (train.load_features(args.words, "dev", None), 24)}
    for item in args.models:
        name, _, path = item.partition("=")
        saved = torch.load(path, weights_only=True)
        model = network.build(12, **network.architecture(saved))
        model.load_state_dict(saved["state_dict"])
        model.eval()
        print(name, json.dumps({s: measure(model, d, p) for s, (d, p) in sets.items()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
