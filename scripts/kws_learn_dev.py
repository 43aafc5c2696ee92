"""Choose keyword-learning settings on VALIDATION voices and dev words (issue #5), never on the bench's.

Runs the ``learn`` bench's new-word protocol (`bench/_learn_kws.kws_figures`: five learners, each
teaching three words from 5 and from 1 clips of its voice, tested on eight other voices; the base
keywords before and after) with the data set's *validation* voices instead of its test voices, and
words of `vocabulary.DEV_WORDS` (never trained on) instead of backward/follow/forward, over
`--triples` seeded triples of them. `--set NAME=VALUE` overrides a constant of `apps/kws/learn.py`
(e.g. ``--set VOICE_WARPS=()``) to compare settings in one command. ``--tts N`` also learns each
new word from N espeak-ng clips of its spelling by N *training* voices (text-to-speech enrollment,
`apps/kws/enroll.py`, docs/kws-learning.md §12). Prints one JSON object.

    python scripts/kws_learn_dev.py [--triples 3] [--set NAME=VALUE ...] [--model FILE.aem] [--tts N]

One thread, minutes (espeak-ng synthesizes every clip). The validation voices are also those of the
known-word calibration set (`known_words.py`), so these figures are a little optimistic; they are
for comparing settings, the bench's figures are the ones to report.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time

import numpy as np

from akida_edge.apps.kws import learn
from akida_edge.apps.kws.vocabulary import DEV_WORDS
from akida_edge.bench import _learn_kws
from akida_edge.bench._learn_kws import kws_figures

KEYS = ("new_word_acc_5shot", "new_word_acc_1shot", "base_acc_drop", "new_word_acc_5shot_same_voice",
        "new_word_learned_only_acc", "new_word_match_auc")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--triples", type=int, default=3, help="dev-word triples (default 3)")
    ap.add_argument("--seed", type=int, default=7, help="which triples (default 7)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a constant of apps/kws/learn.py (a Python literal)")
    ap.add_argument("--model", help="a KWS model other than the shipped one")
    ap.add_argument("--tts", type=int, default=0, metavar="N",
                    help="also learn each new word from N synthesized clips of it by training voices")
    args = ap.parse_args(argv)
    if args.tts:
        _learn_kws._learn = _with_tts(_learn_kws._learn, args.tts)
    for item in args.set:
        name, _, value = item.partition("=")
        if not hasattr(learn, name):
            ap.error(f"--set {item}: apps/kws/learn.py has no {name}")
        try:
            setattr(learn, name, ast.literal_eval(value))
        except (ValueError, SyntaxError):
            ap.error(f"--set {item}: {value!r} is not a Python literal; e.g. --set NEURONS_PER_CLASS=16")
    rng = np.random.default_rng(args.seed)
    runs, t0 = [], time.monotonic()
    for i in range(args.triples):
        words = tuple(str(w) for w in rng.choice(DEV_WORDS, 3, replace=False))
        # base_more_per_keyword=0: the base clips of every dev figure on record (data/kws-s14/prereg-s14.md)
        fig = kws_figures(None, words=words, adapt_voices=0, front=(), model=args.model,
                          split_name="validation", base_more_per_keyword=0)
        runs.append({k: fig[k] for k in KEYS})
        print(f"kws_learn_dev: {i + 1}/{args.triples} {words}: "
              + ", ".join(f"{k} {fig[k]}" for k in KEYS), file=sys.stderr, flush=True)
    out = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in KEYS}
    out.update(settings=args.set, tts=args.tts, triples=args.triples, seconds=round(time.monotonic() - t0))
    print(json.dumps(out))
    return 0


def _with_tts(learn_clips, n: int):
    """`learn_clips` (the bench's `_learn`) that adds `enroll.spoken_clips(word, n)` to a new word's
    clips, as ``kws learn --synthesize N`` does (the same clips for every learner)."""
    from akida_edge.apps.kws.enroll import spoken_clips
    from akida_edge.apps.kws.labels import KEYWORDS

    made: dict[str, list[np.ndarray]] = {}

    def learn_with_tts(spotter, word: str, clips: list[np.ndarray]) -> None:
        if word not in KEYWORDS and word not in made:
            made[word] = spoken_clips(word, n)
        learn_clips(spotter, word, list(clips) + made.get(word, []))

    return learn_with_tts


if __name__ == "__main__":
    raise SystemExit(main())
