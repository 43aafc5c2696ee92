"""The ``_neural_voice`` and ``_kokoro`` figures of the ``learn`` suite: a person teaching their own device.

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

Means over the rounds; null with ``neural_voice_reason`` when the voice package is missing. Since
session 20 ten rounds (300 new-word and 300 base test clips, ten draws of the teaching clips) and 10
adaptation test clips per keyword and round (1 000), on two processes: with three rounds and 90
adaptation clips a figure's SD was 0.03–0.05, and candidates were judged on differences that size
(docs/kws-learning.md §26). Rounds 1–3 draw the same clips as before, but for the adaptation test.

The ``_kokoro`` figures (`kokoro_figures`, session 18): the same, each of the six Kokoro-82M voices
never trained on (`apps.kws.kokoro.HELD_OUT_VOICES`: two American women, two American men, a
British woman and man; a different network from joe's) teaching its own device, with its own
clips (generator stream [seed, `KOKORO_STREAM`, the voice's index in `kokoro.TABLES`]: the
same clips whichever other voices are measured); means over the six voices, and
``new_word_acc_<shots>shot_kokoro_by_voice`` / ``adapt_acc_after_kokoro_by_voice``. Six people
instead of one: a new-word figure for neural voices with less dependence on one speaker. The
``_kokoro_accented`` figures (session 19): the same for the three accented Kokoro voices never
trained on (`kokoro.ACCENTED_HELD_OUT`: Spanish, Japanese and Portuguese voices saying English).
Since session 22 each voice teaches three times, with three draws of its clips (`DRAWS`): 540 and
270 new-word test clips instead of 180 and 90, whose SDs (0.035, 0.05) were the size of the
differences judged; about 5 minutes more.
Null with ``kokoro_learn_reason`` without the Kokoro network or voice tables (`scripts/setup.sh
--train`).
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from multiprocessing import get_context
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

STREAM = 8  # the generator stream of the neural voice's clips: [seed, STREAM, round]
REPEATS = 10  # joe's rounds (3 before session 20): ten teaching draws; with ADAPT_TEST 1 000 adaptation clips
ADAPT_TEST = 10  # joe's adaptation test clips per keyword and round (3 before session 20)
KOKORO_STREAM = 9  # a Kokoro voice's clips: [seed, KOKORO_STREAM, its index in kokoro.TABLES]
DRAWS = 3  # teaching draws per Kokoro voice (one before session 22; 30 new-word test clips a draw)


def keys(shots: int = 5, tag: str = "_neural_voice") -> tuple[str, ...]:
    """The figure names (module docstring); `tag` ``_kokoro`` for the Kokoro voices' figures."""
    names = [f"new_word_acc_{shots}shot{tag}", f"new_word_acc_1shot{tag}", f"base_acc_drop{tag}"]
    return (*names, *(k + "_tts" for k in names), f"adapt_acc_before{tag}", f"adapt_acc_after{tag}")


def _voice_round(model: str | None, rng: np.random.Generator, voice: str, say_speech: Callable, tag: str,
                 words: tuple[str, ...], shots: int, test_per_word: int, base_per_keyword: int, unknown: int,
                 adapt_test_per_keyword: int, spoken: dict[str, list[np.ndarray]],
                 front: tuple[float, ...]) -> tuple[dict[str, float], dict[str, int], dict[str, int]]:
    """One round of one voice teaching its own device: (figures, labels of wrong new-word answers,
    clip counts). The figures' names end in `tag` (`keys`, the diagnostics, ``new@ε``/``drop@ε``)."""
    from akida_edge.apps.kws.app import KEYWORDS, Spotter
    from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
    from akida_edge.apps.kws.known_words import clip

    def say(word: str) -> np.ndarray:
        return clip(rng, voice, word, say=say_speech)

    base = Spotter(model, learned=False)
    fig: dict[str, float] = {}
    errors: dict[str, int] = {}
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
                fig[f"new_word_acc_{n_shots}shot{tag}{suffix}"] = _accuracy(spotter, new_test)
                if n_shots == shots:
                    fig[f"base_acc_drop{tag}{suffix}"] = before - _accuracy(spotter, base_test)
                if n_shots == shots and not suffix:
                    only, area = _diagnose(spotter.learned, words, new_test, base_test)
                    fig[f"new_word_learned_only_acc{tag}"] = only
                    fig[f"new_word_match_auc{tag}"] = area
                    for got, (want, _) in zip(_labels(spotter, new_test), new_test, strict=True):
                        if got != want:
                            errors[got] = errors.get(got, 0) + 1
                    for eps in front:
                        spotter.learned.false_accept = eps
                        fig[f"new@{eps}"] = _accuracy(spotter, new_test)
                        fig[f"drop@{eps}"] = before - _accuracy(spotter, base_test)
    learn_clips = {k: [say(k) for _ in range(shots)] for k in KEYWORDS}
    adapt_test = [(k, say(k)) for k in KEYWORDS for _ in range(adapt_test_per_keyword)]
    for key, value in zip(("adapt_acc_before", "adapt_acc_after", "adapt_learned_only_acc"),
                          adaptation(model, base, learn_clips, adapt_test), strict=True):
        fig[key + tag] = value
    return fig, errors, {"new_word": len(new_test), "base": len(base_test), "adapt": len(adapt_test)}


def _summary(rounds: list[dict[str, float]], errors: list[dict[str, int]], tag: str, shots: int,
             front: tuple[float, ...]) -> dict[str, Any]:
    """Means over the rounds of `_voice_round`'s figures, the false-accept curves and the error counts."""
    def mean(key: str) -> float | None:
        values = [r[key] for r in rounds if key in r]
        return round(float(np.mean(values)), 4) if values else None

    diagnostics = (f"new_word_learned_only_acc{tag}", f"new_word_match_auc{tag}",
                   f"adapt_learned_only_acc{tag}")
    out: dict[str, Any] = {k: mean(k) for k in (*keys(shots, tag), *diagnostics)}
    out[f"new_word_acc_{shots}shot{tag}_by_false_accept"] = {str(e): mean(f"new@{e}") for e in front}
    out[f"base_acc_drop{tag}_by_false_accept"] = {str(e): mean(f"drop@{e}") for e in front}
    total: dict[str, int] = {}
    for e in errors:
        for label, n in e.items():
            total[label] = total.get(label, 0) + n
    out[f"new_word_errors{tag}"] = dict(sorted(total.items()))
    return out


def _round_job(args: tuple) -> tuple[dict[str, float], dict[str, int], dict[str, int]]:
    """One voice's round (`_voice_round`) in a forked worker, with its own synthesizer session (not
    the parent's): `synth` names the module (``neural_voice``, ``kokoro``), and the clips come from
    the stream [seed, `stream`, `index`]."""
    model, synth, voice, tag, stream, index, params = args
    module = importlib.import_module(f"akida_edge.apps.kws.{synth}")
    module.load.cache_clear()
    rng = np.random.default_rng([params["seed"], stream, index])
    return _voice_round(model, rng, voice, module.synthesize, tag,
                        **{k: v for k, v in params.items() if k != "seed"})


def _params(seed: int, words: tuple[str, ...], shots: int, test_per_word: int, base_per_keyword: int,
            unknown: int, adapt_test_per_keyword: int, tts: int | None,
            front: tuple[float, ...]) -> dict[str, Any]:
    """`_round_job`'s settings of a voice's rounds, with the words' `tts` enrollment clips (default
    `enroll.CLIPS`) made once for all of them."""
    from akida_edge.apps.kws import enroll

    tts = enroll.CLIPS if tts is None else tts
    return {"seed": seed, "words": words, "shots": shots, "test_per_word": test_per_word,
            "base_per_keyword": base_per_keyword, "unknown": unknown,
            "adapt_test_per_keyword": adapt_test_per_keyword,
            "spoken": {w: enroll.spoken_clips(w, tts) for w in words}, "front": front}


def _run_rounds(jobs: list[tuple], workers: int, progress: IO[str] | None,
                what: str) -> list[tuple[dict[str, float], dict[str, int], dict[str, int]]]:
    """`_round_job` of each of `jobs` on `workers` forked processes, in order; a progress line per job."""
    results = []
    with get_context("fork").Pool(max(1, min(workers, len(jobs)))) as pool:
        for done, result in enumerate(pool.imap(_round_job, jobs), 1):
            results.append(result)
            if progress:
                print(f"bench learn: {what} {done}/{len(jobs)}", file=progress, flush=True)
    return results


def neural_voice_figures(progress: IO[str] | None = None, words: tuple[str, ...] = NEW_WORDS, shots: int = 5,
                         repeats: int = REPEATS, test_per_word: int = 10, base_per_keyword: int = 2,
                         unknown: int = 10, adapt_test_per_keyword: int = ADAPT_TEST, seed: int = KWS_SEED,
                         tts: int | None = None, model: str | None = None,
                         front: tuple[float, ...] = FRONT_FALSE_ACCEPT, workers: int = 2) -> dict[str, Any]:
    """The figures of the module docstring for Piper's joe (tag ``_neural_voice``); the rounds run on
    `workers` processes (round r's clips come from its own stream, whichever process runs it)."""
    from akida_edge.apps.kws import neural_voice

    reason = neural_voice.missing()
    if reason is not None:
        return {**dict.fromkeys(keys(shots)), "neural_voice_reason": reason}
    if progress:
        print(f"bench learn: new words and adaptation on the neural voice ({repeats} rounds)", file=progress,
              flush=True)
    params = _params(seed, words, shots, test_per_word, base_per_keyword, unknown, adapt_test_per_keyword,
                     tts, front)
    jobs = [(model, "neural_voice", neural_voice.VOICE, "_neural_voice", STREAM, r, params)
            for r in range(repeats)]
    results = _run_rounds(jobs, workers, progress, "neural voice round")
    out = _summary([r[0] for r in results], [r[1] for r in results], "_neural_voice", shots, front)
    counts = results[0][2] if results else {}
    out.update({"neural_voice": neural_voice.VOICE, "neural_voice_rounds": repeats,
                "neural_voice_new_word_test_clips": counts.get("new_word", 0) * repeats,
                "neural_voice_base_test_clips": counts.get("base", 0) * repeats,
                "neural_voice_adapt_test_clips": counts.get("adapt", 0) * repeats})
    return out


def draw_seed(draw: int) -> int:
    """The seed of a Kokoro voice's teaching draw `draw` ≥ 1 (draw 0 uses the suite's seed)."""
    return 100 + draw


def kokoro_figures(progress: IO[str] | None = None, voices: tuple[str, ...] | None = None,
                   words: tuple[str, ...] = NEW_WORDS, shots: int = 5, test_per_word: int = 10,
                   base_per_keyword: int = 2, unknown: int = 10, adapt_test_per_keyword: int = 3,
                   seed: int = KWS_SEED, tts: int | None = None, model: str | None = None,
                   front: tuple[float, ...] = FRONT_FALSE_ACCEPT, workers: int = 2,
                   accented: bool = False, draws: int | None = None) -> dict[str, Any]:
    """The ``_kokoro`` figures (module docstring): each of `voices` (default the six
    `kokoro.HELD_OUT_VOICES`, never trained on) teaches its own device `draws` times (default
    `DRAWS`), as joe does in a round; means over the voices and draws, and the 5-shot new-word
    and adaptation figures per voice (means over its draws). Draw 0 takes its clips from the stream
    [seed, `KOKORO_STREAM`, the voice's index], draw d > 0 from [`draw_seed(d)`, ...]: the draws
    session 21 measured by hand (seeds 101, 102). The rounds run on `workers` processes.
    `accented`: the ``_kokoro_accented`` figures, by default of the three
    `kokoro.ACCENTED_HELD_OUT` voices. Null with ``kokoro_learn_reason``
    without the Kokoro network or tables."""
    from akida_edge.apps.kws import kokoro

    tag = "_kokoro_accented" if accented else "_kokoro"
    reason = kokoro.missing()
    if reason is not None:
        return {**dict.fromkeys(keys(shots, tag)), "kokoro_learn_reason": reason}
    default = kokoro.ACCENTED_HELD_OUT if accented else kokoro.HELD_OUT_VOICES
    voices = tuple(default if voices is None else voices)
    draws = DRAWS if draws is None else draws
    if draws < 1:
        raise ValueError(f"draws {draws}: must be at least 1")
    if progress:
        print(f"bench learn: new words and adaptation on {len(voices)} {'accented ' if accented else ''}"
              f"Kokoro voices ({draws} teaching draw{'s' if draws > 1 else ''} each)", file=progress,
              flush=True)
    params = _params(seed, words, shots, test_per_word, base_per_keyword, unknown, adapt_test_per_keyword,
                     tts, front)
    rounds = [(name, d) for d in range(draws) for name in voices]
    jobs = [(model, "kokoro", f"{kokoro.PREFIX}+{name}", tag, KOKORO_STREAM, list(kokoro.TABLES).index(name),
             {**params, "seed": seed if d == 0 else draw_seed(d)}) for name, d in rounds]
    results = _run_rounds(jobs, workers, progress, "Kokoro voice round")
    out = _summary([r[0] for r in results], [r[1] for r in results], tag, shots, front)
    for key in (f"new_word_acc_{shots}shot{tag}", f"adapt_acc_after{tag}"):
        per_round = [(v, r[0][key]) for (v, _), r in zip(rounds, results, strict=True)]
        out[key + "_by_voice"] = {name: round(float(np.mean([x for v, x in per_round if v == name])), 3)
                                  for name in voices}
    counts = results[0][2] if results else {}
    name = tag[1:]
    out.update({f"{name}_learn_voices": list(voices), f"{name}_learn_draws": draws,
                f"{name}_new_word_test_clips": counts.get("new_word", 0) * len(rounds),
                f"{name}_base_test_clips": counts.get("base", 0) * len(rounds),
                f"{name}_adapt_test_clips": counts.get("adapt", 0) * len(rounds)})
    return out
