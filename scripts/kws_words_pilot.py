"""Pilot (issue #5): do the word set's words give the binary features word identity across voices?

On the shipped float network's frozen trunk (`apps/kws/feature_head.py`), the feature layer and the
heads are retrained with and without the word set (`apps/kws/wordset.py`) in the auxiliary head,
and each variant is measured on VALIDATION voices only:

* ``dev_3way_5shot`` / ``dev_3way_1shot``: the bench's protocol on the dev words
  (`vocabulary.DEV_WORDS`, never trained on): three words learned from 5 (1) clips of one voice,
  nearest shot (cosine of binary features: |a ∧ b| / √(|a|·|b|)) among the three, on one clip of
  each word by every other dev voice; means over every dev voice as the learner × `TRIPLES`
  seeded triples (the analogue of the bench's ``new_word_learned_only_acc``);
* ``dev_match_auc``: a dev test clip's match to its own word against a known-word clip's
  (`known_words.npz`: keywords and `_unknown_` words, validation voices, the bench's clip recipe)
  best match to any of the three (the analogue of ``new_word_match_auc``);
* ``dev_all_way_5shot``: nearest shot among all the dev words (lower variance);
* ``val_acc_float``: 12-class accuracy on the keyword set's validation split with its best
  `_unknown_` offset (`train.unknown_bias`), float features; ``val_acc_binary``: the same with the
  features binarized at ½ (what calibration makes of them).

Variants with ``-ste`` train the heads on the features binarized at ½ (straight-through);
``words-ste-phones`` adds the phonetic head (`train.py --phones`, `phones.py`, weight ``--phones``)
and reports its per-bin F1 and AUC on the validation split (``phone_f1_val``, ``phone_auc_val``)
and on the dev words (``phone_f1_dev``, ``phone_auc_dev``); a ``-probe`` suffix reports those of
a linear phonetic head fitted afterwards on the frozen binary features instead (``probe``).
``--cache DIR``: where the trunk outputs are cached (default: the word set's
directory).

With ``--aem FILE...``: the same dev figures on the binary features of converted models (the
virtual AKD1000's, `learn.learning_model`), the ones few-shot learning really sees.

Nothing here looks at the test, cross-family or other-synthesizer voices or at the bench's words.
Usage (one thread; minutes)::

    python scripts/kws_words_pilot.py --data data/kws-en --words data/kws-words [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from akida_edge.apps.kws import feature_head, known_words, network, phones, train
from akida_edge.apps.kws.labels import CLASSES

TRIPLES = 10
SEED = 5


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) |a ∧ b| / √(|a|·|b|) of binary rows."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    inter = a @ b.T
    return inter / np.sqrt(np.maximum(a.sum(1), 1)[:, None] * np.maximum(b.sum(1), 1)[None, :])


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def dev_measure(feats: np.ndarray, word: np.ndarray, voice: np.ndarray, known: np.ndarray,
                shots: int = 5) -> dict[str, float]:
    """The few-shot figures of the module docstring on binary features of the dev split."""
    words, voices = sorted(set(word)), sorted(set(voice))
    rng = np.random.default_rng(SEED)
    acc5, acc1, aucs, all_way = [], [], [], []
    index = {(w, v): np.flatnonzero((word == w) & (voice == v)) for w in words for v in voices}
    for learner in voices:
        others = [v for v in voices if v != learner]
        test = np.array([index[(w, v)][0] for w in words for v in others])
        truth = np.array([words.index(w) for w in words for _ in others])
        sims = [cosine(feats[test], feats[index[(w, learner)][:shots]]).max(1) for w in words]
        sims = np.stack(sims, 1)  # (tests, words)
        all_way.append(float(np.mean(sims.argmax(1) == truth)))
        sims1 = np.stack([cosine(feats[test], feats[index[(w, learner)][:1]]).max(1) for w in words], 1)
        known_sims = np.stack([cosine(known, feats[index[(w, learner)][:shots]]).max(1) for w in words], 1)
        for _ in range(TRIPLES):
            pick = rng.choice(len(words), 3, replace=False)
            rows = np.isin(truth, pick)
            t = np.searchsorted(pick[np.argsort(pick)], truth[rows])
            order = np.sort(pick)
            acc5.append(float(np.mean(sims[rows][:, order].argmax(1) == t)))
            acc1.append(float(np.mean(sims1[rows][:, order].argmax(1) == t)))
            own = sims[rows][np.arange(rows.sum()), order[t]]
            aucs.append(auc(own, known_sims[:, order].max(1)))
    return {"dev_3way_5shot": float(np.mean(acc5)), "dev_3way_1shot": float(np.mean(acc1)),
            "dev_match_auc": float(np.mean(aucs)), "dev_all_way_5shot": float(np.mean(all_way))}


@torch.no_grad()
def val_accuracy(model, trunk_val: torch.Tensor, y_val: np.ndarray) -> dict[str, float]:
    model.eval()
    feat = model[feature_head.TRUNK + 2: -1](trunk_val)
    out = {}
    for name, f in (("float", feat), ("binary", (feat > 0.5).float())):
        logits = model[-1](f).numpy()
        bias = train.unknown_bias(logits, y_val)
        logits[:, CLASSES.index("_unknown_")] += bias
        out[f"val_acc_{name}"] = float(np.mean(logits.argmax(1) == y_val))
    return out


@torch.no_grad()
def phone_f1(model, head, table, trunk: dict, val: dict, dev: dict) -> dict[str, list[float]]:
    """Per-bin F1 of the phonetic head on the validation split (silence excluded) and the dev words."""
    val_words = np.where(val["y"] == CLASSES.index("_silence_"), "", val["word"].astype(str))
    table = phones.extend(table, np.concatenate([val["voice"], dev["voice"]]),
                          np.concatenate([val_words, dev["word"]]))
    out = {}
    for name, key, part, words in (("val", "val", val, val_words), ("dev", "dev", dev, dev["word"])):
        y, mask = table.targets(part["voice"], words)
        pre = model[feature_head.TRUNK + 2: -2](trunk[key][torch.from_numpy(mask)])
        scores = head((pre > 0.5).float()).numpy()
        out[f"phone_f1_{name}"] = phones.bin_f1(scores, y[mask], table.bins)
        out[f"phone_auc_{name}"] = phones.bin_auc(scores, y[mask], table.bins)
    return out


def probe(feats: np.ndarray, y: torch.Tensor, epochs: int, batch: int = 256) -> torch.nn.Linear:
    """A linear phonetic head (BCE, Adam) fitted on fixed binary features: how much phonetic
    information the features carry without having been trained for it."""
    torch.manual_seed(9)
    x = torch.from_numpy(feats.astype(np.float32))
    head = torch.nn.Linear(x.shape[1], y.shape[1])
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(9)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i: i + batch]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def load_model(path: Path):
    saved = torch.load(path, weights_only=True)
    model = network.build(len(CLASSES), **network.architecture(saved))
    model.load_state_dict(saved["state_dict"])
    return model.eval()


def converted(paths: list[Path], words: Path) -> dict[str, dict]:
    """Dev figures of converted models (`--aem`)."""
    from akida_edge.apps.kws.learn import learning_model
    from akida_edge.engine import learning
    from akida_edge.engine.modelfile import load_model as load_aem

    dev = train.load_features(words, "dev")
    known_x, _ = known_words.load()
    out = {}
    for path in paths:
        m = learning_model(load_aem(path))
        feats = learning.features(m, dev["x"])
        r = dev_measure(feats, dev["word"], dev["voice"], learning.features(m, known_x))
        out[str(path)] = r
        print(path, json.dumps({k: round(v, 4) for k, v in r.items()}), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/kws-en"))
    ap.add_argument("--words", type=Path, default=Path("data/kws-words"))
    ap.add_argument("--model", type=Path, default=Path("apps/kws/model/kws_float.pt"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--variants", default="shipped,kws,words,words-warm")
    ap.add_argument("--aem", type=Path, nargs="+", help="converted models: their dev figures only")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--cache", type=Path, help="directory of the trunk-output cache (default: --words)")
    ap.add_argument("--phones", type=float, default=1.0, help="the *-phones variants' weight")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.aem:
        results = converted(args.aem, args.words)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))
        return 0
    model = load_model(args.model)
    kws = {s: train.load_features(args.data, s) for s in ("train", "validation")}
    ws = {s: train.load_features(args.words, s) for s in ("train", "dev")}
    known_x, _ = known_words.load()
    cache = (args.cache or args.words) / f"pilot-trunk-{args.model.stem}.npz"
    if cache.exists():
        trunk = {k: torch.from_numpy(v) for k, v in np.load(cache).items()}
    else:
        trunk = {name: feature_head.trunk_outputs(model, network.to_nchw(x)) for name, x in (
            ("kws", kws["train"]["x"]), ("val", kws["validation"]["x"]), ("words", ws["train"]["x"]),
            ("dev", ws["dev"]["x"]), ("known", known_x))}
        np.savez(cache, **{k: v.numpy() for k, v in trunk.items()})
    print("trunk outputs done", file=sys.stderr, flush=True)
    n_aux = len(CLASSES) + len(train.AUX_WORDS)
    kws_aux = train.aux_targets(kws["train"]["y"], kws["train"]["word"])
    y_kws = torch.from_numpy(kws["train"]["y"])
    results = {}
    for variant in args.variants.split(","):
        m = load_model(args.model)
        if not variant.startswith("shipped"):
            if variant == "kws":
                x, y, ya, classes = trunk["kws"], y_kws, kws_aux, n_aux
            else:
                n_words = len(trunk["words"])
                x = torch.cat([trunk["kws"], trunk["words"]])
                y = torch.cat([y_kws, torch.full((n_words,), -100, dtype=torch.long)])
                ya = torch.cat([kws_aux, n_aux + torch.from_numpy(ws["train"]["y"])])
                classes = n_aux + int(ws["train"]["y"].max()) + 1
            phone = None
            if "-phones" in variant:
                table, p_y, p_mask = train.phone_targets(kws["train"], ws["train"], len(x),
                                                         (args.cache or args.words) / "phones.json")
                torch.manual_seed(9)
                phone = network.PhoneLoss(torch.nn.Linear(m[-1].in_features, table.outputs),
                                          torch.from_numpy(p_y), torch.from_numpy(p_mask), args.phones)
            feature_head.retrain(m, x, y, ya, classes, epochs=args.epochs, reinit=variant != "words-warm",
                                 binary="-ste" in variant, phones=phone)
        feats = {k: feature_head.binary_features(m, trunk[k]) for k in ("dev", "known")}
        r = dev_measure(feats["dev"], ws["dev"]["word"], ws["dev"]["voice"], feats["known"])
        r.update(val_accuracy(m, trunk["val"], kws["validation"]["y"]))
        r["active_features_dev"] = float(feats["dev"].sum(1).mean())
        if variant.endswith("-probe"):  # a phonetic head fitted on the frozen binary features
            xw = torch.cat([trunk["kws"], trunk["words"]])
            table, p_y, p_mask = train.phone_targets(kws["train"], ws["train"], len(xw),
                                                     (args.cache or args.words) / "phones.json")
            on = torch.from_numpy(p_mask)
            head = probe(feature_head.binary_features(m, xw[on]), torch.from_numpy(p_y)[on], args.epochs)
            r.update(phone_f1(m, head, table, trunk, kws["validation"], ws["dev"]))
        elif "-phones" in variant:
            r.update(phone_f1(m, phone.head, table, trunk, kws["validation"], ws["dev"]))
        results[variant] = r
        print(variant, json.dumps(r), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
