"""The word set's vocabulary keeps out the keywords, the bench's new words and their forms, the
`_unknown_` words, and homophones (apps/kws/vocabulary.py)."""

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
ALL = V.TRAIN_WORDS + V.DEV_WORDS


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
    assert len(set(V.TRAIN_WORDS)) == len(V.TRAIN_WORDS) and len(set(V.DEV_WORDS)) == len(V.DEV_WORDS)
    assert not set(V.TRAIN_WORDS) & set(V.DEV_WORDS)
    assert not set(ALL) & set(UNKNOWN_WORDS)  # already classes of the auxiliary head
    assert all(re.fullmatch(r"[a-z]+", w) for w in ALL)
    assert len(V.TRAIN_WORDS) >= 300 and len(V.DEV_WORDS) >= 20


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
