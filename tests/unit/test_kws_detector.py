"""Detection logic (smoothing, one detection per utterance, refractory period) and the feature
normalization of the keyword app, on synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws import features as F
from akida_edge.apps.kws.app import CLASSES, Detector, DetectParams
from akida_edge.frontends.audio import logmel

pytestmark = pytest.mark.unit


def probs(label: str | None, p: float) -> np.ndarray:
    """A probability vector: `p` on `label` (or on _silence_ for None), the rest spread evenly."""
    k = CLASSES.index(label or "_silence_")
    out = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1))
    out[k] = p
    return out


def run(seq: list[tuple[str | None, float]], params: DetectParams) -> list:
    d = Detector(CLASSES, params)
    found = []
    for i, (label, p) in enumerate(seq):
        found += d.push(i * params.hop_ms, probs(label, p))
    return found + d.flush()


def test_one_utterance_is_one_detection_at_its_peak():
    params = DetectParams(smooth=1, threshold=0.6)
    seq = [(None, 0.9)] * 5 + [("stop", 0.7), ("stop", 0.95), ("stop", 0.8)] + [(None, 0.9)] * 5
    found = run(seq, params)
    assert [(f.label, f.t_ms) for f in found] == [("stop", 6 * params.hop_ms)]
    assert found[0].score == pytest.approx(0.95)


def test_refractory_period_merges_a_flicker_but_not_a_later_word():
    params = DetectParams(smooth=1, threshold=0.6, refractory_ms=800)
    gap = int(params.refractory_ms // params.hop_ms)
    flicker = [("go", 0.9), (None, 0.9), ("go", 0.9)]
    later = [(None, 0.9)] * (gap + 1) + [("yes", 0.9)]
    found = run(flicker + later, params)
    assert [f.label for f in found] == ["go", "yes"]


def test_smoothing_ignores_a_single_window_blip():
    params = DetectParams(smooth=3, threshold=0.7)
    seq = [(None, 0.9)] * 4 + [("left", 0.99)] + [(None, 0.9)] * 4
    assert run(seq, params) == []
    assert [f.label for f in run(seq, DetectParams(smooth=1, threshold=0.7))] == ["left"]


def test_unknown_and_silence_never_fire():
    params = DetectParams(smooth=1, threshold=0.5)
    assert run([("_unknown_", 0.99)] * 10 + [(None, 0.99)] * 10, params) == []


def test_normalization_removes_level_and_fixed_channel_gain(rng):
    # a level that varies in time but stays within the 70 dB range (the floor is not reached)
    x = (rng.standard_normal(16000) * (0.2 + np.hanning(16000)) * 0.1).astype(np.float32)
    base = F.clip_features(x)
    louder = F.clip_features(x * 4.0)  # +12 dB: every band moves by the same dB
    assert np.abs(base.astype(int) - louder.astype(int)).max() <= 1
    mel = logmel(x, F.PARAMS)
    tilt = np.linspace(-10, 10, F.MEL_BANDS, dtype=np.float32)  # a fixed EQ: a constant per band in dB
    np.testing.assert_allclose(F.normalize(mel + tilt).astype(int), F.normalize(mel).astype(int), atol=1)


def test_windows_of_a_recording_equal_clip_features(rng):
    x = (rng.standard_normal(3 * 16000) * 0.05).astype(np.float32)
    feats, starts = F.window_features(logmel(x, F.PARAMS), hop_frames=7)
    for s, f in zip(starts, feats, strict=True):
        a = int(s) * F.HOP_SAMPLES
        np.testing.assert_array_equal(f, F.clip_features(x[a: a + F.CLIP_SAMPLES]))


def test_cli_help_states_the_detectors_default_threshold(capsys):
    """`kws detect --help` names the default (the parser does not import the app to read it)."""
    from akida_edge.cli import main

    with pytest.raises(SystemExit):
        main(["kws", "detect", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {DetectParams().threshold:g}," in text
    assert f"(default {DetectParams().isolated_max_ms:g}," in text


def test_docs_state_the_detection_defaults():
    """docs/config.md (the kws pipeline's keys) and docs/kws.md give the `DetectParams` defaults."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    config = " ".join((docs / "config.md").read_text().split())
    d = DetectParams()
    assert f"(kws: {d.threshold:g})" in config and f"default {d.threshold:g})" in config
    for key, value in (("hop_ms", d.hop_ms), ("smooth", d.smooth), ("refractory_ms", d.refractory_ms),
                       ("isolated_max_ms", d.isolated_max_ms)):
        assert f"| `{key}` | {value:g} |" in config, key
    kws = " ".join((docs / "kws.md").read_text().split())
    assert f"at ≥ {d.threshold:g} (`--threshold`)" in kws and f"{d.refractory_ms:g} ms pass" in kws
    assert f"at most {d.isolated_max_ms:g} ms long (`--isolated-max-ms`" in kws
    assert f"averages the class probabilities of the last {d.smooth} windows" in kws
