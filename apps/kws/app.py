"""The keyword-spotting app: classify clips, detect keywords in recordings and on a microphone.

The shipped model (`model/kws.aem`, trained by `train.py`) runs on the virtual AKD1000
(`Model.predict`, bit-exact integer engine). Its input is `features.normalize` of the project's
log-mel front-end, the same code path as in training.

* classify: one label per file. Audio is mixed down and resampled to 16 kHz
  (`drivers.audio_file.load_audio`); a file longer than 1 s is classified on its loudest second
  (the 1-s window, on the 20 ms frame grid, with the largest mel energy), a shorter one is padded
  with silence.
* detect/listen: a 1-s window every `hop_ms` (100 ms), class probabilities p = softmax(logits),
  averaged over the last `smooth` windows; a keyword is *active* while its smoothed probability
  is the largest and ≥ `threshold`. One detection per active run, at its peak; after a detection
  the same or another keyword is refused for `refractory_ms` (one utterance, one detection).
  `t_ms` is the centre of the peak window from the start of the file (or of the stream). A
  detection is then kept only if the keyword was said on its own, in a stretch of speech at most
  `isolated_max_ms` long (`isolation.py`; 0: no such gate).
"""

from __future__ import annotations

import contextlib
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from akida_edge.apps.kws import features as F
from akida_edge.apps.kws.detect_params import DetectParams  # also re-exported
from akida_edge.apps.kws.labels import CLASSES, KEYWORDS, SILENCE, UNKNOWN  # noqa: F401 (KEYWORDS re-exported)
from akida_edge.drivers.audio_file import load_audio
from akida_edge.engine import execute
from akida_edge.engine.modelfile import load_model
from akida_edge.errors import InputDataError
from akida_edge.frontends.audio import audio_init, logmel, logmel_step
from akida_edge.numba_config import blas_threads

NOT_WORDS = (UNKNOWN, SILENCE, "")
MODEL_PATH = Path(__file__).with_name("model") / "kws.aem"
FRAME_MS = 1000.0 * F.PARAMS.hop / F.PARAMS.rate_hz  # 20 ms
SMALL_BATCH = 8  # windows per call up to which inference uses one BLAS thread


@dataclass(frozen=True)
class Detection:
    label: str
    t_ms: float
    score: float


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def check_kws_model(model: Any, path: str | Path) -> None:
    """`InputDataError` (one line) when `model` does not take log-mel windows and give the classes."""
    out = model.output_shape[-1]
    if out != len(CLASSES) or model.input_shape != (F.FRAMES, F.BANDS, 1):
        raise InputDataError(f"{path}: a KWS model takes {(F.FRAMES, F.BANDS, 1)} and gives "
                             f"{len(CLASSES)} classes, this one {model.input_shape} -> {out}; "
                             "use a model made by akida_edge.apps.kws.train")


class Spotter:
    """The loaded model (warmed once), the words this device learned (`learn.py`) and the labels.

    `state_dir`: the per-device store (None: `AKIDA_EDGE_STATE_DIR` or the default directory);
    `learned=False` uses the base model only. A learned state made for another model version is
    kept and ignored, with a warning on stderr."""

    def __init__(self, path: str | Path | None = None, state_dir: str | Path | None = None,
                 learned: bool = True) -> None:
        self.path = Path(path) if path is not None else MODEL_PATH
        self.state_dir = state_dir
        self.model = load_model(self.path)
        self.learned = None
        self.learned_problem = ""  # why the learned state is not used (empty when it is, or learned=False)
        check_kws_model(self.model, self.path)
        execute.warm(self.model)
        if learned:
            from akida_edge.apps.kws.learn import Learned
            from akida_edge.state import IncompatibleStateError

            try:
                self.learned = Learned(self.model, state_dir)
            except IncompatibleStateError as exc:
                self.learned_problem = str(exc)
                print(f"akida-edge: warning: learned words not used: {exc}", file=sys.stderr)

    def learn_afresh(self) -> None:
        """When the learned state belongs to another model and cannot be learned again here (a
        state from before clips were kept), start a new one for this model, to teach words anew
        (`learn.Learned.afresh`: the old state is kept for its model); raises the problem when that
        is not so (e.g. a newer layout of this model's state)."""
        from akida_edge.apps.kws.learn import Learned
        from akida_edge.state import IncompatibleStateError

        if self.learned is not None or not self.learned_problem:
            return
        problem = IncompatibleStateError(self.learned_problem)
        self.learned = Learned.afresh(self.model, self.state_dir, problem)
        self.learned_problem = ""

    @property
    def classes(self) -> tuple[str, ...]:
        """The 12 base labels, then the learned words ('' for a forgotten one)."""
        return CLASSES + (tuple(self.learned.labels) if self.learned is not None else ())

    def probabilities(self, x_u8: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 12 + learned labels) of model inputs (n, 49, 10, 1) uint8: the base
        model's softmax, and the learned words by `learn.decide` (a learned word wins a window by
        its calibrated match; one named after a keyword votes for that keyword)."""
        if len(x_u8) == 0:
            return np.zeros((0, len(self.classes)))
        # a few windows (a file, a live stream's 100-ms step) gain nothing from OpenBLAS threads,
        # whose idle spinning cost 40 % of a core while listening with the 128-wide model
        with blas_threads(1) if len(x_u8) <= SMALL_BATCH else contextlib.nullcontext():
            return self._probabilities(x_u8)

    def _probabilities(self, x_u8: np.ndarray) -> np.ndarray:
        p = softmax(self.model.predict(x_u8).reshape(len(x_u8), -1))
        if self.learned is None or not self.learned.words:
            return np.concatenate([p, np.zeros((len(p), len(self.classes) - p.shape[1]))], axis=1)
        return self.learned.probabilities(p, x_u8)

    def classify_audio(self, x_16k: np.ndarray) -> tuple[str, float, np.ndarray]:
        """(label, probability, all probabilities) of mono 16 kHz audio (module docstring)."""
        x = np.asarray(x_16k, np.float32).reshape(-1)
        if x.size <= F.CLIP_SAMPLES:
            feats = F.clip_features(x)[None]
        else:
            mel = logmel(x, F.PARAMS)
            energy = np.cumsum(np.concatenate([[0.0], (10.0 ** (mel.astype(np.float64) / 10)).sum(axis=1)]))
            sums = energy[F.FRAMES:] - energy[: -F.FRAMES]
            start = int(np.argmax(sums))
            feats = F.normalize(mel[start: start + F.FRAMES])[None]
        p = self.probabilities(feats)[0]
        k = int(np.argmax(p))
        return self.classes[k], float(p[k]), p

    def classify_file(self, path: str | Path) -> dict:
        """{"file", "label", "score", "duration_s"}; raises a one-line error for a bad file."""
        x = load_audio(path)
        if x.size == 0:
            raise InputDataError(f"{path} holds no audio samples (empty recording); record at least 1 s")
        label, score, _ = self.classify_audio(x)
        return {"file": str(path), "label": label, "score": round(score, 4),
                "duration_s": round(x.size / F.PARAMS.rate_hz, 3)}

    def detect_audio(self, x_16k: np.ndarray, params: DetectParams = DetectParams(),
                     ungated: list[Detection] | None = None) -> list[Detection]:
        """Keywords in a recording (mono 16 kHz), batch version of `Stream`. `ungated`: a list
        that receives the detections before the isolated-command gate (for comparisons)."""
        mel = logmel(np.asarray(x_16k, np.float32).reshape(-1), F.PARAMS)
        feats, starts = F.window_features(mel, params.hop_frames)
        detector = Detector(self.classes, params)
        found = []
        for start, p in zip(starts, self.probabilities(feats), strict=True):
            found += detector.push(_centre_ms(int(start)), p)
        found += detector.flush()
        if ungated is not None:
            ungated.extend(found)
        gate = params.gate()
        return found if gate is None else gate.filter(found, mel)


def _centre_ms(start_frame: int) -> float:
    return start_frame * FRAME_MS + 500.0


@dataclass
class Detector:
    """Smoothing, peak picking and the refractory period over successive window probabilities."""

    classes: tuple[str, ...]
    params: DetectParams = DetectParams()
    _recent: deque = field(default_factory=deque)
    _best: Detection | None = None
    _until_ms: float = -np.inf

    def push(self, t_ms: float, p: np.ndarray) -> list[Detection]:
        """Feed the probabilities of the window centred at `t_ms`; returns finished detections."""
        self._recent.append(np.asarray(p, np.float64))
        while len(self._recent) > self.params.smooth:
            self._recent.popleft()
        s = np.mean(self._recent, axis=0)
        k = int(np.argmax(s))
        label = self.classes[k]
        active = label not in NOT_WORDS and s[k] >= self.params.threshold and t_ms >= self._until_ms
        out = []
        if self._best is not None and (not active or label != self._best.label):
            out = self._emit()
        if active and t_ms >= self._until_ms:
            # the smoothed peak lags by (smooth − 1)/2 windows: report the centre of the average
            t_peak = t_ms - (len(self._recent) - 1) / 2 * self.params.hop_ms
            if self._best is None or s[k] > self._best.score:
                self._best = Detection(label, t_peak, float(s[k]))
        return out

    def _emit(self) -> list[Detection]:
        best, self._best = self._best, None
        self._until_ms = best.t_ms + self.params.refractory_ms
        return [best]

    def flush(self) -> list[Detection]:
        return self._emit() if self._best is not None else []


class Stream:
    """Streaming detection for a live source: blocks of 16 kHz mono in, detections out.

    Log-mel frames are computed block by block (bit-identical to the whole signal) and a window
    is classified every `hop_frames` frames, on the same frame grid as `Spotter.detect_audio`,
    so a stream and a file give the same detections."""

    def __init__(self, spotter: Spotter, params: DetectParams = DetectParams()) -> None:
        self.spotter, self.params = spotter, params
        self.detector = Detector(spotter.classes, params)
        self.gate = params.gate()
        self._state = audio_init(F.PARAMS)
        self._frames = np.zeros((0, F.MEL_BANDS), np.float32)
        self._first = 0  # frame index of self._frames[0]
        self._next = 0  # start frame of the next window to classify

    def push(self, x_16k: np.ndarray) -> list[Detection]:
        mel, self._state = logmel_step(np.asarray(x_16k, np.float32).reshape(-1), self._state, F.PARAMS)
        self._frames = np.concatenate([self._frames, mel])
        end = self._first + len(self._frames)
        starts = list(range(self._next, end - F.FRAMES + 1, self.params.hop_frames))
        out: list[Detection] = self.gate.push_frames(mel) if self.gate is not None else []
        if starts:
            windows = np.stack([self._frames[s - self._first: s - self._first + F.FRAMES] for s in starts])
            for s, p in zip(starts, self.spotter.probabilities(F.normalize(windows)), strict=True):
                out += self._gated(self.detector.push(_centre_ms(s), p))
            self._next = starts[-1] + self.params.hop_frames
        drop = self._next - self._first
        if drop > 0:
            self._frames, self._first = self._frames[drop:], self._next
        return out

    def _gated(self, found: list[Detection]) -> list[Detection]:
        return found if self.gate is None or not found else self.gate.offer(found)

    def flush(self) -> list[Detection]:
        out = self._gated(self.detector.flush())
        return out + self.gate.flush() if self.gate is not None else out
