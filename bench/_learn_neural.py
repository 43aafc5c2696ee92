"""The ``_neural_voice`` figures of the ``learn`` suite: a person teaching their own device.

One voice, `apps.kws.neural_voice` (Piper's ``en_US-joe-medium``: a VITS network trained on one
man's studio recordings; held out from all training and tuning), teaches and is tested: BrainChip's
published setting (`reference/akida-facts.md` §3: a user says each new word 4 times, 19/19 of that
user's later utterances right). Each of `repeats` rounds draws new clips of that voice with the
learning figures' recipe (`known_words.clip` with the neural synthesizer: prosody, speaker and
channel effects, a random onset, peak 0.3, faint white noise), learns through the ``kws learn``
path and classifies through ``kws classify`` (`_learn_kws._learn`, `_accuracy`: the unchanged
decision rule and learning code), each learned state in a fresh temporary directory:

- ``new_word_acc_<shots>shot_neural_voice`` / ``new_word_acc_1shot_neural_voice``: `words` learned
  from `shots` (1) clips each; accuracy on `test_per_word` other clips per word of the same voice;
- ``base_acc_drop_neural_voice``: the voice's `base_per_keyword` clips per keyword and `unknown`
  `_unknown_` words, accuracy before − after learning the words from `shots` clips;
- the same with `tts` espeak-ng enrollment clips per word added (`enroll.spoken_clips`, ``kws learn
  --synthesize``): suffix ``_tts``;
- ``adapt_acc_before_neural_voice`` / ``adapt_acc_after_neural_voice``: per-device adaptation, the
  ten keywords learned under their own names from `shots` clips each of this voice; keyword
  accuracy on `adapt_test_per_keyword` further clips per keyword before and after.

Diagnostics, as in `_learn_kws`: ``new_word_learned_only_acc_neural_voice`` (the best-matching
learned word among the new words alone: what a perfect new-word gate would reach),
``new_word_match_auc_neural_voice`` (a new-word clip's match to its word against a base clip's best
match to any learned word), ``adapt_learned_only_acc_neural_voice``; the labels the new-word
test clips got when wrong (``new_word_errors_neural_voice``, `shots` clips, summed over rounds);
and ``new_word_acc_<shots>shot_neural_voice_by_false_accept`` /
``base_acc_drop_neural_voice_by_false_accept``: the two figures for other values of the
decision's false-accept rate ε (`learn.FALSE_ACCEPT`, the shipped point among them).

Means over the rounds; null with ``neural_voice_reason`` when the voice package is missing.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

import numpy as np

from akida_edge.bench._learn_kws import (
    FRONT_FALSE_ACCEPT,
    KWS_SEED,
    NEW_WORDS,
    _accuracy,
    _diagnose,
    _labels,
    _learn,
    adaptation,
)

STREAM = 8  # the generator stream of these clips: [seed, STREAM, round]


def keys(shots: int = 5) -> tuple[str, ...]:
    """The figure names (module docstring)."""
    names = [f"new_word_acc_{shots}shot_neural_voice", "new_word_acc_1shot_neural_voice",
             "base_acc_drop_neural_voice"]
    return (*names, *(k + "_tts" for k in names), "adapt_acc_before_neural_voice",
            "adapt_acc_after_neural_voice")


def neural_voice_figures(progress: IO[str] | None = None, words: tuple[str, ...] = NEW_WORDS, shots: int = 5,
                         repeats: int = 3, test_per_word: int = 10, base_per_keyword: int = 2,
                         unknown: int = 10, adapt_test_per_keyword: int = 3, seed: int = KWS_SEED,
                         tts: int | None = None, model: str | None = None,
                         front: tuple[float, ...] = FRONT_FALSE_ACCEPT) -> dict[str, Any]:
    """The figures of the module docstring."""
    from akida_edge.apps.kws import neural_voice

    reason = neural_voice.missing()
    if reason is not None:
        return {**dict.fromkeys(keys(shots)), "neural_voice_reason": reason}
    from akida_edge.apps.kws import enroll
    from akida_edge.apps.kws.app import KEYWORDS, Spotter
    from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
    from akida_edge.apps.kws.known_words import clip

    if progress:
        print(f"bench learn: new words and adaptation on the neural voice ({repeats} rounds)", file=progress,
              flush=True)
    tts = enroll.CLIPS if tts is None else tts
    spoken = {w: enroll.spoken_clips(w, tts) for w in words}
    base = Spotter(model, learned=False)
    fig: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        fig.setdefault(key, []).append(value)

    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    for r in range(repeats):
        rng = np.random.default_rng([seed, STREAM, r])

        def say(word: str, rng: np.random.Generator = rng) -> np.ndarray:
            return clip(rng, neural_voice.VOICE, word, say=neural_voice.synthesize)

        shot_clips = {w: [say(w) for _ in range(shots)] for w in words}
        new_test = [(w, say(w)) for w in words for _ in range(test_per_word)]
        base_test = [(k, say(k)) for k in KEYWORDS for _ in range(base_per_keyword)]
        base_test += [("_unknown_", say(str(u))) for u in rng.choice(UNKNOWN_WORDS, unknown)]
        before = _accuracy(base, base_test)
        for suffix, extra in (("", {w: [] for w in words}), ("_tts", spoken)):
            for n_shots in dict.fromkeys((shots, 1)):  # once each, also when shots is 1
                with tempfile.TemporaryDirectory() as state:
                    spotter = Spotter(model, state_dir=state)
                    for w in words:
                        _learn(spotter, w, shot_clips[w][:n_shots] + extra[w])
                    add(f"new_word_acc_{n_shots}shot_neural_voice{suffix}", _accuracy(spotter, new_test))
                    if n_shots == shots:
                        add(f"base_acc_drop_neural_voice{suffix}", before - _accuracy(spotter, base_test))
                    if n_shots == shots and not suffix:
                        only, area = _diagnose(spotter.learned, words, new_test, base_test)
                        add("new_word_learned_only_acc_neural_voice", only)
                        add("new_word_match_auc_neural_voice", area)
                        for got, (want, _) in zip(_labels(spotter, new_test), new_test, strict=True):
                            if got != want:
                                errors[got] = errors.get(got, 0) + 1
                        for eps in front:
                            spotter.learned.false_accept = eps
                            add(f"new@{eps}", _accuracy(spotter, new_test))
                            add(f"drop@{eps}", before - _accuracy(spotter, base_test))
        learn_clips = {k: [say(k) for _ in range(shots)] for k in KEYWORDS}
        adapt_test = [(k, say(k)) for k in KEYWORDS for _ in range(adapt_test_per_keyword)]
        for key, value in zip(("adapt_acc_before", "adapt_acc_after", "adapt_learned_only_acc"),
                              adaptation(model, base, learn_clips, adapt_test), strict=True):
            add(key + "_neural_voice", value)
        counts = {"new_word": len(new_test), "base": len(base_test), "adapt": len(adapt_test)}
        if progress:
            print(f"bench learn: neural voice round {r + 1}/{repeats}", file=progress, flush=True)
    diagnostics = ("new_word_learned_only_acc_neural_voice", "new_word_match_auc_neural_voice",
                   "adapt_learned_only_acc_neural_voice")
    out: dict[str, Any] = {k: round(float(np.mean(fig[k])), 4) if fig.get(k) else None
                           for k in (*keys(shots), *diagnostics)}
    out[f"new_word_acc_{shots}shot_neural_voice_by_false_accept"] = {
        str(e): round(float(np.mean(fig[f"new@{e}"])), 4) for e in front}
    out["base_acc_drop_neural_voice_by_false_accept"] = {
        str(e): round(float(np.mean(fig[f"drop@{e}"])), 4) for e in front}
    out["new_word_errors_neural_voice"] = dict(sorted(errors.items()))
    out.update({"neural_voice": neural_voice.VOICE, "neural_voice_rounds": repeats,
                "neural_voice_new_word_test_clips": counts.get("new_word", 0) * repeats,
                "neural_voice_base_test_clips": counts.get("base", 0) * repeats,
                "neural_voice_adapt_test_clips": counts.get("adapt", 0) * repeats})
    return out
