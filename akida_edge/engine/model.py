"""`Model`: a sequence of Akida 1.0 layers with their variables (MetaTF's shape of API).

The model holds wiring and variables only. Execution is `execute.py` (reference or kernels), the
AKD1000 fit is `mapping.py`, files are `modelfile.py`, the text summary is `summary.py`.

>>> import akida_edge as ae
>>> m = ae.Model()
>>> m.add(ae.InputData(input_shape=(4, 4, 2), input_bits=1))
>>> m.add(ae.FullyConnected(units=3, weights_bits=2, activation=False))
>>> m.layers[1].output_shape
(1, 1, 3)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from akida_edge.engine import layers as L
from akida_edge.errors import ModelError

THRESHOLD_MAX = 2**31 - 1  # int32 register in software; the chip's 20/24-bit range is mapping's check
ACT_STEP_MAX = 65535 / 16  # act_step is stored in 1/16 units in 16 bits (DESIGN.md §3)


def weight_range(bits: int) -> tuple[int, int]:
    """Integer range of b-bit weights: {0, 1} for 1 bit, symmetric ±(2^(b-1) - 1) otherwise."""
    if bits == 1:
        return (0, 1)
    k = 2 ** (bits - 1) - 1
    return (-k, k)


class Layer:
    """A layer bound into a model: its description, shapes and variables."""

    def __init__(self, spec: L.LayerSpec, input_shape: tuple[int, int, int]) -> None:
        self.spec = spec
        self.input_shape = input_shape
        self.output_shape = L.output_shape(spec, input_shape)
        self._shapes = L.variable_shapes(spec, input_shape)
        self.variables: dict[str, np.ndarray] = {}
        for name, shape in self._shapes.items():
            if name == "act_step":
                self.variables[name] = np.ones(shape, np.float32)
            elif name == "threshold":
                self.variables[name] = np.zeros(shape, np.int32)
            else:
                self.variables[name] = np.zeros(shape, np.int8)

    # --- description passthrough: layer.filters, layer.act_bits, ... ---
    def __getattr__(self, item: str) -> Any:
        if item.startswith("_") or item == "spec":
            raise AttributeError(item)
        return getattr(self.spec, item)

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"<{self.spec.kind} {self.name!r} {self.input_shape} -> {self.output_shape}>"

    def get_variable(self, name: str) -> np.ndarray:
        if name not in self.variables:
            raise ModelError(
                f"layer {self.name!r} ({self.spec.kind}) has no variable {name!r}; "
                f"it has {', '.join(self.variables) or 'none'}"
            )
        return self.variables[name].copy()

    def set_variable(self, name: str, value: Any) -> None:
        """Set a variable after checking its shape, dtype and range (`ModelError` otherwise)."""
        if name not in self._shapes:
            raise ModelError(
                f"layer {self.name!r} ({self.spec.kind}) has no variable {name!r}; "
                f"it has {', '.join(self._shapes) or 'none'}"
            )
        arr = np.asarray(value)
        shape = self._shapes[name]
        if arr.shape != shape:
            raise ModelError(
                f"layer {self.name!r}: variable {name!r} must have shape {shape}, got {arr.shape}"
            )
        if name == "act_step":
            self.variables[name] = _check_act_step(self.name, arr)
        elif name == "threshold":
            self.variables[name] = _check_integers(self.name, name, arr, -THRESHOLD_MAX, THRESHOLD_MAX,
                                                   np.int32, "an int32")
        else:
            lo, hi = weight_range(self.spec.weights_bits)
            self.variables[name] = _check_integers(
                self.name, name, arr, lo, hi, np.int8, f"{self.spec.weights_bits}-bit weights"
            )


def _check_integers(layer: str, name: str, arr: np.ndarray, lo: int, hi: int, dtype: type,
                    what: str) -> np.ndarray:
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ModelError(f"layer {layer!r}: variable {name!r} must hold integers, got fractions")
    elif arr.dtype.kind not in "iub":
        raise ModelError(f"layer {layer!r}: variable {name!r} must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr.min() if arr.min() < lo else arr.max()
        raise ModelError(
            f"layer {layer!r}: variable {name!r} holds {int(bad)}, outside [{lo}, {hi}] of {what}; "
            f"requantize it or change the layer's bit width"
        )
    return arr.astype(dtype)


def _check_act_step(layer: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)):
        raise ModelError(f"layer {layer!r}: variable 'act_step' must be finite numbers")
    step16 = arr.astype(np.float64) * 16
    if np.any(step16 != np.round(step16)) or np.any(arr <= 0) or np.any(arr > ACT_STEP_MAX):
        raise ModelError(
            f"layer {layer!r}: variable 'act_step' must be positive multiples of 1/16 up to "
            f"{ACT_STEP_MAX}, got values such as {arr.ravel()[0]!r}; round it to 1/16 units"
        )
    return arr.astype(np.float32)


class Model:
    """A sequential Akida 1.0 model."""

    def __init__(self, layers: Iterable[L.LayerSpec] | None = None) -> None:
        self.layers: list[Layer] = []
        self.device = None  # set by map()
        self.mapping = None  # mapping.Mapping, set by map()
        self.statistics = None  # activity.Activity of the last forward, set by execute
        self.learning = None  # learning.LearningState once compile() was called
        self.metadata: dict[str, Any] = {}  # free JSON stored with the model file
        self.file_hash: str | None = None  # content hash when loaded from a file
        for spec in layers or ():
            self.add(spec)

    def add(self, spec: L.LayerSpec) -> None:
        """Append a layer; the first must be an input layer, the others must not be."""
        if not isinstance(spec, L.LayerSpec):
            raise ModelError(f"Model.add takes a layer description, got {type(spec).__name__}")
        if not self.layers and not spec.is_input:
            raise ModelError(
                f"the first layer must be InputData or InputConvolutional, got {spec.kind}"
            )
        if self.layers and spec.is_input:
            raise ModelError(f"{spec.kind} can only be the first layer of a model")
        prev = self.layers[-1].spec if self.layers else None
        if prev is not None and not isinstance(prev, L.InputData) and not prev.activation:
            raise ModelError(
                f"layer {self.layers[-1].name!r} has activation=False, which only the last layer may "
                "have; enable its activation or remove the layers after it"
            )
        name = spec.name or f"{_snake(spec.kind)}_{len(self.layers)}"
        if any(layer.name == name for layer in self.layers):
            raise ModelError(f"a layer named {name!r} is already in the model; give it another name")
        if spec.name != name:
            spec = spec.renamed(name)
        in_shape = self.layers[-1].output_shape if self.layers else spec.input_shape
        self.layers.append(Layer(spec, in_shape))
        self.device = None
        self.mapping = None

    def get_layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ModelError(f"no layer named {name!r}; the model has {', '.join(self.layer_names)}")

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        self._require_layers()
        return self.layers[0].input_shape

    @property
    def output_shape(self) -> tuple[int, int, int]:
        self._require_layers()
        return self.layers[-1].output_shape

    def _require_layers(self) -> None:
        if not self.layers:
            raise ModelError("the model has no layers; add an input layer first")

    # --- execution (execute.py) ---
    def forward(self, x: np.ndarray, *, reference: bool = False, upto: int | None = None) -> np.ndarray:
        """Integer outputs, NHWC: activations (uint8), or int32 p - T for a last layer without
        activation. `reference=True` runs the literal NumPy reference instead of the kernels;
        `upto=k` stops after layer k - 1 (e.g. the backbone's features before a learning layer)."""
        from akida_edge.engine import execute

        return execute.forward(self, x, reference=reference, upto=upto)

    def predict(self, x: np.ndarray, num_classes: int | None = None, *,
                reference: bool = False) -> np.ndarray:
        """float32 (p - T) / act_step of a last layer without activation (the float logits).

        With `num_classes` (edge learning, `learning.py`), the predicted class per sample."""
        if num_classes is not None:
            from akida_edge.engine import learning

            return learning.predict_classes(self, x, num_classes)
        from akida_edge.engine import execute

        return execute.predict(self, x, reference=reference)

    # --- edge learning (learning.py) ---
    def compile(self, num_weights: int, num_classes: int | None = None,
                learning_competition: float = 0.0, initial_plasticity: float = 1.0,
                min_plasticity: float = 0.1, plasticity_decay: float = 0.25, seed: int = 0,
                rule: str = "akd1000") -> None:
        """Prepare the last layer for edge learning (`learning.py`; `rule="counts"` is the
        higher-precision host variant, still binary weights)."""
        from akida_edge.engine import learning

        learning.compile_model(self, num_weights=num_weights, num_classes=num_classes,
                               learning_competition=learning_competition,
                               initial_plasticity=initial_plasticity, min_plasticity=min_plasticity,
                               plasticity_decay=plasticity_decay, seed=seed, rule=rule)

    def fit(self, x: np.ndarray, y: Any = None) -> Any:
        from akida_edge.engine import learning

        return learning.fit(self, x, y)

    def add_classes(self, n: int) -> None:
        from akida_edge.engine import learning

        learning.add_classes(self, n)

    # --- the chip (mapping.py), files (modelfile.py), text (summary.py) ---
    def map(self, device: Any = None, **kwargs: Any) -> Any:
        from akida_edge.engine import mapping

        return mapping.map_model(self, device, **kwargs)

    def summary(self) -> str:
        from akida_edge.engine import summary

        return summary.summary(self)

    def save(self, path: str) -> str:
        from akida_edge.engine import modelfile

        return modelfile.save_model(self, path)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
