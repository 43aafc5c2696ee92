"""Evaluation figures and the training report of the gesture model (`REPORT.md`, `confusion.png`).

Accuracies are top-1 over the 9 classes on the `test` split (held-out backgrounds, speeds and
shapes, `dataset.py`). `accuracy` is the converted (integer) model on the virtual AKD1000;
`float_accuracy` the float network before quantization; `agreement` the share of test clips where
the converted model's top-1 equals the fake-quantized PyTorch model's. Per held-out factor
(shape, background family, DVS preset) the quantized accuracy is given too.

Chip cost, from the executor's activity records (`akida_edge.engine.activity`) over the test clips:
NPs of the AKD1000 mapping, estimated energy per inference (`akida_edge.engine.power`, an estimate,
not a measurement) at 10 inferences/s, and the work skipped because of sparsity, per layer and in
all: input events vs dense input positions (H·W·C per sample), synaptic operations vs the MACs of a
dense accelerator (`power.nominal_activity` at density 1: H_o·W_o·k²·C·F per convolution, N·units
per dense layer). Still scenes (`_background_` clips) are reported apart: they are the cheap case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from akida_edge.apps.kws.report import confusion, confusion_png
from akida_edge.engine import statistics
from akida_edge.engine.power import nominal_activity

RATE_HZ = 10.0  # inferences per second while watching (a window every 100 ms)
#: Short names for the confusion picture (its column headers hold five characters).
SHORT = {"swipe_left": "left", "swipe_right": "right", "swipe_up": "up", "swipe_down": "down",
         "circle_cw": "cw", "circle_ccw": "ccw", "approach": "appr", "recede": "reced",
         "_background_": "bg"}


def _recall(cm: np.ndarray, i: int) -> float | None:
    n = int(cm[i].sum())
    return float(cm[i, i] / n) if n else None


def sparsity(akida: Any, x: np.ndarray) -> dict[str, Any]:
    """Events vs dense positions and synaptic ops vs dense MACs of `x` on `akida` (per sample)."""
    akida.forward(x)
    act = akida.statistics
    n = max(act.samples, 1)
    dense = {la.name: la for la in nominal_activity(akida, hidden_density=1.0, input_density=1.0).layers}
    layers = {}
    for la in act.layers:
        if la.name not in dense:
            continue
        d = dense[la.name]
        layers[la.name] = {"input_events": la.input_events / n, "input_positions": d.input_size,
                           "synaptic_ops": la.synaptic_ops / n, "dense_macs": d.synaptic_ops}
    ev = sum(v["input_events"] for v in layers.values())
    pos = sum(v["input_positions"] for v in layers.values())
    ops = sum(v["synaptic_ops"] for v in layers.values())
    macs = sum(v["dense_macs"] for v in layers.values())
    stats = statistics.report(akida, rate_hz=RATE_HZ)
    power = stats.power.as_dict() if stats.power is not None else {}
    return {"events_per_inference": ev, "dense_positions": pos, "event_share": ev / max(pos, 1),
            "synaptic_ops_per_inference": ops, "dense_macs": macs, "op_share": ops / max(macs, 1),
            "work_skipped": 1 - ops / max(macs, 1), "layers": layers,
            "dynamic_uj_per_inference": power.get("dynamic_uj_per_inference"),
            "energy_uj_per_inference_at_10hz": power.get("energy_uj_per_inference"),
            "total_mw_at_10hz": power.get("total_mw")}


def evaluate(akida: Any, test: dict[str, np.ndarray], float_pred: np.ndarray, quant_pred: np.ndarray,
             fq_pred: np.ndarray, classes: tuple[str, ...]) -> dict:
    """The figures of the module docstring (plus per-class recall and the confusion matrix)."""
    y = test["y"]
    acc = float(np.mean(quant_pred == y))
    f_acc = float(np.mean(float_pred == y))
    cm = confusion(y, quant_pred, len(classes))
    by: dict[str, dict[str, float]] = {}
    for factor in ("shape", "background", "dvs_preset"):
        if factor in test:
            vals = test[factor]
            by[factor] = {str(v): float(np.mean(quant_pred[vals == v] == y[vals == v]))
                          for v in np.unique(vals)}
    bg = len(classes) - 1
    busy = sparsity(akida, test["x"][y != bg])
    still = sparsity(akida, test["x"][y == bg]) if np.any(y == bg) else None
    mapping = akida.mapping
    return {
        "accuracy": acc, "float_accuracy": f_acc, "quantization_drop": f_acc - acc,
        "agreement": float(np.mean(quant_pred == fq_pred)),
        "per_class": {c: _recall(cm, i) for i, c in enumerate(classes)},
        "by_factor": by, "confusion": cm.tolist(),
        "nps": int(mapping.np_count), "sram_bytes": int(mapping.sram_bytes),
        "layers": {m.name: len(m.nps) for m in mapping.layers},
        "gestures": busy, "background": still,
        "dynamic_uj_per_inference": busy["dynamic_uj_per_inference"],
        "energy_uj_per_inference_at_10hz": busy["energy_uj_per_inference_at_10hz"],
        "work_skipped": busy["work_skipped"],
    }


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _sparsity_rows(s: dict) -> str:
    rows = []
    for name, v in s["layers"].items():
        ev, pos, ops, macs = v["input_events"], v["input_positions"], v["synaptic_ops"], v["dense_macs"]
        rows.append(f"| `{name}` | {ev:.0f} / {pos} ({ev / max(pos, 1):.1%}) | {ops:.0f} / {macs} "
                    f"({ops / max(macs, 1):.1%}) |")
    return "\n".join(rows)


def _window_rows(w: dict) -> str:
    return "\n".join(f"| {k} | {v['windows']} | {v['correct']:.3f} | {v['background']:.3f} | "
                     f"{v['other']:.3f} |" for k, v in w.items())


def write(out: Path, m: dict, classes: tuple[str, ...]) -> None:
    """`metrics.json`, `confusion.png` and `REPORT.md` under `out`."""
    (out / "metrics.json").write_text(json.dumps(m, indent=1))
    n = sum(map(sum, m["confusion"]))
    confusion_png(out / "confusion.png", np.array(m["confusion"]), tuple(SHORT.get(c, c) for c in classes),
                  f"Gestures, held-out scenes: accuracy {m['accuracy']:.3f} ({n} clips)")
    rows = "\n".join(f"| `{c}` | {_fmt(m['per_class'][c])} |" for c in classes)
    factors = "\n".join(f"| {f} | {', '.join(f'{k} {v:.3f}' for k, v in d.items())} |"
                        for f, d in m["by_factor"].items())
    g, b = m["gestures"], m["background"] or {}
    still = (f"{_fmt(b.get('dynamic_uj_per_inference'), 3)} µJ dynamic, "
             f"{_fmt(b.get('work_skipped'), 3)} of the dense MACs skipped") if b else "n/a"
    smoke = "SMOKE run (`--small`): its accuracy means nothing" if m["small"] else "full run"
    if m.get("aux"):
        smoke += (f"; float training with {len(m['aux'])} auxiliary motions as their own classes of a "
                  "second head on the binary features, dropped before quantization-aware training")
    else:
        smoke += "; `--no-aux`"
    text = f"""# Gesture model: training report

Generated by `python -m akida_edge.apps.vision.train` ({smoke}; training seed {m['seed']}, data
config {m['data_digest']}, {m['epochs_float']} float + {m['epochs_quantized']} quantization-aware
epochs, {m['train_seconds']:.0f} s of training on {m['threads']} thread(s)). Clips per split:
{', '.join(f'{k} {v}' for k, v in m['clips'].items())}. Every clip is rendered (`scenes.py`), turned into
events by the project's DVS emulator and into a 64×64×8 tensor (`representation.py`); `test` holds
backgrounds, gesture speeds and hand shapes never used in training (`dataset.py`).

| figure | value |
|---|---|
| accuracy (converted model, virtual AKD1000, held-out scenes, 9 classes) | {_fmt(m['accuracy'])} |
| float accuracy (before quantization, same clips) | {_fmt(m['float_accuracy'])} |
| quantization drop (float − quantized) | {_fmt(m['quantization_drop'])} |
| converted vs fake-quantized PyTorch: same top-1 | {_fmt(m['agreement'])} |
| NPs on the AKD1000 | {m['nps']} ({', '.join(f'{k} {v}' for k, v in m['layers'].items())}) |
| SRAM | {m['sram_bytes'] / 1024:.1f} KB |
| dynamic energy per inference, gestures (estimated) | {_fmt(g['dynamic_uj_per_inference'], 3)} µJ |
| energy/inference at 10/s, static included (est.) | {_fmt(g['energy_uj_per_inference_at_10hz'], 2)} µJ |
| work skipped thanks to sparsity, gestures (1 − synaptic ops / dense MACs) | {_fmt(g['work_skipped'], 3)} |
| `_background_` clips (resting hands, light changes, noise, other and cut-short motions) | {still} |
| a still scene without sensor noise (no events) | 0 µJ dynamic: the static floor only |

Per-class recall (quantized):

| class | recall |
|---|---|
{rows}

Quantized accuracy by held-out factor (the `object` shape and the `rects` backgrounds are never in
training; test hands and mittens have finger lengths never in training; `none`: background clips
without a shape):

| factor | accuracy |
|---|---|
{factors}

![confusion matrix](confusion.png)

(In the picture: left/right/up/down = the swipes, cw/ccw = the circles, appr = approach, reced =
recede, bg = `_background_`.)

## Sparsity: what the event-based engine skipped (gesture clips, per inference)

The engine only computes where there are events: each input event adds its weights to the
outputs it reaches (synaptic operations); a dense accelerator computes every MAC. In all,
{g['events_per_inference']:.0f} of {g['dense_positions']} input positions held an event
({g['event_share']:.1%}), and {g['synaptic_ops_per_inference']:.3g} synaptic operations replaced
{g['dense_macs']:.3g} dense MACs ({g['op_share']:.1%}).

| layer | input events / positions | synaptic ops / dense MACs |
|---|---|---|
{_sparsity_rows(g)}

## Sliding windows around a gesture

The app classifies a window every {m['view']['hop_ms']} ms. Longer held-out scenes (the gesture
with 1 s of rest before and 0.8 s after) streamed through `ViewStream`, each window tallied by the
share of the gesture inside it: whole gestures are named, gestures cut short are mostly
`_background_`, and half gestures are where a detector must look at several windows.

| share of the gesture in the window | windows | named gesture | `_background_` | another gesture |
|---|---|---|---|---|
{_window_rows(m.get('windows') or {{}})}

## What these numbers do and do not say

The scenes are synthetic: a drawn hand over drawn textures, an emulated sensor. Held-out here
means other textures, speeds and shapes of the same renderer, not real hands, real rooms or a
real event camera; expect lower accuracy on real footage, and use `vision learn` (few-shot edge
learning on the binary features) to adapt. Each test clip is one 0.8 s window that holds most of
a gesture (up to 20 % of it may fall outside); the table above shows the other windows of a
stream. Energy figures come from the power model, not a chip.
"""
    (out / "REPORT.md").write_text(text)
