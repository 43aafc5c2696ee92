"""Train the anomaly app's backbone with the project's QAT toolchain and convert it for the AKD1000.

    python -m akida_edge.apps.anomaly.train [--machines 600] [--out apps/anomaly/model/backbone.aem]
    python -m akida_edge.apps.anomaly.train --small --out /tmp/b.aem     # smoke run (seconds)

Task: fault-type classification (normal, outer race, inner race, ball, imbalance, misalignment)
of single feature windows of random synthetic machines (`dataset.py`, `machines.py`: many
geometries, speeds, resonances and noise levels; seeds below `machines.HELD_OUT_SEED0`). The
classifier is a means: its 1-bit hidden layer becomes the binary feature layer in front of the
device's learning layer, which then learns one machine's normal without labels.

Network (`build`; Akida 1.0 blocks, akida-facts §1.3): 4-bit data (InputData (1, 1, 51)) ->
FullyConnected `HIDDEN`, 4-bit weights, 4-bit activations -> FullyConnected `FEATURES`, 4-bit
weights, **1-bit activations** (the binary features) -> FullyConnected 6 logits (training only;
removed from the shipped backbone). Loss: class-balanced cross-entropy plus `recon_weight` ×
the mean squared error of a linear decoder (training only) reconstructing the input deviations
from the binary features — a fault classifier alone keeps only what separates the known fault
types, while the learning layer must see *any* departure from normal. Recipe: float training
(Adam, `epochs`), `calibrate` on training data, quantized fine-tuning with straight-through
gradients (`qat_epochs`), then
`convert` (bit-exact with the quantized PyTorch model). Deterministic for a given seed
(torch.manual_seed, single thread). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from akida_edge.apps.anomaly import dataset, features, machines

FEATURES = 512
HIDDEN = 256
RECON_WEIGHT = 2.0
FEATURE_MODULE = 6  # index in `build()` of the 1-bit StepReLU (the binary features)
FEATURE_BLOCK = 1  # the same as an Akida block index
DEFAULT_OUT = Path(__file__).parent / "model" / "backbone.aem"


def build(n_in: int = features.N_FEATURES, hidden: int = HIDDEN, n_features: int = FEATURES):
    """The QAT model (see the module docstring)."""
    from torch import nn

    from akida_edge.convert import QLinear, QSequential, QuantInput, StepReLU

    levels = 2**features.INPUT_BITS - 1
    return QSequential(
        QuantInput(bits=features.INPUT_BITS, scale=1.0 / levels),
        QLinear(n_in, hidden, weight_bits=4), nn.BatchNorm1d(hidden), StepReLU(4, max_value=4.0),
        QLinear(hidden, n_features, weight_bits=4), nn.BatchNorm1d(n_features), StepReLU(1, max_value=1.0),
        QLinear(n_features, len(machines.CLASSES), weight_bits=4),
    )


def forward_with_features(model, x):
    """(logits, binary-layer output) of the QAT model, float or quantized, with gradients."""
    if not model.quantized:
        feats = None
        for i, module in enumerate(model):
            x = module(x)
            if i == FEATURE_MODULE:
                feats = x
        return x, feats
    import torch

    from akida_edge.convert.blocks import parse_blocks
    from akida_edge.convert.fakequant import block_forward

    inp, blocks = parse_blocks(model)
    a, s = inp.check(x), torch.tensor(inp.scale)
    outs = []
    for block in blocks:
        out, a, s = block_forward(block, a, s)
        outs.append(out)
    return outs[-1], outs[FEATURE_BLOCK]


def _epochs(model, decoder, x, y, epochs: int, lr: float, seed: int, label: str, log,
            recon_weight: float) -> None:
    import torch

    params = list(model.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    gen = torch.Generator().manual_seed(seed)
    counts = torch.bincount(y, minlength=len(machines.CLASSES)).clamp_min(1).float()
    weight = counts.sum() / (len(counts) * counts)  # balance normal against the fault types
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total, correct, t0 = 0.0, 0, time.perf_counter()
        for start in range(0, len(x), 256):
            idx = order[start:start + 256]
            out, feats = forward_with_features(model, x[idx])
            loss = loss_fn(out, y[idx])
            if recon_weight:
                # the binary features must keep the input's deviations, not only the fault type
                target = (x[idx] - features.CENTER) / features.CENTER
                loss = loss + recon_weight * torch.nn.functional.mse_loss(decoder(feats), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == y[idx]).sum())
        sched.step()
        log(f"{label} epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, "
            f"train acc {correct / len(x):.3f} ({time.perf_counter() - t0:.1f} s)")


def train(n_machines: int = 1000, n_val: int = 60, epochs: int = 30, qat_epochs: int = 15,
          seed: int = 0, log=print, cache: str | None = None, recon_weight: float = RECON_WEIGHT):
    """Train, convert and return (backbone Model, metadata dict)."""
    import torch

    from akida_edge.convert import calibrate, convert, set_quantized

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    def bar(done: int, total: int) -> None:
        if done == total or done % max(total // 10, 1) == 0:
            log(f"  machines {done}/{total} ({time.perf_counter() - t0:.0f} s)")

    key = f"{n_machines}-{n_val}-{features.STEP_SIGMA}-{features.STEP_FLOOR.tobytes().hex()[:16]}"
    if cache and Path(cache).is_file() and str(np.load(cache)["key"]) == key:
        data = np.load(cache)
        xv, y, xv_val, y_val = data["x"], data["y"], data["x_val"], data["y_val"]
        log(f"loaded the rendered data set from {cache}")
    else:
        log(f"rendering {n_machines} training machines ...")
        xv, y, _ = dataset.make(range(n_machines), progress=bar)
        log(f"rendering {n_val} validation machines (held out) ...")
        xv_val, y_val, _ = dataset.make(range(machines.HELD_OUT_SEED0 + 500_000,
                                              machines.HELD_OUT_SEED0 + 500_000 + n_val), progress=bar)
        if cache:
            np.savez(cache, key=key, x=xv, y=y, x_val=xv_val, y_val=y_val)
    x = torch.from_numpy(xv.astype(np.float32))
    xt = torch.from_numpy(y)
    x_val = xv_val.reshape(len(xv_val), 1, 1, -1)
    model = build()
    decoder = torch.nn.Linear(FEATURES, features.N_FEATURES)
    _epochs(model, decoder, x, xt, epochs, 3e-3, seed, "float", log, recon_weight)
    model.eval()
    calibrate(model, x[:4096])
    set_quantized(model)
    _epochs(model, decoder, x, xt, qat_epochs, 5e-4, seed + 1, "quantized", log, recon_weight)
    model.eval()
    akida = convert(model, sample=x[:256])
    logits = akida.predict(x_val)
    acc = float(np.mean(logits.reshape(len(x_val), -1).argmax(1) == y_val))
    backbone = strip_head(akida)
    active = backbone.forward(x_val).reshape(len(x_val), -1).sum(1)
    log(f"held-out machines: 6-class window accuracy {acc:.3f}; binary features active per window "
        f"median {np.median(active):.0f} of {FEATURES}")
    meta = {
        "app": "anomaly",
        "encoder": {"type": "deviation", "bits": features.INPUT_BITS,
                    "step_floor": features.STEP_FLOOR.tolist(), "center": features.CENTER,
                    "step_sigma": features.STEP_SIGMA,
                    "rate_hz": features.RATE_HZ, "window_s": features.PARAMS.window_s,
                    "hop_s": features.PARAMS.hop_s, "n_bands": features.PARAMS.n_bands,
                    "n_env_bands": features.PARAMS.n_env_bands,
                    "env_max_hz": features.PARAMS.env_max_hz},
        "training": {"task": "fault-type classification + input reconstruction from the binary features",
                     "recon_weight": recon_weight, "hidden": HIDDEN, "features": FEATURES,
                     "classes": list(machines.CLASSES),
                     "machines": n_machines, "windows": int(len(xv)), "epochs": epochs,
                     "qat_epochs": qat_epochs, "seed": seed, "val_machines": n_val,
                     "val_accuracy": round(acc, 4), "active_features_median": float(np.median(active)),
                     "seconds": round(time.perf_counter() - t0, 1)},
    }
    backbone.metadata = meta
    return backbone, meta


def strip_head(model):
    """A copy of `model` without its last layer (the logits): ends at the 1-bit feature layer."""
    from akida_edge.engine.model import Model

    out = Model([layer.spec for layer in model.layers[:-1]])
    for src, dst in zip(model.layers[:-1], out.layers, strict=True):
        for name in src.variables:
            dst.set_variable(name, src.get_variable(name))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--machines", type=int, default=1000, help="training machines (default 1000)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--qat-epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recon-weight", type=float, default=RECON_WEIGHT,
                   help=f"weight of the reconstruction loss (default {RECON_WEIGHT})")
    p.add_argument("--cache", help="keep the rendered data set in this .npz file and reuse it")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="the backbone file to write")
    p.add_argument("--small", action="store_true", help="smoke mode: 12 machines, 2+1 epochs")
    args = p.parse_args(argv)
    if args.small:
        args.machines, args.epochs, args.qat_epochs, n_val = 12, 2, 1, 4
    else:
        n_val = 60

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    backbone, meta = train(args.machines, n_val, args.epochs, args.qat_epochs, args.seed, log,
                           cache=args.cache, recon_weight=args.recon_weight)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    backbone.save(args.out)
    log(f"wrote {args.out}")
    print(json.dumps(meta["training"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
