"""Architectures of the public Akida 1.0 model zoo, rebuilt from their published descriptions.

They carry random (seeded) weights in the right bit widths: they serve mapping calibration, the
benchmarks and tests, not accuracy. Sources: `reference/akida-facts.md` §5 (akida_models, Apache).
"""

from __future__ import annotations

import numpy as np

from akida_edge.engine import layers as L
from akida_edge.engine.model import Model, weight_range


def randomize(model: Model, rng: np.random.Generator) -> Model:
    """Fill every layer with random weights in its bit width; thresholds 0, act_step 1."""
    for layer in model.layers:
        for name, value in layer.variables.items():
            if name.startswith("weights"):
                lo, hi = weight_range(layer.spec.weights_bits)
                layer.set_variable(name, rng.integers(lo, hi + 1, size=value.shape))
    return model


def dscnn_kws(rng: np.random.Generator | None = None, classes: int = 12, input_bits_act: int = 4,
              last_activation: bool = False) -> Model:
    """DS-CNN KWS (akida_models `kws/model_ds_cnn.py`): 49×10×1 input, 8-bit input conv 64@5×5
    stride 2, four 64-channel 3×3 separable blocks (the last with global average pooling),
    FullyConnected `classes`. Quantization 8/4/4 as in the zoo."""
    m = Model()
    m.add(L.InputConvolutional(input_shape=(49, 10, 1), kernel_size=(5, 5), filters=64,
                               padding="same", kernel_stride=(2, 2), weights_bits=8,
                               activation=True, act_bits=input_bits_act, name="conv_0"))
    for i in range(1, 5):
        m.add(L.SeparableConvolutional(kernel_size=(3, 3), filters=64, padding="same",
                                       weights_bits=4, act_bits=4,
                                       pool_type="average" if i == 4 else "none",
                                       name=f"separable_{i}"))
    m.add(L.FullyConnected(units=classes, weights_bits=4, activation=last_activation,
                           act_bits=1, name="dense_5"))
    if rng is not None:
        randomize(m, rng)
    return m
