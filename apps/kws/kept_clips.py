"""What the KWS app keeps of each clip it learned a word from, so a newer model can learn it again.

The learned state keeps a replay log (`akida_edge.replay`, prefix `PREFIX`) of every `learn` call.
A clip's item is the log-mel frames its learning samples are cut from (`learning_slice`: the
loudest second and ±`SHIFT_FRAMES`, before `features.normalize`, so a model with another input
normalization can still use them; float32, at most 55 × 40, 8.8 kB) and, as the item's mark, where
the loudest second starts in them (so a replay cuts the same windows, whatever ties the loudness
search met). The items depend on the log-mel settings (`front_end_id`). A word keeps at most
`PER_WORD` clips (under 2 MB).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from akida_edge import replay
from akida_edge.apps.kws import features as F

SHIFT_FRAMES = 3  # a word is not always centred: each clip is learned at its loudest second and ±3
PER_WORD = 200
PREFIX = replay.PREFIX
EMPTY = np.zeros((0, F.MEL_BANDS), np.float32)  # the stored data when no clip is kept


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




def valid(item: tuple[np.ndarray, int]) -> bool:
    """Whether a stored item is a learning slice: MEL_BANDS wide, a second or more, its start inside."""
    mel, start = item
    return mel.ndim == 2 and mel.shape[1] == F.MEL_BANDS and F.FRAMES <= len(mel) \
        and 0 <= start <= len(mel) - F.FRAMES
