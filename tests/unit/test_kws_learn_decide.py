"""The learned-word decision (`apps.kws.learn.decide`, `p_values`): calibrated, one competition."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws.labels import CLASSES, KEYWORDS
from akida_edge.apps.kws.learn import decide, p_values

pytestmark = pytest.mark.unit

N_BASE = len(CLASSES)
UNKNOWN = CLASSES.index("_unknown_")


def base(rng: np.random.Generator, n: int, top: int, p_top: float) -> np.ndarray:
    """(n, 12) probabilities with `p_top` on class `top` and the rest spread at random."""
    rest = rng.random((n, N_BASE))
    rest[:, top] = 0.0
    p = rest / rest.sum(axis=1, keepdims=True) * (1.0 - p_top)
    p[:, top] = p_top
    return p


def test_p_values_count_the_known_matches_at_or_above(rng):
    known = np.full((2, 6), np.nan)
    known[0, :5] = rng.permutation([0.1, 0.2, 0.3, 0.4, 0.5])
    match = np.array([[0.45, 0.9], [0.05, 0.9], [0.3, 0.9], [0.9, 0.9]])
    got = p_values(match, known)
    ref = np.sort(known[0, :5])
    expected = [(1 + np.sum(ref >= m)) / (1 + ref.size) for m in match[:, 0]]
    assert np.allclose(got[:, 0], expected)
    assert got[0, 0] == pytest.approx(2 / 6) and got[3, 0] == pytest.approx(1 / 6)
    assert np.all(got[:, 1] == 1.0)  # a word without calibration never looks unusual


def test_a_word_unusually_close_wins_and_probabilities_still_sum_to_one(rng):
    known = rng.uniform(0.2, 0.6, (2, 99))  # p-value of a match above all of them: 1/100
    p = base(rng, 4, UNKNOWN, 0.6)
    match = np.array([[0.9, 0.3], [0.3, 0.3], [0.9, 0.95], [0.5, 0.5]])
    out = decide(p, match, known, ["backward", "forward"], false_accept=0.05)
    assert out.shape == (4, N_BASE + 2) and np.allclose(out.sum(axis=1), 1.0)
    assert out[0].argmax() == N_BASE and out[0, N_BASE] == pytest.approx(0.99)
    assert np.allclose(out[0, :N_BASE], p[0] * 0.01)
    assert np.allclose(out[1], np.r_[p[1], 0, 0])  # nothing unusual: the base model decides
    # equal p-values (both above every known match): the larger match wins
    assert out[2].argmax() == N_BASE + 1
    pv = p_values(match[3:], known)
    assert pv.min() > 0.05 and np.allclose(out[3, :N_BASE], p[3])


def test_a_confident_other_keyword_keeps_its_window_but_never_vetoes_its_own_learned_word(rng):
    known = rng.uniform(0.2, 0.6, (2, 99))
    down = CLASSES.index("down")
    p = base(rng, 1, down, 0.9)
    match = np.array([[0.9, 0.0]])
    kept = decide(p, match, known, ["follow", ""], false_accept=0.05, base_veto=0.7)
    assert np.allclose(kept, np.r_[p[0], 0, 0])
    weak = base(rng, 1, down, 0.5)
    assert decide(weak, match, known, ["follow", ""], base_veto=0.7)[0].argmax() == N_BASE
    # adaptation: a learned `down` adds to the base column `down`, even against the base's `up`
    up = CLASSES.index("up")
    p_up = base(rng, 1, up, 0.75)
    out = decide(p_up, np.array([[0.9, 0.0]]), known, ["down", ""], adapt_false_accept=0.1,
                 adapt_base_veto=0.8)
    assert out[0].argmax() == down and out[0, N_BASE] == 0.0 and np.isclose(out[0].sum(), 1.0)
    vetoed = decide(base(rng, 1, up, 0.85), np.array([[0.9, 0.0]]), known, ["down", ""],
                    adapt_base_veto=0.8)
    assert vetoed[0].argmax() == up


def test_forgotten_words_and_empty_inputs_change_nothing(rng):
    known = rng.uniform(0.2, 0.6, (1, 50))
    p = base(rng, 3, UNKNOWN, 0.5)
    assert np.allclose(decide(p, np.ones((3, 1)), known, [""]), np.c_[p, np.zeros(3)])
    assert decide(p[:0], np.zeros((0, 1)), known, ["x"]).shape == (0, N_BASE + 1)
    assert np.allclose(decide(p, np.zeros((3, 0)), known[:0], []), p)
    assert len(KEYWORDS) == 10


def test_the_known_word_set_ships_and_a_broken_one_is_one_line(tmp_path):
    from akida_edge.apps.kws import known_words
    from akida_edge.errors import InputDataError

    x, labels = known_words.load()
    assert x.dtype == np.uint8 and x.shape[1:] == (49, 10, 1) and len(labels) == len(x)
    assert set(labels) == {*KEYWORDS, "_unknown_"}
    assert all(labels.count(k) == known_words.PER_KEYWORD for k in KEYWORDS)
    bad = tmp_path / "known.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputDataError, match="regenerate it with python -m akida_edge.apps.kws") as exc:
        known_words.load(bad)
    assert "\n" not in str(exc.value)
    np.savez(bad, x=np.zeros((2, 49, 10, 1), np.float32), label=np.array(["yes", "no"]))
    known_words.load.cache_clear()
    with pytest.raises(InputDataError, match="other front-end settings"):  # made by another front-end
        known_words.load(bad)
    np.savez(bad, x=np.zeros((2, 49, 10, 1), np.float32), label=np.array(["yes", "no"]),
             frontend=np.array(known_words.frontend_digest()))
    known_words.load.cache_clear()
    with pytest.raises(InputDataError, match="float32"):
        known_words.load(bad)


def test_adaptation_words_compete_by_match_new_words_by_p_value(rng):
    # `yes` matches the known clips more than `no` does, so at 0.8 its p-value is larger
    known = np.stack([np.r_[np.full(95, 0.5), np.full(4, 0.85)], np.full(99, 0.3)])
    p = base(rng, 1, UNKNOWN, 0.6)
    match = np.array([[0.8, 0.7]])
    pv = p_values(match, known)
    assert pv[0, 1] < pv[0, 0] <= 0.1
    out = decide(p, match, known, ["yes", "no"], adapt_false_accept=0.1)
    assert out[0].argmax() == CLASSES.index("yes")  # the larger match, its p-value within ε
    # two new words in the same situation: the smaller p-value wins
    out = decide(p, match, known, ["alpha", "beta"], false_accept=0.1)
    assert out[0].argmax() == N_BASE + 1
