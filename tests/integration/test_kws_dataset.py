"""A tiny real data set (espeak-ng, flite, festival): clip sizes, rates, splits by voice, family and
synthesizer, reproducibility."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from akida_edge.apps.kws import dataset as ds
from akida_edge.apps.kws import synth
from akida_edge.apps.kws.voices import SPLITS, Voice, variant_group
from akida_edge.errors import ConfigError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("espeak-ng", "sox", "flite", "text2wave")),
                       reason="espeak-ng, flite, festival and sox are needed (scripts/setup.sh installs "
                              "them)"),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("kws")
    assert ds.main(["--out", str(out), "--small", "--workers", "2"]) == 0
    return out


def _voice(name: str) -> Voice:
    lang, var = name.split("+")
    return Voice(lang, var)


def test_clips_are_one_second_at_16khz(small):
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["complete"] and manifest["sample_rate_hz"] == 16000
    assert manifest["classes"] == list(ds.CLASSES)
    config = ds.DatasetConfig.small()
    for split in SPLITS:
        d = ds.load_split(small, split)
        n = config.per_class[split] * len(ds.CLASSES)
        assert d["audio"].shape == (n, 16000) and d["audio"].dtype == np.int16
        np.testing.assert_array_equal(np.bincount(d["label"], minlength=12), config.per_class[split])
        speech = d["label"] < 11
        assert np.all(np.abs(d["audio"][speech]).max(axis=1) > 100)  # every spoken clip has a signal
        assert np.all(d["voice"][~speech] == "")
        for w, lab in zip(d["word"][speech], d["label"][speech], strict=True):
            assert w == ds.CLASSES[lab] or (ds.CLASSES[lab] == "_unknown_" and w in ds.UNKNOWN_WORDS)


def test_splits_are_disjoint_by_voice_and_family(small):
    manifest = json.loads((small / "manifest.json").read_text())
    voices = {s: set(manifest["splits"][s]["voices"]) for s in SPLITS}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            assert not voices[a] & voices[b], (a, b)
    seen = [_voice(v) for s in ("train", "validation", "test") for v in voices[s]]
    cross = [_voice(v) for v in voices["cross_family"]]
    assert cross and {v.language for v in cross}.isdisjoint({v.language for v in seen})
    assert {v.variant_group for v in cross}.isdisjoint({v.variant_group for v in seen})
    for split in SPLITS:  # the clips use their split's voices only
        used = set(ds.load_split(small, split)["voice"]) - {""}
        assert used and used <= voices[split]
    engines = {s: {synth.engine(v) for v in voices[s]} for s in SPLITS}
    assert engines["other_synth"] == {"festival"} and "festival" not in set().union(
        *(engines[s] for s in SPLITS if s != "other_synth"))
    assert {"espeak-ng", "flite"} == engines["train"]
    assert all(v.startswith("en") for s in ("validation", "test", "cross_family") for v in voices[s])


@pytest.mark.parametrize("voice", ["flite+kal", "flite+slt", "festival+ked_diphone"])
def test_the_other_synthesizers_say_the_word(voice, rng):
    speech = synth.random_speech(rng, voice, "stop")
    x = synth.trim(synth.synthesize(speech))
    assert x.dtype == np.float32 and 0.15 * 16000 < x.size < 2.5 * 16000
    assert np.sqrt(np.mean(x ** 2)) > 1e-3
    slower = synth.Speech(voice, "stop", speed_wpm=speech.speed_wpm // 2, pitch=50, amplitude=100,
                          word_gap=0, effects=())
    fast = synth.Speech(voice, "stop", speed_wpm=speech.speed_wpm, pitch=50, amplitude=100, word_gap=0,
                        effects=())
    assert synth.trim(synth.synthesize(slower)).size > 1.3 * synth.trim(synth.synthesize(fast)).size


def test_shards_are_reproducible_and_resumable(small):
    config = ds.DatasetConfig.small()
    path = small / "test" / "shard_00000.npz"
    before = dict(np.load(path))
    manifest = json.loads((small / "manifest.json").read_text())
    voices = [_voice(v) for v in manifest["splits"]["test"]["voices"]]
    again = ds.make_shard(config, "test", 0, voices)  # same (seed, split, index): same data
    for key in before:
        np.testing.assert_array_equal(before[key], again[key])
    reseeded = ds.make_shard(ds.DatasetConfig.small(seed=7), "test", 0, voices)
    assert not np.array_equal(reseeded["audio"], before["audio"])
    untouched = small / "train" / "shard_00001.npz"
    mtime = untouched.stat().st_mtime_ns
    path.unlink()
    ds.build(small, config, workers=1, progress=None)
    after = dict(np.load(path))
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    assert untouched.stat().st_mtime_ns == mtime  # resumed: only the missing shard was made
    assert json.loads((small / "manifest.json").read_text())["complete"] is True
    stamp = (small / "manifest.json").stat().st_mtime_ns
    ds.build(small, config, workers=1, progress=None)  # nothing to do: the shared directory is not written
    assert (small / "manifest.json").stat().st_mtime_ns == stamp
    assert not list(small.glob(".manifest.json.*"))
    other = ds.DatasetConfig.small(seed=7)
    with pytest.raises(ConfigError, match="--overwrite"):
        ds.build(small, other, progress=None)


def test_variant_groups():
    assert variant_group("klatt3") == "klatt" and variant_group("m3") == "m3"
    assert variant_group("RicishayMax2") == "RicishayMax"


def test_training_clips_reuse_each_utterance_and_held_out_clips_do_not(small):
    config = ds.DatasetConfig(per_class={"train": 2, "validation": 0, "test": 2, "cross_family": 0},
                              shard_size=24)
    manifest = json.loads((small / "manifest.json").read_text())
    for split in ("train", "test"):
        voices = [_voice(v) for v in manifest["splits"][split]["voices"]]
        d = ds.make_shard(config, split, 0, voices)
        speech = d["label"] < 11
        said = d["speech"][speech]
        repeats = config.repeats[split]
        # each utterance (its espeak-ng/sox description) serves `repeats` clips of its class
        assert len(set(said)) == int(speech.sum()) // repeats
        for text in set(said):
            same = d["label"][speech][said == text]
            assert same.size == repeats and np.all(same == same[0])
        audio = d["audio"][speech]
        assert len({a.tobytes() for a in audio}) == len(audio)  # but every clip differs (shift, noise)
    assert config.repeats["train"] > 1 and config.repeats["test"] == 1


def test_a_new_clip_count_keeps_the_shards_it_does_not_change(tmp_path):
    config = ds.DatasetConfig(per_class={"train": 2, "validation": 0, "test": 0, "cross_family": 0},
                              shard_size=12)
    ds.build(tmp_path, config, workers=1, progress=None)
    first = tmp_path / "train" / "shard_00000.npz"
    mtime = first.stat().st_mtime_ns
    grown = ds.DatasetConfig(per_class={**config.per_class, "train": 3}, shard_size=12)
    manifest = ds.build(tmp_path, grown, workers=1, progress=None)
    assert manifest["config_hash"] == grown.digest()
    assert first.stat().st_mtime_ns == mtime  # full shard below both totals: kept, not remade
    d = ds.load_split(tmp_path, "train")
    np.testing.assert_array_equal(np.bincount(d["label"], minlength=12), 3)
    voices = [_voice(v) for v in manifest["splits"]["train"]["voices"]]
    again = ds.make_shard(grown, "train", 2, voices)
    np.testing.assert_array_equal(np.load(tmp_path / "train" / "shard_00002.npz")["audio"], again["audio"])
