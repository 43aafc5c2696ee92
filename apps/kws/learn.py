"""Keyword learning on the device: new words from a few clips, on the backbone's binary features.

The shipped model's layer before its 12-class head is a FullyConnected with 1-bit activations
(256 binary features, `network.py`). The learning model is that backbone plus a learning
FullyConnected (1-bit weights, `akida_edge.engine.learning`, the AKD1000 rule) with
`NEURONS_PER_CLASS` neurons per learned word, `learning_competition` `COMPETITION`. Its state
(weights, thresholds, plasticity, the word list) lives in the per-device store
(`akida_edge.state`, name ``kws``), tied to the backbone's hash.

Each clip is learned as its loudest second plus two copies shifted by ±`SHIFT_FRAMES` frames
(a word is not always centred). A window's *match* to a learned word is the cosine similarity between its
binary features x and the word's best learned neuron w: popcount(x AND w) / sqrt(|x| · num_weights)
(1 = the same set of active features). In `Spotter`, a learned
word wins a window when its match is ≥ `MATCH` and the base model does not name a keyword with a
higher probability; its score is the match.

`num_weights` (ones per neuron, constant) is set at the first `learn`: 1.2 × the median number of
active features of the clips (MetaTF's advice), at most half the features.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import features as F
from akida_edge.engine import layers as L
from akida_edge.engine import learning
from akida_edge.engine.model import Model
from akida_edge.errors import ConfigError, LearningError
from akida_edge.state import StateStore

STATE_NAME = "kws"
NEURONS_PER_CLASS = 8
COMPETITION = 0.1
MATCH = 0.66  # same-voice repeats of a learned word: 0.66-0.84; other words mostly below (some to 0.73)
SHIFT_FRAMES = 3
WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_'-]{0,31}$")
NOT_WORDS = ("_unknown_", "_silence_", "")


def check_word(word: object) -> str | None:
    """Why `word` cannot name a learned word (None when it can): the CLI's and MQTT's rule."""
    if not isinstance(word, str) or not WORD.match(word) or word in NOT_WORDS:
        return "use a word of letters, digits, ' _ - (at most 32), not _unknown_ or _silence_"
    return None


def learning_model(base: Model) -> Model:
    """The base model's layers up to its binary feature layer, plus a fresh learning layer."""
    feat = base.layers[-2]
    if not (feat.spec.activation and feat.spec.act_bits == 1):
        raise LearningError(f"the KWS model's layer {feat.name!r} is not binary (act_bits="
                            f"{feat.spec.act_bits}); learning needs a model made by apps.kws.train")
    m = Model()
    for layer in base.layers[:-1]:
        m.add(layer.spec)
        for name, value in layer.variables.items():
            m.layers[-1].set_variable(name, value)
    m.add(L.FullyConnected(units=NEURONS_PER_CLASS, weights_bits=1, activation=False, name="learned"))
    return m


def augment(feats_source: list[np.ndarray]) -> np.ndarray:
    """Model inputs of each clip's log-mel (frames, MEL_BANDS): the loudest second and ±shifts."""
    out = []
    for mel in feats_source:
        pad = np.full((F.FRAMES + 2 * SHIFT_FRAMES, mel.shape[1]), F.PARAMS.floor_db, np.float32)
        if len(mel) < F.FRAMES:  # short clip: centre it in silence
            a = SHIFT_FRAMES + (F.FRAMES - len(mel)) // 2
            pad[a: a + len(mel)] = mel
            mel = pad
        energy = np.cumsum(np.concatenate([[0.0], (10.0 ** (mel.astype(np.float64) / 10)).sum(axis=1)]))
        start = int(np.argmax(energy[F.FRAMES:] - energy[: -F.FRAMES]))
        for s in (start, start - SHIFT_FRAMES, start + SHIFT_FRAMES):
            s = min(max(s, 0), len(mel) - F.FRAMES)
            out.append(F.normalize(mel[s: s + F.FRAMES]))
    return np.stack(out)


class Learned:
    """The learned words of one device for one base model (loaded from / saved to the store)."""

    def __init__(self, base: Model, state_dir: str | Path | None = None) -> None:
        self.store = StateStore(state_dir)
        self.model = learning_model(base)
        entry = self.store.load_into(STATE_NAME, self.model)
        self.labels: list[str] = list(entry.extra.get("labels", [])) if entry is not None else []

    @property
    def words(self) -> list[str]:
        return [w for w in self.labels if w]

    def learn(self, word: str, mels: list[np.ndarray]) -> int:
        """Learn `word` from clips (their log-mel); returns the number of samples learned."""
        x = augment(mels)
        if self.model.learning is None:
            active = learning.features(self.model, x).sum(axis=1)
            n_in = int(np.prod(self.model.layers[-1].input_shape))
            num_weights = int(np.clip(round(1.2 * float(np.median(active))), 1, n_in // 2))
            self.model.compile(num_weights=num_weights, num_classes=1, learning_competition=COMPETITION)
            self.labels = [word]
        elif word in self.labels:
            pass
        elif "" in self.labels:  # reuse a forgotten word's neurons
            self.labels[self.labels.index("")] = word
        else:
            self.model.add_classes(1)
            self.labels.append(word)
        self.model.fit(x, self.labels.index(word))
        self.save()
        return len(x)

    def learn_audio(self, word: str, clips_16k: list[np.ndarray]) -> int:
        """`learn` from mono 16 kHz clips (their log-mel by the project's front-end)."""
        mels = [F.logmel(np.asarray(x, np.float32).reshape(-1), F.PARAMS) for x in clips_16k]
        return self.learn(word, mels)

    def forget(self, word: str) -> None:
        if word not in self.words:
            raise ConfigError(f"'{word}' is not a learned word (learned: {', '.join(self.words) or 'none'}); "
                              "see 'akida-edge kws learned'")
        k = self.labels.index(word)
        learning.reset_classes(self.model, k)
        self.labels[k] = ""
        self.save()

    def save(self) -> Path:
        return self.store.save_model(STATE_NAME, self.model, extra={"labels": self.labels})

    def matches(self, x_u8: np.ndarray) -> np.ndarray:
        """(n, len(labels)) match in [0, 1] of model inputs to each learned word (0: forgotten)."""
        if self.model.learning is None or not self.words or len(x_u8) == 0:
            return np.zeros((len(x_u8), len(self.labels)))
        state = self.model.learning
        feats = learning.features(self.model, x_u8)
        pot = (feats.astype(np.float32) @ state.weights.astype(np.float32)).astype(np.float64)
        pot[:, ~state.learned] = 0.0  # fresh neurons carry no knowledge
        best = pot.reshape(len(pot), len(self.labels), -1).max(axis=2)
        active = np.maximum(feats.sum(axis=1, dtype=np.float64), 1.0)[:, None]
        out = np.clip(best / np.sqrt(state.num_weights * active), 0.0, 1.0)
        out[:, [i for i, w in enumerate(self.labels) if not w]] = 0.0
        return out
