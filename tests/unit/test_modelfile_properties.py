"""Property tests: any model the API accepts survives a file round trip and gets a mapping verdict."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import akida_edge as ae
from akida_edge.engine import limits, mapping, modelfile, zoo
from akida_edge.errors import MappingError, ModelError

pytestmark = pytest.mark.unit


@st.composite
def models(draw) -> ae.Model:
    m = ae.Model()
    if draw(st.booleans()):
        m.add(ae.InputConvolutional(
            input_shape=(draw(st.integers(3, 12)), draw(st.integers(3, 12)), draw(st.sampled_from([1, 3]))),
            kernel_size=draw(st.sampled_from([1, 3, 5])), filters=draw(st.integers(1, 6)),
            kernel_stride=draw(st.integers(1, 2)), weights_bits=draw(st.sampled_from([2, 4, 8])),
            act_bits=draw(st.sampled_from([1, 2, 4])), padding="same"))
    else:
        m.add(ae.InputData(input_shape=(draw(st.integers(3, 12)), draw(st.integers(3, 12)),
                                        draw(st.integers(1, 4))),
                           input_bits=draw(st.sampled_from([1, 2, 4, 8]))))
    for _ in range(draw(st.integers(0, 3))):
        h, w, _c = m.output_shape
        kind = draw(st.sampled_from(["conv", "sep", "fc"] if h > 1 else ["fc"]))
        common = {"weights_bits": draw(st.sampled_from([1, 2, 4])),
                  "act_bits": draw(st.sampled_from([1, 2, 4]))}
        if kind == "fc":
            m.add(ae.FullyConnected(units=draw(st.integers(1, 6)), **common))
            continue
        cls = ae.Convolutional if kind == "conv" else ae.SeparableConvolutional
        if kind == "sep" and common["weights_bits"] == 1:
            common["weights_bits"] = 2
        pool = draw(st.sampled_from(["none", "max", "average"]))
        kw = {"pool_type": pool}
        if pool == "max":
            if min(h, w) < 2:
                kw = {}
            else:
                kw["pool_size"] = 2
        m.add(cls(kernel_size=draw(st.sampled_from([1, 3, 5])), filters=draw(st.integers(1, 6)),
                  kernel_stride=draw(st.integers(1, 2)), **kw, **common))
    if draw(st.booleans()) and len(m.layers) > 1:
        m.add(ae.FullyConnected(units=draw(st.integers(1, 4)), weights_bits=2, activation=False))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    zoo.randomize(m, rng)
    for layer in m.layers:
        if "threshold" in layer.variables:
            n = layer.variables["threshold"].shape
            layer.set_variable("threshold", rng.integers(-(2**21), 2**21, size=n))
            layer.set_variable("act_step", rng.integers(1, 65535, size=n) / 16)
    return m


@settings(max_examples=40)
@given(models())
def test_round_trip_and_verdict(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.aem"
        model.save(str(path))
        back = ae.load_model(str(path))
    assert modelfile.model_hash(back) == modelfile.model_hash(model)
    violations = limits.check(back)
    try:
        result = mapping.plan(back)
    except MappingError as exc:
        event("does not fit")
        assert violations or "NPs" in str(exc) or "SRAM" in str(exc)
    else:
        event("fits")
        assert not violations
        assert result.np_count == sum(mapping.layer_nps(layer)[0] for layer in back.layers)


def test_strategy_builds_models_that_break_rules():
    # the property above must see both verdicts; this fixed case breaks a limit on purpose
    m = ae.Model([ae.InputData(input_shape=(6, 6, 2), input_bits=8),
                  ae.Convolutional(kernel_size=3, filters=2, weights_bits=2)])
    assert [v.parameter for v in limits.check(m)] == ["input bits"]
    with pytest.raises(ModelError):
        ae.Model([ae.InputData(input_shape=(2, 2, 1)), ae.Convolutional(kernel_size=5, padding="valid")])
