"""Pieces of the KWS data generator that need no espeak-ng: noises, mixing, placement, voice splits."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws import noise, synth
from akida_edge.apps.kws.dataset import pick_voice
from akida_edge.apps.kws.voices import HELD_OUT_LANGUAGES, HELD_OUT_VARIANT_GROUPS, Voice, split_voices

pytestmark = pytest.mark.unit


def band_power(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / noise.SAMPLE_RATE_HZ)
    return float(spec[(f >= lo_hz) & (f < hi_hz)].mean())


@pytest.mark.parametrize("kind", noise.KINDS)
def test_noises_are_unit_rms_and_seeded(kind, rng):
    babble = np.sin(np.arange(48000) * 0.05) * rng.uniform(0.5, 1, 48000)
    seed = int(rng.integers(1 << 30))
    a = noise.generate(kind, 16000, np.random.default_rng(seed), babble)
    b = noise.generate(kind, 16000, np.random.default_rng(seed), babble)
    assert a.shape == (16000,) and a.dtype == np.float32
    np.testing.assert_allclose(np.sqrt(np.mean(a.astype(np.float64) ** 2)), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(a, b)


def test_noise_colours_have_their_slopes(rng):
    white, pink, brown = (noise.generate(k, 64000, rng) for k in ("white", "pink", "brown"))
    # per-Hz power drops by ~2^octaves for pink and ~4^octaves for brown over 5 octaves (200 Hz -> 6.4 kHz)
    ratio = {k: band_power(x, 200, 400) / band_power(x, 3200, 6400)
             for k, x in (("white", white), ("pink", pink), ("brown", brown))}
    assert 0.5 < ratio["white"] < 2 and 8 < ratio["pink"] < 32 and ratio["brown"] > 100


@pytest.mark.parametrize("snr_db", [30.0, 10.0, 0.0, -5.0])
def test_mix_at_snr_hits_the_ratio(snr_db, rng):
    speech = np.zeros(16000, np.float32)
    speech[4000:9000] = rng.standard_normal(5000) * 0.3
    n = noise.generate("pink", 16000, rng)
    mixed = noise.mix_at_snr(speech, n, snr_db, slice(4000, 9000))
    added = mixed - speech
    p_speech = np.mean(speech[4000:9000].astype(np.float64) ** 2)
    measured = 10 * np.log10(p_speech / np.mean(added.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr_db, abs=1e-3)


def test_fit_shifts_short_speech_and_keeps_the_loudest_second(rng):
    x = rng.standard_normal(5000).astype(np.float32)
    clip, onset = synth.fit(x, 16000, rng)
    assert clip.shape == (16000,) and 0 <= onset <= 11000
    np.testing.assert_array_equal(clip[onset: onset + 5000], x)
    assert not clip[:onset].any() and not clip[onset + 5000:].any()
    long = np.zeros(30000, np.float32)
    long[20000:22000] = 1.0  # the loud part must survive the crop
    clip, _ = synth.fit(long, 16000, rng)
    assert clip.sum() == 2000.0
    np.testing.assert_array_equal(synth.trim(np.array([0, 0.001, 0.5, -1, 0.2, 0.001, 0], np.float32)),
                                  np.array([0.5, -1, 0.2], np.float32))


def test_random_speech_is_seeded():
    a = synth.random_speech(np.random.default_rng(3), "en-us+m1", "yes")
    b = synth.random_speech(np.random.default_rng(3), "en-us+m1", "yes")
    assert a == b and a.text.startswith("yes") and 110 <= a.speed_wpm < 260


def test_voice_split_by_voice_and_family():
    langs = ["en-us", "en-gb", "de", "fr-fr", "es", *HELD_OUT_LANGUAGES[:2]]
    variants = ["m1", "m2", "f1", "f2", "croak", "klatt", "klatt2", "iven", "steph3"]
    s = split_voices(langs, variants, seed=5)
    assert s == split_voices(langs, variants, seed=5)
    names = {k: {v.name for v in vs} for k, vs in s.items()}
    assert sum(len(v) for v in names.values()) == len(set().union(*names.values()))
    for v in s["cross_family"]:
        assert v.language in HELD_OUT_LANGUAGES and v.variant_group in HELD_OUT_VARIANT_GROUPS
    for split in ("train", "validation", "test"):
        for v in s[split]:
            assert v.language not in HELD_OUT_LANGUAGES and v.variant_group not in HELD_OUT_VARIANT_GROUPS
    n_seen = 5 * 5  # languages × variants with no held-out part
    espeak_train = [v for v in s["train"] if synth.engine(v.name) == "espeak-ng"]
    assert len(s["cross_family"]) == 2 * 4 and len(espeak_train) == round(0.8 * n_seen)
    assert s["train"] != split_voices(langs, variants, seed=6)["train"]
    # the second synthesizer trains; the third is held out whole, in its own split only
    assert {v.name for v in s["train"]} - {v.name for v in espeak_train} == {
        f"flite+{v}" for v in synth.FLITE_VOICES}
    assert [v.name for v in s["other_synth"]] == [f"festival+{v}" for v in synth.FESTIVAL_VOICES]
    for split in ("validation", "test", "cross_family"):
        assert all(synth.engine(v.name) == "espeak-ng" for v in s[split])


def test_engine_of_a_voice_name():
    assert synth.engine("en-us+f3") == "espeak-ng" and synth.engine("en-gb-x-rp") == "espeak-ng"
    assert synth.engine("flite+slt") == "flite" and synth.engine("festival+ked_diphone") == "festival"


def test_flite_voices_get_their_share_of_a_mixed_list():
    mixed = [Voice("en-us", f"m{i}") for i in range(1, 8)] + [Voice("flite", "slt"), Voice("flite", "awb")]
    n, share = 4000, 0.3
    names = [pick_voice(np.random.default_rng([11, i]), mixed, share) for i in range(n)]
    flite = sum(synth.engine(v) == "flite" for v in names)
    assert abs(flite - share * n) < 4 * np.sqrt(n * share * (1 - share))  # vs 2/9 if drawn uniformly
    assert {v for v in names if synth.engine(v) == "flite"} == {"flite+slt", "flite+awb"}
    only_espeak = mixed[:7]
    assert {pick_voice(np.random.default_rng(i), only_espeak, 0.9) for i in range(50)} <= {
        v.name for v in only_espeak}
