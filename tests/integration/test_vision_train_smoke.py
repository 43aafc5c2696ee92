"""The gesture training recipe end to end, small: data, float, QAT, conversion, check, report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from akida_edge.apps.vision import dataset, evaluate, train
from akida_edge.apps.vision.gesture_model import GestureModel
from akida_edge.apps.vision.labels import CLASSES
from akida_edge.engine.mapping import check

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision")
    metrics = train.run(root / "data", root / "model", small=True, progress=None)
    return root, metrics


def test_small_run_writes_a_checked_gesture_model(smoke):
    root, metrics = smoke
    out = root / "model"
    for name in ("gestures.aem", "gestures_float.pt", "REPORT.md", "confusion.png", "metrics.json"):
        assert (out / name).stat().st_size > 0
    gm = GestureModel.load(out / "gestures.aem")
    assert gm.placeholder and gm.labels == CLASSES and check(gm.model) == []
    saved = json.loads((out / "metrics.json").read_text())
    n_test = dataset.SMALL_PER_LABEL["test"] * len(CLASSES)
    assert sum(map(sum, saved["confusion"])) == n_test == saved["clips"]["test"]
    assert 0.0 <= saved["accuracy"] <= 1.0 and saved["nps"] >= len(gm.model.layers) - 1
    g = saved["gestures"]
    assert 0 < g["synaptic_ops_per_inference"] < g["dense_macs"]
    assert g["work_skipped"] == pytest.approx(1 - g["synaptic_ops_per_inference"] / g["dense_macs"])
    # the converted model's accuracy in the report is the engine's on the cached test split
    test = dataset.load_split(root / "data", "test", small=True, progress=None)
    pred = gm.logits(test["x"]).argmax(1)
    assert saved["accuracy"] == pytest.approx(float(np.mean(pred == test["y"])))
    assert "SMOKE" in (out / "REPORT.md").read_text()
    # sliding windows: every window of the streamed scenes is tallied once
    w = saved["windows"]
    assert sum(v["windows"] for v in w.values()) > len(CLASSES) - 1
    for v in w.values():
        assert v["correct"] + v["background"] + v["other"] == pytest.approx(1.0)


def test_accuracy_figures_of_a_model(smoke):
    root, _ = smoke
    figs = evaluate.accuracy_figures(None, n_per_label=1, model_path=root / "model" / "gestures.aem")
    assert figs["clips"] == len(CLASSES) and figs["placeholder"] is True
    assert 0.0 <= figs["accuracy"] <= 1.0 and figs["float_accuracy"] is not None
    # the first test clips of the cached split are the ones evaluate renders
    test = dataset.load_split(root / "data", "test", small=True, progress=None)
    first = np.arange(len(CLASSES)) * dataset.SMALL_PER_LABEL["test"]
    x, _ = dataset.make_clips(CLASSES, "test", 1, seed=0)
    assert np.array_equal(x, test["x"][first])
