"""The continuous-speech `_unknown_` windows (apps/kws/speechwindows.py) and how training weighs
them (train.fit_data, network.weighted_ce): the vocabulary holds no keyword, homophone, dev word or
bench word; a window is a 1 s cut that may reach past the speech by the edge; the new negatives
carry the stated total weight."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws import dataset, speechwindows, vocabulary
from akida_edge.apps.kws.labels import CLASSES, KEYWORDS
from akida_edge.errors import ConfigError
from bench._learn_kws import NEW_WORDS

pytestmark = pytest.mark.unit


def test_the_vocabulary_holds_no_keyword_homophone_dev_or_bench_word():
    unknown, words = speechwindows.vocabulary_words()
    pool = set(unknown) | set(words)
    banned = set(KEYWORDS) | set(vocabulary.KEYWORD_HOMOPHONES) | set(NEW_WORDS) | set(vocabulary.DEV_WORDS)
    assert not pool & banned
    assert not [w for w in pool if vocabulary.excluded(w)]  # "four" (an `_unknown_` word) sounds like "for-"
    # training words only: the `_unknown_` words and the word set's training words
    assert set(unknown) <= set(dataset.UNKNOWN_WORDS) and set(words) <= set(vocabulary.TRAIN_WORDS)
    assert len(unknown) >= len(dataset.UNKNOWN_WORDS) - 2 and len(words) == len(vocabulary.TRAIN_WORDS)


def test_utterances_draw_their_words_from_both_lists_in_the_stated_share(rng):
    config = speechwindows.WindowsConfig(unknown_share=0.5)
    unknown, words = map(set, speechwindows.vocabulary_words())
    said = [w for _ in range(400) for w in speechwindows.utterance_text(rng, config).split()]
    lengths = [len(speechwindows.utterance_text(rng, config).split()) for _ in range(200)]
    assert min(lengths) == config.words_min and max(lengths) == config.words_max
    assert set(said) <= unknown | words
    share = np.mean([w in unknown for w in said])
    assert abs(share - 0.5) < 0.05  # ~2 200 words: ±0.011 standard error (words in both lists: none)
    assert not unknown & words


@pytest.mark.parametrize("size", [4000, 16000, 40000])
def test_a_window_is_a_one_second_cut_within_the_edge(rng, size):
    x = rng.standard_normal(size).astype(np.float32)
    edge = int(0.5 * 16000)
    for _ in range(50):
        w, offset = speechwindows.cut(x, rng, 0.5)
        assert w.shape == (16000,) and -edge <= offset <= max(size - 16000 + edge, -edge)
        a, b = max(offset, 0), min(offset + 16000, size)
        np.testing.assert_array_equal(w[a - offset: b - offset], x[a:b])
        outside = np.ones(16000, bool)
        outside[a - offset: b - offset] = False
        assert not w[outside].any()


def test_settings_out_of_range_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="words_min"):
        speechwindows.WindowsConfig(words_min=5, words_max=3).check()
    with pytest.raises(ConfigError, match="unknown_share"):
        speechwindows.WindowsConfig(unknown_share=1.5).check()
    assert speechwindows.WindowsConfig().shards() == -(-speechwindows.WindowsConfig().windows // 96)


def test_weighted_cross_entropy_is_the_mean_with_unit_weights_and_weighs_otherwise(rng):
    torch = pytest.importorskip("torch")
    from akida_edge.apps.kws import network

    logits = torch.from_numpy(rng.standard_normal((10, 12)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 12, 10))
    y[3] = -100
    plain = torch.nn.CrossEntropyLoss(label_smoothing=0.05)(logits, y)
    assert torch.allclose(network.weighted_ce(logits, y, torch.ones(10)), plain)
    w = torch.from_numpy(rng.uniform(0.1, 3.0, 10).astype(np.float32))
    ce = torch.nn.functional.cross_entropy(logits, y, reduction="none", label_smoothing=0.05,
                                           ignore_index=-100)
    has = y >= 0
    assert torch.allclose(network.weighted_ce(logits, y, w), (ce * w)[has].sum() / w[has].sum())
    assert float(network.weighted_ce(logits, torch.full((10,), -100), w)) == 0.0


def _features(rng, n: int, labels=None, words=None) -> dict:
    y = np.asarray(labels if labels is not None else rng.integers(0, 12, n), np.int64)
    return {"x": rng.integers(0, 256, (n, 49, 10, 1)).astype(np.uint8), "y": y,
            "word": np.asarray(words if words is not None else [""] * n)}


def test_new_negatives_share_the_stated_weight_and_get_unknown_targets(rng):
    pytest.importorskip("torch")
    from akida_edge.apps.kws import train

    unknown = CLASSES.index("_unknown_")
    train_set = _features(rng, 120, labels=np.arange(120) % 12)
    words = {**_features(rng, 30, labels=rng.integers(0, 5, 30)), "classes": 5}
    windows = _features(rng, 50, labels=np.full(50, unknown))
    fd = train.fit_data(train_set, words, windows, words_unknown=True, negative_share=2.0)
    assert fd["x"].shape == (200, 1, 49, 10) and fd["aux_classes"] == 12 + len(train.AUX_WORDS) + 5
    np.testing.assert_array_equal(fd["negatives"], np.arange(120, 200))
    assert (fd["y"][120:] == unknown).all() and (fd["aux_y"][170:] == -100).all()
    assert (fd["aux_y"][120:150] >= 12 + len(train.AUX_WORDS)).all()
    assert (fd["weight"][:120] == 1).all()
    assert float(fd["weight"][120:].sum()) == pytest.approx(2.0 * 120 / 12)  # two classes' worth
    # the word set without `words_unknown`: no 12-class target, no weights unless windows come too
    plain = train.fit_data(train_set, words, None)
    assert plain["weight"] is None and (plain["y"][120:] == -100).all() and plain["negatives"].size == 0


def test_a_second_word_set_adds_classes_after_the_first(rng):
    """`--more-words` (session 11): the second set's words are further auxiliary classes; its clips
    are `_unknown_` with the first's under `words_unknown`, all sharing the one negative weight."""
    pytest.importorskip("torch")
    from akida_edge.apps.kws import train

    first = {**_features(rng, 30, labels=rng.integers(0, 5, 30)), "classes": 5}
    second = {**_features(rng, 20, labels=rng.integers(0, 7, 20)), "classes": 7}
    both = train.join_words(first, second)
    assert both["classes"] == 12 and len(both["y"]) == 50
    np.testing.assert_array_equal(both["y"], np.concatenate([first["y"], second["y"] + 5]))
    np.testing.assert_array_equal(both["x"][30:], second["x"])
    train_set = _features(rng, 120, labels=np.arange(120) % 12)
    fd = train.fit_data(train_set, both, None, words_unknown=True, negative_share=2.0)
    base = 12 + len(train.AUX_WORDS)
    assert fd["aux_classes"] == base + 12
    np.testing.assert_array_equal(fd["aux_y"][150:].numpy(), base + 5 + second["y"])
    assert (fd["y"][120:] == CLASSES.index("_unknown_")).all()
    assert float(fd["weight"][120:].sum()) == pytest.approx(2.0 * 120 / 12)


def test_a_word_set_of_the_same_words_in_kokoro_voices_joins_their_classes(rng):
    """`wordset.py --kokoro` (session 18): the first set's words said by Kokoro voices; `join_words`
    with `same_words` keeps their labels (no new classes), and `fit_data` marks every Kokoro clip
    (keyword or word) for `Distill.keep`."""
    pytest.importorskip("torch")
    from akida_edge.apps.kws import train

    first = {**_features(rng, 30, labels=rng.integers(0, 5, 30)), "classes": 5,
             "voice": np.array(["en-us+m1"] * 30)}
    neural = {**_features(rng, 20, labels=rng.integers(0, 5, 20)), "classes": 5,
              "voice": np.array(["kokoro+af_heart", "kokoro+bm_george"] * 10)}
    both = train.join_words(first, neural, same_words=True)
    assert both["classes"] == 5 and len(both["y"]) == 50
    np.testing.assert_array_equal(both["y"], np.concatenate([first["y"], neural["y"]]))
    assert train.join_words(first, neural)["classes"] == 10  # other words: further classes, as before
    train_set = {**_features(rng, 24, labels=np.arange(24) % 12),
                 "voice": np.array(["en-us+f2"] * 20 + ["kokoro+af_heart"] * 4)}
    fd = train.fit_data(train_set, both, None, words_unknown=True)
    np.testing.assert_array_equal(fd["kokoro"], np.r_[np.zeros(20, bool), np.ones(4, bool),
                                                      np.zeros(30, bool), np.ones(20, bool)])
    base = 12 + len(train.AUX_WORDS)
    np.testing.assert_array_equal(fd["aux_y"][54:].numpy(), base + neural["y"])  # the first set's classes


def test_a_second_word_set_needs_the_first(tmp_path):
    pytest.importorskip("torch")
    from akida_edge.apps.kws import train

    with pytest.raises(ConfigError, match="--more-words .* needs --words"):
        train.run(tmp_path / "data", tmp_path / "out", small=True, more_words=tmp_path / "more",
                  progress=None)
    assert not (tmp_path / "out").exists()  # refused before anything is built


def test_a_third_further_word_set_must_be_built_first(tmp_path):
    """Parts 1 and 2 (`wordset.MORE_PARTS`) are built by training when missing; a third (e.g. the Kokoro
    word set) is not, and its absence is one line naming the directory and the build command."""
    pytest.importorskip("torch")
    from akida_edge.apps.kws import train

    mores = [tmp_path / "more", tmp_path / "more2", tmp_path / "kokoro-words"]
    with pytest.raises(ConfigError, match="kokoro-words: no word set there .*kws.wordset --kokoro --out"):
        train.run(tmp_path / "data", tmp_path / "out", small=True, words=tmp_path / "words",
                  more_words=mores, progress=None)
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()


def test_a_kokoro_word_set_of_the_clipping_synthesis_is_refused_with_the_rebuild_command(tmp_path):
    """Kokoro word sets made before `kokoro.SYNTH_VERSION` 2 have words cut at the network's ±1; training
    refuses them up front, naming the directory and the command that makes them again."""
    pytest.importorskip("torch")
    import json
    from dataclasses import replace

    from akida_edge.apps.kws import train, wordset

    # as session 18 wrote it: no synth_version
    old = replace(wordset.WordsetConfig.kokoro(small=True, accented=True), synth_version=0)
    (tmp_path / "kokoro-words").mkdir()
    (tmp_path / "kokoro-words" / "manifest.json").write_text(json.dumps({"config": old.settings()}))
    assert "synth_version" not in old.settings()
    mores = [tmp_path / "more", tmp_path / "more2", tmp_path / "kokoro-words"]
    with pytest.raises(ConfigError, match="kokoro-words: its Kokoro clips are of synthesis version 1 .*"
                       "wordset --kokoro --overwrite --out .*kokoro-words --accented$"):
        train.run(tmp_path / "data", tmp_path / "out", small=True, words=tmp_path / "words",
                  more_words=mores, progress=None)
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan")])
def test_a_continuation_rate_must_be_positive(tmp_path, lr):
    pytest.importorskip("torch")
    from akida_edge.apps.kws import train

    with pytest.raises(ConfigError, match="--continue-lr .*: must be > 0"):
        train.run(tmp_path / "data", tmp_path / "out", small=True, continue_lr=lr, progress=None)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"distill": 1.0}, "need --float-from, --continue-epochs N"),
    ({"trunk_lr": 0.3}, "need --float-from, --continue-epochs N"),
    ({"distill": -1.0}, "weight must be >= 0"),
    ({"distill": float("nan")}, "weight must be >= 0"),
    ({"trunk_lr": 0.0}, r"in \(0, 1\]"),
    ({"trunk_lr": 1.5}, r"in \(0, 1\]"),
    ({"qat_distill": -0.5}, "--qat-distill -0.5: the weight must be >= 0"),
    ({"qat_distill": float("nan")}, "--qat-distill nan: the weight must be >= 0"),
    ({"qat_distill": 1.0, "float_from": "f.pt", "quantized_from": "q.pt"}, "--quantized-from skips"),
])
def test_distillation_and_the_trunk_rate_belong_to_a_continuation(tmp_path, kwargs, match):
    pytest.importorskip("torch")
    from akida_edge.apps.kws import train

    with pytest.raises(ConfigError, match=match):
        train.run(tmp_path / "data", tmp_path / "out", small=True, progress=None, **kwargs)
    assert not (tmp_path / "out").exists()
