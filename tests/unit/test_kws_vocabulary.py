"""The word set's vocabulary keeps out the keywords, the bench's new words and their forms, the
`_unknown_` words, and homophones (apps/kws/vocabulary.py); the further lists (`MORE_WORDS`,
`MORE_WORDS_2`) too, and they hold no simple inflection of a word of any list."""

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
ALL = V.TRAIN_WORDS + V.DEV_WORDS + V.MORE_WORDS + V.MORE_WORDS_2


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
    assert len(set(ALL)) == len(ALL)  # within and across the three lists
    assert not set(ALL) & set(UNKNOWN_WORDS)  # already classes of the auxiliary head
    assert all(re.fullmatch(r"[a-z]+", w) for w in ALL)
    assert len(V.TRAIN_WORDS) >= 300 and len(V.DEV_WORDS) >= 20
    assert len(V.MORE_WORDS) == len(V.MORE_WORDS_2) == 1000


@pytest.mark.parametrize("part", ["MORE_WORDS", "MORE_WORDS_2"])
def test_more_words_are_no_inflection_of_another_word(part):
    more = getattr(V, part)
    others = set(ALL + tuple(UNKNOWN_WORDS) + KEYWORDS + tuple(NEW_WORDS))
    assert not {w: _stems(w) & others for w in more if _stems(w) & others}
    # nor is a word of the lists before it an inflection of one of its words (no "eye" beside "eyes")
    before = V.TRAIN_WORDS + V.DEV_WORDS + tuple(UNKNOWN_WORDS)
    before += V.MORE_WORDS if part == "MORE_WORDS_2" else ()
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
