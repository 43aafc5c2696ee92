"""Gesture segmentation (`apps/vision/segment.py`) on synthetic probability sequences."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.vision.segment import Segmenter, SegmentParams

pytestmark = pytest.mark.unit

CLASSES = ("swipe_left", "swipe_right", "circle_cw", "_background_")
IGNORE = ("_background_", "")


def row(label: str, p: float, classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    """`p` on `label`, the rest spread evenly over the other classes."""
    out = np.full(len(classes), (1 - p) / (len(classes) - 1))
    out[classes.index(label)] = p
    return out


def run(seq: list[tuple[str, float]], params: SegmentParams, classes=CLASSES) -> list:
    seg = Segmenter(classes, IGNORE, params)
    t = params.window_ms + params.hop_ms * np.arange(len(seq))
    return seg.run(t, np.stack([row(lab, p, classes) for lab, p in seq]))


def test_one_gesture_seen_by_many_windows_is_one_detection_at_its_onset():
    params = SegmentParams(smooth=1, threshold=0.6)
    seq = [("_background_", 0.9)] * 4 + [("swipe_left", 0.7), ("swipe_left", 0.95), ("swipe_left", 0.8),
                                        ("swipe_left", 0.65)] + [("_background_", 0.9)] * 4
    found = run(seq, params)
    assert [g.label for g in found] == ["swipe_left"]
    t_onset = params.window_ms + 4 * params.hop_ms
    assert found[0].t_end_ms == pytest.approx(t_onset)
    assert found[0].t_start_ms == pytest.approx(t_onset - params.window_ms)
    assert found[0].score == pytest.approx(0.7)


def test_background_and_low_scores_are_never_reported():
    params = SegmentParams(smooth=1, threshold=0.6)
    seq = [("_background_", 0.99)] * 5 + [("circle_cw", 0.59)] * 5
    assert run(seq, params) == []


def test_hysteresis_holds_a_label_through_a_dip_but_a_release_allows_a_repeat():
    params = SegmentParams(smooth=1, threshold=0.6, release_ratio=0.5, refractory_ms=0.0)
    dip = 0.5 * params.threshold + 0.05  # above the release level: still the same gesture
    seq = [("swipe_right", 0.9), ("swipe_right", dip), ("swipe_right", 0.9)]
    assert len(run(seq, params)) == 1
    gone = 0.5 * params.threshold - 0.05  # below it: the next confident window is a new gesture
    seq = [("swipe_right", 0.9), ("swipe_right", gone), ("swipe_right", 0.9)]
    assert len(run(seq, params)) == 2


def test_refractory_period_suppresses_a_second_label_right_after_a_gesture():
    params = SegmentParams(smooth=1, threshold=0.6, refractory_ms=300.0)
    seq = [("swipe_left", 0.9), ("swipe_right", 0.9), ("_background_", 0.9), ("_background_", 0.9),
           ("swipe_right", 0.9)]
    found = run(seq, params)
    assert [g.label for g in found] == ["swipe_left", "swipe_right"]
    assert found[1].t_end_ms - found[0].t_end_ms >= params.refractory_ms


def test_smoothing_rejects_a_one_window_flicker_and_reports_the_centred_time():
    params = SegmentParams(smooth=3, threshold=0.6)
    flicker = [("_background_", 0.9)] * 3 + [("circle_cw", 0.9)] + [("_background_", 0.9)] * 3
    assert run(flicker, params) == []
    steady = [("_background_", 0.98)] * 3 + [("circle_cw", 0.98)] * 4
    found = run(steady, params)
    assert [g.label for g in found] == ["circle_cw"]
    # the 3-row mean first exceeds the threshold with k gesture rows among the last 3
    bg = (1 - 0.98) / (len(CLASSES) - 1)
    k = next(k for k in (1, 2, 3) if (k * 0.98 + (3 - k) * bg) / 3 >= params.threshold)
    t_newest = params.window_ms + (3 + k - 1) * params.hop_ms
    assert found[0].t_end_ms == pytest.approx(t_newest - params.hop_ms)
    assert found[0].score == pytest.approx((k * 0.98 + (3 - k) * bg) / 3)


def test_forgotten_class_is_ignored_and_classes_can_grow(rng):
    classes = CLASSES + ("",)
    seg = Segmenter(classes, IGNORE, SegmentParams(smooth=1))
    assert seg.push(900.0, row("", 0.99, classes)) == []
    grown = classes + ("wave",)
    seg.set_classes(grown)
    found = seg.push(1000.0, row("wave", 0.9, grown))
    assert [g.label for g in found] == ["wave"]
    with pytest.raises(ValueError, match=f"{len(grown)} classes"):
        seg.push(1100.0, rng.random(3))


@pytest.mark.parametrize("bad", [{"threshold": 0.0}, {"smooth": 0}, {"hop_ms": 900.0},
                                 {"release_ratio": 1.5}, {"refractory_ms": -1.0}])
def test_bad_params_are_refused_with_the_key(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SegmentParams(**bad)


def test_a_class_threshold_applies_to_its_label_only():
    params = SegmentParams(smooth=1, threshold=0.8)
    seg = Segmenter(CLASSES, IGNORE, params, class_thresholds={"circle_cw": 0.5})
    found = seg.run(np.array([900.0, 1000.0]), np.stack([row("swipe_left", 0.7), row("circle_cw", 0.6)]))
    assert [g.label for g in found] == ["circle_cw"]
    assert seg.threshold("circle_cw") == 0.5 and seg.threshold("swipe_left") == params.threshold
