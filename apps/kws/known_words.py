"""The known-word set: clips of words the base model already knows, to calibrate learned words.

A learned word wins a window when its match (`learn.Learned.matches`) is unusually high *for that
word*: higher than the match of all but a fraction ε (`learn.FALSE_ACCEPT`) of these clips of other
words (`learn.py`, "Deciding"). The set holds MODEL INPUTS (uint8 49×10 MFCC codes of
`features.normalize`), not binary features, so it does not depend on the backbone: a retrained KWS
model recomputes the features from the same inputs.

Contents (`make`): `PER_KEYWORD` clips of each of the ten keywords and `UNKNOWN_CLIPS` clips of
`_unknown_` words (`dataset.UNKNOWN_WORDS`), said by voices of the data set's ``validation`` split
(`voices.split_voices` with the data set's seed): never trained on, and disjoint from the ``test``
and ``cross_family`` voices the benchmarks measure on. Each clip: `synth.random_speech` (prosody,
speaker and channel effects), a random onset in one second, peak 0.3, white noise at −60 dBFS RMS —
the clip recipe of `bench.learn._kws_clip`. `_silence_` is not included: the base model's own
silence class and the learned words' low match to noise handle it.

The file records the front-end settings it was made with; `load` refuses a set made with other
settings (regenerate it then). Regenerate (deterministic for a seed and an espeak-ng version;
about 30 s, one process)::

    python -m akida_edge.apps.kws.known_words [--out FILE] [--seed N]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from akida_edge.errors import InputDataError

PATH = Path(__file__).with_name("known_words.npz")
PER_KEYWORD = 24
UNKNOWN_CLIPS = 160
SEED = 20261127  # the data set's seed (`dataset.DatasetConfig.seed`): the same voice split


def clip(rng: np.random.Generator, voice: str, word: str, say: Callable | None = None) -> np.ndarray:
    """One 1-s 16 kHz clip of `word` in `voice` (the recipe in the module docstring); `say`: the
    synthesizer of a `synth.Speech` (default `synth.synthesize`; `neural_voice.synthesize`)."""
    from akida_edge.apps.kws import synth

    x = synth.trim((say or synth.synthesize)(synth.random_speech(rng, voice, word)))
    out, _ = synth.fit(x, synth.SAMPLE_RATE_HZ, rng)
    out = 0.3 * out / max(float(np.abs(out).max()), 1e-9) + 1e-3 * rng.standard_normal(out.size)
    return out.astype(np.float32)


def make(seed: int = SEED, per_keyword: int = PER_KEYWORD,
         unknown: int = UNKNOWN_CLIPS) -> dict[str, np.ndarray]:
    """The set's arrays: ``x`` uint8 (n, 49, 10, 1) model inputs, ``label`` (n,) class names,
    ``word`` (n,) the word said, ``voice`` (n,) the espeak-ng voice."""
    from akida_edge.apps.kws import features as F
    from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
    from akida_edge.apps.kws.labels import KEYWORDS, UNKNOWN
    from akida_edge.apps.kws.voices import (
        available_languages,
        available_variants,
        espeak_version,
        split_voices,
    )

    voices = [v.name for v in split_voices(available_languages(), available_variants(), seed)["validation"]]
    rng = np.random.default_rng([seed, 55])
    words = [k for k in KEYWORDS for _ in range(per_keyword)]
    words += [str(w) for w in rng.choice(UNKNOWN_WORDS, unknown)]
    said = [(w, voices[int(rng.integers(len(voices)))]) for w in words]
    x = np.stack([F.clip_features(clip(rng, v, w)) for w, v in said])
    return {"x": x, "label": np.array([w if w in KEYWORDS else UNKNOWN for w, _ in said]),
            "word": np.array([w for w, _ in said]), "voice": np.array([v for _, v in said]),
            "seed": np.array(seed), "espeak_ng": np.array(espeak_version()),
            "frontend": np.array(frontend_digest())}


def frontend_digest() -> str:
    """What makes the stored model inputs valid: the front-end's settings (`features.py`)."""
    from akida_edge.apps.kws import features as F

    text = repr((F.PARAMS, F.FRAMES, F.COEFFS, F.RANGE_DB, F.SCALE_DB.tolist(), F.MEAN_CODE))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=2)
def load(path: Path = PATH) -> tuple[np.ndarray, tuple[str, ...]]:
    """(model inputs uint8 (n, 49, 10, 1), class label of each); a one-line error if unusable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            x, label = np.asarray(z["x"]), tuple(str(s) for s in z["label"])
            frontend = str(z["frontend"]) if "frontend" in z.files else "none"
    except (OSError, KeyError, ValueError) as exc:
        raise InputDataError(f"{path}: the known-word set is missing or unreadable ({exc}); regenerate "
                             "it with python -m akida_edge.apps.kws.known_words") from None
    if frontend != frontend_digest():
        raise InputDataError(f"{path}: the known-word set was made with other front-end settings "
                             f"({frontend}, now {frontend_digest()}); regenerate it with "
                             "python -m akida_edge.apps.kws.known_words")
    if x.dtype != np.uint8 or x.ndim != 4 or len(label) != len(x) or not len(x):
        raise InputDataError(f"{path}: the known-word set has inputs {x.shape} {x.dtype} and {len(label)} "
                             "labels; regenerate it with python -m akida_edge.apps.kws.known_words")
    return x, label


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="make the known-word calibration set of KWS learning")
    ap.add_argument("--out", type=Path, default=PATH)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    arrays = make(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: {len(arrays['x'])} clips ({PER_KEYWORD} per keyword, {UNKNOWN_CLIPS} "
          f"_unknown_), validation voices, seed {args.seed}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
