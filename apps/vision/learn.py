"""Gesture learning on the device: new gestures (or objects) from a few clips, on binary features.

The gesture model's layer before its 9-way head is a FullyConnected with 1-bit activations
(`GestureModel.feature_layer`). The learning model is the backbone up to that layer plus a
learning FullyConnected (1-bit weights, the AKD1000 rule of `akida_edge.engine.learning`) with
`NEURONS_PER_CLASS` neurons per class, `learning_competition` `COMPETITION`. Its state (weights,
thresholds, plasticity, the class list) lives in the per-device store (`akida_edge.state`, name
``vision``), tied to the backbone's hash, so it survives restarts and is ignored (kept) when the
model changes. The state also keeps every window a gesture was learned from (`akida_edge.replay`,
at most `PER_GESTURE` windows each, packed at the input's bits: `pack`, 8 kB a 64×64×8 2-bit
window): on a newer model with the same view (window, bins, sensor tensor), `LearnedGestures`
learns them again by itself — base prototypes first, as on the first `learn` — and the old state
is kept for the old model.

**One competition.** A softmax head is confident on inputs it was never trained on, so "the base
model first, a learned class only when the base is unsure" lets the base classes win against a
learned gesture (KWS found so). Here the base gestures compete *in the same layer*: at the first
`learn`, `BASE_SHOTS` clips of each base class (`dataset.make_clips`, seeded: the same on every
device) are learned as prototype classes, and a user's classes are added after them. For a
window with binary features x (|x| active), the *match* of a class is the cosine between x and
its best learned neuron w:

    m = popcount(x AND w) / sqrt(num_weights · |x|)      (1: the same set of active features)

A learned class wins the window when it has the highest match of all classes (base prototypes
included) and m ≥ `MATCH`; its score is then m and the base probabilities are scaled by 1 − m.
Otherwise the base model's probabilities stand (its head is more accurate on the base classes than
few-shot prototypes). Without base prototypes (the data set unavailable) a learned class wins on
m ≥ `MATCH` alone.

Each clip is learned as its busiest window (the `window_ms` span with the most events) and the
windows one to three hops before and after it (`SHIFTS`: a gesture is not always centred, and the
windows that see it at run time are shifted likewise). `num_weights` (ones per neuron) is set at
the first `learn`: `WEIGHTS_PER_ACTIVE` × the median number of active features of the samples,
at most half the features.

The settings were measured with the previous model (data v2, before the auxiliary motion classes
of `train.py`) on the two `NOVEL` gestures (5 training-split
clips each; 20 validation-split clips each to score, plus 4 of each base class), varying one at a
time: 7 windows per clip / 40 neurons per class / 0.8 gave 0.83 on the novel clips and 0.94 on
the base ones; 3 windows and 8 neurons 0.33-0.47; MetaTF's 1.2 × 0.68. Nearest neighbour on the
same binary features (cosine, every sample kept) reaches 0.73-0.80: the backbone's features, not
the rule, bound what 5 shots can do. The shipped model's features, trained to tell auxiliary
motions apart, raised the bench's 5-shot figure to 1.0 (30 clips; 0.89-0.95 over six draws of
shots, docs/vision.md) with the same settings.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from akida_edge import replay
from akida_edge.engine import layers as L
from akida_edge.engine import learning
from akida_edge.engine.model import Model
from akida_edge.errors import ConfigError, LearningError
from akida_edge.state import CorruptStateError, IncompatibleStateError, StateStore

log = logging.getLogger(__name__)

STATE_NAME = "vision"
NEURONS_PER_CLASS = 40  # ≥ the samples of 5 clips: at the first learning each sample gets a neuron
SHIFTS = (0, -1, 1, -2, 2, -3, 3)  # hops around a clip's busiest window, each learned as a sample
COMPETITION = 0.1
RULE = "akd1000"
WEIGHTS_PER_ACTIVE = 0.8  # num_weights / the median number of active features (MetaTF: 1.2)
MATCH = 0.6
BASE_SHOTS = 8
BASE_SEED = 7
PER_GESTURE = 40 * len(SHIFTS)  # windows kept per gesture to learn it again on a newer model (40 clips)
PACK_BITS = (1, 2, 4, 8)
PREFIX = replay.PREFIX
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_'-]{0,31}$")


def check_name(name: object, reserved: tuple[str, ...]) -> str | None:
    """Why `name` cannot name a learned gesture (None when it can): the CLI's and MQTT's rule."""
    if not isinstance(name, str) or not NAME.match(name) or name in reserved:
        return ("use a name of letters, digits, ' _ - (at most 32), not a base class "
                f"({', '.join(reserved)})")
    return None


def learning_model(base: Model, feature_layer: str, classes: int = 1) -> Model:
    """The base model's layers up to its binary feature layer, plus a fresh learning layer of
    `classes` × `NEURONS_PER_CLASS` neurons."""
    names = [layer.name for layer in base.layers]
    if feature_layer not in names:
        raise LearningError(f"the gesture model has no layer {feature_layer!r}")
    feat = base.layers[names.index(feature_layer)]
    if not (feat.spec.activation and feat.spec.act_bits == 1):
        raise LearningError(f"the gesture model's layer {feature_layer!r} is not binary (act_bits="
                            f"{feat.spec.act_bits}); learning needs binary features")
    m = Model()
    for layer in base.layers[: names.index(feature_layer) + 1]:
        m.add(layer.spec)
        for name, value in layer.variables.items():
            m.layers[-1].set_variable(name, value)
    m.add(L.FullyConnected(units=classes * NEURONS_PER_CLASS, weights_bits=1, activation=False,
                           name="learned"))
    return m


def busiest_windows(events: np.ndarray, sensor_shape: tuple[int, int], view: Any) -> np.ndarray:
    """(len(SHIFTS), H, W, bins) uint8: the clip's busiest window (most events in `window_ms`, on
    the slice grid; the middle of a tie) and the windows `SHIFTS` hops from it."""
    from akida_edge.apps.vision.representation import clip_tensor
    from akida_edge.errors import InputDataError

    t = np.sort(events["t"].astype(np.int64))
    if t.size == 0:
        raise InputDataError("the clip holds no events (nothing moves); record the gesture")
    w_us, s_us = view.window_us, view.slice_us
    starts = np.arange(t[0] - w_us + s_us, t[-1] + 1, s_us, dtype=np.int64)
    counts = np.searchsorted(t, starts + w_us, side="left") - np.searchsorted(t, starts, side="left")
    best = np.flatnonzero(counts == counts.max())
    s0 = int(starts[best[len(best) // 2]])
    starts = [s0 + k * view.hop_us for k in SHIFTS]
    return np.stack([clip_tensor(events, sensor_shape, view, s, s + w_us) for s in starts])


def base_examples(view: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(x, y): `BASE_SHOTS` rendered clips of each base class (`dataset.make_clips`, training-split
    scenes from clip index `BASE_SEED`·10^6 on: the same on every device), one window each; None
    when the data set cannot be made here."""
    try:
        from akida_edge.apps.vision import dataset
        from akida_edge.apps.vision.labels import CLASSES
    except ImportError:
        return None
    x, names = dataset.make_clips(CLASSES, "train", BASE_SHOTS, seed=BASE_SEED, view=view)
    return x, np.array([CLASSES.index(n) for n in names], np.int64)


def pack(x: np.ndarray, bits: int) -> np.ndarray:
    """uint8 (n, ceil(size·bits/8)): each of n windows' values (< 2**bits) packed 8/bits to a byte,
    the first value in the lowest bits."""
    per = 8 // bits
    flat = np.asarray(x, np.uint8).reshape(len(x), -1)
    flat = np.pad(flat, ((0, 0), (0, -flat.shape[1] % per)))
    out = np.zeros((len(x), flat.shape[1] // per), np.uint8)
    for k in range(per):
        out |= (flat[:, k::per] << (k * bits)).astype(np.uint8)
    return out


def unpack(p: np.ndarray, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of `pack`: uint8 (n, *shape)."""
    per, size = 8 // bits, int(np.prod(shape))
    p = np.asarray(p, np.uint8)
    out = np.stack([(p >> (k * bits)) & ((1 << bits) - 1) for k in range(per)], axis=-1)
    return out.reshape(len(p), -1)[:, :size].reshape(len(p), *shape)


class LearnedGestures:
    """The learned gestures of one device for one gesture model (loaded from / saved to the store).

    `classes` lists every class of the learning layer: the `n_base` base prototypes, then the
    user's gestures ('' for a forgotten one); `labels` is the user's part."""

    def __init__(self, gm: Any, state_dir: str | Path | None = None, use_base: bool = True,
                 load: bool = True) -> None:
        self.gm = gm
        self.use_base = use_base
        self.match = MATCH
        self.store = StateStore(state_dir)
        self.model = learning_model(gm.model, gm.feature_layer)
        self._base: tuple[np.ndarray, np.ndarray] | None = None
        self._base_ready = False
        self.classes: list[str] = []
        self.n_base = 0
        #: the windows every gesture was learned from, in order (to learn them on a newer model)
        self.kept = replay.ReplayLog(self._source(), PER_GESTURE)
        if not load:  # `afresh`
            return
        try:
            entry = self.store.load_into(STATE_NAME, self.model)
        except IncompatibleStateError as exc:
            self._relearn_from_another_model(exc)
            return
        except CorruptStateError as exc:  # nothing of it can be used: the base classes still work
            log.warning("%s; its gestures are not used, and what is learned now starts a new state (its "
                        "save keeps the damaged file as %s.corrupt)", exc, self.store.path(STATE_NAME).name)
            return
        extra = entry.extra if entry is not None else {}
        self.classes = list(extra.get("classes", []))
        self.n_base = int(extra.get("n_base", 0))
        if entry is not None:
            try:
                self.kept = replay.ReplayLog.from_state(PREFIX, extra, entry.arrays, PER_GESTURE, self._valid)
            except ValueError as exc:  # the gestures still work; only a newer model needs the windows
                log.warning("learned state %s: %s; they are not used", self.store.path(STATE_NAME), exc)
                self.kept.unkept = list(self.gestures)
            if not self.kept.source:  # learned before the windows were kept: keep them from now
                self.kept.source, self.kept.unkept = self._source(), list(self.gestures)

    @classmethod
    def afresh(cls, gm: Any, state_dir: str | Path | None,
               problem: IncompatibleStateError) -> LearnedGestures:
        """No gestures yet, on `gm`, in a store whose current state was learned on another model and
        cannot be learned again here (`problem`, e.g. it keeps no windows): to teach gestures anew.
        The first save keeps that state as ``gestures.<hash12>.learned`` (`StateStore`), where that
        model finds it again. Raises `problem` when the current state is this model's."""
        from akida_edge.engine.learning_state import backbone_hash

        learned = cls(gm, state_dir, load=False)
        current = learned.store.load(STATE_NAME)
        if current is None or current.model_hash == backbone_hash(learned.model):
            raise problem
        return learned

    def _source(self) -> str:
        """What the kept windows depend on: the view's settings and the model's input."""
        view = self.gm.view
        view = dataclasses.asdict(view) if dataclasses.is_dataclass(view) else repr(view)
        return json.dumps({"view": view, "input": list(self.gm.model.input_shape)}, sort_keys=True)

    def _valid(self, item: replay.Item) -> bool:
        x, bits = item
        size = int(np.prod(self.gm.model.input_shape))
        return bits in PACK_BITS and x.dtype == np.uint8 and x.shape == (-(-size * bits // 8),)

    def _keep(self, label: str, x: np.ndarray) -> None:
        """Keep the windows `x` of a learn call, each packed at the input's bits (8 if a value is
        over) as one 1-D item of bytes."""
        bits = int(getattr(self.gm.model.layers[0].spec, "input_bits", 8))
        bits = bits if bits in PACK_BITS and int(x.max(initial=0)) < (1 << bits) else 8
        self.kept.add(label, [(w, bits) for w in pack(x, bits)])

    def _windows(self, items: list[replay.Item]) -> np.ndarray:
        return np.concatenate([unpack(p[None], bits, tuple(self.gm.model.input_shape)) for p, bits in items])

    def _relearn_from_another_model(self, problem: IncompatibleStateError) -> None:
        """Learn again, on this model, the gestures of a state learned on another one, from its
        kept windows, and save them (the store keeps the old state); raises `problem`, with the
        reason added, when that state cannot be replayed."""
        other, kept = replay.log_of_another_model(self.store, STATE_NAME, self.model, problem, PREFIX,
                                                  PER_GESTURE, self._source(), self._valid)
        try:
            for label, items in kept.calls():
                self._learn(label, self._windows(items))
        except LearningError as exc:
            raise IncompatibleStateError(f"{problem}; learning it again from its kept windows failed: "
                                         f"{exc}") from None
        self.kept.dropped = dict(kept.dropped)
        self.kept.unkept = [w for w in kept.unkept if w in self.gestures]
        before = list(other.extra.get("classes", []))[int(other.extra.get("n_base", 0)):]
        replay.save_relearned(self.store, STATE_NAME, other, kept, before, self.save)

    @property
    def labels(self) -> list[str]:
        return self.classes[self.n_base:]

    @property
    def gestures(self) -> list[str]:
        return [g for g in self.labels if g]

    base_examples = staticmethod(base_examples)

    def prepare(self) -> None:
        """Render the base-class examples the first `learn` needs (seconds of CPU), if it will need
        them. Touches nothing a running recognizer reads, so a daemon calls it before taking the
        pipeline's lock: the camera keeps running while the examples are drawn."""
        if self.model.learning is None and self.use_base and not self._base_ready:
            self._base = self.base_examples(self.gm.view)
            self._base_ready = True

    def _first(self, x: np.ndarray) -> None:
        """Compile the learning layer (num_weights from `x`) and learn the base prototypes."""
        self.prepare()
        base = self._base if self.use_base else None
        sample = x if base is None else np.concatenate([x, base[0]])
        active = learning.features(self.model, sample).sum(axis=1)
        n_in = int(np.prod(self.model.layers[-1].input_shape))
        num_weights = int(np.clip(round(WEIGHTS_PER_ACTIVE * float(np.median(active))), 1, n_in // 2))
        n_base = 0 if base is None else len(self.gm.labels)
        self.model = learning_model(self.gm.model, self.gm.feature_layer, max(n_base, 1))
        self.model.compile(num_weights=num_weights, num_classes=max(n_base, 1),
                           learning_competition=COMPETITION, rule=RULE)
        if base is not None:
            self.model.fit(base[0], base[1])
            self.classes, self.n_base = list(self.gm.labels), n_base
        else:
            self.classes, self.n_base = [""], 0  # one placeholder class, reused by the first gesture

    def learn(self, label: str, x_u8: np.ndarray) -> int:
        """Learn `label` from model inputs (n, H, W, bins); returns the number of samples learned."""
        x = np.asarray(x_u8, np.uint8)
        self._learn(label, x)
        self.save()
        return len(x)

    def _learn(self, label: str, x: np.ndarray) -> None:
        """Learn and keep (`kept`) the samples `x` of `label`, unsaved."""
        if self.model.learning is None:
            self._first(x)
        if label in self.labels:
            pass
        elif "" in self.labels:  # reuse a forgotten class's neurons
            self.classes[self.n_base + self.labels.index("")] = label
        else:
            self.model.add_classes(1)
            self.classes.append(label)
        self.model.fit(x, self.n_base + self.labels.index(label))
        self._keep(label, x)

    def learn_clips(self, label: str, clips: list[tuple[np.ndarray, tuple[int, int]]]) -> int:
        """`learn` from clips given as (events, sensor_shape): each one's busiest windows."""
        x = np.concatenate([busiest_windows(ev, shape, self.gm.view) for ev, shape in clips])
        return self.learn(label, x)

    def forget(self, label: str) -> None:
        if label not in self.gestures:
            raise ConfigError(f"'{label}' is not a learned gesture (learned: "
                              f"{', '.join(self.gestures) or 'none'}); see 'akida-edge vision learned'")
        k = self.n_base + self.labels.index(label)
        learning.reset_classes(self.model, k)
        self.classes[k] = ""
        self.kept.forget(label)
        self.save()

    def save(self) -> Path:
        extra, arrays = self.kept.to_state(PREFIX, np.zeros(0, np.uint8))
        return self.store.save_model(STATE_NAME, self.model,
                                     extra={"classes": self.classes, "n_base": self.n_base, **extra},
                                     arrays=arrays)

    def matches(self, feats: np.ndarray) -> np.ndarray:
        """(n, len(classes)) match in [0, 1] of binary features (n, F) to every class (0: forgotten
        or never learned)."""
        state = self.model.learning
        if state is None or len(feats) == 0:
            return np.zeros((len(feats), len(self.classes)))
        out = learning.class_match(state, feats, len(self.classes))
        out[:, [i for i, c in enumerate(self.classes) if not c]] = 0.0  # forgotten or never learned
        return out

    def decide(self, feats: np.ndarray, p_base: np.ndarray) -> np.ndarray:
        """(n, n_base_classes + len(labels)): the base probabilities, or a learned gesture's match
        where it wins the one competition (module docstring)."""
        p = np.asarray(p_base, np.float64)
        extra = np.zeros((len(p), len(self.labels)))
        if not self.gestures:
            return np.concatenate([p, extra], axis=1)
        m = self.matches(feats)
        k = m.argmax(axis=1)
        best = m[np.arange(len(m)), k]
        wins = (k >= self.n_base) & (best >= self.match)
        rows = np.flatnonzero(wins)
        extra[rows, k[wins] - self.n_base] = best[wins]
        p = p * np.where(wins, 1.0 - best, 1.0)[:, None]
        return np.concatenate([p, extra], axis=1)


def warm_learning(gm: Any) -> None:
    """Run a first `learn` once on the gesture model `gm` — a gesture from three windows of seeded
    sparse noise, after the base prototypes a first `learn` renders, in a state directory of its
    own that is deleted afterwards (nothing of the device's state is read or written) — so that
    the learning kernels are compiled, or loaded from numba's cache, before a device's first real
    `learn` (`python -m akida_edge.warm`, through `GesturePipeline.warm_run`)."""
    import tempfile

    rng = np.random.default_rng(0)
    x = (rng.random((3, *gm.model.input_shape)) < 0.05).astype(np.uint8)  # sparse, as events are
    with tempfile.TemporaryDirectory(prefix="akida-edge-warm-") as state_dir:
        LearnedGestures(gm, state_dir, load=False).learn("warm", x)
