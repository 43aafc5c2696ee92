"""Shared checks of the engine's kernel tests: activity records, and a forced event path against
the literal reference (outputs and activity, bit for bit)."""

from __future__ import annotations

import numpy as np

from akida_edge.engine import execute
from akida_edge.engine.model import Model


def activity(model: Model) -> list[tuple[int, int, int]]:
    """(input events, synaptic ops, output events) of every layer of the last forward."""
    return [(a.input_events, a.synaptic_ops, a.output_events) for a in model.statistics.layers]


def randomize_thresholds(model: Model, rng: np.random.Generator, weight_max: int = 7) -> None:
    """Weights in [−weight_max, weight_max]; thresholds of both signs (act(0) ≠ 0 where T < 0) and
    fractional act_step, for every layer after the input."""
    for layer in model.layers[1:]:
        w = layer.variables["weights"]
        layer.set_variable("weights", rng.integers(-weight_max, weight_max + 1, size=w.shape))
        n_out = layer.variables["threshold"].size
        layer.set_variable("threshold", rng.integers(-40, 40, size=n_out))
        layer.set_variable("act_step", rng.integers(1, 200, size=n_out) / 16)


def assert_event_path_matches_reference(model: Model, x: np.ndarray) -> None:
    """`execute.forward` with the event path forced in every layer equals the reference, outputs
    and activity."""
    y_ref = execute.forward(model, x, reference=True)
    ref = activity(model)
    saved = execute.DENSE_ABOVE
    execute.DENSE_ABOVE = 2.0  # no layer's input is denser than 200 %: events everywhere
    try:
        y = execute.forward(model, x)
    finally:
        execute.DENSE_ABOVE = saved
    np.testing.assert_array_equal(y, y_ref)
    assert activity(model) == ref
