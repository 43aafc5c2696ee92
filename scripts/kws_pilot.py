"""Float-only KWS pilots on a fixed training subset, compared on the validation split (session 4).

    python scripts/kws_pilot.py NAME INPUT WIDTH DOWN EPOCHS N_TRAIN [--data data/kws-en] [--cache DIR]

INPUT is ``mfcc10`` (the shipped input, `features.normalize`), ``mel40`` (40 log-mel bands, the
same 70-dB floor, per-band mean removal over the clip, 8 bits at ±4 standard deviations per band)
or ``pcen40`` (per-channel energy normalization of the 40 mel energies, Wang et al., arXiv
1607.05666: s = 0.05 per 20-ms frame, α = 0.98, δ = 2, r = 0.5, 8 bits up to the 99.9th
percentile per band). DOWN is a JSON list of the separable blocks with stride 2 (``[0,1]`` keeps
the 40-wide maps as small as the shipped network's: 25×20 → 13×10 → 7×5). The log-mel of every
clip is computed once with the run-time front-end and cached (float16) under ``--cache``; the
subset is the same for every pilot (seed 0). One line of JSON per pilot is appended to
``<cache>/results.jsonl``. Training is `network.fit` with the recipe's settings (AdamW one-cycle at
3e-3, SpecAugment, the auxiliary word head), one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from akida_edge.apps.kws import dataset, features, network
from akida_edge.apps.kws.train import AUX_WORDS, aux_targets


def mel_cache(data: Path, cache: Path, split: str) -> dict[str, np.ndarray]:
    path = cache / f"mel-{split}.npz"
    if not path.exists():
        raw = dataset.load_split(data, split)
        mel = np.stack([features.clip_mel(r.astype(np.float32) / 32768.0) for r in raw["audio"]])
        np.savez(path, mel=mel.astype(np.float16), y=raw["label"].astype(np.int64), word=raw["word"])
    return dict(np.load(path))


def _floor(mel: np.ndarray) -> np.ndarray:
    mel = mel.astype(np.float32)
    return np.maximum(mel, mel.max(axis=(-2, -1), keepdims=True) - features.RANGE_DB)


def pcen(mel_db: np.ndarray, s: float = 0.05, alpha: float = 0.98, delta: float = 2.0, r: float = 0.5,
         eps: float = 1e-6) -> np.ndarray:
    """PCEN of (n, frames, bands) log-mel dB: E/(ε + M)^α with M a first-order smoother of E."""
    e = 10 ** (_floor(mel_db) / 10.0)
    m = np.empty_like(e)
    m[:, 0] = e[:, 0]
    for t in range(1, e.shape[1]):
        m[:, t] = (1 - s) * m[:, t - 1] + s * e[:, t]
    return (e / (eps + m) ** alpha + delta) ** r - delta ** r


def inputs(kind: str, mel: np.ndarray,
           scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (n, frames, width, 1) pilot inputs, and the per-band scale (measured on training data)."""
    if kind == "mfcc10":
        return features.normalize(mel.astype(np.float32)), None
    if kind == "mel40":
        d = _floor(mel)
        d -= d.mean(axis=-2, keepdims=True)
        scale = 4 * d.std(axis=(0, 1)) if scale is None else scale
        q = 128 + d * 127 / scale
    elif kind == "pcen40":
        d = pcen(mel)
        scale = np.percentile(d, 99.9, axis=(0, 1)) if scale is None else scale
        q = d * 255 / scale
    else:
        raise SystemExit(f"input {kind!r}: use mfcc10, mel40 or pcen40")
    return np.clip(np.round(q), 0, 255).astype(np.uint8)[..., None], scale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name")
    ap.add_argument("input")
    ap.add_argument("width", type=int)
    ap.add_argument("down", type=json.loads)
    ap.add_argument("epochs", type=int)
    ap.add_argument("n_train", type=int)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--weight-decay", type=float, default=network.WEIGHT_DECAY)
    ap.add_argument("--dropout", type=float, default=0.1, help="before the binary-feature layer")
    ap.add_argument("--data", type=Path, default=Path("data/kws-en"))
    ap.add_argument("--cache", type=Path, default=Path("data/pilot"))
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    a.cache.mkdir(parents=True, exist_ok=True)
    tr, va = mel_cache(a.data, a.cache, "train"), mel_cache(a.data, a.cache, "validation")
    sub = np.sort(np.random.default_rng(0).permutation(len(tr["y"]))[: a.n_train])
    tr = {k: tr[k][sub] for k in ("mel", "y", "word")}
    xtr, scale = inputs(a.input, tr["mel"])
    xva, _ = inputs(a.input, va["mel"], scale)
    torch.manual_seed(2)
    model = network.build(len(dataset.CLASSES), width=a.width, features=256, blocks=a.blocks,
                          down=tuple(a.down))
    network.WEIGHT_DECAY = a.weight_decay  # read by network.fit
    for m in model:
        if isinstance(m, torch.nn.Dropout):
            m.p = a.dropout
    head = (network.aux_head(model, len(dataset.CLASSES) + len(AUX_WORDS)), aux_targets(tr["y"], tr["word"]))
    t0 = time.monotonic()
    logs = network.fit(model, network.to_nchw(xtr), torch.from_numpy(tr["y"]), epochs=a.epochs, lr=3e-3,
                       seed=2, x_val=network.to_nchw(xva), y_val=torch.from_numpy(va["y"]), aux=head,
                       progress=sys.stdout)
    s_per_epoch = (time.monotonic() - t0) / a.epochs
    pick = np.arange(0, len(xtr), max(1, len(xtr) // 2000))
    fit = float((network.predict(model, network.to_nchw(xtr[pick])).argmax(1) == tr["y"][pick]).mean())
    res = {"name": a.name, "input": a.input, "width": a.width, "down": a.down, "blocks": a.blocks,
           "weight_decay": a.weight_decay, "dropout": a.dropout,
           "epochs": a.epochs, "n_train": a.n_train, "s_per_epoch": round(s_per_epoch, 1),
           "val_last": logs[-1]["val_acc"], "train_fit": fit,
           "val_curve": [round(g["val_acc"], 4) for g in logs]}
    print(json.dumps(res), flush=True)
    with open(a.cache / "results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
