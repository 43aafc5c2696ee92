"""The word set's vocabulary keeps out the keywords, the bench's new words and their forms, the
`_unknown_` words, and homophones (apps/kws/vocabulary.py); the further lists (`MORE_WORDS`,
`MORE_WORDS_2`) and the reserved filler lists (`BENCH_FILLER_WORDS`, `VALIDATION_FILLER_WORDS`,
never trained on) too, and they hold no simple inflection of a word of any list."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict

import pytest

from akida_edge.apps.kws import vocabulary as V
from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
from akida_edge.apps.kws.labels import KEYWORDS
from bench._learn_kws import NEW_WORDS

pytestmark = pytest.mark.unit
FURTHER = ("MORE_WORDS", "MORE_WORDS_2", "BENCH_FILLER_WORDS", "VALIDATION_FILLER_WORDS")  # derived, in order
ALL = V.TRAIN_WORDS + V.DEV_WORDS + sum((getattr(V, part) for part in FURTHER), ())


def _stems(word: str) -> set[str]:
    """What `word` would be an inflection of (-s, -es, -ed, -d, -ing, -er, -ly, -ies/-ied → -y)."""
    out = set()
    for suffix, add in (("s", ""), ("es", ""), ("ed", ""), ("d", ""), ("ing", ""), ("ing", "e"), ("er", ""),
                        ("ly", ""), ("ies", "y"), ("ied", "y")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            stem = word[: -len(suffix)] + add
            out |= {stem, stem[:-1]} if len(stem) >= 3 and stem[-1] == stem[-2] else {stem}
    return out


def test_bench_words_are_the_bench_s():
    assert tuple(NEW_WORDS) == V.BENCH_WORDS


def test_no_keyword_homophone_or_bench_word_slips_in():
    banned = set(KEYWORDS) | set(V.KEYWORD_HOMOPHONES) | set(NEW_WORDS)
    assert not banned & set(ALL)
    assert not [w for w in ALL if V.excluded(w)]


@pytest.mark.parametrize("form", ["backward", "backwards", "forward", "forwards", "follow", "followed",
                                  "follows", "following", "fore", "four", "for", "hollow", "toward"])
def test_forms_of_the_bench_words_are_excluded(form):
    assert V.excluded(form)


def test_lists_are_disjoint_and_distinct():
    assert len(set(ALL)) == len(ALL)  # within and across the lists
    assert not set(ALL) & set(UNKNOWN_WORDS)  # already classes of the auxiliary head
    assert all(re.fullmatch(r"[a-z]+", w) for w in ALL)
    assert len(V.TRAIN_WORDS) >= 300 and len(V.DEV_WORDS) >= 20
    assert len(V.MORE_WORDS) == len(V.MORE_WORDS_2) == 1000
    assert len(V.BENCH_FILLER_WORDS) == len(V.VALIDATION_FILLER_WORDS) == 500


@pytest.mark.parametrize("part", FURTHER)
def test_more_words_are_no_inflection_of_another_word(part):
    more = getattr(V, part)
    others = set(ALL + tuple(UNKNOWN_WORDS) + KEYWORDS + tuple(NEW_WORDS))
    assert not {w: _stems(w) & others for w in more if _stems(w) & others}
    # nor is a word of the lists before it an inflection of one of its words (no "eye" beside "eyes")
    before = V.TRAIN_WORDS + V.DEV_WORDS + tuple(UNKNOWN_WORDS)
    before += sum((getattr(V, p) for p in FURTHER[: FURTHER.index(part)]), ())
    assert not [w for w in before if _stems(w) & set(more)]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is needed")
def test_no_two_words_sound_the_same():
    words = list(dict.fromkeys(ALL + tuple(UNKNOWN_WORDS) + KEYWORDS + tuple(NEW_WORDS)))
    out = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us"], input="\n".join(w + "." for w in words),
                         capture_output=True, text=True, check=True).stdout.split()
    assert len(out) == len(words)
    by_sound = defaultdict(list)
    for w, ipa in zip(words, out, strict=True):
        by_sound[re.sub("[ˈˌː]", "", ipa)].append(w)
    clashes = {k: v for k, v in by_sound.items() if len(v) > 1 and set(v) & set(ALL)}
    assert not clashes


def test_the_reserved_filler_words_are_no_word_set_s():
    """No word set (`wordset.py`, its further parts) trains on the reserved filler words."""
    from akida_edge.apps.kws import wordset

    reserved = set(V.BENCH_FILLER_WORDS) | set(V.VALIDATION_FILLER_WORDS)
    trained = set(wordset.WordsetConfig().train_words) | set(wordset.WordsetConfig().dev_words)
    assert not reserved & trained.union(*map(set, wordset.MORE_PARTS.values()))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is needed")
def test_a_future_derivation_skips_the_reserved_words():
    """`scripts/kws_more_words.py`: without reservation its words 2 001–3 000 are the reserved
    lists; with it (the default) the first 2 000 are unchanged and the reserved words never come."""
    pytest.importorskip("wordfreq")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from kws_more_words import derive

    plain = derive(3000, reserved=())
    assert plain == list(V.MORE_WORDS + V.MORE_WORDS_2 + V.BENCH_FILLER_WORDS + V.VALIDATION_FILLER_WORDS)
    future = derive(2100)
    assert future[:2000] == plain[:2000]
    assert len(future) == 2100 and not set(future[2000:]) & set(plain[2000:])
