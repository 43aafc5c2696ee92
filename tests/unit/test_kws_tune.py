"""Choosing detection settings on validation scenes: the choice rule and the detector replay."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws import scenes, tune
from akida_edge.apps.kws.app import DetectParams
from akida_edge.apps.kws.labels import CLASSES

pytestmark = pytest.mark.unit


def _row(recall: float, fa_h: float, smooth: int = 3) -> dict:
    return {"hop_ms": 100.0, "smooth": smooth, "threshold": 0.9, "refractory_ms": 800.0, "recall": recall,
            "false_alarms": 0, "false_alarms_per_hour": fa_h}


def test_choose_prefers_recall_within_the_targets_else_weighs_false_alarms():
    rows = [_row(0.99, 30.0), _row(0.90, 2.0), _row(0.95, 1.5), _row(0.95, 0.5)]
    assert tune.choose(rows, max_fa_per_hour=2.0, min_recall=0.9) is rows[3]  # best recall, fewer alarms
    over = [_row(0.99, 300.0), _row(0.92, 100.0), _row(0.30, 0.0)]
    # out of reach: recall − 0.001·FA/h = 0.69, 0.82, 0.30 (the useless silent setting loses)
    assert tune.choose(over, max_fa_per_hour=2.0, min_recall=0.9) is over[1]
    assert tune.choose(over, max_fa_per_hour=2.0, min_recall=0.9, fa_cost=0.01) is over[2]


def test_sweep_scores_a_replayed_detector_like_the_benchmark(rng):
    # a scene whose probabilities say "yes" around 1.5 s and "_unknown_" elsewhere
    t = np.arange(500.0, 4000.0, 100.0)
    p = np.full((t.size, len(CLASSES)), 0.01)
    yes, unk = CLASSES.index("yes"), CLASSES.index("_unknown_")
    p[:, unk] = 0.9
    hot = (t >= 1300) & (t <= 1700)
    p[hot, unk], p[hot, yes] = 0.01, 0.95 + rng.uniform(0, 0.04, hot.sum())
    p /= p.sum(axis=1, keepdims=True)
    scene = scenes.Scene(np.zeros(64000, np.float32), [("yes", 1300.0, 1700.0)], 3600.0, "x")
    found = tune.detect(CLASSES, DetectParams(smooth=1, threshold=0.8), t, p)
    assert [d.label for d in found] == ["yes"] and 1300 <= found[0].t_ms <= 1700
    assert scenes.score(found, scene) == (1, 0)
    strict = tune.detect(CLASSES, DetectParams(smooth=1, threshold=0.999), t, p)
    assert strict == []


def test_pareto_keeps_only_settings_nothing_beats():
    rows = [_row(0.9, 10.0), _row(0.9, 5.0), _row(0.8, 5.0), _row(0.7, 1.0), _row(0.95, 50.0)]
    front = tune.pareto(rows)
    kept = [(r["recall"], r["false_alarms_per_hour"]) for r in front]
    assert kept == [(0.95, 50.0), (0.9, 5.0), (0.7, 1.0)]


def test_the_replay_applies_the_isolation_gate_given_the_frames(rng):
    t = np.arange(500.0, 4000.0, 100.0)
    p = np.full((t.size, len(CLASSES)), 0.01)
    p[:, CLASSES.index("_unknown_")] = 0.9
    hot = (t >= 1300) & (t <= 1700)
    p[hot, CLASSES.index("_unknown_")], p[hot, CLASSES.index("yes")] = 0.01, 0.95
    p /= p.sum(axis=1, keepdims=True)
    params = DetectParams(smooth=1, threshold=0.8, isolated_max_ms=1000.0)

    def mel(a: int, b: int) -> np.ndarray:  # quiet 20 ms frames, speech in [a, b)
        m = -70.0 + rng.uniform(-2, 2, (230, 40))
        m[a:b] = -20.0
        return m

    said_alone = tune.detect(CLASSES, params, t, p, mel(62, 88))  # 0.5 s of speech around 1.5 s
    assert [d.label for d in said_alone] == ["yes"]
    assert tune.detect(CLASSES, params, t, p, mel(20, 180)) == []  # inside 3.2 s of running speech
    assert tune.detect(CLASSES, params, t, p) == said_alone  # no frames: no gate
