"""Edge learning: the AKD1000's on-chip few-shot learning of the last layer (clean-room, "JAST-like").

What is documented (`reference/akida-facts.md` §3.1-3.2, MetaTF's user guide and examples) and
what is inferred (§3.3 "[INFERRED]", marked *inferred* below). This is a clean-room rule built
from the public description and BrainChip's JAST patent family (US 11,853,862 B2: binary weights,
"the number of binary weights set to '1' for each neuron does not vary"), not BrainChip's code.

The layer. The last layer is a `FullyConnected` with 1-bit weights over binary inputs (the previous
layer's act_bits is 1, or the input is `InputData` with input_bits 1). Each neuron holds exactly
`num_weights` ones, randomly placed at `compile`. Its potential on a binary feature vector x is

    p_j = popcount(x AND w_j)  (0 <= p_j <= num_weights).

Parameters (MetaTF's names, defaults and ranges):

- ``num_weights`` — ones per neuron, constant (documented). At most the input size; MetaTF advises
  "much smaller, not more than half", about 1.2 x the median number of active features.
- ``num_classes`` — labelled mode (documented): units split into equal groups, neuron j belongs
  to class j // (units / num_classes); with a label only that class's neurons may learn.
  ``None``: unsupervised, all neurons compete and `fit` takes no labels.
- ``initial_plasticity`` in [0, 1], default 1 — how much a neuron moves when it learns (documented
  as "similar to a learning rate"); *inferred*: the share of its movable ones that move.
- ``min_plasticity`` in [0, 1], default 0.1 — the floor plasticity decays to (documented); 0 lets a
  neuron stop learning for good (as JAST's ``min_n_swap = 0``).
- ``plasticity_decay`` in [0, 1], default 0.25 — decay per learning step "relative to the
  initial_plasticity" (documented); *inferred*: linear and per neuron,
  plasticity <- max(min_plasticity, plasticity - plasticity_decay * initial_plasticity).
- ``learning_competition`` in [0, 1], default 0 — "competition from neurons that have already
  learned" (documented: at 0 a learned neuron does not prevent others from learning similar
  features; keep it below 0.5). *Inferred* form: see step 3.
- ``seed`` — this project's addition: all random choices come from a splitmix64 state seeded by
  it and stored in the `LearningState`, so learning is deterministic and resumable.
- ``rule`` — this project's addition: "akd1000" (default, the rule below) or "counts" (the
  host-side variant further below); `compile_model(..., rule=...)`.

One learning step, per sample, in order (documented: one neuron learns per sample; the rest
*inferred*):

1. x = the sample's binary features (an empty x teaches nothing: no neuron learns).
2. Candidates: the labelled class's neurons (all neurons without a label), except neurons whose
   plasticity is 0. "Learned" neurons have threshold_learning > 0 (documented); "fresh" have 0.
3. Winner: the learned candidate with the highest potential, *if* its potential reaches
   theta = T_L + (1 - learning_competition) * (num_weights + 1 - T_L), where T_L is its learning
   threshold; otherwise the fresh candidate with the highest potential; when no fresh neuron is
   left, the best learned one regardless of theta. Ties go to the lowest neuron index. So at
   competition 0 every sample recruits a fresh neuron while any is left (the documented
   behaviour), at 1 a learned neuron claims every sample reaching its learning threshold (JAST).
4. Update (the swap that keeps num_weights constant, patent [0016]-[0017]): with G the active
   inputs where the winner has no weight and L its ones on inactive inputs, move
   n = floor(plasticity * min(|G|, |L|) + 0.5) ones from a random n-subset of L to a random
   n-subset of G. At plasticity 1 a fresh neuron imprints the sample (one-shot learning).
5. Plasticity decays (above); the learning threshold rises to
   T_L <- max(T_L, 1, ceil((1 - plasticity) * p')), p' the winner's potential after the swap, so a
   neuron becomes more selective as it settles (JAST's T_i -> T_f ramp, *inferred* form).

A variant beyond the AKD1000 (``rule="counts"``, *this project's*, off by default): step 4 is
replaced by counting, per neuron, how often each input was active in the samples it learned
(int32 counts kept on the host), and putting its num_weights ones on its most counted inputs
(ties: inputs already holding a one, then at random). The weights stay binary with num_weights
ones, so the learned layer still runs on the chip; only the learning needs the extra memory.
A neuron becomes the majority pattern of its samples instead of drifting towards the latest
ones, which pays with several samples per neuron (high learning_competition, few neurons per
class): on noisy synthetic patterns, 5 shots, it closes most of the gap to an oracle that knows
the true prototypes (bench `learn`); with one sample per neuron (the published set-up of 15
neurons per class at competition 0.1) both rules are equal. Plasticity still decays and sets the
learning threshold.

Prediction: `predict_classes` takes, per class, the highest output p_j - T_j of its neurons, where
T_j is the layer's firing `threshold`: 0 for learned neurons and num_weights for fresh ones (their
random weights carry no knowledge, so they never fire — *this project's choice*). The class with
the highest output wins, ties to the lowest class index; when no neuron fires (every output
<= 0) the prediction is `NO_FIRE` = -1 (MetaTF's old API returned -1 likewise). `Model.forward`
gives the same outputs, as the learning layer's weights and thresholds are kept in the model.

Beyond MetaTF: `reset_classes` forgets classes (their neurons become fresh), `distance` is
num_weights minus the best learned potential (the examples' error metric; an anomaly score), and
`class_scores` / `potentials` expose the integers behind a prediction. Learning one sample costs
well under 1 ms (bench `learn`: ``ms_per_sample``).

Features. `fit` and `predict_classes` take *model inputs*. For `InputData(input_bits=1)` + the
learning layer the features are the input itself; deeper models compute them with
`akida_edge.engine.execute.forward(model, x, upto=len(model.layers) - 1)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from akida_edge.engine import layers as L
from akida_edge.engine import learning_kernels as K
from akida_edge.engine.learning_state import RULES, LearningState
from akida_edge.engine.model import Layer, Model
from akida_edge.errors import InputDataError, LearningError

NO_FIRE = -1  # predicted class when no neuron fires


# --- compile -------------------------------------------------------------------------------------
def check_learnable(model: Model) -> int:
    """Raise `LearningError` naming why the model's last layer cannot learn; return its input size."""
    if len(model.layers) < 2:
        raise LearningError("edge learning needs an input layer and a FullyConnected learning layer; "
                            f"the model has {len(model.layers)} layer(s)")
    last, prev = model.layers[-1], model.layers[-2]
    if not isinstance(last.spec, L.FullyConnected):
        raise LearningError(f"only a FullyConnected last layer can learn; {last.name!r} is "
                            f"{last.spec.kind}")
    if last.spec.weights_bits != 1:
        raise LearningError(f"the learning layer {last.name!r} has weights_bits={last.spec.weights_bits}; "
                            "edge learning needs binary weights: use weights_bits=1")
    if isinstance(prev.spec, L.InputData):
        if prev.spec.input_bits != 1:
            raise LearningError(f"the learning layer's inputs must be binary, but {prev.name!r} has "
                                f"input_bits={prev.spec.input_bits}; use input_bits=1")
    elif not (prev.spec.activation and prev.spec.act_bits == 1):
        raise LearningError(f"the learning layer's inputs must be binary, but {prev.name!r} has "
                            f"act_bits={prev.spec.act_bits}; give it act_bits=1")
    return int(np.prod(last.input_shape))


def compile_model(model: Model, num_weights: int, num_classes: int | None = None,
                  learning_competition: float = 0.0, initial_plasticity: float = 1.0,
                  min_plasticity: float = 0.1, plasticity_decay: float = 0.25, seed: int = 0,
                  rule: str = "akd1000") -> None:
    """Make the last layer learnable: fresh random weights with `num_weights` ones per neuron.

    `rule` is "akd1000" (the chip's rule, the default) or "counts" (the host-side variant; see
    the module docstring).

    Any previous learning is discarded (as in MetaTF, compile starts afresh). Raises
    `LearningError` with the reason when the model or a parameter does not allow learning.
    """
    n_in = check_learnable(model)
    units = model.layers[-1].spec.units
    if not _is_int(num_weights) or not 1 <= num_weights <= n_in:
        raise LearningError(f"num_weights={num_weights!r} must be an integer in [1, {n_in}] (the "
                            "learning layer's input size); MetaTF advises at most half of it")
    if num_classes is not None:
        if not _is_int(num_classes) or num_classes < 1:
            raise LearningError(f"num_classes={num_classes!r} must be a positive integer or None")
        if units % num_classes:
            raise LearningError(f"the learning layer's {units} units do not split into "
                                f"num_classes={num_classes} equal groups; use units = "
                                f"num_classes x neurons per class")
    for name, value in (("learning_competition", learning_competition),
                        ("initial_plasticity", initial_plasticity),
                        ("min_plasticity", min_plasticity), ("plasticity_decay", plasticity_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not 0.0 <= float(value) <= 1.0:
            raise LearningError(f"{name}={value!r} must be a number in [0, 1]")
    if min_plasticity > initial_plasticity:
        raise LearningError(f"min_plasticity={min_plasticity} exceeds initial_plasticity="
                            f"{initial_plasticity}; plasticity can only decrease")
    if not _is_int(seed) or seed < 0:
        raise LearningError(f"seed={seed!r} must be a non-negative integer")
    if rule not in RULES:
        raise LearningError(f"rule={rule!r} is unknown; use one of {', '.join(map(repr, RULES))}")
    weights = np.zeros((n_in, units), np.uint8)
    rng_state = np.array([int(seed) % 2**64], np.uint64)
    K.init_columns(weights, 0, int(num_weights), rng_state)
    state = LearningState(
        num_weights=int(num_weights), num_classes=None if num_classes is None else int(num_classes),
        neurons_per_class=units // (num_classes or 1),
        learning_competition=float(learning_competition),
        initial_plasticity=float(initial_plasticity), min_plasticity=float(min_plasticity),
        plasticity_decay=float(plasticity_decay), seed=int(seed), weights=weights,
        threshold_learning=np.zeros(units, np.int32),
        plasticity=np.full(units, float(initial_plasticity), np.float64),
        learn_count=np.zeros(units, np.int32), rng_state=rng_state,
        counts=np.zeros((n_in, units), np.int32), rule=rule)
    attach(model, state)


def attach(model: Model, state: LearningState) -> None:
    """Install a learned state on a model (e.g. one loaded from the per-device store).

    The model's learning layer is rebuilt with the state's unit count and receives its weights
    and firing thresholds. The caller checks that the state belongs to this backbone
    (`learning_state.backbone_hash`); here only the shapes are checked.
    """
    n_in = check_learnable(model)
    state.validate()
    if state.n_inputs != n_in:
        raise LearningError(f"the learned state has {state.n_inputs} inputs but the model's learning "
                            f"layer has {n_in}; the state belongs to another model")
    model.learning = state
    sync_layer(model)


def sync_layer(model: Model) -> None:
    """Write the learning state into the model's last layer (weights, thresholds, unit count)."""
    state: LearningState = model.learning
    old = model.layers[-1]
    if old.spec.units != state.units:
        params = {**old.spec.params(), "units": state.units}
        layer = Layer(type(old.spec)(**params), old.input_shape)
        keep = min(old.spec.units, state.units)
        act_step = layer.get_variable("act_step")
        act_step[:keep] = old.get_variable("act_step")[:keep]
        layer.set_variable("act_step", act_step)
        model.layers[-1] = layer
        model.device = None  # the mapping no longer matches
    layer = model.layers[-1]
    layer.set_variable("weights", state.weights.astype(np.int8))
    layer.set_variable("threshold", np.where(state.learned, 0, state.num_weights).astype(np.int32))


def require_state(model: Model) -> LearningState:
    if getattr(model, "learning", None) is None:
        raise LearningError("the model was not compiled for learning; call "
                            "model.compile(num_weights=..., num_classes=...) first")
    return model.learning


# --- features ------------------------------------------------------------------------------------
def features(model: Model, x: Any) -> np.ndarray:
    """Binary features (N, n_inputs) uint8 the learning layer sees for model inputs `x`."""
    x = np.asarray(x)
    shape = model.input_shape
    if x.shape == shape:
        x = x[None]
    if x.ndim != 4 or x.shape[1:] != shape:
        raise InputDataError(f"inputs of shape {x.shape} do not match the model's input {shape}; "
                             f"pass (N, {', '.join(map(str, shape))}) or one sample {shape}")
    if x.dtype.kind not in "biu":
        raise InputDataError(f"model inputs must be integers, got dtype {x.dtype}")
    if len(model.layers) == 2 and isinstance(model.layers[0].spec, L.InputData):
        feats = x.reshape(len(x), -1)
    else:
        from akida_edge.engine import execute

        feats = np.asarray(execute.forward(model, x, upto=len(model.layers) - 1)).reshape(len(x), -1)
    if feats.size and (feats.min() < 0 or feats.max() > 1):
        raise InputDataError(f"the learning layer's inputs must be 0 or 1, got values up to "
                             f"{int(feats.max())}; binary inputs (input_bits=1) are required")
    return np.ascontiguousarray(feats, dtype=np.uint8)


# --- fit, add_classes, predict --------------------------------------------------------------------
def fit(model: Model, x: Any, y: Any = None) -> np.ndarray:
    """Learn from samples `x` (model inputs), labelled by `y` (an int or one per sample) or not.

    Returns the index of the neuron that learned each sample, -1 where none did (empty sample, or
    no candidate with plasticity left). Deterministic given the compile seed and the sample order.
    """
    state = require_state(model)
    feats = features(model, x)
    labels = _labels(state, y, len(feats))
    winners = np.full(len(feats), -1, np.int32)
    K.fit_kernel(feats, labels, state.weights, state.threshold_learning, state.plasticity,
                 state.learn_count, state.counts, state.rng_state, state.neurons_per_class,
                 state.num_weights, state.learning_competition, state.initial_plasticity,
                 state.min_plasticity, state.plasticity_decay, RULES.index(state.rule), winners)
    state.samples_seen += len(feats)
    sync_layer(model)
    return winners


def _labels(state: LearningState, y: Any, n: int) -> np.ndarray:
    if y is None:
        return np.full(n, -1, np.int64)
    if state.num_classes is None:
        raise LearningError("labels were given but the model was compiled without num_classes "
                            "(unsupervised); compile with num_classes=... or call fit(x)")
    y_arr = np.asarray(y)
    if y_arr.ndim == 0:
        y_arr = np.full(n, y_arr)
    if y_arr.shape != (n,) or y_arr.dtype.kind not in "iu":
        raise InputDataError(f"labels must be one integer or {n} integers, got shape {y_arr.shape} "
                             f"and dtype {y_arr.dtype}")
    if n and (y_arr.min() < 0 or y_arr.max() >= state.num_classes):
        bad = y_arr.min() if y_arr.min() < 0 else y_arr.max()
        raise InputDataError(f"label {int(bad)} is outside [0, {state.num_classes - 1}]; "
                             f"add_classes() first to learn a new class")
    return y_arr.astype(np.int64)


def add_classes(model: Model, n: int) -> None:
    """Append `n` classes of fresh neurons (random weights, num_weights ones each); old neurons keep
    their weights, thresholds and plasticity. The learning layer's `units` grows accordingly."""
    state = require_state(model)
    if state.num_classes is None:
        raise LearningError("add_classes needs a model compiled with num_classes (labelled mode)")
    if not _is_int(n) or n < 1:
        raise LearningError(f"add_classes(n={n!r}): n must be a positive integer")
    old_units = state.units
    extra = n * state.neurons_per_class
    weights = np.zeros((state.n_inputs, old_units + extra), np.uint8)
    weights[:, :old_units] = state.weights
    K.init_columns(weights, old_units, state.num_weights, state.rng_state)
    state.weights = weights
    state.threshold_learning = np.concatenate([state.threshold_learning, np.zeros(extra, np.int32)])
    state.plasticity = np.concatenate([state.plasticity,
                                       np.full(extra, state.initial_plasticity, np.float64)])
    state.learn_count = np.concatenate([state.learn_count, np.zeros(extra, np.int32)])
    state.counts = np.concatenate([state.counts, np.zeros((state.n_inputs, extra), np.int32)], axis=1)
    state.num_classes += n
    sync_layer(model)


def reset_classes(model: Model, classes: Any) -> None:
    """Forget `classes` (an int or a list): their neurons become fresh again (new random weights,
    threshold_learning 0, initial plasticity, zero counts). Other classes are untouched; the
    class count does not change (a forgotten class can be learned again)."""
    state = require_state(model)
    groups = state.num_classes or 1
    chosen = sorted({int(c) for c in np.atleast_1d(np.asarray(classes))})
    if any(c < 0 or c >= groups for c in chosen):
        raise LearningError(f"classes {chosen} must lie in [0, {groups - 1}]")
    npc = state.neurons_per_class
    for c in chosen:
        cols = slice(c * npc, (c + 1) * npc)
        block = np.zeros((state.n_inputs, npc), np.uint8)
        K.init_columns(block, 0, state.num_weights, state.rng_state)
        state.weights[:, cols] = block
        state.threshold_learning[cols] = 0
        state.plasticity[cols] = state.initial_plasticity
        state.learn_count[cols] = 0
        state.counts[:, cols] = 0
    sync_layer(model)


def distance(model: Model, x: Any) -> np.ndarray:
    """int32 (N,): num_weights minus the highest potential among learned neurons — how far each
    sample is from every learned prototype (0: a perfect match; num_weights when nothing is
    learned). MetaTF's edge-learning example uses this as its error metric."""
    state = require_state(model)
    pot = potentials(model, x)
    best = np.where(state.learned[None, :], pot, 0).max(axis=1, initial=0)
    return (state.num_weights - best).astype(np.int32)


def potentials(model: Model, x: Any) -> np.ndarray:
    """int32 (N, units) popcount(x AND w) of the learning layer for model inputs `x`."""
    state = require_state(model)
    feats = features(model, x)
    # float32 matmul is exact here: every partial sum is an integer <= n_inputs < 2^24
    return (feats.astype(np.float32) @ state.weights.astype(np.float32)).astype(np.int32)


def class_match(state: LearningState, feats: Any, num_classes: int) -> np.ndarray:
    """float64 (N, num_classes) in [0, 1] for binary features `feats` (N, F) of the learning layer:
    per class, its best learned neuron's potential over sqrt(num_weights · active inputs), i.e.
    the cosine between the input and the neuron's binary weight vector (num_weights ones); a
    neuron never learned counts 0. The apps gate learned classes against the base model's
    probabilities with it (`apps/kws/learn.py`, `apps/vision/learn.py`)."""
    f = np.asarray(feats, np.float32).reshape(len(feats), -1)
    # float32 matmul is exact here: every partial sum is an integer <= n_inputs < 2^24
    pot = (f @ state.weights.astype(np.float32)).astype(np.float64)
    pot[:, ~state.learned] = 0.0
    best = pot.reshape(len(pot), num_classes, -1).max(axis=2)
    active = np.maximum(f.sum(axis=1, dtype=np.float64), 1.0)[:, None]
    return np.clip(best / np.sqrt(state.num_weights * active), 0.0, 1.0)


def class_scores(model: Model, x: Any, num_classes: int) -> np.ndarray:
    """int32 (N, num_classes): per class, the highest p_j - T_j of its neurons (T_j: 0 when
    learned, num_weights when fresh); a class fires when its score is > 0."""
    state = require_state(model)
    if not _is_int(num_classes) or num_classes < 1 or state.units % num_classes:
        raise LearningError(f"num_classes={num_classes!r} must divide the learning layer's "
                            f"{state.units} units")
    out = potentials(model, x) - np.where(state.learned, 0, state.num_weights).astype(np.int32)
    return out.reshape(len(out), num_classes, state.units // num_classes).max(axis=2)


def predict_classes(model: Model, x: Any, num_classes: int | None = None) -> np.ndarray:
    """int32 (N,) predicted class per sample: the class with the highest score (ties to the lowest
    class index), `NO_FIRE` (-1) when no neuron fires. `num_classes` defaults to the state's."""
    state = require_state(model)
    if num_classes is None:
        num_classes = state.num_classes or state.units
    scores = class_scores(model, x, num_classes)
    best = scores.argmax(axis=1).astype(np.int32)
    best[scores.max(axis=1) <= 0] = NO_FIRE
    return best


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
