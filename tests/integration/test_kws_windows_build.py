"""A tiny real speech-window set (espeak-ng, flite, sox): shard format, training voices only,
resuming, reproducibility."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from akida_edge.apps.kws import speechwindows
from akida_edge.apps.kws.labels import CLASSES
from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices
from akida_edge.errors import ConfigError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("espeak-ng", "sox", "flite")),
                       reason="espeak-ng, flite and sox are needed (scripts/setup.sh installs them)"),
]
CONFIG = speechwindows.WindowsConfig(windows=12, shard_size=8, per_utterance=3)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("windows")
    speechwindows.build(out, CONFIG, progress=None)
    return out


def test_shards_hold_unknown_windows_of_several_training_words(small):
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["complete"] and manifest["schema"] == speechwindows.SCHEMA
    d = speechwindows.load(small)
    assert d["audio"].shape == (CONFIG.windows, 16000) and d["audio"].dtype == np.int16
    assert (d["label"] == CLASSES.index("_unknown_")).all()
    assert np.all(np.abs(d["audio"]).max(axis=1) > 100)
    unknown, words = speechwindows.vocabulary_words()
    for text in d["word"]:
        said = str(text).split()
        assert CONFIG.words_min <= len(said) <= CONFIG.words_max and set(said) <= set(unknown) | set(words)
    # `per_utterance` windows per utterance: consecutive windows of a shard share its text and voice
    first = speechwindows.make_shard(CONFIG, 0, split_voices(available_languages(), available_variants(),
                                                             CONFIG.seed)["train"])
    assert first["word"][0] == first["word"][1] == first["word"][2] and first["voice"][0] == first["voice"][2]
    assert np.all(first["offset_ms"] >= -1000.0 * CONFIG.edge_s)
    assert len(set(first["offset_ms"][:3].tolist())) > 1  # independent offsets


def test_training_voices_only(small):
    split = split_voices(available_languages(), available_variants(), CONFIG.seed)
    said = set(speechwindows.load(small)["voice"])
    assert said <= {v.name for v in split["train"]}


def test_a_shard_is_determined_by_its_index_and_resume_remakes_only_missing_ones(small, tmp_path):
    voices = split_voices(available_languages(), available_variants(), CONFIG.seed)["train"]
    again = speechwindows.make_shard(CONFIG, 1, voices)
    with np.load(small / "train" / "shard_00001.npz") as z:
        assert len(z["label"]) == CONFIG.windows - CONFIG.shard_size
        for key in ("audio", "label", "word", "voice", "speech", "offset_ms"):
            np.testing.assert_array_equal(again[key], z[key])
    out = tmp_path / "w"
    shutil.copytree(small, out)
    (out / "train" / "shard_00000.npz").unlink()
    kept = (out / "train" / "shard_00001.npz").stat().st_mtime_ns
    speechwindows.build(out, CONFIG, progress=None)
    assert (out / "train" / "shard_00000.npz").exists()
    assert (out / "train" / "shard_00001.npz").stat().st_mtime_ns == kept
    with pytest.raises(ConfigError, match="--overwrite"):
        speechwindows.build(out, speechwindows.WindowsConfig(windows=12, shard_size=8, per_utterance=2),
                            progress=None)
