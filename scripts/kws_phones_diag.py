"""How well the phonetic head (`train.py --phones`, `phones.py`) names the phones of clips not trained on.

For float networks with their phonetic head (the `phone_state_dict` of a training checkpoint), the
head's per-bin micro F1 (sigmoid > ½; `phones.bin_f1`) on the features binarized at ½ — what the
head was trained on — for

* ``train``: 2 000 seeded training clips (keyword set and word set, training voices);
* ``validation``: the keyword set's validation split (keywords and `_unknown_` words, validation
  voices: voices never trained on, words trained on);
* ``dev``: the word set's dev split (dev words by validation voices: neither the words nor the
  voices trained on — the case new-word learning needs);

with the per-bin ROC AUC of the head's scores over every (clip, phone) pair (``*_auc``:
threshold-free, 0.5 = chance), and ``prior``: the F1 of predicting every phone the training
clips have in a bin more often than not (the best constant guess).
Nothing here looks at test voices or the bench's words.

    python scripts/kws_phones_diag.py --ckpt runs/ckpt-p1/float-continued-seed2.pt \
        --table runs/ckpt-p1/phones.json [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from akida_edge.apps.kws import episodes, network, phones, train
from akida_edge.apps.kws.labels import CLASSES

SAMPLE = 2000


@torch.no_grad()
def head_scores(model, head: torch.nn.Linear, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """The phonetic head's logits on the features binarized at ½ (eval mode)."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        pre = model[:-2](network.to_nchw(x[i: i + batch]))
        out.append(head((pre > episodes.THRESHOLD).float()).numpy())
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/kws-en"))
    ap.add_argument("--words", type=Path, default=Path("data/kws-words"))
    ap.add_argument("--ckpt", type=Path, nargs="+", required=True)
    ap.add_argument("--table", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    kws = {s: train.load_features(args.data, s, None) for s in ("train", "validation")}
    ws = {s: train.load_features(args.words, s, None) for s in ("train", "dev")}
    n_fit = len(kws["train"]["y"]) + len(ws["train"]["y"])
    table, y_fit, m_fit = train.phone_targets(kws["train"], ws["train"], n_fit, args.table)
    x_fit = np.concatenate([kws["train"]["x"], ws["train"]["x"]])
    pick = np.random.default_rng(0).choice(np.flatnonzero(m_fit), SAMPLE, replace=False)
    sets = {"train": (x_fit[pick], y_fit[pick])}
    val = kws["validation"]
    words = np.where(val["y"] == CLASSES.index("_silence_"), "", val["word"].astype(str))
    table = phones.extend(table, np.concatenate([val["voice"], ws["dev"]["voice"]]),
                          np.concatenate([words, ws["dev"]["word"]]))
    for name, part, w in (("validation", val, words), ("dev", ws["dev"], ws["dev"]["word"])):
        y, mask = table.targets(part["voice"], w)
        sets[name] = (part["x"][mask], y[mask])
    prior = (y_fit[m_fit].mean(0) > 0.5).astype(np.float32) * 2 - 1
    results = {}
    for path in args.ckpt:
        saved = torch.load(path, weights_only=True)
        model = network.build(len(CLASSES), **network.architecture(saved))
        model.load_state_dict(saved["state_dict"])
        head = torch.nn.Linear(model[-1].in_features, table.outputs)
        head.load_state_dict(saved["phone_state_dict"])
        r = {}
        for name, (x, y) in sets.items():
            scores = head_scores(model, head, x)
            r[name] = [round(f, 4) for f in phones.bin_f1(scores, y, table.bins)]
            r[f"{name}_auc"] = [round(f, 4) for f in phones.bin_auc(scores, y, table.bins)]
            constant = np.tile(prior, (len(y), 1))
            r[f"{name}_prior"] = [round(f, 4) for f in phones.bin_f1(constant, y, table.bins)]
        r["clips"] = {k: len(v[1]) for k, v in sets.items()}
        results[str(path)] = r
        print(path, json.dumps(r), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
