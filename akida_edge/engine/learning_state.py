"""`LearningState`: everything edge learning has learned, as plain arrays and JSON-able metadata.

The state of the learning layer (`learning.py`) lives here, apart from the rule that changes it:
the binary weights, each neuron's learning threshold and plasticity, how often each neuron
learned, the class layout, the compile parameters and the random generator's state. It
round-trips through `meta()` / `arrays()` / `from_parts()` without loss, so the per-device store
(`akida_edge/state.py`) and model files can keep it without pickle.

Dtypes and widths (STYLE.md §5):

=====================  ==========  ==========================================================
array                  dtype       meaning
=====================  ==========  ==========================================================
``weights``            uint8       (n_inputs, units), 0/1; every column holds num_weights ones
``threshold_learning`` int32       (units,), 0 = not learned yet, else in [1, num_weights]
``plasticity``         float64     (units,), in [min_plasticity, initial_plasticity]
``learn_count``        int32       (units,), learning steps taken by each neuron
``rng_state``          uint64      (1,), splitmix64 state; every random choice is drawn from it
``counts``             int32       (n_inputs, units), rule "counts" only: how often each input
                                   was active in the samples a neuron learned (zeros otherwise)
=====================  ==========  ==========================================================
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from akida_edge.errors import LearningError

STATE_FORMAT = 1  # bump when the meaning of a field changes

PARAM_NAMES = ("num_weights", "num_classes", "learning_competition", "initial_plasticity",
               "min_plasticity", "plasticity_decay", "seed", "rule")
RULES = ("akd1000", "counts")

ARRAY_DTYPES: dict[str, type] = {
    "weights": np.uint8,
    "threshold_learning": np.int32,
    "plasticity": np.float64,
    "learn_count": np.int32,
    "rng_state": np.uint64,
    "counts": np.int32,
}


@dataclass
class LearningState:
    """The learned state of one learning layer (see the module docstring for the arrays)."""

    num_weights: int
    num_classes: int | None
    neurons_per_class: int
    learning_competition: float
    initial_plasticity: float
    min_plasticity: float
    plasticity_decay: float
    seed: int
    weights: np.ndarray
    threshold_learning: np.ndarray
    plasticity: np.ndarray
    learn_count: np.ndarray
    rng_state: np.ndarray
    counts: np.ndarray
    rule: str = "akd1000"
    samples_seen: int = 0
    format: int = field(default=STATE_FORMAT)

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[0])

    @property
    def units(self) -> int:
        return int(self.weights.shape[1])

    @property
    def learned(self) -> np.ndarray:
        """Boolean (units,): the neurons that have learned (threshold_learning > 0)."""
        return self.threshold_learning > 0

    def params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARAM_NAMES}

    # --- serialization ---
    def meta(self) -> dict[str, Any]:
        """JSON-able metadata (everything but the arrays)."""
        return {"format": self.format, "neurons_per_class": self.neurons_per_class,
                "samples_seen": self.samples_seen, **self.params()}

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(getattr(self, name), dtype=dtype)
                for name, dtype in ARRAY_DTYPES.items()}

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> LearningState:
        """Rebuild a state from `meta()` and `arrays()`, validating everything (`LearningError`)."""
        if not isinstance(meta, dict):
            raise LearningError(f"learning state metadata must be a mapping, got {type(meta).__name__}")
        fmt = meta.get("format")
        if fmt != STATE_FORMAT:
            raise LearningError(
                f"learning state format {fmt!r} is not supported (this akida-edge reads format "
                f"{STATE_FORMAT}); use the akida-edge version that wrote it or re-learn"
            )
        missing = [k for k in (*PARAM_NAMES, "neurons_per_class", "samples_seen") if k not in meta]
        missing += [k for k in ARRAY_DTYPES if k not in arrays]
        if missing:
            raise LearningError(f"learning state lacks {', '.join(missing)}; the state is incomplete")
        kwargs: dict[str, Any] = {k: meta[k] for k in (*PARAM_NAMES, "neurons_per_class", "samples_seen")}
        for name, dtype in ARRAY_DTYPES.items():
            arr = np.asarray(arrays[name])
            if arr.dtype != np.dtype(dtype):
                raise LearningError(f"learning state array {name!r} has dtype {arr.dtype}, expected "
                                    f"{np.dtype(dtype)}")
            kwargs[name] = arr.copy()
        state = cls(**kwargs)
        state.validate()
        return state

    def copy(self) -> LearningState:
        return LearningState.from_parts(json.loads(json.dumps(self.meta())), self.arrays())

    def validate(self) -> None:
        """Check every invariant of the learning rule; `LearningError` names the first broken one."""
        w = self.weights
        if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
            raise LearningError(f"learning state weights must be (n_inputs, units), got {w.shape}")
        units = w.shape[1]
        for name in ("threshold_learning", "plasticity", "learn_count"):
            if getattr(self, name).shape != (units,):
                raise LearningError(f"learning state {name!r} must have shape ({units},), "
                                    f"got {getattr(self, name).shape}")
        if self.counts.shape != w.shape or np.any(self.counts < 0):
            raise LearningError(f"learning state counts must be non-negative, shaped {w.shape}")
        if self.rule not in RULES:
            raise LearningError(f"learning rule {self.rule!r} is unknown; use one of {', '.join(RULES)}")
        if self.rng_state.shape != (1,):
            raise LearningError("learning state rng_state must hold one uint64")
        if not _is_int(self.num_weights) or not 1 <= self.num_weights <= w.shape[0]:
            raise LearningError(f"num_weights={self.num_weights!r} must be in [1, {w.shape[0]}]")
        if w.size and w.max() > 1:
            raise LearningError("learning state weights must be 0 or 1")
        ones = w.sum(axis=0, dtype=np.int64)
        if np.any(ones != self.num_weights):
            bad = int(np.flatnonzero(ones != self.num_weights)[0])
            raise LearningError(f"neuron {bad} holds {int(ones[bad])} ones, not num_weights="
                                f"{self.num_weights}; the state is corrupt")
        thr = self.threshold_learning
        if np.any(thr < 0) or np.any(thr > self.num_weights):
            raise LearningError(f"threshold_learning must lie in [0, {self.num_weights}]")
        if self.num_classes is not None and (not _is_int(self.num_classes) or self.num_classes < 1):
            raise LearningError(f"num_classes={self.num_classes!r} must be a positive integer or null")
        for name in ("learning_competition", "initial_plasticity", "min_plasticity", "plasticity_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise LearningError(f"learning parameter {name}={value!r} must be a number in [0, 1]")
        for name in ("seed", "samples_seen", "neurons_per_class"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 0:
                raise LearningError(f"learning state {name}={getattr(self, name)!r} must be a "
                                    "non-negative integer")
        groups = self.num_classes or 1
        if self.neurons_per_class * groups != units:
            raise LearningError(f"{units} neurons do not split into {groups} classes of "
                                f"{self.neurons_per_class}")
        p = self.plasticity
        if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
            raise LearningError("plasticity must lie in [0, 1]")
        if np.any(self.learn_count < 0):
            raise LearningError("learn_count must be non-negative")

    def digest(self) -> str:
        """sha256 of the metadata and arrays (equal digests, equal states)."""
        h = hashlib.sha256(json.dumps(self.meta(), sort_keys=True).encode())
        for name, arr in self.arrays().items():
            h.update(name.encode())
            h.update(arr.tobytes())
        return h.hexdigest()


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def backbone_hash(model: Any) -> str:
    """sha256 identifying what a learned state depends on: every layer before the learning layer.

    Covers each earlier layer's kind, parameters (names excluded: they do not change what is
    computed) and variables (dtype, shape, bytes), and the learning layer's input shape. Two
    models with the same backbone hash give the learning layer the same binary features, so a
    state learned on one is valid on the other.
    """
    if len(model.layers) < 2:
        raise LearningError("the model needs an input layer before its learning layer")
    h = hashlib.sha256(b"akida-edge backbone v1")
    for layer in model.layers[:-1]:
        params = {k: v for k, v in layer.spec.params().items() if k != "name"}
        h.update(json.dumps([layer.spec.kind, params], sort_keys=True).encode())
        for name in sorted(layer.variables):
            arr = np.ascontiguousarray(layer.variables[name])
            h.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
            h.update(arr.tobytes())
    h.update(json.dumps(list(model.layers[-1].input_shape)).encode())
    return h.hexdigest()
