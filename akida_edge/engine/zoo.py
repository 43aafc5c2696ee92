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


def akidanet(alpha: float = 0.5, resolution: int = 224, classes: int = 1000,
             rng: np.random.Generator | None = None) -> Model:
    """AkidaNet (akida_models `imagenet/model_akidanet.py`, Apache): VGG/MobileNet-like, 8/4/4.

    Layout (f = filters × alpha): input conv 32f 3×3 stride 2; conv 64f; conv 128f stride 2;
    conv 128f; separable 256f stride 2; separable 256f; separable 512f stride 2; 5 × separable
    512f; separable 1024f stride 2; separable 1024f with global average pooling; FullyConnected
    `classes` without activation. All kernels 3×3, 'same' padding, 15 layers.
    """
    def f(n: int) -> int:
        return int(n * alpha)

    m = Model()
    m.add(L.InputConvolutional(input_shape=(resolution, resolution, 3), kernel_size=(3, 3),
                               filters=f(32), kernel_stride=(2, 2), weights_bits=8, act_bits=4,
                               name="conv_0"))
    for i, (filters, stride) in enumerate([(64, 1), (128, 2), (128, 1)], start=1):
        m.add(L.Convolutional(kernel_size=(3, 3), filters=f(filters), kernel_stride=(stride, stride),
                              weights_bits=4, act_bits=4, name=f"conv_{i}"))
    plan = [(256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for i, (filters, stride) in enumerate(plan, start=4):
        m.add(L.SeparableConvolutional(kernel_size=(3, 3), filters=f(filters),
                                       kernel_stride=(stride, stride), weights_bits=4, act_bits=4,
                                       pool_type="average" if i == 13 else "none",
                                       name=f"separable_{i}"))
    m.add(L.FullyConnected(units=classes, weights_bits=4, activation=False, name="classifier"))
    if rng is not None:
        randomize(m, rng)
    return m


def akidanet_vww(rng: np.random.Generator | None = None) -> Model:
    """Visual Wake Words: AkidaNet 0.25 at 96×96, 2 classes (zoo: 229K params, 16 NPs)."""
    return akidanet(alpha=0.25, resolution=96, classes=2, rng=rng)


def gxnor_mnist(rng: np.random.Generator | None = None) -> Model:
    """GXNOR MNIST (akida_models `mnist/model_gxnor.py`, Apache), quantized 2/2/1.

    28×28×1 input conv 32@5×5 + max pool 2×2; conv 64@3×3 stride 2 (7×7×64); FullyConnected 512
    over the flattened 3136 values (Flatten→Dense, allowed by cnn2snn); FullyConnected 10 without
    activation. 1.6M parameters, as published."""
    m = Model()
    m.add(L.InputConvolutional(input_shape=(28, 28, 1), kernel_size=(5, 5), filters=32,
                               weights_bits=2, act_bits=1, pool_type="max", pool_size=(2, 2),
                               name="block_1"))
    m.add(L.Convolutional(kernel_size=(3, 3), filters=64, kernel_stride=(2, 2), weights_bits=2,
                          act_bits=1, name="block_2"))
    m.add(L.FullyConnected(units=512, weights_bits=2, act_bits=1, name="fc_1"))
    m.add(L.FullyConnected(units=10, weights_bits=2, activation=False, name="predictions"))
    if rng is not None:
        randomize(m, rng)
    return m


def convtiny_cwru(rng: np.random.Generator | None = None, classes: int = 10) -> Model:
    """Convtiny CWRU bearing faults (akida_models `cwru/model_convtiny.py`, Apache), 8/2/4.

    A 1024-sample vibration window as a 32×32×1 image: input conv 32@7×7 + max pool 2×2; conv
    32@7×7 + max pool 2×2; separable 512@3×3 with global average pooling; then the 10-way head.
    The Keras model ends with a separable conv on the 1×1×512 map, which Akida 1.0 does not
    support on 1×1 inputs; here it is the equivalent FullyConnected (same weights, 1×1 input)."""
    m = Model()
    m.add(L.InputConvolutional(input_shape=(32, 32, 1), kernel_size=(7, 7), filters=32,
                               weights_bits=8, act_bits=4, pool_type="max", pool_size=(2, 2),
                               name="conv_0"))
    m.add(L.Convolutional(kernel_size=(7, 7), filters=32, weights_bits=2, act_bits=4,
                          pool_type="max", pool_size=(2, 2), name="conv_1"))
    m.add(L.SeparableConvolutional(kernel_size=(3, 3), filters=512, weights_bits=2, act_bits=4,
                                   pool_type="average", name="separable_2"))
    m.add(L.FullyConnected(units=classes, weights_bits=2, activation=False, name="classifier"))
    if rng is not None:
        randomize(m, rng)
    return m


def convtiny_dvs_gesture(rng: np.random.Generator | None = None, classes: int = 10) -> Model:
    """Convtiny DVS gesture (akida_models `dvs/model_convtiny_gesture.py`, Apache), 4/4/4.

    64×64×10 binned events (InputData, 4 bits); conv 16/16/32/64 @3×3 each with max pool 2×2;
    conv 128 @3×3 with global average pooling; the 256-unit "spiking layer" with binary outputs
    (a separable conv on a 1×1 map in Keras, a FullyConnected here since Akida 1.0 separable
    layers take no 1×1 input); FullyConnected `classes`. No published NP count."""
    m = Model()
    m.add(L.InputData(input_shape=(64, 64, 10), input_bits=4, name="input"))
    for i, filters in enumerate((16, 16, 32, 64), start=1):
        m.add(L.Convolutional(kernel_size=(3, 3), filters=filters, weights_bits=4, act_bits=4,
                              pool_type="max", pool_size=(2, 2), name=f"conv_{i}"))
    m.add(L.Convolutional(kernel_size=(3, 3), filters=128, weights_bits=4, act_bits=4,
                          pool_type="average", name="conv_5"))
    m.add(L.FullyConnected(units=256, weights_bits=4, act_bits=1, name="spiking_layer"))
    m.add(L.FullyConnected(units=classes, weights_bits=4, activation=False, name="dense"))
    if rng is not None:
        randomize(m, rng)
    return m
