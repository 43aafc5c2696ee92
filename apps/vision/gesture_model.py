"""The run-time face of the trained gesture model: load, class probabilities, binary features.

The model file (`.aem`, `akida_edge.engine.modelfile`) carries in its metadata what the app needs
besides the layers: ``labels`` (output order), ``view`` (`representation.ViewParams`: how events
become its input), ``feature_layer`` (the FullyConnected with 1-bit activations whose outputs are
the binary features for edge learning) and ``placeholder`` (true for a smoke-run model whose
accuracy means nothing). No PyTorch needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.apps.vision.representation import ViewParams
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model
from akida_edge.engine.modelfile import load_model
from akida_edge.errors import AkidaEdgeError, InputDataError, ModelFileError

#: The shipped model (package data).
DEFAULT_MODEL = Path(__file__).resolve().parent / "model" / "gestures.aem"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, float32: p_i = exp(z_i − max z) / Σ_j exp(z_j − max z)."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass
class GestureModel:
    """A converted gesture model with its labels, view and binary feature layer."""

    model: Model
    labels: tuple[str, ...]
    view: ViewParams
    feature_layer: str
    path: Path | None = None
    placeholder: bool = False

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> GestureModel:
        """Read a gesture model file (default: the shipped one); `ModelFileError` (one line) when the
        file is not a gesture model."""
        p = Path(path) if path is not None else DEFAULT_MODEL
        model = load_model(p)
        meta = model.metadata or {}

        def bad(what: str) -> ModelFileError:
            return ModelFileError(f"{p}: not a gesture model ({what}); train one with "
                                  "python -m akida_edge.apps.vision.train")

        for key in ("labels", "view", "feature_layer"):
            if key not in meta:
                raise bad(f"metadata has no {key!r}")
        labels = meta["labels"]
        if not isinstance(labels, list) or not labels or not all(isinstance(s, str) for s in labels):
            raise bad(f"metadata 'labels' must be a list of names, got {labels!r}")
        try:
            view = ViewParams.from_dict(meta["view"])
        except (AkidaEdgeError, TypeError) as exc:
            raise bad(f"metadata 'view': {exc}") from None
        if tuple(model.input_shape) != view.tensor_shape:
            raise bad(f"input shape {tuple(model.input_shape)} differs from the view's {view.tensor_shape}")
        n_out = int(np.prod(model.output_shape))
        if n_out != len(labels):
            raise bad(f"{n_out} outputs but {len(labels)} labels")
        name = meta["feature_layer"]
        if name not in model.layer_names:
            raise bad(f"feature layer {name!r} is not one of its layers {model.layer_names}")
        spec = model.get_layer(name).spec
        if not isinstance(spec, L.FullyConnected) or not spec.activation or spec.act_bits != 1:
            raise bad(f"feature layer {name!r} is not a FullyConnected with 1-bit activations")
        return cls(model, tuple(labels), view, name, p, bool(meta.get("placeholder", False)))

    @property
    def feature_index(self) -> int:
        """Index of the feature layer in `model.layers`."""
        return self.model.layer_names.index(self.feature_layer)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.model.get_layer(self.feature_layer).output_shape))

    def _check(self, x_u8: np.ndarray) -> np.ndarray:
        x = np.asarray(x_u8)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or tuple(x.shape[1:]) != self.view.tensor_shape or x.dtype != np.uint8:
            want = ", ".join(map(str, self.view.tensor_shape))
            raise InputDataError(f"gesture model input must be uint8 (n, {want}), got {x.dtype} {x.shape}; "
                                 "build it with representation.clip_tensor")
        return x

    def logits(self, x_u8: np.ndarray) -> np.ndarray:
        """(n, len(labels)) float32 logits of `Model.predict` (bit-exact integer engine)."""
        x = self._check(x_u8)
        return self.model.predict(x).reshape(len(x), -1)

    def probabilities(self, x_u8: np.ndarray) -> np.ndarray:
        """(n, len(labels)) float32 softmax of the logits."""
        return softmax(self.logits(x_u8))

    def features(self, x_u8: np.ndarray) -> np.ndarray:
        """(n, F) uint8 0/1: the feature layer's binary activations (the input of edge learning)."""
        x = self._check(x_u8)
        out = self.model.forward(x, upto=self.feature_index + 1)
        return np.ascontiguousarray(out.reshape(len(x), -1)).astype(np.uint8)
