"""The one-call program (`engine/program.py`) against the per-layer runners and the reference.

Every model the program covers runs through it by default, so the property tests of
`test_kernels_vs_reference.py` test it; here both paths are forced on the same random models
(outputs and activity equal to the reference's), and the program's packed variables follow
`set_variable` and refuse in-place writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from test_kernels_vs_reference import _fill, _inputs, models

from akida_edge.engine import execute, program, zoo
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model

pytestmark = pytest.mark.kernel


@contextlib.contextmanager
def _program(on: bool) -> Iterator[None]:
    saved = execute.USE_PROGRAM
    execute.USE_PROGRAM = on
    execute._local.runners = {}  # compiled plans hold the choice
    try:
        yield
    finally:
        execute.USE_PROGRAM = saved
        execute._local.runners = {}


def _activity(model: Model) -> list[tuple[int, int, int]]:
    return [(a.input_events, a.synaptic_ops, a.output_events) for a in model.statistics.layers]


@settings(max_examples=40)
@given(models())
def test_program_and_runners_match_reference(case):
    model, seed, in_max, n = case
    rng = np.random.default_rng(seed)
    _fill(model, rng, in_max)
    x = _inputs(model, rng, n, in_max)
    y_ref = execute.forward(model, x, reference=True)
    ref = _activity(model)
    for on in (True, False):
        with _program(on):
            y = execute.forward(model, x)
        assert y.dtype == y_ref.dtype
        np.testing.assert_array_equal(y, y_ref)
        assert _activity(model) == ref


def test_dscnn_runs_as_one_program(rng):
    model = zoo.dscnn_kws(rng)
    steps, caches = execute._plan(model)
    assert program.compile_program(steps, caches, 1, execute._prepared) is not None


def test_program_follows_set_variable_and_refuses_in_place_writes(rng):
    model = Model([L.InputData(input_shape=(7, 6, 4), input_bits=4),
                   L.SeparableConvolutional(kernel_size=3, filters=8, weights_bits=4, act_bits=4),
                   L.FullyConnected(units=5, weights_bits=4, activation=False)])
    _fill(model, rng, 15)
    x = _inputs(model, rng, 2, 15)
    execute.forward(model, x)
    layer = model.layers[1]
    layer.set_variable("threshold", layer.get_variable("threshold") + 3)
    layer.set_variable("act_step", layer.get_variable("act_step") * 2)
    model.layers[2].set_variable("weights", -model.layers[2].get_variable("weights"))
    np.testing.assert_array_equal(execute.forward(model, x), execute.forward(model, x, reference=True))
    with pytest.raises(ValueError):
        layer.variables["threshold"][0] = 1
