"""The on-device normal model: backbone binary features -> a learning layer that learns normal only.

`AnomalyDetector` wraps the shipped backbone (`model/backbone.aem`: 4-bit feature windows ->
1-bit features, `train.py`) and appends a `FullyConnected` learning layer of `neurons` units
(1-bit weights, no activation). `fit(values)` learns the machine's normal, unlabelled, with the
chip's edge-learning rule (`Model.compile/fit`, `akida_edge.engine.learning`):

1. The binary features of every normal window (each axis is a sample) are computed once;
   ``num_weights`` = round(1.2 × median count of active features) (MetaTF's rule of thumb,
   akida-facts §3.2), at most half the features.
2. A share `calibration_fraction` (0.2) of the windows is held out for calibration, in blocks
   of `calibration_block` (4) consecutive windows spread over the whole recording
   (`calibration_mask`); the others are learned in time order with `learning_competition` and
   `rule` (defaults below); each sample moves one neuron.
3. The anomaly score of a window compares its binary features x (|x| active) with every learned
   neuron j (num_weights ones, potential p_j = popcount(x AND w_j), the learning layer's output):

       score = min_j |x XOR w_j| / (|x| + num_weights) = 1 − max_j 2·p_j / (|x| + num_weights)

   over the learned neurons — one minus the best Dice overlap with a learned prototype, in
   [0, 1] (0: it matches one exactly, 1: it shares nothing with any). Unlike MetaTF's
   edge-learning error num_weights − max_j p_j (`learning.distance`), it also rises when a
   window activates features that normal running never does (a pattern containing a prototype
   plus extra features is not "normal"). With several axes the window's score is the largest
   axis score.
4. The threshold is calibrated on the held-out windows, which were not learned: with q their
   `quantile` (default 0.995, "higher" method, i.e. about their maximum) and m their median,
   threshold = q + `margin`·(q − m), margin 0.5 — the held-out windows are few (about 24 of a
   minute), so the margin covers normal variation they missed; ``is_anomaly = score > threshold``.
   Episodes then need `on_windows` consecutive anomalous windows (`episodes.py`).

The learned state (the learning layer's `LearningState`, the threshold and the calibration
scores) is saved and reloaded through `akida_edge.state.StateStore` under the name ``anomaly``,
tied to the backbone's hash and to the encoder settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from akida_edge.apps.anomaly import features
from akida_edge.errors import InputDataError, LearningError, StateError

STATE_NAME = "anomaly"
DEFAULT_BACKBONE = Path(__file__).parent / "model" / "backbone.aem"


@dataclass(frozen=True)
class FitParams:
    """Settings of learning normal on the device (see the module docstring)."""

    neurons: int = 32
    learning_competition: float = 0.5
    rule: str = "akd1000"
    initial_plasticity: float = 1.0
    min_plasticity: float = 0.1
    plasticity_decay: float = 0.25
    calibration_fraction: float = 0.2
    calibration_block: int = 4
    quantile: float = 0.995
    margin: float = 0.5
    weights_factor: float = 1.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.neurons < 1:
            raise LearningError(f"neurons={self.neurons} must be >= 1")
        if not 0.0 < self.calibration_fraction < 1.0:
            raise LearningError(f"calibration_fraction={self.calibration_fraction} must lie in (0, 1)")
        if not 0.5 <= self.quantile <= 1.0:
            raise LearningError(f"quantile={self.quantile} must lie in [0.5, 1]")


@dataclass
class FitReport:
    windows: int
    learned: int
    calibration: int
    num_weights: int
    threshold: float
    neurons_used: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AnomalyDetector:
    """Backbone + learning layer + threshold (see the module docstring)."""

    MIN_WINDOWS = 10

    def __init__(self, backbone_path: str | Path | None = None, params: FitParams = FitParams()) -> None:
        from akida_edge.engine.modelfile import load_model

        self.backbone_path = Path(backbone_path or DEFAULT_BACKBONE)
        backbone = load_model(str(self.backbone_path))
        enc = backbone.metadata.get("encoder") or {}
        if enc.get("type") != "deviation":
            raise StateError(f"{self.backbone_path} has no encoder settings in its metadata; it is not an "
                             "anomaly backbone (train one with python -m akida_edge.apps.anomaly.train)")
        self.encoder = enc
        self.backbone_sha256 = backbone.file_hash  # its content hash, as `model summary` prints it
        self.bits = int(enc["bits"])
        self.params = params
        self.model = _with_learning_layer(backbone, params.neurons)
        self.n_features = int(np.prod(self.model.layers[-1].input_shape))
        self.threshold: float | None = None
        self.reference: np.ndarray | None = None
        self.step: np.ndarray | None = None
        self.calibration_scores = np.zeros(0, np.float32)

    # --- encoding ---
    @property
    def encoder_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.encoder, sort_keys=True).encode()).hexdigest()

    def inputs(self, values: np.ndarray) -> np.ndarray:
        """The model inputs (windows·axes, 1, 1, F) uint8 of feature values (windows, axes, F)."""
        n_f = features.N_FEATURES
        if values.ndim != 3 or values.shape[-1] != n_f:
            raise InputDataError(f"feature values must be (windows, axes, {n_f}), got {values.shape}")
        if self.reference is None:
            raise StateError("no normal has been learned yet; run `akida-edge anomaly fit FILE...` first")
        if values.shape[1] != self.reference.shape[0]:
            raise InputDataError(f"the recording has {values.shape[1]} axes but the normal was learned on "
                                 f"{self.reference.shape[0]}; score recordings of the same sensor")
        return features.encode(values, self.reference, self.step, self.bits)

    def binary_features(self, values: np.ndarray) -> np.ndarray:
        from akida_edge.engine.learning import features as learning_features

        return learning_features(self.model, self.inputs(values))

    # --- learning normal ---
    @property
    def fitted(self) -> bool:
        return self.model.learning is not None and self.threshold is not None

    def fit(self, values: np.ndarray) -> FitReport:
        """Learn normal from feature values (windows, axes, F) in time order; calibrate the threshold."""
        from akida_edge.engine import learning

        p = self.params
        n_win = values.shape[0]
        if n_win < self.MIN_WINDOWS:
            raise InputDataError(
                f"learning normal needs at least {self.MIN_WINDOWS} windows "
                f"({(self.MIN_WINDOWS - 1) * features.PARAMS.hop_s + features.PARAMS.window_s:g} s of "
                f"running), got {n_win}; record longer")
        is_cal = calibration_mask(n_win, p.calibration_fraction, p.calibration_block)
        learn, cal = values[~is_cal], values[is_cal]
        self.reference, self.step = features.reference(
            learn, float(self.encoder.get("step_sigma", features.STEP_SIGMA)),
            np.asarray(self.encoder.get("step_floor", features.STEP_FLOOR), np.float32))
        x_learn = self.inputs(learn)
        active = learning.features(self.model, x_learn).sum(axis=1)
        num_weights = int(np.clip(round(p.weights_factor * float(np.median(active))), 1,
                                  max(self.n_features // 2, 1)))
        self.model.compile(num_weights=num_weights, learning_competition=p.learning_competition,
                           initial_plasticity=p.initial_plasticity, min_plasticity=p.min_plasticity,
                           plasticity_decay=p.plasticity_decay, seed=p.seed, rule=p.rule)
        self.model.fit(x_learn)
        self.calibration_scores = self.score(cal)
        q = float(np.quantile(self.calibration_scores, p.quantile, method="higher"))
        self.threshold = q + p.margin * (q - float(np.median(self.calibration_scores)))
        return FitReport(windows=n_win, learned=len(learn), calibration=len(cal), num_weights=num_weights,
                         threshold=self.threshold,
                         neurons_used=int(self.model.learning.learned.sum()))

    # --- scoring ---
    def score(self, values: np.ndarray) -> np.ndarray:
        """float32 (windows,) anomaly scores in [0, 1] (largest over axes; see the module docstring)."""
        from akida_edge.engine import learning

        state = self.model.learning
        if state is None:
            raise StateError("no normal has been learned yet; run `akida-edge anomaly fit FILE...` first")
        if values.shape[0] == 0:
            return np.zeros(0, np.float32)
        x = learning.features(self.model, self.inputs(values))
        learned = state.weights[:, state.learned].astype(np.float32)
        if learned.shape[1] == 0:
            return np.ones(values.shape[0], np.float32)
        # float32 matmul is exact: integer sums <= n_features < 2^24
        best = (x.astype(np.float32) @ learned).max(axis=1)
        dice = 2.0 * best / (x.sum(axis=1) + state.num_weights)
        return (1.0 - dice).astype(np.float32).reshape(values.shape[0], values.shape[1]).max(axis=1)

    def is_anomaly(self, scores: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            raise StateError("no threshold calibrated yet; run `akida-edge anomaly fit FILE...` first")
        return np.asarray(scores) > self.threshold

    # --- the chip ---
    def chip_figures(self, values: np.ndarray) -> dict[str, Any]:
        """AKD1000 mapping and estimated energy (`engine.mapping`, `engine.power`) of the whole
        model (backbone + learning layer) on feature values (windows, axes, F), at one window per
        hop (`features.PARAMS.hop_s`)."""
        from akida_edge.engine.power import power_report

        mapping = self.model.map()
        self.model.forward(self.inputs(values))
        rate_hz = 1.0 / features.PARAMS.hop_s
        power = power_report(mapping, self.model.statistics, rate_hz=rate_hz)
        return {"np_count": int(mapping.np_count), "sram_bytes": int(mapping.sram_bytes),
                "dynamic_uj_per_window": float(power.dynamic_uj_per_inference),
                "energy_uj_per_window": float(power.energy_uj_per_inference),
                "chip_mw_estimated": float(power.total_mw), "windows_per_s": rate_hz}

    # --- per-device state ---
    def save(self, store: Any, extra: dict[str, Any] | None = None) -> Path:
        if not self.fitted:
            raise StateError("nothing learned to save; fit the detector first")
        info = {"threshold": self.threshold, "encoder_hash": self.encoder_hash,
                "params": self.params.__dict__, **(extra or {})}
        return store.save_model(STATE_NAME, self.model, extra=info,
                                arrays={"calibration_scores": self.calibration_scores,
                                        "reference": self.reference, "step": self.step})

    def load(self, store: Any) -> bool:
        """Install the learned normal from `store`; False when none was learned yet."""
        from akida_edge.state import IncompatibleStateError

        entry = store.load_into(STATE_NAME, self.model)
        if entry is None:
            return False
        if entry.extra.get("encoder_hash") != self.encoder_hash:
            self.model.learning = None
            raise IncompatibleStateError(
                f"learned normal {store.path(STATE_NAME)} was learned with other encoder settings than "
                f"{self.backbone_path.name}'s; run `akida-edge anomaly fit FILE...` again")
        if "reference" not in entry.arrays or "step" not in entry.arrays or "threshold" not in entry.extra:
            self.model.learning = None
            raise StateError(f"learned normal {store.path(STATE_NAME)} lacks its reference or threshold; "
                             "run `akida-edge anomaly fit FILE...` again")
        self.reference = np.asarray(entry.arrays["reference"], np.float32)
        self.step = np.asarray(entry.arrays["step"], np.float32)
        self.threshold = float(entry.extra["threshold"])
        self.calibration_scores = np.asarray(entry.arrays.get("calibration_scores", np.zeros(0)),
                                             np.float32)
        self.saved_extra = entry.extra
        return True


def calibration_mask(n_windows: int, fraction: float, block: int) -> np.ndarray:
    """bool (n_windows,): the held-out calibration windows — whole blocks of `block` consecutive
    windows, every round(1/fraction)-th block starting with the last one, so that they sample
    the whole recording (slow changes of normal running included), not only its end."""
    every = max(int(round(1.0 / fraction)), 2)
    blocks = (n_windows - 1 - np.arange(n_windows)) // max(block, 1)
    mask = blocks % every == 0
    if mask.all() or not mask.any():  # too short for blocks: hold out the last windows
        mask = np.zeros(n_windows, bool)
        mask[-max(int(round(n_windows * fraction)), 1):] = True
    return mask


def _with_learning_layer(backbone: Any, neurons: int) -> Any:
    """The backbone's layers (copied) followed by a 1-bit FullyConnected learning layer."""
    from akida_edge.engine.layers import FullyConnected
    from akida_edge.engine.model import Model

    model = Model([layer.spec for layer in backbone.layers])
    for src, dst in zip(backbone.layers, model.layers, strict=True):
        for name in src.variables:
            dst.set_variable(name, src.get_variable(name))
    model.add(FullyConnected(units=neurons, weights_bits=1, activation=False, name="normal"))
    model.metadata = dict(backbone.metadata)
    return model
