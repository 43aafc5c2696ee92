"""Keyword learning on the device: new words from a few clips, on the backbone's binary features.

The shipped model's layer before its 12-class head is a FullyConnected with 1-bit activations
(256 binary features, `network.py`). The learning model is that backbone plus a learning
FullyConnected (1-bit weights, `akida_edge.engine.learning`, the AKD1000 rule: the on-chip part)
with `NEURONS_PER_CLASS` neurons per learned word, `learning_competition` `COMPETITION`. Its state
(weights, thresholds, plasticity, the word list, the calibration below) lives in the per-device
store (`akida_edge.state`, name ``kws``), tied to the backbone's hash, with the clips each word
was learned from (`kept_clips.py`, `akida_edge.replay`): on a newer model, `Learned` learns the
words again from them by itself and keeps the old state.

Learning. Each clip is learned as its loudest second plus two copies shifted by ±`SHIFT_FRAMES`
frames (a word is not always centred). `num_weights` (ones per neuron, constant) is set at the
first `learn`: 1.2 × the median number of active features of the clips (MetaTF's advice), at most
half the features. A learned word named after a base keyword (``yes`` … ``go``) is *adaptation*:
its neurons learn this device's way of saying the keyword and vote for the base label.

Matching. A window's match to a learned word is the cosine similarity between its binary features
x and the word's best learned neuron w: m = popcount(x AND w) / sqrt(|x| · num_weights) (1 = the
same set of active features).

Deciding (host-side post-processing of the chip's outputs, `decide`). An absolute match threshold
means something different for every word, shot count and backbone, so each learned word is
calibrated at learning time against the *known-word set* (`known_words.py`: 400 clips of the ten
keywords and of `_unknown_` words, by voices no benchmark uses): its matches to those clips, except
clips of its own label, are kept in the state. A window's *conformal p-value* for word j is

    π_j = (1 + #{known clips with match ≥ m_j}) / (1 + n_j)

(Vovk, Gammerman & Shafer 2005, "Algorithmic Learning in a Random World", ch. 2: under the
known-word distribution, P(π_j ≤ ε) ≤ ε). The new word with the smallest π (ties: the larger
match) — or the adaptation word with the largest match, when its π is smaller — wins the window
when π ≤ `FALSE_ACCEPT` (ε) AND the base model does not name another keyword with
probability ≥ `BASE_VETO` (κ; a word's own base keyword never vetoes it). Its probability is then
c = 1 − π (≥ 1 − ε, so it is the top class) and the base probabilities are scaled by π; an
adaptation word adds c to its base keyword instead of a column of its own. Otherwise the base
probabilities are unchanged. So every learned word has the same false-accept rate ε on known words
(which bounds what learning costs the base classes: `base_acc_drop`), whatever its match scale.
Adaptation words use `ADAPT_FALSE_ACCEPT` and `ADAPT_BASE_VETO` (looser: they move windows between
keywords of the same device's voice; calibrated without the clips of their own keyword). When the
base model is sure (≥ the veto) that most samples of a word being learned are another keyword, that
keyword keeps such windows: `learn` records it in `last_confusion`, and `kws learn` and the MQTT
`learn` response warn (``follow`` → ``down`` on the interim model).

Why (bench ``learn``, docs/kws-learning.md): on the interim backbone the match of a new word said by
other voices overlaps the match of base words (AUC ≈ 0.78), so every rule trades new-word accuracy
against base accuracy along one curve; ε is that curve's knob, chosen so `base_acc_drop` ≤ 0.02.
The constants were chosen on clips of a different seed than the benchmark's (test voices).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np

from akida_edge import replay
from akida_edge.apps.kws import features as F
from akida_edge.apps.kws import kept_clips, known_words
from akida_edge.apps.kws.labels import CLASSES, KEYWORDS
from akida_edge.engine import layers as L
from akida_edge.engine import learning
from akida_edge.engine.model import Model
from akida_edge.errors import ConfigError, InputDataError, LearningError
from akida_edge.state import CorruptStateError, IncompatibleStateError, StateStore

log = logging.getLogger(__name__)

STATE_NAME = "kws"
#: The app's state layout (``extra["version"]``): 1 = labels only (session 1, an absolute match
#: threshold); 2 = labels + the known-word calibration (``arrays["known_matches"]``); 3 = + the clips
#: each word was learned from (`kept_clips`), to re-learn the words on a newer model. A version-1
#: state is kept and calibrated on load (logged); a newer one is refused with the reason.
STATE_VERSION = 3
CALIBRATED_SINCE = 2
NEURONS_PER_CLASS = 8
COMPETITION = 0.1
FALSE_ACCEPT = 0.05  # ε: each learned word's false-accept rate on the known-word set
BASE_VETO = 0.7  # κ: a base keyword this probable keeps its window
#: A clip whose learning samples the base model mostly takes for `_silence_` at least this surely
#: holds no word (a muted or wrong microphone, noise or hum alone): speech, even at -66 dBFS,
#: gets under 0.01 (normalized features), silence, hum and noise 0.85-0.95 (session-14 audit)
SILENCE_SURE = 0.5
#: What is said of such a clip (after its file or upload's name), by the CLI and the MQTT command
NO_WORD = ("holds no word: the base model hears silence or noise only (a muted or wrong microphone?); "
           "record the word again")
ADAPT_FALSE_ACCEPT = 0.1  # ε and κ for a word named after a keyword (adaptation)
ADAPT_BASE_VETO = 0.8
SHIFT_FRAMES = kept_clips.SHIFT_FRAMES
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
    return samples([kept_clips.learning_slice(mel) for mel in feats_source])


def samples(clips: list[replay.Item]) -> np.ndarray:
    """Model inputs of learning slices (`kept_clips.learning_slice`): 3 windows per clip."""
    return np.stack([F.normalize(mel[s: s + F.FRAMES])
                     for mel, start in clips for s in kept_clips.sample_starts(len(mel), start)])


def p_values(match: np.ndarray, known_matches: np.ndarray) -> np.ndarray:
    """Conformal p-values (n, K) of windows' matches (n, K) against each word's known-word matches
    (K, n_known), NaN-padded: (1 + #{known >= m}) / (1 + #known); 1 for a word with none."""
    out = np.ones(match.shape, np.float64)
    for j, row in enumerate(np.asarray(known_matches, np.float64)):
        ref = np.sort(row[~np.isnan(row)])
        if ref.size:
            above = ref.size - np.searchsorted(ref, match[:, j], side="left")
            out[:, j] = (1.0 + above) / (1.0 + ref.size)
    return out


def decide(p_base: np.ndarray, match: np.ndarray, known_matches: np.ndarray, labels: list[str],
           false_accept: float = FALSE_ACCEPT, base_veto: float = BASE_VETO,
           adapt_false_accept: float = ADAPT_FALSE_ACCEPT, adapt_base_veto: float = ADAPT_BASE_VETO
           ) -> np.ndarray:
    """Probabilities (n, 12 + K) over the base classes and the learned words (module docstring,
    "Deciding"): `p_base` (n, 12) the base model's, `match` (n, K) the learned words' matches,
    `known_matches` (K, n_known) their calibration, `labels` the K words ('' = forgotten). A word
    named after a keyword uses the `adapt_*` settings."""
    n, k = match.shape
    out = np.concatenate([p_base, np.zeros((n, k))], axis=1)
    if k == 0 or n == 0:
        return out
    live = np.array([bool(w) for w in labels])
    own = np.array([CLASSES.index(w) if w in KEYWORDS else -1 for w in labels])
    eps = np.where(own >= 0, adapt_false_accept, false_accept)
    veto = np.where(own >= 0, adapt_base_veto, base_veto)
    pv = np.where(live[None, :], p_values(match, known_matches), np.inf)
    # new words: the smallest p-value wins, ties to the larger match, then to the lower index;
    # adaptation words (all learned alike, from the device's voice): the larger match wins
    new_pv = np.where((own < 0)[None, :], pv, np.inf)
    best = np.where(new_pv == new_pv.min(axis=1, keepdims=True), match, -np.inf).argmax(axis=1)
    adapt = np.where(((own >= 0) & live)[None, :], match, -np.inf).argmax(axis=1)
    rows = np.arange(n)
    use_adapt = (own[adapt] >= 0) & live[adapt] & (pv[rows, adapt] <= eps[adapt]) & (
        (pv[rows, adapt] < pv[rows, best]) | (pv[rows, best] > eps[best]))
    best = np.where(use_adapt, adapt, best)
    for i in np.flatnonzero(pv[np.arange(n), best] <= eps[best]):
        j = best[i]
        rivals = p_base[i, : len(KEYWORDS)].copy()
        if own[j] >= 0:
            rivals[own[j]] = 0.0
        if rivals.max() >= veto[j]:
            continue
        pi = pv[i, j]
        out[i, : p_base.shape[1]] *= pi
        out[i, own[j] if own[j] >= 0 else p_base.shape[1] + j] += 1.0 - pi
    return out


class Learned:
    """The learned words of one device for one base model (loaded from / saved to the store).

    `false_accept` and `base_veto` are the decision's settings (module docstring); the calibration
    they use is part of the state."""

    def __init__(self, base: Model, state_dir: str | Path | None = None,
                 false_accept: float | None = None, base_veto: float | None = None,
                 load: bool = True) -> None:
        self.store = StateStore(state_dir)
        self.base = base
        self.model = learning_model(base)
        #: after `learn`: (keyword, samples, of) when the base model was sure most of the samples
        #: were another keyword, which then keeps those windows (`BASE_VETO`); else None
        self.last_confusion: tuple[str, int, int] | None = None
        # None: the module's settings when the store is opened (so a dev script can set them)
        self.false_accept = FALSE_ACCEPT if false_accept is None else false_accept
        self.base_veto = BASE_VETO if base_veto is None else base_veto
        self._known: tuple[np.ndarray, np.ndarray] | None = None
        #: the clips every word was learned from, in order (to re-learn them on a newer model)
        self.clips = self._new_log()
        self.labels: list[str] = []
        self.known_matches = np.zeros((0, 0), np.float32)
        if not load:  # `afresh`
            return
        try:
            entry = self.store.load_into(STATE_NAME, self.model)
        except IncompatibleStateError as exc:
            self._relearn_from_another_model(exc)
            return
        except CorruptStateError as exc:  # nothing of it can be used: the base classes still work
            log.warning("%s; its words are not used, and what is learned now starts a new state (its "
                        "save keeps the damaged file as %s.corrupt)", exc, self.store.path(STATE_NAME).name)
            return
        if entry is None:
            return
        extra = entry.extra
        self.labels = list(extra.get("labels", []))
        self.known_matches = np.zeros((len(self.labels), 0), np.float32)
        version = self._check_version(extra)
        try:
            self.clips = replay.ReplayLog.from_state(kept_clips.PREFIX, extra, entry.arrays,
                                                     kept_clips.PER_WORD, kept_clips.valid)
            if not self.clips.source:  # a state from before the clips were kept: keep them from now
                self.clips.source, self.clips.unkept = kept_clips.front_end_id(), list(self.words)
        except ValueError as exc:  # the words still work; only a re-learn on a newer model needs them
            log.warning("learned state %s: %s; they are not used", self.store.path(STATE_NAME), exc)
            self.clips.unkept = list(self.words)
        stored = entry.arrays.get("known_matches")
        try:
            digest = self._known_digest()
        except InputDataError as exc:  # a broken install: the stored calibration still works
            log.warning("%s; using the calibration stored with the learned words", exc)
            digest = extra.get("known_words")
        if version < CALIBRATED_SINCE or stored is None or stored.shape[0] != len(self.labels) \
                or extra.get("known_words") != digest:
            why = (f"layout version {version}" if version < CALIBRATED_SINCE
                   else "its calibration does not match the known-word set")
            log.warning("learned state %s: %s; calibrating its words %s now (saved at the next learn "
                        "or forget)", self.store.path(STATE_NAME), why, self.words)
            self.calibrate()
        else:
            self.known_matches = np.asarray(stored, np.float32)

    @classmethod
    def afresh(cls, base: Model, state_dir: str | Path | None, problem: IncompatibleStateError) -> Learned:
        """No words yet, on `base`, in a store whose current state was learned on another model and
        cannot be learned again here (`problem`, e.g. it keeps no clips): to teach words anew. The
        first save keeps that state as ``kws.<hash12>.learned`` (`StateStore`), where that model
        finds it again. Raises `problem` when the current state is this model's (a newer layout,
        which a save would replace)."""
        from akida_edge.engine.learning_state import backbone_hash

        learned = cls(base, state_dir, load=False)
        current = learned.store.load(STATE_NAME)
        if current is None or current.model_hash == backbone_hash(learned.model):
            raise problem
        return learned

    def _check_version(self, extra: dict) -> int:
        version = extra.get("version", 1)
        if not isinstance(version, int) or version > STATE_VERSION:
            raise IncompatibleStateError(
                f"learned state {self.store.path(STATE_NAME)} has KWS layout version {version!r}, newer "
                f"than this akida-edge reads ({STATE_VERSION}); it is kept unused: upgrade akida-edge")
        return version

    @staticmethod
    def _new_log() -> replay.ReplayLog:
        return replay.ReplayLog(kept_clips.front_end_id(), kept_clips.PER_WORD)

    def _relearn_from_another_model(self, problem: IncompatibleStateError) -> None:
        """Learn again, on this model, the words of a state learned on another one, from its kept
        clips (`akida_edge.replay`), and save them as the current state (the store keeps the old
        one). Raises `problem`, with the reason added, when that state cannot be replayed."""
        other, kept = replay.log_of_another_model(self.store, STATE_NAME, self.model, problem,
                                                  kept_clips.PREFIX, kept_clips.PER_WORD,
                                                  kept_clips.front_end_id(), kept_clips.valid,
                                                  self._check_version)
        try:
            for word, clips in kept.calls():
                self._learn_clips(word, clips)
            self.calibrate()  # once, after every call is learned again
        except (InputDataError, LearningError) as exc:  # e.g. a broken install's known-word set
            raise IncompatibleStateError(f"{problem}; learning it again from its kept clips failed: "
                                         f"{exc}") from None
        self.clips.dropped = dict(kept.dropped)
        self.clips.unkept = [w for w in kept.unkept if w in self.words]
        replay.save_relearned(self.store, STATE_NAME, other, kept, list(other.extra.get("labels", [])),
                              self.save)

    @property
    def words(self) -> list[str]:
        return [w for w in self.labels if w]

    def learn(self, word: str, mels: list[np.ndarray]) -> int:
        """Learn `word` from clips (their log-mel); returns the number of samples learned."""
        self._known_features()  # the calibration needs the known-word set: fail before learning
        x = self._learn_clips(word, [kept_clips.learning_slice(m) for m in mels])
        self.calibrate()
        self.save()
        self.last_confusion = self._confusion(word, x)
        return len(x)

    def _learn_clips(self, word: str, clips: list[replay.Item]) -> np.ndarray:
        """Learn `word` from its clips' learning slices and keep them (not calibrated, not saved);
        returns the samples learned."""
        x = samples(clips)
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
        self.clips.add(word, clips)
        return x

    def _base_probabilities(self, x: np.ndarray) -> np.ndarray:
        """The base model's class probabilities (n, classes) of model inputs `x`."""
        z = np.asarray(self.base.predict(x), np.float64).reshape(len(x), -1)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def holds_no_word(self, clip_16k: np.ndarray) -> bool:
        """Whether a mono 16 kHz clip holds no word: the base model takes most of its learning
        samples for `_silence_` (`SILENCE_SURE`). Learned, such a clip teaches the word to claim
        every quiet window (`kws classify` of silence gave the word at 1.00)."""
        mel = F.logmel(np.asarray(clip_16k, np.float32).reshape(-1), F.PARAMS)
        p = self._base_probabilities(samples([kept_clips.learning_slice(mel)]))
        return 2 * int((p[:, CLASSES.index("_silence_")] >= SILENCE_SURE).sum()) > len(p)

    def _confusion(self, word: str, x: np.ndarray) -> tuple[str, int, int] | None:
        """The keyword the base model is sure (≥ the veto) that most samples of `word` are, if any."""
        rivals = self._base_probabilities(x)[:, : len(KEYWORDS)]
        if word in KEYWORDS:
            rivals[:, KEYWORDS.index(word)] = 0.0
        veto = ADAPT_BASE_VETO if word in KEYWORDS else self.base_veto
        sure = rivals.max(axis=1) >= veto
        if 2 * sure.sum() <= len(x):
            return None
        top = np.bincount(rivals[sure].argmax(axis=1), minlength=len(KEYWORDS)).argmax()
        return KEYWORDS[int(top)], int(sure.sum()), len(x)

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
        self.clips.forget(word)
        self.calibrate()
        self.save()

    def save(self) -> Path:
        extra, arrays = self.clips.to_state(kept_clips.PREFIX, kept_clips.EMPTY)
        return self.store.save_model(
            STATE_NAME, self.model,
            extra={"labels": self.labels, "version": STATE_VERSION, "known_words": self._known_digest(),
                   **extra},
            arrays={"known_matches": self.known_matches, **arrays})

    # --- calibration and matching ---
    def _known_features(self) -> tuple[np.ndarray, np.ndarray]:
        """Binary features (n, n_features) of the known-word set and their labels (computed once)."""
        if self._known is None:
            x, label = known_words.load()
            self._known = (learning.features(self.model, x), np.array(label))
        return self._known

    @staticmethod
    def _known_digest() -> str:
        x, label = known_words.load()
        return hashlib.sha256(x.tobytes() + "\n".join(label).encode()).hexdigest()[:16]

    def calibrate(self) -> None:
        """Each word's matches to the known-word clips of other labels, NaN-padded (K, n_known)."""
        feats, label = self._known_features()
        known = np.full((len(self.labels), len(feats)), np.nan, np.float32)
        if self.words:
            m = self._match_features(feats)
            for j, w in enumerate(self.labels):
                keep = label != w
                if w:
                    known[j, : keep.sum()] = m[keep, j]
        self.known_matches = known

    def matches(self, x_u8: np.ndarray) -> np.ndarray:
        """(n, len(labels)) match in [0, 1] of model inputs to each learned word (0: forgotten)."""
        if self.model.learning is None or not self.words or len(x_u8) == 0:
            return np.zeros((len(x_u8), len(self.labels)))
        return self._match_features(learning.features(self.model, x_u8))

    def _match_features(self, feats: np.ndarray) -> np.ndarray:
        out = learning.class_match(self.model.learning, feats, len(self.labels))
        out[:, [i for i, w in enumerate(self.labels) if not w]] = 0.0  # forgotten words
        return out

    def probabilities(self, p_base: np.ndarray, x_u8: np.ndarray) -> np.ndarray:
        """`decide` for model inputs `x_u8` whose base-model probabilities are `p_base`."""
        return decide(p_base, self.matches(x_u8), self.known_matches, self.labels,
                      self.false_accept, self.base_veto)


def warm_learning(base: Model) -> None:
    """Run a `learn` once on `base` — a word from a second of seeded noise, in a state directory of
    its own that is deleted afterwards (nothing of the device's state is read or written) — so
    that the learning kernels are compiled, or loaded from numba's cache, before a device's first
    real `learn` (`python -m akida_edge.warm`, through `KwsPipeline.warm_run`)."""
    import tempfile

    noise = np.random.default_rng(0).normal(0.0, 0.1, F.PARAMS.rate_hz).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="akida-edge-warm-") as state_dir:
        Learned(base, state_dir, load=False).learn_audio("warm", [noise])
