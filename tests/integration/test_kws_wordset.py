"""A tiny real word set (espeak-ng, flite, sox): shard format, splits by voice, resuming, reproducibility."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from akida_edge.apps.kws import vocabulary, wordset
from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices
from akida_edge.errors import ConfigError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("espeak-ng", "sox", "flite")),
                       reason="espeak-ng, flite and sox are needed (scripts/setup.sh installs them)"),
]
CONFIG = wordset.WordsetConfig.small()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("words")
    wordset.build(out, CONFIG, progress=None)
    return out


def test_shards_hold_every_word_with_its_clips(small):
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["complete"] and manifest["schema"] == wordset.SCHEMA
    for split in wordset.SPLITS:
        d = wordset.load_split(small, split)
        words = CONFIG.words(split)
        assert d["audio"].shape == (CONFIG.clips(split), 16000) and d["audio"].dtype == np.int16
        assert np.all(np.abs(d["audio"]).max(axis=1) > 100)
        np.testing.assert_array_equal(d["word"], np.array(words)[d["label"]])
        counts = np.bincount(d["label"], minlength=len(words))
        want = CONFIG.clips_per_word if split == "train" else CONFIG.dev_voices * CONFIG.dev_clips_per_voice
        np.testing.assert_array_equal(counts, want)
        assert manifest["splits"][split]["words"] == list(words)
    assert set(CONFIG.train_words) <= set(vocabulary.TRAIN_WORDS)


def test_train_voices_train_dev_voices_validation(small):
    split = split_voices(available_languages(), available_variants(), CONFIG.seed)
    train = set(wordset.load_split(small, "train")["voice"])
    dev = set(wordset.load_split(small, "dev")["voice"])
    assert train <= {v.name for v in split["train"]}
    assert dev <= {v.name for v in split["validation"]} and len(dev) == CONFIG.dev_voices
    held = {v.name for s in ("test", "cross_family", "other_synth") for v in split[s]}
    assert not (train | dev) & held


def test_a_shard_is_determined_by_its_index(small, tmp_path):
    voices = wordset.split_voices_of(CONFIG)
    again = wordset.make_train_shard(CONFIG, 1, voices["train"])
    with np.load(small / "train" / "shard_00001.npz") as z:
        for key in ("audio", "label", "word", "voice", "speech"):
            np.testing.assert_array_equal(again[key], z[key])


def test_resume_remakes_only_missing_shards_and_refuses_other_settings(small, tmp_path):
    out = tmp_path / "w"
    shutil.copytree(small, out)
    (out / "train" / "shard_00000.npz").unlink()
    kept = (out / "train" / "shard_00001.npz").stat().st_mtime_ns
    wordset.build(out, CONFIG, progress=None)
    assert (out / "train" / "shard_00000.npz").exists()
    assert (out / "train" / "shard_00001.npz").stat().st_mtime_ns == kept
    other = wordset.WordsetConfig.small(seed=CONFIG.seed + 1)
    with pytest.raises(ConfigError, match="--overwrite"):
        wordset.build(out, other, progress=None)


def test_repeats_must_divide_the_shards():
    with pytest.raises(ConfigError, match="repeats"):
        wordset.WordsetConfig(shard_size=9, repeats=2).check()


@pytest.mark.parametrize("part", [1, 2])
def test_a_further_set_says_its_words_on_streams_of_its_own(tmp_path, part):
    """`--more` (session 11): `vocabulary.MORE_WORDS`; `--more 2` (session 13): `MORE_WORDS_2`; no dev
    split, read back from its manifest; its shards differ from the first set's streams even for the
    same words."""
    more = wordset.WordsetConfig.more(small=True, part=part)
    assert more.stream == part
    wordset.build(tmp_path, more, progress=None)
    d = wordset.load_split(tmp_path, "train")
    words = vocabulary.MORE_WORDS if part == 1 else vocabulary.MORE_WORDS_2
    assert set(d["word"]) == set(more.train_words) and set(more.train_words) <= set(words)
    np.testing.assert_array_equal(np.bincount(d["label"]), more.clips_per_word)
    assert more.clips("dev") == 0 and not any((tmp_path / "dev").glob("*.npz"))
    assert wordset.WordsetConfig.of(tmp_path) == more
    voices = wordset.split_voices_of(more)["train"]
    first_stream = wordset.make_train_shard(replace(more, stream=0), 0, voices)
    assert not np.array_equal(first_stream["audio"], d["audio"][: more.shard_size])


def test_the_first_set_keeps_its_hash_and_a_missing_manifest_is_one_line(tmp_path):
    # `stream` 0 is left out of the hashed settings: caches made before the field existed stay valid
    assert "stream" not in wordset.WordsetConfig().settings()
    assert "stream" in wordset.WordsetConfig.more().settings()
    assert wordset.WordsetConfig.more().digest() != wordset.WordsetConfig().digest()
    assert wordset.WordsetConfig.more(part=2).digest() != wordset.WordsetConfig.more().digest()
    with pytest.raises(ConfigError, match="--more 3: no such word list"):
        wordset.WordsetConfig.more(part=3)
    with pytest.raises(ConfigError, match="manifest"):
        wordset.WordsetConfig.of(tmp_path)
