"""Text-to-speech enrollment: a new word also learned from its spelling, said by many voices.

Five clips of one speaker teach the learning layer that speaker's way of saying a word; other
speakers say it differently, and the backbone's binary features do not bridge the difference well
for a word it was never trained on (docs/kws-learning.md). The word's *spelling* is known, though
(`kws learn --label WORD`), and the project's synthesizer can say it: `spoken_clips` makes `n`
clips of the word, each by another espeak-ng voice of the data set's *training* split (the voices
the backbone was trained on; never a voice any benchmark tests on), with the clip recipe of the
known-word set and the learning benchmark (`known_words.clip`: prosody, speaker and channel
effects, a random onset, peak 0.3, faint white noise). `kws learn --synthesize N` learns them
together with the user's clips: the learned neurons then cover many voices' ways of saying the
word, the user's clips keep theirs (docs/kws-learning.md §12 has the figures).

The clips are deterministic for a word (the random generator is seeded by its spelling), so every
device enrolling the same word learns the same synthetic clips. espeak-ng reads the spelling by
its English letter-to-sound rules: a name or a foreign word may come out as another word, so the
user's own clips stay the reference.
"""

from __future__ import annotations

import shutil
import sys
from typing import IO

import numpy as np

from akida_edge.errors import ConfigError

TOOLS = ("espeak-ng", "sox")
CLIPS = 40  # the documented `--synthesize` choice and the bench's ``_tts`` figures (kws-learning §12)


def check_tools() -> None:
    """Raise a one-line `ConfigError` when espeak-ng or sox is missing."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise ConfigError(f"--synthesize needs {' and '.join(missing)} on the PATH; install them "
                          f"(apt-get install {' '.join(missing)}, or bash scripts/setup.sh) "
                          "or learn from your clips alone (--synthesize 0)")


def training_voices() -> list[str]:
    """The espeak-ng voices of the keyword data set's training split (`voices.split_voices`)."""
    from akida_edge.apps.kws.known_words import SEED
    from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices

    return [v.name for v in split_voices(available_languages(), available_variants(), SEED)["train"]]


def spoken_clips(word: str, n: int, progress: IO[str] | None = None) -> list[np.ndarray]:
    """`n` float32 1-s 16 kHz clips of `word` by `n` training voices (module docstring)."""
    from akida_edge.apps.kws.known_words import clip

    if n <= 0:
        return []
    check_tools()
    voices = training_voices()
    rng = np.random.default_rng([99, *word.lower().encode()])
    chosen = rng.choice(voices, n, replace=len(voices) < n)
    if progress is not None:
        print(f"kws learn: synthesizing {n} clips of '{word}' (espeak-ng, {len(set(chosen))} voices; "
              "a few seconds)", file=progress, flush=True)
    return [clip(rng, str(voice), word) for voice in chosen]


__all__ = ["CLIPS", "TOOLS", "check_tools", "spoken_clips", "training_voices"]


if __name__ == "__main__":  # pragma: no cover - a manual check: python -m ... WORD N
    print(len(spoken_clips(sys.argv[1], int(sys.argv[2]), sys.stderr)))
