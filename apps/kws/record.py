"""Record a word from the microphone, one utterance per prompt (`kws learn --record N`).

A person teaching their device says the word a few times (BrainChip's published example: four
utterances per word); this module cuts those utterances out of a live 16 kHz stream so they can be
learned like WAV files (`Learned.learn_audio`). It uses the isolated-command gate's energy
segmentation (`isolation.Segmenter`, on the app's own log-mel frames): speech is ≥ 6 dB above the
noise floor of the last 10 s, pauses under 200 ms do not end a stretch, frames are decided in
500-ms chunks. A finished stretch of `MIN_MS`–`MAX_MS` is one utterance, cut with `PAD_MS` of
context on each side; a longer one (a sentence, or a word run into others) and a shorter one (a
click) are skipped with the reason. The first `SETTLE_MS` only measure the room's noise: the
first prompt comes after them, so the word is not taken for the noise floor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np

from akida_edge.apps.kws import features as F
from akida_edge.apps.kws.isolation import Segmenter, frame_energy_db
from akida_edge.errors import InputDataError
from akida_edge.frontends.audio import audio_init, logmel_step

MIN_MS = 150.0  # shorter stretches are clicks or breaths
MAX_MS = 1500.0  # longer ones are not one word said on its own
PAD_MS = 150.0  # context kept before and after the stretch
SETTLE_MS = 1000.0  # the room's noise, heard before the first prompt
WAIT_S = 15.0  # no utterance this long after a prompt (speech or not): nothing usable is heard
FRAME_MS = 1000.0 * F.HOP_SAMPLES / F.PARAMS.rate_hz  # 20 ms
RATE_HZ = F.PARAMS.rate_hz  # 16 kHz: the blocks, the clips and the WAVs `kws learn --save` writes


class Cutter:
    """Push 16 kHz blocks, get back the utterances they complete (module docstring)."""

    def __init__(self) -> None:
        self._segmenter = Segmenter()
        self._state = audio_init(F.PARAMS)
        self._audio = np.zeros(0, np.float32)
        self._first = 0  # sample index of self._audio[0]
        self.samples = 0  # samples pushed in all

    def push(self, x_16k: np.ndarray) -> list[tuple[np.ndarray | None, str]]:
        """Feed one block; returns (clip, '') per finished utterance and (None, reason) per
        finished stretch that is not one."""
        x = np.asarray(x_16k, np.float32).reshape(-1)
        mel, self._state = logmel_step(x, self._state, F.PARAMS)
        self._audio = np.concatenate([self._audio, x])
        self.samples += x.size
        self._segmenter.push(frame_energy_db(mel))
        out = []
        while self._segmenter.segments:
            a, b = self._segmenter.segments.popleft()
            out.append(self._cut(a, b))
        keep_from = max(self.samples - int(10 * F.PARAMS.rate_hz), 0)  # an open stretch is < 10 s old
        if self._segmenter.open_start is not None:
            keep_from = min(keep_from, self._sample(self._segmenter.open_start) - self._pad())
        keep_from = max(keep_from, self._first)
        self._audio, self._first = self._audio[keep_from - self._first:], keep_from
        return out

    @property
    def speaking(self) -> bool:
        """A stretch of speech is in progress (not yet finished)."""
        return self._segmenter.open_start is not None

    def _sample(self, frame: int) -> int:
        return frame * F.HOP_SAMPLES

    def _pad(self) -> int:
        return int(PAD_MS * F.PARAMS.rate_hz / 1000)

    def _cut(self, a: int, b: int) -> tuple[np.ndarray | None, str]:
        length_ms = (b - a + 1) * FRAME_MS
        if length_ms < MIN_MS:
            return None, f"a sound of {length_ms:.0f} ms (too short for a word)"
        if length_ms > MAX_MS:
            return None, (f"{length_ms / 1000:.1f} s of speech (more than {MAX_MS / 1000:.1f} s: say the "
                          "word on its own, with a pause before and after)")
        start = max(self._sample(a) - self._pad(), self._first)
        end = min(self._sample(b) + F.PARAMS.window + self._pad(), self._first + self._audio.size)
        return self._audio[start - self._first: end - self._first].copy(), ""


def record(blocks: Iterable[np.ndarray], word: str, n: int, say: Callable[[str], None],
           clock: Callable[[], float] = time.monotonic) -> list[np.ndarray]:
    """`n` utterances of `word` from 16 kHz `blocks` (a live microphone's), prompting through `say`.

    Raises `InputDataError` (one line) when no utterance comes within `WAIT_S` of a prompt, or
    when the blocks end first. Wall time from `clock`; a replayed stream also counts its own
    samples, so a fast replay cannot time out early."""
    cutter, clips = Cutter(), []
    settle = int(SETTLE_MS * F.PARAMS.rate_hz / 1000)
    prompted_at: tuple[float, int] | None = None
    say(f"recording '{word}' {n} time(s): stay quiet for a second while the room's noise is measured")
    for block in blocks:
        for clip, reason in cutter.push(block):
            if prompted_at is None:
                continue  # sound before the first prompt: part of the room
            if clip is None:
                say(f"  skipped {reason}")
                continue
            clips.append(clip)
            say(f"  got {len(clips)}/{n} ({clip.size / F.PARAMS.rate_hz:.2f} s)")
            if len(clips) == n:
                return clips
            prompted_at = None  # the next prompt follows
        if prompted_at is None and cutter.samples >= settle and not cutter.speaking:
            say(f"say '{word}' ({len(clips) + 1}/{n})")
            prompted_at = (clock(), cutter.samples)
        elif prompted_at is not None:
            waited_s = min(clock() - prompted_at[0], (cutter.samples - prompted_at[1]) / F.PARAMS.rate_hz)
            # a word begun at the deadline may finish; endless speech (a radio) may not keep it waiting
            if waited_s > WAIT_S + (MAX_MS / 1000 if cutter.speaking else 0.0):
                raise InputDataError(f"heard no word said on its own in {WAIT_S:.0f} s after the prompt "
                                     f"({len(clips)} of {n} recorded); speak closer or louder, or pick the "
                                     "input with --device")
    raise InputDataError(f"the audio stream ended after {len(clips)} of {n} utterances of '{word}'")


__all__ = ["MAX_MS", "MIN_MS", "PAD_MS", "RATE_HZ", "SETTLE_MS", "WAIT_S", "Cutter", "record"]
