"""Long synthetic recordings with keywords at known times, for detection tests and benchmarks.

A scene alternates stretches of non-keyword speech (by default `dataset.UNKNOWN_WORDS`, 3–8 words
per espeak-ng utterance, which include near misses such as "top", "now", "light"; `filler_words`
another pool, e.g. `vocabulary.BENCH_FILLER_WORDS`, words the model was never trained on;
`filler_text` a function drawing each utterance's text instead, e.g. `sentences.sentence`) and isolated
keywords, in one voice, with pauses of 0.3–1.0 s, then background noise (`noise.KINDS`) at an
SNR over the whole signal. Each keyword's onset and offset (ms, after trimming its silence) are
returned, and how many seconds of non-keyword speech there are (the false-alarm exposure), and
each non-keyword utterance's text, onset and offset (ms).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from akida_edge.apps.kws import noise, synth
from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
from akida_edge.apps.kws.labels import KEYWORDS

RATE_HZ = synth.SAMPLE_RATE_HZ


@dataclass(frozen=True)
class Scene:
    audio: np.ndarray  # float32 mono at 16 kHz
    keywords: list[tuple[str, float, float]]  # (word, onset_ms, offset_ms)
    filler_speech_s: float
    voice: str
    filler: list[tuple[str, float, float]] = field(default_factory=list)  # (text, onset_ms, offset_ms)


def _say(rng: np.random.Generator, voice: str, text: str) -> np.ndarray:
    x = synth.trim(synth.synthesize(synth.random_speech(rng, voice, text)))
    peak = float(np.abs(x).max()) if x.size else 0.0
    return x / peak * 10 ** (rng.uniform(-12, -3) / 20) if peak > 0 else x


def make_scene(rng: np.random.Generator, voice: str, words: list[str], filler_utterances: int = 2,
               snr_db: float | None = 20.0, noise_kind: str | None = None, trailing_filler: int = 0,
               filler_words: Sequence[str] = UNKNOWN_WORDS,
               filler_text: Callable[[np.random.Generator], str] | None = None) -> Scene:
    """Keywords `words` (in order), each after `filler_utterances` non-keyword utterances (3–8 words
    of `filler_words`, or ``filler_text(rng)`` if given), then `trailing_filler` more of them
    (``words=[]``: non-keyword speech only, for false alarms)."""
    parts: list[np.ndarray] = []
    keywords, filler_s, t = [], 0.0, 0
    said: list[tuple[str, float, float]] = []

    def pause() -> None:
        nonlocal t
        n = int(rng.uniform(0.3, 1.0) * RATE_HZ)
        parts.append(np.zeros(n, np.float32))
        t += n

    def filler() -> None:
        nonlocal t, filler_s
        if filler_text is None:
            text = " ".join(rng.choice(filler_words, int(rng.integers(3, 9))))
        else:
            text = filler_text(rng)
        x = _say(rng, voice, text)
        said.append((text, 1000.0 * t / RATE_HZ, 1000.0 * (t + x.size) / RATE_HZ))
        parts.append(x)
        t += x.size
        filler_s += x.size / RATE_HZ
        pause()

    pause()
    for word in words:
        for _ in range(filler_utterances):
            filler()
        x = _say(rng, voice, word)
        keywords.append((word, 1000.0 * t / RATE_HZ, 1000.0 * (t + x.size) / RATE_HZ))
        parts.append(x)
        t += x.size
        pause()
    for _ in range(trailing_filler):
        filler()
    audio = np.concatenate(parts).astype(np.float32)
    if snr_db is not None and audio.size:
        kind = noise_kind or noise.KINDS[int(rng.integers(0, len(noise.KINDS) - 1))]  # no babble track here
        bed = noise.generate(kind, audio.size, rng, None)
        audio = noise.mix_at_snr(audio, bed, snr_db, slice(0, audio.size)).astype(np.float32)
    return Scene(audio, keywords, filler_s, voice, said)


def filler_only(rng: np.random.Generator, voices: Sequence[str], seconds: float, utterances: int,
                filler_words: Sequence[str] = UNKNOWN_WORDS,
                filler_text: Callable[[np.random.Generator], str] | None = None) -> Iterator[Scene]:
    """Scenes of non-keyword speech alone, each in one of `voices` (drawn by `rng`) with
    `utterances` utterances (as `make_scene` draws them) at 10–30 dB SNR, until `seconds` of speech."""
    speech_s = 0.0
    while speech_s < seconds:
        voice = voices[int(rng.integers(0, len(voices)))]
        scene = make_scene(rng, voice, [], trailing_filler=utterances, snr_db=float(rng.uniform(10, 30)),
                           filler_words=filler_words, filler_text=filler_text)
        speech_s += scene.filler_speech_s
        yield scene


def score(detections: list, scene: Scene, slack_ms: float = 500.0) -> tuple[int, int]:
    """(hits, false alarms): a detection hits an unmatched keyword of the same label whose
    [onset − slack, offset + slack] contains its time; every other detection is a false alarm."""
    used = [False] * len(scene.keywords)
    hits = false = 0
    for det in detections:
        for i, (word, on, off) in enumerate(scene.keywords):
            if not used[i] and det.label == word and on - slack_ms <= det.t_ms <= off + slack_ms:
                used[i] = True
                hits += 1
                break
        else:
            false += 1
    return hits, false


__all__ = ["KEYWORDS", "Scene", "filler_only", "make_scene", "score"]
