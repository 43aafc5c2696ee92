"""The gesture model's run-time face: loading with its metadata, probabilities, binary features."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws.app import MODEL_PATH as KWS_MODEL
from akida_edge.apps.vision.gesture_model import DEFAULT_MODEL, GestureModel, softmax
from akida_edge.apps.vision.labels import BACKGROUND, CLASSES, GESTURES, NOVEL
from akida_edge.errors import InputDataError, ModelFileError

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def gm() -> GestureModel:
    return GestureModel.load()


def sparse_inputs(rng, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    x = (rng.random((n, *shape)) < 0.05) * rng.integers(1, 4, (n, *shape))
    return x.astype(np.uint8)


def test_labels_are_consistent():
    assert CLASSES[:-1] == GESTURES and CLASSES[-1] == BACKGROUND
    assert not set(NOVEL) & set(CLASSES) and len(set(CLASSES)) == len(CLASSES)


def test_shipped_model_loads_with_its_view(gm):
    assert DEFAULT_MODEL.exists()
    assert gm.labels == CLASSES
    assert tuple(gm.model.input_shape) == gm.view.tensor_shape
    assert gm.feature_layer in gm.model.layer_names


def test_probabilities_are_softmax_of_the_engine_logits(gm, rng):
    x = sparse_inputs(rng, 5, gm.view.tensor_shape)
    p = gm.probabilities(x)
    assert p.shape == (5, len(CLASSES)) and p.dtype == np.float32
    assert np.allclose(p.sum(1), 1.0, atol=1e-5)
    logits = gm.model.predict(x).reshape(5, -1)
    assert np.array_equal(p.argmax(1), logits.argmax(1))
    assert np.allclose(p, softmax(logits))


def test_features_are_binary_and_feed_the_head(gm, rng):
    x = sparse_inputs(rng, 4, gm.view.tensor_shape)
    f = gm.features(x)
    assert f.shape == (4, gm.n_features) and f.dtype == np.uint8 and set(np.unique(f)) <= {0, 1}
    # the classifier is a dense layer on these features: (f·W − θ) / act_step are the logits
    head = gm.model.get_layer(gm.model.layer_names[-1])
    w, th, step = (head.get_variable(k) for k in ("weights", "threshold", "act_step"))
    expected = (f.astype(np.int64) @ w.astype(np.int64) - th) / step.astype(np.float64)
    assert np.allclose(gm.logits(x), expected, rtol=1e-6)


def test_a_model_without_gesture_metadata_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="not a gesture model") as err:
        GestureModel.load(KWS_MODEL)
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad.aem"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError):
        GestureModel.load(bad)


def test_wrong_input_is_one_line(gm):
    with pytest.raises(InputDataError, match="uint8"):
        gm.probabilities(np.zeros((1, 32, 32, 8), np.uint8))
