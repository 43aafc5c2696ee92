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
from akida_edge.apps.vision.labels import CLASSES
from akida_edge.apps.vision.model import DEFAULT_MODEL, GestureModel

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
