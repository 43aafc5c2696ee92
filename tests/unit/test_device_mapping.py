"""The virtual AKD1000 description, the hardware limits and the mapper's placement."""

from __future__ import annotations

import pytest

import akida_edge as ae
from akida_edge.engine import limits, mapping, zoo
from akida_edge.engine.device import AKD1000
from akida_edge.errors import MappingError

pytestmark = pytest.mark.unit


def test_akd1000_topology_matches_the_published_listing():
    d = ae.AKD1000()
    assert d.name == "AKD1000" and d.hw_version == "NSoC_v2"
    assert len(d.nodes) == 20
    dma = {(3, 1, 0), (3, 1, 1)}
    all_slots = {(n.col, n.row, i) for n in d.nodes for i in range(4)}
    assert all_slots - {np_.ident for np_ in d.nps} == dma
    assert d.np_count == 20 * 4 - len(dma) == 78
    standard = [n for n in d.nodes if n.row != 1]
    assert d.count("FNP3") == len(standard)  # NP0 of every standard node
    assert d.count("CNP2") == 3 * len(standard)
    assert d.count("FNP2") == 4 and d.count("CNP1") == 78
    assert d.sram_bytes == 8 * 2**20
    assert d.soc.power_measurement_enabled is False
    assert "AKD1000" in d.version
    with pytest.raises(MappingError, match="hw_version"):
        AKD1000("NSoC_v9")


def test_soc_settings_are_per_device():
    a, b = AKD1000(), AKD1000()
    a.soc.power_measurement_enabled = True
    assert b.soc.power_measurement_enabled is False


def _conv_model(**kw) -> ae.Model:
    m = ae.Model()
    m.add(ae.InputData(input_shape=(16, 16, 4), input_bits=kw.pop("input_bits", 4)))
    m.add(ae.Convolutional(**{"kernel_size": 3, "filters": 8, "weights_bits": 4, "act_bits": 4, **kw}))
    m.add(ae.Convolutional(kernel_size=3, filters=8, weights_bits=4, act_bits=4))
    return m


def _params(model: ae.Model) -> set[tuple[str, str]]:
    return {(v.layer, v.parameter) for v in limits.check(model)}


@pytest.mark.parametrize("kw,parameter", [
    ({"kernel_size": 2}, "kernel_size"),
    ({"kernel_size": (3, 5)}, "kernel_size"),
    ({"kernel_size": 5, "kernel_stride": 2}, "kernel_stride"),
    ({"kernel_stride": 3}, "kernel_stride"),
    ({"padding": "valid"}, "padding"),
    ({"pool_type": "max", "pool_size": 3}, "pool_size"),
    ({"weights_bits": 1}, "weights_bits"),
    ({"weights_bits": 8}, "weights_bits"),
    ({"input_bits": 8}, "input bits"),
])
def test_each_convolutional_limit_is_reported(kw, parameter):
    m = _conv_model(**kw)
    assert ("convolutional_1", parameter) in _params(m)


def test_valid_models_have_no_violations():
    assert limits.check(_conv_model()) == []
    for build in (zoo.dscnn_kws, zoo.akidanet_vww, zoo.gxnor_mnist, zoo.convtiny_cwru,
                  zoo.convtiny_dvs_gesture):
        assert limits.check(build()) == [], build.__name__


def test_input_conv_limits_and_filter_table():
    for (c, k), limit in limits.INPUT_CONV_MAX_FILTERS.items():
        ok = ae.Model([ae.InputConvolutional(input_shape=(32, 32, c), kernel_size=k, filters=limit,
                                             act_bits=4)])
        bad = ae.Model([ae.InputConvolutional(input_shape=(32, 32, c), kernel_size=k,
                                              filters=limit + 1, act_bits=4)])
        assert limits.check(ok) == []
        assert [v.parameter for v in limits.check(bad)] == ["filters"]
        assert limits.check(bad)[0].value == limit + 1
    wide = ae.Model([ae.InputConvolutional(input_shape=(8, limits.INPUT_CONV_MAX_WIDTH + 1, 2),
                                           kernel_size=3, filters=4, pool_type="average")])
    assert {v.parameter for v in limits.check(wide)} == {"input width", "input channels", "pool_type"}


def test_gap_rows_separable_1x1_and_max_pool_successor():
    m = ae.Model()
    m.add(ae.InputData(input_shape=(2, 40, 4), input_bits=2))
    m.add(ae.Convolutional(kernel_size=3, filters=8, weights_bits=2, act_bits=2, pool_type="average"))
    m.add(ae.SeparableConvolutional(kernel_size=3, filters=8, weights_bits=2, act_bits=2))
    found = _params(m)
    assert ("convolutional_1", "global average pooling input rows") in found
    assert ("separable_convolutional_2", "input size") in found
    tall = ae.Model([ae.InputData(input_shape=(limits.GAP_MAX_HEIGHT + 1, 4, 2), input_bits=2),
                     ae.Convolutional(kernel_size=3, filters=4, weights_bits=2, pool_type="average")])
    assert ("convolutional_1", "global average pooling input height") in _params(tall)
    last_pool = ae.Model([ae.InputData(input_shape=(8, 8, 2), input_bits=2),
                          ae.Convolutional(kernel_size=3, filters=4, weights_bits=2, pool_type="max",
                                           pool_size=2)])
    assert ("convolutional_1", "next layer after max pooling") in _params(last_pool)
    to_fc = ae.Model([*(layer.spec for layer in last_pool.layers),
                      ae.FullyConnected(units=3, weights_bits=2)])
    assert limits.check(to_fc) == []  # NSoC_v2 allows FullyConnected after max pooling
    assert ("convolutional_1", "next layer after max pooling") in \
        {(v.layer, v.parameter) for v in limits.check(to_fc, "NSoC_v1")}


def test_fully_connected_limits_and_variable_ranges():
    m = ae.Model()
    m.add(ae.InputData(input_shape=(1, 1, limits.FC_MAX_INPUTS + 1), input_bits=1))
    m.add(ae.FullyConnected(units=2, weights_bits=1, act_bits=1, name="fc"))
    m.add(ae.FullyConnected(units=2, weights_bits=2, activation=False, name="out"))
    hi = 2 ** (limits.THRESHOLD_BITS - 1)
    m.get_layer("out").set_variable("threshold", [hi, -hi])
    got = {(v.layer, v.parameter): v for v in limits.check(m)}
    assert set(got) == {("fc", "input size"), ("fc", "weights_bits"), ("out", "threshold")}
    assert got[("out", "threshold")].value == hi
    m.get_layer("out").set_variable("threshold", [hi - 1, -hi])
    assert ("out", "threshold") not in _params(m)
    # the input layer has a 24-bit threshold
    inp = ae.Model([ae.InputConvolutional(input_shape=(8, 8, 1), kernel_size=3, filters=2, act_bits=4)])
    inp.layers[0].set_variable("threshold", [hi, 2 ** (limits.THRESHOLD_BITS_INPUT - 1) - 1])
    assert limits.check(inp) == []
    inp.layers[0].set_variable("threshold", [0, 2 ** (limits.THRESHOLD_BITS_INPUT - 1)])
    assert _params(inp) == {("input_convolutional_0", "threshold")}


def test_map_raises_every_violation_at_once():
    m = _conv_model(kernel_size=5, kernel_stride=2, padding="valid", weights_bits=1)
    violations = limits.check(m)
    assert len(violations) == 3
    with pytest.raises(MappingError) as err:
        m.map(ae.AKD1000())
    lines = str(err.value).splitlines()
    assert str(len(violations)) in lines[0]
    assert lines[1:] == [f"  - {v}" for v in violations]
    assert m.device is None and m.mapping is None


def test_map_places_layers_on_distinct_nps_of_the_right_type():
    m = zoo.dscnn_kws()
    device = ae.AKD1000()
    result = m.map(device)
    assert m.device is device and m.mapping is result
    assert result.layers[0].nps == () and result.layers[0].np_type is None  # input layer: N/A
    used = [np_ for lm in result.layers for np_ in lm.nps]
    assert len(used) == len(set(used)) == result.np_count
    for lm in result.layers[1:]:
        assert all(any(t in np_.types for t in lm.np_type.split("+")) for np_ in lm.nps)
        assert lm.np_type.startswith("FNP" if lm.kind == "FullyConnected" else "CNP")
    assert 0 < result.sram_bytes < device.sram_bytes
    assert result.sequences == (tuple(m.layer_names),)


def test_all_nps_spreads_and_hw_only_refuses_several_sequences():
    small = zoo.dscnn_kws()
    minimal = mapping.plan(small).np_count
    spread = mapping.plan(small, mode="all_nps")
    assert minimal < spread.np_count <= 78
    big = zoo.akidanet(1.0, 224)
    plan = mapping.plan(big)
    assert len(plan.sequences) > 1 and plan.np_count > 78
    for s in range(len(plan.sequences)):
        nps = [np_ for lm in plan.layers if lm.sequence == s for np_ in lm.nps]
        assert len(nps) == len(set(nps)) <= 78
    with pytest.raises(MappingError, match="sequences"):
        mapping.map_model(big, hw_only=True)
    with pytest.raises(MappingError, match="map mode"):
        mapping.map_model(small, mode="HwPr")


def test_capacity_terms_follow_their_definitions():
    m = zoo.akidanet(0.5, 224)
    for layer in m.layers[1:-1]:
        n, bound = mapping.layer_nps(layer)
        h, w, c = layer.input_shape
        assert n >= -(-w // mapping.WIDTH_PER_NP)
        assert n >= -(-mapping.weight_bits(layer) // mapping.WEIGHT_BITS_PER_NP)
        assert bound in ("input width", "map size", "weights")
    assert mapping.layer_nps(m.layers[0]) == (0, "input layer (N/A)")


def test_a_layer_larger_than_the_chip_is_one_clear_error():
    m = ae.Model([ae.InputData(input_shape=(8, 8, 1024), input_bits=4),
                  ae.Convolutional(kernel_size=3, filters=2048, weights_bits=4, act_bits=4, name="huge")])
    n, bound = mapping.layer_nps(m.layers[1])
    assert n > 78 and bound == "weights"
    with pytest.raises(MappingError) as err:
        m.map()
    assert "'huge'" in str(err.value) and "\n" not in str(err.value)
    text = m.summary()
    assert "does NOT fit" in text and "'huge'" in text


def test_summary_sees_variables_changed_after_map():
    m = zoo.dscnn_kws()
    m.map()
    assert "5 of 78 NPs" in m.summary()
    m.get_layer("dense_5").set_variable("threshold", [2**22] * 12)
    text = m.summary()
    assert "does NOT fit" in text and "threshold" in text


def test_a_wide_fully_connected_mixes_fnp_types():
    d = ae.AKD1000()
    fnp3 = d.count("FNP3")
    units = (fnp3 + 1) * mapping.UNITS_PER_FNP
    m = ae.Model([ae.InputData(input_shape=(1, 1, 8), input_bits=2),
                  ae.FullyConnected(units=units, weights_bits=2, activation=False, name="wide")])
    lm = mapping.plan(m, d).layer("wide")
    assert len(lm.nps) == fnp3 + 1 and lm.np_type == "FNP3+FNP2"
    too_wide = ae.Model([ae.InputData(input_shape=(1, 1, 8), input_bits=2),
                         ae.FullyConnected(units=100 * mapping.UNITS_PER_FNP, weights_bits=2)])
    with pytest.raises(MappingError, match="FNP3/FNP2"):
        mapping.plan(too_wide, d)


def test_convolutions_leave_fnps_for_fully_connected_layers():
    d = ae.AKD1000()
    cnp_only = sum(not any(t.startswith("FNP") for t in np_.types) for np_ in d.nps)
    m = ae.Model([ae.InputData(input_shape=(8, cnp_only * mapping.WIDTH_PER_NP, 2), input_bits=2),
                  ae.Convolutional(kernel_size=3, filters=2, weights_bits=2, act_bits=2, name="wide"),
                  ae.FullyConnected(units=4, weights_bits=2, activation=False, name="fc")])
    result = mapping.plan(m, d)
    assert len(result.layer("wide").nps) == cnp_only
    assert all(not any(t.startswith("FNP") for t in np_.types) for np_ in result.layer("wide").nps)
    assert len(result.sequences) == 1
