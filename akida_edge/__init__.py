"""akida-edge: edge sensing on a virtual BrainChip AKD1000.

The public engine API follows MetaTF's names:

>>> import akida_edge as ae
>>> m = ae.Model()
>>> m.add(ae.InputData(input_shape=(8, 8, 2), input_bits=1))
"""

from __future__ import annotations

__version__ = "0.1.0"

from akida_edge.engine.layers import (
    Convolutional,
    FullyConnected,
    InputConvolutional,
    InputData,
    SeparableConvolutional,
)
from akida_edge.engine.model import Layer, Model
from akida_edge.errors import AkidaEdgeError


def load_model(path: str, warm: bool = True) -> Model:
    """Load a model file written by `Model.save` (validated; see `engine/modelfile.py`) and, unless
    `warm=False`, compile or load its kernels once so the first inference is not slow."""
    from akida_edge.engine import execute
    from akida_edge.engine.modelfile import load_model as _load

    model = _load(path)
    if warm:
        execute.warm(model)
    return model


def AKD1000(**kwargs):  # noqa: N802 - MetaTF's name
    """The virtual AKD1000 device (see `engine/device.py`)."""
    from akida_edge.engine.device import AKD1000 as _AKD1000

    return _AKD1000(**kwargs)


__all__ = [
    "AKD1000",
    "AkidaEdgeError",
    "Convolutional",
    "FullyConnected",
    "InputConvolutional",
    "InputData",
    "Layer",
    "Model",
    "SeparableConvolutional",
    "__version__",
    "load_model",
]
