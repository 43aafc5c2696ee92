"""Float-only KWS pilots on a fixed training subset, compared on the validation split (session 4).

    python scripts/kws_pilot.py NAME INPUT WIDTH DOWN EPOCHS N_TRAIN [--data data/kws-en] [--cache DIR]
        [--seed 2] [--alpha 2 --beta 0.05]

INPUT is ``mfcc10`` (the shipped input, `features.normalize`), ``sub`` (the shipped input after
mel spectral subtraction, `denoise.spectral_subtract`), ``cmvn`` (cepstral mean AND variance
normalization instead of mean removal, `denoise.cmvn`), ``subcmvn`` (both) — the three session-10
arms, each with its 8-bit scale (4 standard deviations per coefficient) re-measured on the pilot's
training clips — ``mel40`` (40 log-mel bands, the
same 70-dB floor, per-band mean removal over the clip, 8 bits at ±4 standard deviations per band)
or ``pcen40`` (per-channel energy normalization of the 40 mel energies, Wang et al., arXiv
1607.05666: s = 0.05 per 20-ms frame, α = 0.98, δ = 2, r = 0.5, 8 bits up to the 99.9th
percentile per band). DOWN is a JSON list of the separable blocks with stride 2 (``[0,1]`` keeps
the 40-wide maps as small as the shipped network's: 25×20 → 13×10 → 7×5). The log-mel of every
clip is computed once with the run-time front-end and cached (float16) under ``--cache``; the
subset is the same for every pilot (seed 0). One line of JSON per pilot is appended to
``<cache>/results.jsonl`` (with validation accuracy by SNR, by noise kind and the `_unknown_`
recall; the noise kinds are read beside the cache from `dataset.load_split`), and the validation
predictions to ``<cache>/preds-NAME.npz`` for paired comparisons. ``--seed`` seeds the network's
initialization and `network.fit` (default 2, session 4's). Training is `network.fit` with the
recipe's settings (AdamW one-cycle at 3e-3, SpecAugment, the auxiliary word head), one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from akida_edge.apps.kws import dataset, denoise, features, network
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


def cepstra(mel_db: np.ndarray, subtract: bool, variance: bool, alpha: float = denoise.ALPHA,
            beta: float = denoise.BETA) -> np.ndarray:
    """(n, frames, 10) normalized cepstra: [subtraction] → 70-dB floor → DCT → CMN or CMVN."""
    mel = denoise.spectral_subtract(mel_db, alpha, beta) if subtract else mel_db.astype(np.float32)
    c = _floor(mel) @ features.DCT.T
    return denoise.cmvn(c) if variance else c - c.mean(axis=-2, keepdims=True)


ARMS = {"sub": (True, False), "cmvn": (False, True), "subcmvn": (True, True)}


def inputs(kind: str, mel: np.ndarray, scale: np.ndarray | None = None, alpha: float = denoise.ALPHA,
           beta: float = denoise.BETA) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (n, frames, width, 1) pilot inputs, and the per-band scale (measured on training data)."""
    if kind == "mfcc10":
        return features.normalize(mel.astype(np.float32)), None
    if kind in ARMS:
        d = cepstra(mel, *ARMS[kind], alpha=alpha, beta=beta)
        scale = 4 * d.std(axis=(0, 1)) if scale is None else scale
        q = features.MEAN_CODE + d * 127 / scale
    elif kind == "mel40":
        d = _floor(mel)
        d -= d.mean(axis=-2, keepdims=True)
        scale = 4 * d.std(axis=(0, 1)) if scale is None else scale
        q = 128 + d * 127 / scale
    elif kind == "pcen40":
        d = pcen(mel)
        scale = np.percentile(d, 99.9, axis=(0, 1)) if scale is None else scale
        q = d * 255 / scale
    else:
        raise SystemExit(f"input {kind!r}: use mfcc10, sub, cmvn, subcmvn, mel40 or pcen40")
    return np.clip(np.round(q), 0, 255).astype(np.uint8)[..., None], scale


def breakdown(data: Path, va: dict[str, np.ndarray], pred: np.ndarray) -> dict:
    """Validation accuracy by SNR (spoken clips; ``clean`` = no noise) and by noise kind (all clips),
    and the `_unknown_` and `_silence_` recalls."""
    raw = dataset.load_split(data, "validation")
    if not np.array_equal(raw["label"].astype(np.int64), va["y"]):
        raise SystemExit(f"{data}/validation does not match the mel cache's labels: rebuild the cache")
    ok = pred == va["y"]
    snr = np.where(np.isnan(raw["snr_db"]), -1, raw["snr_db"]).astype(int)
    levels = sorted(set(snr.tolist()), key=lambda s: (s >= 0, -s))  # clean, then 30 dB ... 0 dB
    spoken = va["y"] != dataset.CLASSES.index("_silence_")
    by_snr = {("clean" if s < 0 else str(s)): round(float(ok[spoken & (snr == s)].mean()), 4) for s in levels}
    kinds = np.where(raw["noise"] == "", "none", raw["noise"])
    by_noise = {k: round(float(ok[kinds == k].mean()), 4) for k in sorted(set(kinds.tolist()))}
    unk = va["y"] == dataset.CLASSES.index("_unknown_")
    return {"val_acc": round(float(ok.mean()), 4), "by_snr": by_snr, "by_noise": by_noise,
            "unknown_recall": round(float(ok[unk].mean()), 4),
            "silence_recall": round(float(ok[~spoken].mean()), 4)}


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
    ap.add_argument("--seed", type=int, default=2, help="initialization and training order (default 2)")
    ap.add_argument("--alpha", type=float, default=denoise.ALPHA, help="over-subtraction (sub arms)")
    ap.add_argument("--beta", type=float, default=denoise.BETA, help="spectral floor (sub arms)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    a.cache.mkdir(parents=True, exist_ok=True)
    tr, va = mel_cache(a.data, a.cache, "train"), mel_cache(a.data, a.cache, "validation")
    sub = np.sort(np.random.default_rng(0).permutation(len(tr["y"]))[: a.n_train])
    tr = {k: tr[k][sub] for k in ("mel", "y", "word")}
    xtr, scale = inputs(a.input, tr["mel"], alpha=a.alpha, beta=a.beta)
    xva, _ = inputs(a.input, va["mel"], scale, alpha=a.alpha, beta=a.beta)
    torch.manual_seed(a.seed)
    model = network.build(len(dataset.CLASSES), width=a.width, features=256, blocks=a.blocks,
                          down=tuple(a.down))
    network.WEIGHT_DECAY = a.weight_decay  # read by network.fit
    for m in model:
        if isinstance(m, torch.nn.Dropout):
            m.p = a.dropout
    head = (network.aux_head(model, len(dataset.CLASSES) + len(AUX_WORDS)), aux_targets(tr["y"], tr["word"]))
    t0 = time.monotonic()
    logs = network.fit(model, network.to_nchw(xtr), torch.from_numpy(tr["y"]), epochs=a.epochs, lr=3e-3,
                       seed=a.seed, x_val=network.to_nchw(xva), y_val=torch.from_numpy(va["y"]), aux=head,
                       progress=sys.stdout)
    s_per_epoch = (time.monotonic() - t0) / a.epochs
    pred = network.predict(model, network.to_nchw(xva)).argmax(1)
    np.savez(a.cache / f"preds-{a.name}.npz", pred=pred, y=va["y"])
    pick = np.arange(0, len(xtr), max(1, len(xtr) // 2000))
    fit = float((network.predict(model, network.to_nchw(xtr[pick])).argmax(1) == tr["y"][pick]).mean())
    res = {"name": a.name, "input": a.input, "width": a.width, "down": a.down, "blocks": a.blocks,
           "weight_decay": a.weight_decay, "dropout": a.dropout,
           "epochs": a.epochs, "n_train": a.n_train, "s_per_epoch": round(s_per_epoch, 1),
           "seed": a.seed, **({"alpha": a.alpha, "beta": a.beta} if a.input.startswith("sub") else {}),
           "val_last": logs[-1]["val_acc"], "train_fit": fit,
           **breakdown(a.data, va, pred), "scale": None if scale is None else np.round(scale, 2).tolist(),
           "val_curve": [round(g["val_acc"], 4) for g in logs]}
    print(json.dumps(res), flush=True)
    with open(a.cache / "results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
