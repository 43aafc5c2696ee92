"""Pilot (issue #4): do new `_unknown_` examples cut the false alarms on non-keyword speech?

On the shipped float network's frozen trunk (`apps/kws/feature_head.py`, as `train.py --head-only`
does), the feature layer and the heads are retrained with the training data `train.fit_data`
assembles, in variants:

* ``shipped``: the shipped network as it is (no retraining);
* ``base``: retrained as the shipped recipe trains (the word set in the auxiliary head only), the
  control: every other variant differs from it by its negatives alone;
* ``words``: the word set's clips also `_unknown_` in the 12-class loss (`--words-unknown`);
* ``windows``: the continuous-speech windows (`speechwindows.py`) as `_unknown_` (`--windows`);
* ``both``: the two; ``both-kK``: with a negative share of K instead of `train.NEGATIVE_SHARE`.

Every variant is measured on VALIDATION voices only: 12-class accuracy (float, with its own
`_unknown_` offset, `train.unknown_bias`) and per-class recall on the validation split; recall and
false alarms per hour on `tune.py`'s validation scenes (float softmax windows, the app's
`Detector`, `scenes.score`) at the shipped detection settings and at the setting `tune.choose`
picks for the variant; false alarms per hour on filler-only scenes (the bench's
`false_alarms_per_hour_filler` recipe, 40 utterances a scene, 10–30 dB) in validation voices with
the seed [data seed, `FILLER_SEED`] (not the bench's), about `--filler-s` seconds of speech; and
the dev-word few-shot figures of `scripts/kws_words_pilot.py` (issue #5's features).
With ``--aem FILE...``: the detection figures of converted models (the virtual AKD1000's windows).

Nothing here looks at the test, cross-family or other-synthesizer voices. Usage (one thread)::

    python scripts/kws_unknown_pilot.py --data data/kws-en --words data/kws-words \\
        --windows data/kws-windows --cache data/kws-unk-pilot [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kws_words_pilot as wp  # noqa: E402  (the dev-word measure)

from akida_edge.apps.kws import dataset, feature_head, features, known_words, network, scenes, train, tune  # noqa: E402
from akida_edge.apps.kws.app import DetectParams, _centre_ms  # noqa: E402
from akida_edge.apps.kws.labels import CLASSES, UNKNOWN  # noqa: E402
from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices  # noqa: E402
from akida_edge.frontends.audio import logmel  # noqa: E402

FILLER_SEED = 4243  # tune.SCENE_SEED + 1; the bench's filler uses [seed, 98]
FILLER_UTTERANCES = 40


def filler_scenes(cache: Path, seconds: float, seed: int = dataset.DatasetConfig().seed,
                  words: Sequence[str] = dataset.UNKNOWN_WORDS, stream: int = FILLER_SEED,
                  tag: str = "") -> list[scenes.Scene]:
    """Filler-only scenes in validation voices until `seconds` of speech (cached): words of `words`,
    rng ``[seed, stream]``; `tag` names the cache file of another pool or stream."""
    path = cache / f"filler-validation-{int(seconds)}{tag}.npz"
    if path.exists():
        z = np.load(path)
        return [scenes.Scene(z[f"a{i}"], [], float(z["filler_s"][i]), "") for i in range(len(z["filler_s"]))]
    voices = [v.name for v in split_voices(available_languages(), available_variants(), seed)["validation"]]
    rng = np.random.default_rng([seed, stream])
    out, speech_s = [], 0.0
    for s in scenes.filler_only(rng, voices, seconds, FILLER_UTTERANCES, words):
        out.append(s)
        speech_s += s.filler_speech_s
        print(f"filler{tag} {speech_s / 60:.1f}/{seconds / 60:.0f} min", file=sys.stderr, flush=True)
    np.savez(path, filler_s=np.array([s.filler_speech_s for s in out]),
             **{f"a{i}": s.audio for i, s in enumerate(out)})
    return out


def scene_windows(audio: np.ndarray, hop_ms: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """(window centres in ms, uint8 model inputs) as `tune.window_probabilities` sees them."""
    mel = logmel(np.asarray(audio, np.float32).reshape(-1), features.PARAMS)
    feats, starts = features.window_features(mel, DetectParams(hop_ms=hop_ms).hop_frames)
    return np.array([_centre_ms(int(s)) for s in starts]), feats


@torch.no_grad()
def logits_of(model, trunk: torch.Tensor) -> np.ndarray:
    model.eval()
    return model[feature_head.TRUNK + 1:](trunk).numpy()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def detection(probs: list[tuple[np.ndarray, np.ndarray]], scene_list: list[scenes.Scene],
              params: DetectParams, keep: Callable[[list, int], list] | None = None
              ) -> tuple[float, float, dict[str, int]]:
    """(recall, false alarms per hour of non-keyword speech, false alarms by label); `keep`: a
    filter of each scene's detections (detections, scene index) applied before scoring."""
    hits = false = 0
    by_label: dict[str, int] = {}
    for i, (s, (t, p, *mel)) in enumerate(zip(scene_list, probs, strict=True)):  # log-mel frames: the gate
        found = tune.detect(CLASSES, params, t, p, mel[0] if mel else None)
        found = found if keep is None else keep(found, i)
        h, f = scenes.score(found, s)
        hits, false = hits + h, false + f
        if not s.keywords:
            for d in found:
                by_label[d.label] = by_label.get(d.label, 0) + 1
    keywords = sum(len(s.keywords) for s in scene_list)
    hours = sum(s.filler_speech_s for s in scene_list) / 3600
    return (hits / keywords if keywords else float("nan")), false / hours, by_label


def sweep(probs, scene_list) -> list[dict]:
    rows = []
    for smooth in tune.SMOOTHS:
        for thr in tune.THRESHOLDS:
            for refr in tune.REFRACTORIES_MS:
                params = DetectParams(smooth=smooth, threshold=thr, refractory_ms=refr, isolated_max_ms=0.0)
                r, fa, _ = detection(probs, scene_list, params)
                rows.append({"smooth": smooth, "threshold": thr, "refractory_ms": refr, "recall": r,
                             "false_alarms_per_hour": fa})
    return rows


def converted(paths: list[Path], data: Path, cache: Path, filler_s: float) -> dict[str, dict]:
    """Converted models (`--aem`): `tune.sweep` on the validation scenes (the virtual AKD1000's
    windows, as `tune.py`), its choice and the shipped setting, each also on the filler scenes."""
    from akida_edge.apps.kws.app import Spotter

    val_scenes, fill = tune.validation_scenes(data, 24), filler_scenes(cache, filler_s)
    out = {}
    for path in paths:
        spotter = Spotter(str(path), learned=False)
        rows = tune.sweep(spotter, val_scenes)
        best = tune.choose(rows)
        probs = [tune.window_probabilities(spotter, s.audio, 100.0) for s in fill]
        r: dict = {}
        for name, setting in (("shipped", DetectParams()), ("tuned", DetectParams(
                smooth=best["smooth"], threshold=best["threshold"], refractory_ms=best["refractory_ms"],
                isolated_max_ms=best["isolated_max_ms"]))):
            key = (setting.smooth, setting.threshold, setting.refractory_ms, setting.isolated_max_ms)
            row = next(x for x in rows
                       if (x["smooth"], x["threshold"], x["refractory_ms"], x["isolated_max_ms"]) == key)
            fa, by = detection(probs, fill, setting)[1:]
            r[name] = {"smooth": setting.smooth, "threshold": setting.threshold,
                       "refractory_ms": setting.refractory_ms, "isolated_max_ms": setting.isolated_max_ms,
                       "recall": row["recall"],
                       "false_alarms_per_hour": row["false_alarms_per_hour"], "filler_fa_h": fa,
                       "filler_by_label": by}
        r["fa_h_at_recall_0.75"] = min((x["false_alarms_per_hour"] for x in rows if x["recall"] >= 0.75),
                                       default=None)
        r["recall_at_fa_h_30"] = max((x["recall"] for x in rows if x["false_alarms_per_hour"] <= 30),
                                     default=0)
        r["pareto"] = [(round(x["recall"], 3), round(x["false_alarms_per_hour"], 1))
                       for x in tune.pareto(rows)]
        out[str(path)] = r
        print(path, json.dumps(r), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/kws-en"))
    ap.add_argument("--words", type=Path, default=Path("data/kws-words"))
    ap.add_argument("--windows", type=Path, default=Path("data/kws-windows"))
    ap.add_argument("--cache", type=Path, default=Path("data/kws-unk-pilot"))
    ap.add_argument("--model", type=Path, default=Path("apps/kws/model/kws_float.pt"))
    ap.add_argument("--epochs", type=int, default=train.HEAD_EPOCHS)
    ap.add_argument("--filler-s", type=float, default=1200.0)
    ap.add_argument("--variants", default="shipped,base,words,windows,both")
    ap.add_argument("--aem", type=Path, nargs="+", help="converted models: their detection figures only")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.aem:
        results = converted(args.aem, args.data, args.cache, args.filler_s)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))
        return 0
    model = wp.load_model(args.model)
    kws = {s: train.load_features(args.data, s) for s in ("train", "validation")}
    ws = {s: train.load_features(args.words, s) for s in ("train", "dev")}
    wins = train.load_features(args.windows, "train")
    val_scenes = tune.validation_scenes(args.data, 24)
    fill = filler_scenes(args.cache, args.filler_s)
    known_x, _ = known_words.load()
    path = args.cache / f"trunk-{args.model.stem}-{len(wins['y'])}.npz"
    if path.exists():
        z = np.load(path)
        trunk = {k: torch.from_numpy(z[k]) for k in z.files}
    else:
        inputs = {"kws": kws["train"]["x"], "val": kws["validation"]["x"], "words": ws["train"]["x"],
                  "windows": wins["x"], "dev": ws["dev"]["x"], "known": known_x}
        for i, s in enumerate(val_scenes + fill):
            t, x = scene_windows(s.audio)
            inputs[f"s{i}"], inputs[f"t{i}"] = x, t
        trunk = {k: (feature_head.trunk_outputs(model, network.to_nchw(v)) if not k.startswith("t")
                     else torch.from_numpy(v)) for k, v in inputs.items()}
        np.savez(path, **{k: v.numpy() for k, v in trunk.items()})
    print("trunk outputs done", file=sys.stderr, flush=True)
    n_val = len(val_scenes)
    y_val = kws["validation"]["y"]
    results = {}
    for variant in args.variants.split(","):
        m = wp.load_model(args.model)
        name, _, k = variant.partition("-k")
        share = float(k) if k else train.NEGATIVE_SHARE
        if name != "shipped":
            train_t = {**kws["train"], "x": np.zeros((len(kws["train"]["y"]), 1, 1, 1), np.uint8)}
            words_t = {**ws["train"], "x": np.zeros((len(ws["train"]["y"]), 1, 1, 1), np.uint8),
                       "classes": int(ws["train"]["y"].max()) + 1}
            wins_t = {**wins, "x": np.zeros((len(wins["y"]), 1, 1, 1), np.uint8)} \
                if name in ("windows", "both") else None
            fd = train.fit_data(train_t, words_t, wins_t, words_unknown=name in ("words", "both"),
                                negative_share=share)
            x = torch.cat([trunk["kws"], trunk["words"]] + ([trunk["windows"]] if wins_t is not None else []))
            feature_head.retrain(m, x, fd["y"], fd["aux_y"], fd["aux_classes"], epochs=args.epochs,
                                 weight=fd["weight"], progress=None)
        val_logits = logits_of(m, trunk["val"])
        bias = train.unknown_bias(val_logits, y_val)
        shift = bias * train._one_hot(CLASSES.index(UNKNOWN))
        pred = (val_logits + shift).argmax(1)
        r: dict = {"val_acc": float(np.mean(pred == y_val)), "unknown_bias": bias,
                   "recall": {c: round(float(np.mean(pred[y_val == i] == i)), 3)
                              for i, c in enumerate(CLASSES)}}
        probs = [(trunk[f"t{i}"].numpy(), softmax(logits_of(m, trunk[f"s{i}"]) + shift))
                 for i in range(n_val + len(fill))]
        shipped = DetectParams()
        r["scenes_shipped"] = detection(probs[:n_val], val_scenes, shipped)[:2]
        fa, by = detection(probs[n_val:], fill, shipped)[1:]
        r["filler_fa_h_shipped"], r["filler_by_label_shipped"] = fa, by
        rows = sweep(probs[:n_val], val_scenes)
        best = tune.choose(rows)
        bp = DetectParams(smooth=best["smooth"], threshold=best["threshold"],
                          refractory_ms=best["refractory_ms"])
        r["tuned"] = {**best, "filler_fa_h": detection(probs[n_val:], fill, bp)[1]}
        front = tune.pareto(rows)
        r["fa_h_at_recall_0.75"] = min((x["false_alarms_per_hour"] for x in rows if x["recall"] >= 0.75),
                                       default=None)
        r["recall_at_fa_h_30"] = max((x["recall"] for x in rows if x["false_alarms_per_hour"] <= 30),
                                     default=0)
        r["pareto"] = [(round(x["recall"], 3), round(x["false_alarms_per_hour"], 1)) for x in front]
        feats = {k: feature_head.binary_features(m, trunk[k]) for k in ("dev", "known")}
        r.update(wp.dev_measure(feats["dev"], ws["dev"]["word"], ws["dev"]["voice"], feats["known"]))
        results[variant] = r
        print(variant, json.dumps(r), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
