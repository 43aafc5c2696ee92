"""The engine benchmark's ONNX baseline computes the same network (checked where it is exact)."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.bench import engine as B
from akida_edge.engine import execute
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model

pytestmark = pytest.mark.unit
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("kind", [L.Convolutional, L.SeparableConvolutional])
def test_onnx_export_matches_raw_potentials(rng, kind):
    """A last layer without activation gives p − T: the float graph must give the same numbers
    (padding split, stride and weight layouts of the exporter)."""
    m = Model([L.InputData(input_shape=(7, 6, 3), input_bits=4),
               kind(kernel_size=(3, 4), kernel_stride=(2, 2), padding="same", filters=5, weights_bits=4,
                    activation=False)])
    layer = m.layers[1]
    for name, value in layer.variables.items():
        if name.startswith("weights"):
            layer.set_variable(name, rng.integers(-7, 8, size=value.shape))
    layer.set_variable("threshold", rng.integers(-20, 20, size=5))
    x = rng.integers(0, 16, size=(2, 7, 6, 3))
    y = execute.forward(m, x)
    sess = B.onnx_session(m)
    (z,) = sess.run(None, {"x": x.astype(np.float32).transpose(0, 3, 1, 2).copy()})
    np.testing.assert_array_equal(z.transpose(0, 2, 3, 1), y.astype(np.float32))


def test_calibration_gives_the_target_activity(rng):
    from akida_edge.engine import zoo

    model = zoo.dscnn_kws(rng, classes=12)
    B.calibrate(model, B.logmel_like(rng, 16))
    execute.forward(model, B.logmel_like(rng, 16))
    for layer in model.statistics.layers[1:-1]:
        density = layer.output_events / (16 * layer.output_size)
        assert 0.05 < density < 0.6, (layer.name, density)
