"""The clips a device learned its words from, kept with them so a newer model can re-learn them.

A learned state is tied to the backbone it was learned on (`akida_edge.state`): the binary weights
of a learning layer mean nothing on another backbone's features. So a model upgrade used to leave
a device's words unused until someone taught them again, and the clips taught over MQTT were gone.
`learn.Learned` therefore keeps, beside the weights, what each `learn` call learned from: for every
clip the log-mel frames its samples are cut from (`learning_slice`: the loudest second and
±`SHIFT_FRAMES`, before `features.normalize`, so a model with another input normalization can still
use them) and where its loudest second starts, in the order learned. When the store holds only a
state of another model, `Learned` replays those calls on the current model (`batches`: same order,
same samples) and saves the result as the current state; the store keeps the old one as
``kws.<hash12>.learned``.

Layout in the state (the app's layout version 3, `learn.STATE_VERSION`):

- ``arrays["clip_mels"]`` float32 (total frames, MEL_BANDS): the slices one after another;
- ``arrays["clip_frames"]`` int32 (n,): each slice's frame count (`FRAMES` … `FRAMES` + 2·shift);
- ``arrays["clip_start"]`` int32 (n,): where the loudest second starts in each slice (so a replay
  cuts the same windows, whatever ties the loudness search met);
- ``arrays["clip_batch"]`` int32 (n,): the learn call each clip came with (0, 1, …);
- ``extra["batch_words"]``: the word of each learn call; ``extra["clip_front_end"]``: the log-mel
  settings the frames were made with (`front_end_id`; another front-end cannot replay them);
  ``extra["clips_dropped"]``: per word, how many of its oldest clips went over the cap.

A word keeps at most `PER_WORD` clips (a daemon learning from every confirmed detection would
otherwise grow its state without bound): the oldest go first, logged and counted. Forgetting a word
drops its clips. A slice is at most 55 × 40 float32 (8.8 kB), so a full word is under 2 MB.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from akida_edge.apps.kws import features as F

log = logging.getLogger(__name__)

SHIFT_FRAMES = 3  # a word is not always centred: each clip is learned at its loudest second and ±3
PER_WORD = 200


def front_end_id() -> str:
    """The log-mel settings the kept frames depend on, as one comparable string."""
    return json.dumps(dataclasses.asdict(F.PARAMS), sort_keys=True)


def loudest(mel: np.ndarray) -> tuple[np.ndarray, int]:
    """(frames, start): a clip's log-mel, centred in silence when shorter than a second plus the
    shifts, and the first frame of its loudest second (the largest summed band power)."""
    mel = np.asarray(mel, np.float32)
    if len(mel) < F.FRAMES:  # short clip: centre it in silence
        pad = np.full((F.FRAMES + 2 * SHIFT_FRAMES, mel.shape[1]), F.PARAMS.floor_db, np.float32)
        a = SHIFT_FRAMES + (F.FRAMES - len(mel)) // 2
        pad[a: a + len(mel)] = mel
        mel = pad
    energy = np.cumsum(np.concatenate([[0.0], (10.0 ** (mel.astype(np.float64) / 10)).sum(axis=1)]))
    return mel, int(np.argmax(energy[F.FRAMES:] - energy[: -F.FRAMES]))


def learning_slice(mel: np.ndarray) -> tuple[np.ndarray, int]:
    """(frames, start): the frames a clip's learning samples come from — its loudest second and
    ±`SHIFT_FRAMES` — and where the loudest second starts in them."""
    mel, start = loudest(mel)
    lo = max(0, start - SHIFT_FRAMES)
    return mel[lo: start + F.FRAMES + SHIFT_FRAMES].copy(), start - lo


def sample_starts(frames: int, start: int) -> list[int]:
    """First frames of a clip's three learning windows (loudest, −shift, +shift) in `frames`
    frames, clamped inside them."""
    return [min(max(s, 0), frames - F.FRAMES) for s in (start, start - SHIFT_FRAMES, start + SHIFT_FRAMES)]


Clip = tuple[np.ndarray, int]  # a learning slice and where its loudest second starts in it


@dataclass
class KeptClips:
    """The learn calls of one learned state, replayable in order (module docstring)."""

    clips: list[Clip] = field(default_factory=list)
    batch: list[int] = field(default_factory=list)
    batch_words: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    front_end: str = field(default_factory=front_end_id)

    @classmethod
    def from_state(cls, extra: dict[str, Any], arrays: dict[str, np.ndarray]) -> KeptClips:
        """The clips stored in a state (none for a state written before they were kept); raises
        `ValueError` when the stored arrays disagree."""
        if "clip_mels" not in arrays:
            return cls()
        try:
            frames = np.asarray(arrays["clip_frames"], np.int64)
            start = np.asarray(arrays["clip_start"], np.int64)
            batch = np.asarray(arrays["clip_batch"], np.int64)
        except KeyError as exc:
            raise ValueError(f"its kept clips lack the array {exc}") from None
        words = [str(w) for w in extra.get("batch_words", [])]
        flat = np.asarray(arrays["clip_mels"], np.float32)
        if not (len(frames) == len(batch) == len(start)) or int(frames.sum()) != len(flat) \
                or (frames < F.FRAMES).any() or (start < 0).any() or (start > frames - F.FRAMES).any() \
                or (len(batch) and (batch.min() < 0 or batch.max() >= len(words))):
            raise ValueError("its kept clips are inconsistent (frame counts, starts, learn calls and "
                             "words disagree)")
        bounds = np.concatenate([[0], np.cumsum(frames)])
        cuts = zip(bounds[:-1], bounds[1:], start, strict=True)
        return cls(clips=[(flat[a:b], int(s)) for a, b, s in cuts],
                   batch=[int(b) for b in batch], batch_words=words,
                   dropped={str(k): int(v) for k, v in dict(extra.get("clips_dropped", {})).items()},
                   front_end=str(extra.get("clip_front_end", "")))

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(extra, arrays) to store with the learned state."""
        extra = {"batch_words": list(self.batch_words), "clip_front_end": self.front_end,
                 "clips_dropped": dict(self.dropped)}
        arrays = {"clip_mels": (np.concatenate([m for m, _ in self.clips]) if self.clips
                                else np.zeros((0, F.MEL_BANDS), np.float32)).astype(np.float32),
                  "clip_frames": np.array([len(m) for m, _ in self.clips], np.int32),
                  "clip_start": np.array([s for _, s in self.clips], np.int32),
                  "clip_batch": np.array(self.batch, np.int32)}
        return extra, arrays

    def count(self, word: str) -> int:
        return sum(1 for b in self.batch if self.batch_words[b] == word)

    def add(self, word: str, clips: list[Clip]) -> None:
        """Keep one learn call's clips; over `PER_WORD`, the word's oldest clips go (logged)."""
        self.batch_words.append(word)
        self.clips += [(np.asarray(m, np.float32), int(s)) for m, s in clips]
        self.batch += [len(self.batch_words) - 1] * len(clips)
        over = self.count(word) - PER_WORD
        if over > 0:
            drop = [i for i, b in enumerate(self.batch) if self.batch_words[b] == word][:over]
            self._remove(set(drop))
            self.dropped[word] = self.dropped.get(word, 0) + over
            log.warning("'%s': %d clips are kept to re-learn it on a newer model; its %d oldest were "
                        "dropped (%d in all)", word, PER_WORD, over, self.dropped[word])

    def forget(self, word: str) -> None:
        self._remove({i for i, b in enumerate(self.batch) if self.batch_words[b] == word})
        self.dropped.pop(word, None)

    def _remove(self, gone: set[int]) -> None:
        keep = [i for i in range(len(self.clips)) if i not in gone]
        used = sorted({self.batch[i] for i in keep})
        renumber = {old: new for new, old in enumerate(used)}
        self.clips = [self.clips[i] for i in keep]
        self.batch = [renumber[self.batch[i]] for i in keep]
        self.batch_words = [self.batch_words[b] for b in used]

    def batches(self) -> list[tuple[str, list[Clip]]]:
        """The learn calls in the order they were made: (word, its clips)."""
        out: list[tuple[str, list[Clip]]] = [(w, []) for w in self.batch_words]
        for clip, b in zip(self.clips, self.batch, strict=True):
            out[b][1].append(clip)
        return [(w, clips) for w, clips in out if clips]

    def why_not_replayable(self) -> str | None:
        """Why these clips cannot re-learn on this akida-edge (None when they can)."""
        if not self.clips:
            return "it keeps no clips to re-learn from (learned before akida-edge kept them)"
        if self.front_end != front_end_id():
            return (f"its kept clips were made with other log-mel settings ({self.front_end}), not "
                    f"this version's ({front_end_id()})")
        return None
