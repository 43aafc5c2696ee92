"""Edge learning resumes after save/load: the learned state travels inside the model file."""

from __future__ import annotations

import numpy as np
import pytest

import akida_edge as ae
from akida_edge.errors import ModelFileError

pytestmark = pytest.mark.unit


def _learner(rng: np.random.Generator) -> tuple[ae.Model, np.ndarray, np.ndarray]:
    m = ae.Model([ae.InputData(input_shape=(1, 1, 64), input_bits=1),
                  ae.FullyConnected(units=4 * 3, weights_bits=1, activation=False)])
    m.compile(num_weights=12, num_classes=4, seed=7)
    protos = rng.random((4, 64)) < 0.25
    x = np.repeat(protos, 3, axis=0).astype(np.uint8).reshape(-1, 1, 1, 64)
    y = np.repeat(np.arange(4), 3)
    return m, x, y


def test_learning_state_survives_save_and_load(tmp_path, rng):
    m, x, y = _learner(rng)
    m.fit(x[:6], y[:6])
    path = m.save(str(tmp_path / "learner.aem"))
    m2 = ae.load_model(path)
    assert m2.learning is not None
    assert np.array_equal(m2.learning.weights, m.learning.weights)
    assert np.array_equal(m2.learning.threshold_learning, m.learning.threshold_learning)
    # resuming gives exactly what continuing in memory gives (same rng state travels)
    m.fit(x[6:], y[6:])
    m2.fit(x[6:], y[6:])
    assert np.array_equal(m2.learning.weights, m.learning.weights)
    assert np.array_equal(m2.predict(x, num_classes=4), m.predict(x, num_classes=4))


def test_corrupt_learning_state_is_a_one_line_error(tmp_path, rng):
    import zipfile

    m, x, y = _learner(rng)
    m.fit(x, y)
    path = m.save(str(tmp_path / "learner.aem"))
    broken = tmp_path / "broken.aem"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            if item.filename != "learning/weights.npy":
                dst.writestr(item, src.read(item.filename))
    with pytest.raises(ModelFileError, match="broken.aem.*learning state") as info:
        ae.load_model(str(broken))
    assert "\n" not in str(info.value)
