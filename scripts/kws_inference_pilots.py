"""Two inference-side pilots on the shipped KWS model (session 12; docs/kws.md, "Two inference-side
pilots"): nothing is retrained, everything runs on the converted model (virtual AKD1000).

* ``word-head``: a dense layer on the model's 256 binary features that names each `_unknown_` word
  (12 + `train.AUX_WORDS` classes), fitted on the training split's features, its words'
  probabilities added into `_unknown_`; against the shipped 12-class head and a 12-class head
  fitted the same way;
* ``tta``: test-time augmentation, the mean softmax over a clip and copies of it shifted
  (circularly) by ±50/±100 ms or resampled ±5/±10 % faster or slower.

Reads the keyword data set (`train.py`'s, built with its settings). Choosing material only:
validation, plus the report's held-out splits to see whether a gain carries over.

    python scripts/kws_inference_pilots.py word-head|tta [--data data/kws-en] [--model FILE.aem]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import dataset, train
from akida_edge.apps.kws import features as F
from akida_edge.apps.kws.app import MODEL_PATH, softmax
from akida_edge.apps.kws.labels import CLASSES
from akida_edge.apps.kws.learn import learning_model
from akida_edge.engine import learning
from akida_edge.engine.model import Model
from akida_edge.engine.modelfile import load_model
from akida_edge.frontends.resample import resample

UNKNOWN = CLASSES.index("_unknown_")
SPLITS = ("train", "validation", "test", "cross_family", "other_synth")


def binary_features(base: Model, x: np.ndarray) -> np.ndarray:
    """(n, 256) the converted model's binary feature layer: what its learning layer sees."""
    return learning.features(learning_model(base), x).astype(np.float32)


def fit_linear(x: np.ndarray, t: np.ndarray, n: int, steps: int = 400, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    lin = torch.nn.Linear(x.shape[1], n)
    opt = torch.optim.AdamW(lin.parameters(), lr=0.05, weight_decay=1e-3)
    for _ in range(steps):  # full batch
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin(xt), tt).backward()
        opt.step()
    return lambda f: lin(torch.from_numpy(f)).detach().numpy()


def word_head(data: str, model: Path) -> None:
    base = load_model(model)
    d = {s: train.load_features(Path(data), s, progress=None) for s in SPLITS}
    feats = {s: binary_features(base, d[s]["x"]) for s in SPLITS}
    index = {w: len(CLASSES) + i for i, w in enumerate(train.AUX_WORDS)}
    y = d["train"]["y"].astype(np.int64)
    fine = y.copy()
    fine[y == UNKNOWN] = [index.get(str(w), UNKNOWN) for w in d["train"]["word"][y == UNKNOWN]]
    head12 = fit_linear(feats["train"], y, len(CLASSES))
    head_words = fit_linear(feats["train"], fine, len(CLASSES) + len(index))
    for s in SPLITS:
        ys = d[s]["y"]
        shipped = base.predict(d[s]["x"]).reshape(len(ys), -1).argmax(1)
        refit = head12(feats[s]).argmax(1)
        p = softmax(head_words(feats[s]))
        collapsed = p[:, :len(CLASSES)].copy()
        collapsed[:, UNKNOWN] += p[:, len(CLASSES):].sum(1)
        collapsed = collapsed.argmax(1)
        u = ys == UNKNOWN
        rows = (("model", shipped), ("refit-12", refit), ("word-head", collapsed))
        cells = [f"{name} {np.mean(pred == ys):.3f} (_unknown_ {np.mean(pred[u] == UNKNOWN):.2f})"
                 for name, pred in rows]
        print(f"{s:13s} " + "  ".join(cells), flush=True)


def _one_second(a: np.ndarray) -> np.ndarray:
    n = F.CLIP_SAMPLES
    if len(a) >= n:
        return a[(len(a) - n) // 2:][:n]
    return np.pad(a, ((n - len(a)) // 2, n - len(a) - (n - len(a)) // 2))


def tta(data: str, model_path: Path) -> None:
    model = load_model(model_path)
    for split in ("validation", "cross_family"):
        raw = dataset.load_split(data, split)
        x, y = raw["audio"].astype(np.float32) / 32768.0, raw["label"].astype(int)
        variants = {"clip": x}
        for speed in (0.9, 0.95, 1.05, 1.1):  # resampled to 16 kHz / speed: `speed` × faster
            variants[f"speed {speed:g}"] = np.stack([_one_second(resample(c, int(16000 * speed), 16000))
                                                     for c in x])
        for ms in (-100, -50, 50, 100):
            variants[f"shift {ms} ms"] = np.roll(x, ms * 16, axis=1)
        probs = {}
        for name, xa in variants.items():
            probs[name] = softmax(model.predict(F.batch_features(xa)).reshape(len(y), -1))
            print(f"{split:13s} {name:14s} {np.mean(probs[name].argmax(1) == y):.3f}", flush=True)
        for name, keys in {"clip ± 50 ms": ["clip", "shift -50 ms", "shift 50 ms"],
                           "+ speed ±10 %": ["clip", "shift -50 ms", "shift 50 ms", "speed 0.9", "speed 1.1"],
                           "all nine": list(probs)}.items():
            p = np.mean([probs[k] for k in keys], 0)
            print(f"{split:13s} mean of {name:16s} {np.mean(p.argmax(1) == y):.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pilot", choices=("word-head", "tta"))
    ap.add_argument("--data", default="data/kws-en")
    ap.add_argument("--model", type=Path, default=MODEL_PATH,
                    help="the converted model (default: the shipped one; session 12 measured the session-6 "
                         "model: git show 83e4688:apps/kws/model/kws.aem)")
    args = ap.parse_args()
    (word_head if args.pilot == "word-head" else tta)(args.data, args.model)


if __name__ == "__main__":
    main()
