"""Held-out accuracy of the shipped gesture model, quickly (the `vision` benchmark calls it).

`accuracy_figures` renders the first `n_per_label` clips of every class of the `test` split
(held-out backgrounds, speeds and shapes, `dataset.py`; the same clips that open the training
report's test set), runs them through the DVS emulator and the representation, and classifies
them with the converted model on the virtual AKD1000 (`accuracy`) and, when PyTorch is installed,
with the float network saved next to it (`gestures_float.pt`, `float_accuracy`; None otherwise).
With the default 12 clips per class (108 clips) it takes some 20 s of one core.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np

from akida_edge.apps.vision import dataset
from akida_edge.apps.vision.gesture_model import DEFAULT_MODEL, GestureModel
from akida_edge.apps.vision.labels import CLASSES

N_PER_LABEL = 12


def float_logits(path: Path, x: np.ndarray, view_dict: dict) -> np.ndarray | None:
    """Logits of the float network in `path` (None without PyTorch or without the file)."""
    if not path.exists():
        return None
    try:
        import torch

        from akida_edge.apps.vision import network
        from akida_edge.apps.vision.representation import ViewParams
    except ImportError:
        return None
    saved = torch.load(path, weights_only=True)
    view = ViewParams.from_dict(saved.get("view", view_dict))
    model = network.build(view, len(CLASSES), widths=tuple(saved["widths"]), features=int(saved["features"]))
    model.load_state_dict(saved["state_dict"])
    return network.predict(model, network.to_nchw(x))


def accuracy_figures(progress: IO[str] | None = None, n_per_label: int = N_PER_LABEL,
                     model_path: str | Path | None = None) -> dict[str, Any]:
    """{"accuracy", "float_accuracy", "clips", "placeholder"} on held-out test scenes."""
    gm = GestureModel.load(model_path)
    x, names = dataset.make_clips(gm.labels, "test", n_per_label, seed=0, view=gm.view, progress=progress)
    y = np.asarray([gm.labels.index(s) for s in names])
    acc = float(np.mean(gm.logits(x).argmax(1) == y))
    path = Path(model_path) if model_path is not None else DEFAULT_MODEL
    f = float_logits(path.with_name("gestures_float.pt"), x, gm.view.to_dict())
    return {"accuracy": acc, "float_accuracy": None if f is None else float(np.mean(f.argmax(1) == y)),
            "clips": int(len(y)), "placeholder": gm.placeholder}


def sliding_windows(gm: GestureModel, n_per_label: int = 6, progress: IO[str] | None = None,
                    lead_s: float = 1.0, tail_s: float = 0.8) -> dict[str, dict[str, float]]:
    """What the sliding windows of a stream say around a gesture, by the share of it they hold.

    Test-split scenes of each gesture are rendered for lead_s + gesture + tail_s with the motion
    starting at `lead_s`, streamed through `ViewStream` (a window every hop) and classified. Every
    window is binned by the share of the motion inside it (0, 0.25, 0.5, 0.75, 1: nearest
    quarter); per bin: the share of windows naming the gesture (`correct`), `_background_`
    (`background`) or another gesture (`other`)."""
    from dataclasses import replace

    from akida_edge.apps.vision import scenes
    from akida_edge.apps.vision.labels import BACKGROUND
    from akida_edge.apps.vision.representation import ViewStream, video_events

    bins: dict[float, list[tuple[bool, bool]]] = {}
    labels = [c for c in gm.labels if c != BACKGROUND]
    for a, label in enumerate(labels):
        for i in range(n_per_label):
            clip = dataset.sample_clip(label, "test", 10**5 + i, gm.view)
            sc = replace(clip.scene, start_s=lead_s, duration_s=lead_s + clip.scene.gesture_s + tail_s)
            frames, fps = scenes.render(label, sc)
            events, shape = video_events(frames, fps, clip.dvs_preset, sc.seed)
            x, ends = ViewStream(shape, gm.view, t0_us=0).push(events, int(round(sc.duration_s * 1e6)))
            pred = gm.logits(x).argmax(1)
            g0, g1 = sc.start_s, sc.start_s + sc.gesture_s
            for k, end_s in zip(pred, ends / 1e6, strict=True):
                share = max(0.0, min(end_s, g1) - max(end_s - gm.view.window_ms / 1000, g0)) / sc.gesture_s
                b = round(share * 4) / 4
                bins.setdefault(b, []).append((gm.labels[k] == label, gm.labels[k] == BACKGROUND))
        if progress is not None:
            progress.write(f"vision windows   {a + 1}/{len(labels)} gestures\n")
    out = {}
    for b in sorted(bins):
        r = np.asarray(bins[b], float)
        out[f"{b:.2f}"] = {"windows": int(len(r)), "correct": float(r[:, 0].mean()),
                           "background": float(r[:, 1].mean()),
                           "other": float(1 - r[:, 0].mean() - r[:, 1].mean())}
    return out
