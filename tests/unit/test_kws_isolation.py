"""The isolated-command gate: energy segmentation of log-mel frames and the detections it keeps."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws import isolation as I
from akida_edge.apps.kws.app import Detection, DetectParams

pytestmark = pytest.mark.unit

QUIET_DB, LOUD_DB, BANDS = -70.0, -20.0, 40


def mel_of(spans: list[tuple[int, int]], n: int, rng: np.random.Generator) -> np.ndarray:
    """Log-mel frames (n, BANDS): noise ±2 dB around QUIET_DB, LOUD_DB in the frames [a, b)."""
    mel = QUIET_DB + rng.uniform(-2, 2, (n, BANDS))
    for a, b in spans:
        mel[a:b] = LOUD_DB + rng.uniform(-2, 2, (b - a, BANDS))
    return mel


def test_frame_energy_is_the_mean_band_power_in_db():
    mel = np.array([[-10.0, -10.0], [0.0, -np.inf]])
    assert I.frame_energy_db(mel) == pytest.approx([-10.0, 10 * np.log10(0.5)])


def test_stretches_bridge_short_pauses_and_end_at_long_ones(rng):
    gap = I.GAP_FRAMES
    spans = [(100, 130), (130 + gap, 150),  # a pause of exactly GAP_FRAMES: one stretch
             (200, 220), (220 + gap + 1, 240),  # one frame more: two stretches
             (400, 500)]
    seg = I.segment(mel_of(spans, 600, rng))
    assert list(seg.segments) == [(100, 149), (200, 219), (220 + gap + 1, 239), (400, 499)]
    assert seg.open_start is None and seg.done == 600


def test_a_recording_that_ends_in_speech_closes_its_stretch(rng):
    seg = I.segment(mel_of([(90, 110)], 110, rng))
    assert list(seg.segments) == [(90, 109)]


def test_segmentation_does_not_depend_on_how_the_frames_are_cut(rng):
    mel = mel_of([(30, 60), (64, 90), (300, 420), (700, 730)], 800, rng)
    whole = I.segment(mel)
    for _ in range(5):
        seg, i = I.Segmenter(), 0
        while i < len(mel):
            n = int(rng.integers(1, 60))
            seg.push(I.frame_energy_db(mel[i: i + n]))
            i += n
        seg.finish()
        assert list(seg.segments) == list(whole.segments)


def test_the_floor_follows_the_noise(rng):
    # the same words 30 dB louder over a 30 dB louder noise: the same stretches
    spans = [(50, 80), (150, 200)]
    mel = mel_of(spans, 300, rng)
    assert list(I.segment(mel + 30.0).segments) == list(I.segment(mel).segments) == [(50, 79), (150, 199)]


def test_digital_silence_does_not_set_the_floor(rng):
    # a file padded with zeros before two words with a pause of quiet noise between them: the pause
    # must end the first word's stretch (a floor taken from the padding would call it speech)
    mel = mel_of([(32, 46), (71, 97)], 140, rng)
    mel[:32] = -120.0
    mel[46:71] = -65.0 + rng.uniform(-2, 2, (25, BANDS))
    mel[97:] = -75.0 + rng.uniform(-2, 2, (43, BANDS))
    assert list(I.segment(mel).segments) == [(32, 45), (71, 96)]


def _det(label: str, frame: int) -> Detection:
    return Detection(label, frame * 20.0 + 10.0, 0.95)


def test_the_gate_keeps_words_said_on_their_own_and_drops_the_rest(rng):
    # a 0.5 s word, 3 s of running speech, a word 200 ms after a stretch ends (within tolerance)
    mel = mel_of([(100, 125), (300, 450), (600, 630)], 800, rng)
    dets = [_det("yes", 110), _det("no", 160), _det("go", 380), _det("up", 640)]
    gate = DetectParams(isolated_max_ms=1000.0).gate()
    kept = gate.filter(dets, mel)
    assert [d.label for d in kept] == ["yes", "up"]  # "no": silence; "go": inside 3 s of speech
    off = DetectParams(isolated_max_ms=0.0)
    assert off.gate() is None
    wider = DetectParams(isolated_max_ms=3200.0).gate()
    assert [d.label for d in wider.filter(dets, mel)] == ["yes", "go", "up"]


def test_a_live_gate_holds_a_detection_until_its_stretch_ends(rng):
    mel = mel_of([(100, 125), (300, 450)], 600, rng)
    gate = DetectParams(isolated_max_ms=1000.0).gate()
    assert gate.push_frames(mel[:110]) == []
    assert gate.offer([_det("yes", 110)]) == []  # the word is still being said
    released = gate.push_frames(mel[110:150])
    assert [d.label for d in released] == ["yes"]
    assert gate.push_frames(mel[150:320]) == []
    assert gate.offer([_det("no", 310)]) == []  # a stretch that may still end short
    assert gate.push_frames(mel[320:400]) == []  # past 1 s: it cannot qualify any more
    assert gate._held == []
    assert gate.flush() == []


def test_live_and_whole_recording_decisions_agree(rng):
    spans = [(40, 65), (120, 260), (300, 330), (380, 395), (398, 420), (600, 700)]
    mel = mel_of(spans, 720, rng)
    dets = [_det(w, f) for w, f in [("a", 50), ("b", 150), ("c", 315), ("d", 400), ("e", 540), ("f", 650)]]
    expect = DetectParams(isolated_max_ms=1000.0).gate().filter(dets, mel)
    assert [d.label for d in expect] == ["a", "c", "d"]  # "d": two words 60 ms apart are one stretch
    for _ in range(5):
        gate, got, i, pending = DetectParams(isolated_max_ms=1000.0).gate(), [], 0, list(dets)
        while i < len(mel):
            n = int(rng.integers(1, 50))
            got += gate.push_frames(mel[i: i + n])
            i += n
            # a detection is offered about 0.5-1 s after its frame, as the detector emits it
            ready = [d for d in pending if d.t_ms / 20 + 40 <= i]
            pending = [d for d in pending if d not in ready]
            got += gate.offer(ready)
        got += gate.offer(pending) + gate.flush()
        assert got == expect
