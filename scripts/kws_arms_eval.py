"""Score trained KWS models on VALIDATION voices only (issue #4, session 7's fine-tune arms).

For each model directory (what `train.py --out` writes: `kws.aem`, `kws_float.pt`):

* 12-class accuracy on the validation split (960 clips, ±0.011), float (`kws_float.pt`, with
  its own `_unknown_` offset folded in) and quantized (`kws.aem` on the virtual AKD1000);
  per-class recall of the quantized model (`_unknown_` recall among them), and float
  `_unknown_` recall;
* `tune.py`'s 24 validation scenes: `tune.sweep`, `tune.choose`'s setting and the app's
  current `DetectParams` (recall, false alarms per hour), and the 21 min of validation filler
  of `scripts/kws_unknown_pilot.py` at both settings (`kws_unknown_pilot.converted`).

Nothing here reads the test, cross-family or other-synthesizer voices. One thread::

    python scripts/kws_arms_eval.py --data data/kws-en --cache data/kws-unk-pilot DIR... [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kws_unknown_pilot as up  # noqa: E402  (the converted models' detection figures)
import kws_words_pilot as wp  # noqa: E402

from akida_edge.apps.kws import network, train  # noqa: E402
from akida_edge.apps.kws.labels import CLASSES, UNKNOWN  # noqa: E402
from akida_edge.engine.modelfile import load_model  # noqa: E402


def accuracies(model_dir: Path, val: dict[str, np.ndarray]) -> dict:
    """Validation accuracy (float and quantized), per-class recall of the quantized model."""
    y = val["y"]
    unk = CLASSES.index(UNKNOWN)
    float_net = wp.load_model(model_dir / "kws_float.pt")
    float_pred = network.predict(float_net, network.to_nchw(val["x"])).argmax(1)
    akida = load_model(str(model_dir / "kws.aem"))
    q_pred = akida.predict(val["x"]).reshape(len(y), -1).argmax(1)
    recall = {c: round(float(np.mean(q_pred[y == i] == i)), 3) for i, c in enumerate(CLASSES)}
    return {"val_acc_float": float(np.mean(float_pred == y)),
            "val_acc_quantized": float(np.mean(q_pred == y)),
            "unknown_recall_float": float(np.mean(float_pred[y == unk] == unk)),
            "unknown_recall_quantized": recall[UNKNOWN], "recall_quantized": recall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", type=Path, nargs="+", help="model directories (kws.aem, kws_float.pt)")
    ap.add_argument("--data", type=Path, default=Path("data/kws-en"))
    ap.add_argument("--cache", type=Path, default=Path("data/kws-unk-pilot"), help="the filler scenes' cache")
    ap.add_argument("--filler-s", type=float, default=1200.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    val = train.load_features(args.data, "validation")
    results = {}
    for d in args.models:
        r = accuracies(d, val)
        print(d, json.dumps(r), flush=True)
        r.update(up.converted([d / "kws.aem"], args.data, args.cache, args.filler_s)[str(d / "kws.aem")])
        results[str(d)] = r
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
