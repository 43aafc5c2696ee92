"""The everyday sentences of the false-alarm figure (apps/kws/sentences.py): seeded, 4–14 words,
never a keyword (or an exact homophone of one) as a word of its own, and full of words that contain
or inflect one."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws import sentences as S
from akida_edge.apps.kws.labels import KEYWORDS

pytestmark = pytest.mark.unit


def _draw(rng: np.random.Generator, n: int = 2000) -> list[str]:
    return [S.sentence(rng) for _ in range(n)]


def test_the_same_seed_gives_the_same_sentences_and_another_seed_others() -> None:
    one = _draw(np.random.default_rng(1), 50)
    assert one == _draw(np.random.default_rng(1), 50)
    assert one != _draw(np.random.default_rng(2), 50)


def test_tokens_are_words_as_espeak_says_them() -> None:
    assert S.tokens("Left-handed, isn't it?") == ["left", "handed", "isn't", "it"]


def test_no_sentence_can_say_a_keyword_or_its_homophone_as_a_word(rng: np.random.Generator) -> None:
    forbidden = {*KEYWORDS, "know", "write", "rite", "wright"}
    assert forbidden <= S.FORBIDDEN
    assert not S.vocabulary() & forbidden  # every word any sentence can hold
    said = {w for text in _draw(rng) for w in S.tokens(text)}
    assert said <= S.vocabulary()
    assert not said & forbidden


def test_sentences_are_4_to_14_words_and_end_as_sentences(rng: np.random.Generator) -> None:
    texts = _draw(rng)
    lengths = [len(S.tokens(t)) for t in texts]
    assert S.MIN_WORDS == 4 and S.MAX_WORDS == 14
    assert min(lengths) >= 4 and max(lengths) <= 14
    assert min(lengths) <= 5 and max(lengths) >= 11  # the range is used, not one length
    assert all(t.endswith((".", "?")) for t in texts)
    assert len(set(texts)) > 0.9 * len(texts)


def test_words_that_contain_or_inflect_a_keyword_are_said_often(rng: np.random.Generator) -> None:
    assert set(S.KEYWORD_FORMS) <= S.vocabulary()
    assert not set(S.KEYWORD_FORMS) & S.FORBIDDEN
    sound_alikes = {"often", "yeast"}  # "off-en", "yes-t": a keyword's sound, not its letters
    for form in set(S.KEYWORD_FORMS) - sound_alikes:  # the others hold a keyword's letters: "going", "nobody"
        assert any(k in form for k in KEYWORDS), form
    texts = _draw(rng)
    assert np.mean([bool(S.keyword_forms_in(t)) for t in texts]) > 0.5
    said = {w for t in texts for w in S.keyword_forms_in(t)}
    assert len(said) > 0.9 * len(S.KEYWORD_FORMS)
