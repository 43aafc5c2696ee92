"""Train, quantize, convert and check the gesture model: one reproducible command.

    python -m akida_edge.apps.vision.train --data data/vision --out apps/vision/model [--small]

Steps (each with a progress line on stderr):

1. the data set (`dataset.py`: rendered scenes -> DVS emulator -> 64×64×8 tensors), built or
   read from the cache under `--data`;
2. float training of the network (`network.py`) with random translations;
3. calibration of every activation on training data, then quantization-aware fine-tuning;
4. conversion to Akida 1.0 layers (`akida_edge.convert`), the AKD1000 check (`mapping.check` and
   `model.map`), and the evaluation on the held-out `test` split: float vs quantized accuracy,
   per class and per held-out factor, the confusion matrix, the agreement of the converted model
   with the fake-quantized one, NPs, estimated energy and the work skipped thanks to sparsity
   (`report.py`);
5. the sliding-window behaviour: longer test scenes streamed through `ViewStream`, each window
   classified, tallied by the share of the gesture inside it (`evaluate.sliding_windows`).

Writes `gestures.aem` (the converted model, with its labels, view and feature layer in the
metadata), `gestures_float.pt` (the float network, for the benchmark's float accuracy),
`metrics.json`, `REPORT.md` and `confusion.png` under `--out`.

Step 2 is widened (the default; `--no-aux`: without): the auxiliary motions (`labels.AUX`:
diagonal swipes, a vertical shake, corners; `dataset.load_aux`) join the training clips as
`_background_` for the model's 9-way head and as their own classes for a second, float head on the
binary features (9 + 13 outputs; the cached `_background_` clips of undirected other motions are
ignored by it), so that the features tell motion shapes apart instead of merging them into one
class; the second head is dropped before quantization-aware fine-tuning: the shipped model keeps
its 9 outputs. Measured (`docs/vision.md`): the never-trained gestures learned from 5 clips each,
0.80 -> 0.92 (mean of six draws), held-out accuracy 0.98 -> 0.99.

`--small` is the CI smoke run (a few clips, a narrow network, one epoch each): it goes through
every step in seconds; its accuracy means nothing and its model is marked ``placeholder``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from akida_edge.apps.vision import dataset, evaluate, network, report
from akida_edge.apps.vision.gesture_model import GestureModel
from akida_edge.apps.vision.labels import AUX, BACKGROUND, CLASSES
from akida_edge.apps.vision.representation import ViewParams
from akida_edge.convert import calibrate, integer_forward, set_quantized
from akida_edge.engine.device import AKD1000
from akida_edge.errors import AkidaEdgeError

SMALL_WIDTHS, SMALL_FEATURES = (8, 8, 16, 32), 32


def run(data: str | Path, out: str | Path, small: bool = False, seed: int = 1, threads: int = 1,
        epochs: int = 30, qat_epochs: int = 8, batch: int = 64, aux: bool = True,
        progress=sys.stderr) -> dict:
    """The whole recipe (module docstring); writes the model and its report under `out` and
    returns the metrics."""
    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    view = ViewParams()
    splits = {s: dataset.load_split(data, s, small=small, view=view, progress=progress)
              for s in dataset.SPLITS}
    t = {s: (network.to_nchw(v["x"]), torch.from_numpy(v["y"])) for s, v in splits.items()}
    wide = None
    if aux:
        t["train"], wide, splits["aux"] = _with_aux(data, splits["train"], t["train"], small, view, progress)
    widths, n_feat = (SMALL_WIDTHS, SMALL_FEATURES) if small else (network.WIDTHS, 256)
    epochs, q_epochs = (1, 1) if small else (epochs, qat_epochs)
    model = network.build(view, len(CLASSES), widths=widths, features=n_feat)
    t0 = time.monotonic()
    head = None if wide is None else (network.aux_head(model, len(CLASSES) + len(AUX)), wide)
    logs = network.fit(model, *t["train"], epochs=epochs, lr=3e-3, seed=seed, batch=batch,
                       x_val=t["validation"][0], y_val=t["validation"][1], what="float", progress=progress,
                       aux=head)
    float_pred = network.predict(model, t["test"][0]).argmax(1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save({"widths": list(widths), "features": n_feat, "view": view.to_dict(), "state_dict": state},
               out / "gestures_float.pt")
    gen = torch.Generator().manual_seed(seed)
    sample = t["train"][0][torch.randperm(len(t["train"][0]), generator=gen)[:1000]]
    calibrate(model, sample)
    set_quantized(model)
    logs += network.fit(model, *t["train"], epochs=q_epochs, lr=3e-4, seed=seed + 1, batch=batch,
                        x_val=t["validation"][0], y_val=t["validation"][1], what="quantized",
                        progress=progress)
    train_s = time.monotonic() - t0
    akida = network.to_akida(model, sample, view, CLASSES, placeholder=small,
                             trained_on="rendered scenes (apps/vision/dataset.py)",
                             data_digest=dataset.config_digest(
                                 dataset.SMALL_PER_LABEL if small else dataset.PER_LABEL, view))
    device = AKD1000()
    device.soc.power_measurement_enabled = True
    akida.map(device)
    with torch.no_grad():
        fq = integer_forward(model, t["test"][0]).output.numpy()
    fq_pred = fq.reshape(len(fq), -1).argmax(1)
    test = splits["test"]
    quant_pred = akida.predict(test["x"]).reshape(len(test["y"]), -1).argmax(1)
    metrics = report.evaluate(akida, test, float_pred, quant_pred, fq_pred, CLASSES)
    metrics.update(train_seconds=round(train_s, 1), epochs_float=epochs, epochs_quantized=q_epochs,
                   batch=batch, small=small, seed=seed, threads=threads, widths=list(widths),
                   features=n_feat, view=view.to_dict(),
                   data_digest=dataset.config_digest(dataset.SMALL_PER_LABEL if small else dataset.PER_LABEL,
                                                     view),
                   history=logs, clips={s: int(len(v["y"])) for s, v in splits.items()},
                   aux=list(AUX) if aux else [])
    path = network.save(akida, out / "gestures.aem")
    metrics["windows"] = evaluate.sliding_windows(GestureModel.load(path), 1 if small else 6, progress)
    report.write(out, metrics, CLASSES)
    if progress is not None:
        progress.write(f"vision model     {path}: accuracy {metrics['accuracy']:.4f} (float "
                       f"{metrics['float_accuracy']:.4f}), {metrics['nps']} NPs, work skipped "
                       f"{metrics['work_skipped']:.3f}\n")
    return metrics


def _with_aux(data, train: dict, t_train: tuple, small: bool, view: ViewParams, progress):
    """Training tensors with the auxiliary clips appended (label `_background_`) and the wider
    head's targets: the class index, 9 + the AUX index, or -100 (ignored) for the cached
    `_background_` clips of an undirected other motion."""
    extra = dataset.load_aux(data, small=small, view=view, progress=progress)
    wide = torch.from_numpy(train["y"].copy())
    wide[torch.from_numpy(dataset.other_motion_mask("train", train["y"], view))] = -100
    x = torch.cat([t_train[0], network.to_nchw(extra["x"])])
    y = torch.cat([t_train[1], torch.full((len(extra["y"]),), CLASSES.index(BACKGROUND), dtype=torch.int64)])
    wide = torch.cat([wide, torch.from_numpy(extra["y"]) + len(CLASSES)])
    return (x, y), wide, extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.vision.train",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/vision", help="data set directory (built if missing)")
    ap.add_argument("--out", default="apps/vision/model", help="where the model and its report go")
    ap.add_argument("--small", action="store_true", help="CI smoke run: a few clips, one epoch")
    ap.add_argument("--seed", type=int, default=1, help="training seed (the data set has its own)")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1)")
    ap.add_argument("--epochs", type=int, default=30, help="float training epochs (default 30)")
    ap.add_argument("--qat-epochs", type=int, default=8, help="quantization-aware epochs (default 8)")
    ap.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    ap.add_argument("--aux", action=argparse.BooleanOptionalAction, default=True,
                    help="float training with the auxiliary motions as their own classes of a second head "
                         "(default; --no-aux: without)")
    args = ap.parse_args(argv)
    try:
        metrics = run(args.data, args.out, small=args.small, seed=args.seed, threads=args.threads,
                      epochs=args.epochs, qat_epochs=args.qat_epochs, batch=args.batch,
                      aux=args.aux)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps({k: metrics[k] for k in ("accuracy", "float_accuracy", "quantization_drop",
                                              "agreement", "nps", "work_skipped")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

