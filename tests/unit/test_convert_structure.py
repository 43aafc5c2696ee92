"""What Akida 1.0 cannot run is refused at conversion, in one line naming the module and the fix."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from akida_edge.convert import (  # noqa: E402
    GlobalAvgPool,
    QConv2d,
    QLinear,
    QSeparableConv2d,
    QSequential,
    QuantInput,
    StepReLU,
    calibrate,
    convert,
    set_quantized,
)
from akida_edge.convert.qat import quantize_weights, weight_levels  # noqa: E402
from akida_edge.errors import InputDataError, ModelError  # noqa: E402

pytestmark = pytest.mark.unit


def conv(i=1, o=4, bits=8, **kw):
    return QConv2d(i, o, 3, weight_bits=bits, **kw)


CASES = {
    "relu": ([conv(), nn.ReLU()], "StepReLU"),
    "bn after pool": ([conv(), nn.MaxPool2d(2), nn.BatchNorm2d(4), StepReLU()], "before pooling"),
    "gap after act": ([conv(), StepReLU(), GlobalAvgPool()], "pools before the activation"),
    "flatten before conv": ([conv(), StepReLU(), nn.Flatten(), conv(4, 4, 4)], "only right before a QLinear"),
    "dense without flatten": ([conv(), GlobalAvgPool(), StepReLU(), QLinear(4, 2)], "without a Flatten"),
    "missing activation": ([conv(), nn.BatchNorm2d(4), conv(4, 4, 4), StepReLU()], "no StepReLU"),
    "pooling last layer": ([conv(), StepReLU(), conv(4, 4, 4), nn.MaxPool2d(2)], "cannot pool"),
    "avgpool window": ([conv(), nn.AvgPool2d(2), StepReLU()], "only globally"),
    "padded maxpool": ([conv(), nn.MaxPool2d(2, padding=1), StepReLU()], "valid windows"),
    "dense pools": ([nn.Flatten(), QLinear(4, 4), nn.MaxPool2d(2)], "cannot pool"),
    "two pools": ([conv(), nn.MaxPool2d(2), GlobalAvgPool(), StepReLU()], "already pools"),
    "torch conv": ([nn.Conv2d(1, 4, 3)], "QConv2d"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_structure_refused_with_module_named(case):
    modules, fragment = CASES[case]
    model = QSequential(QuantInput(bits=8), *modules)
    with pytest.raises(ModelError) as err:
        set_quantized(model)
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg
    assert "module" in msg or "block" in msg


def test_first_module_must_declare_the_data():
    with pytest.raises(ModelError, match="QuantInput"):
        convert(QSequential(conv(), StepReLU()), input_shape=(8, 8, 1))


def calibrated(model: QSequential, shape: tuple[int, ...], bits: int, rng) -> QSequential:
    x = torch.from_numpy(rng.integers(0, 2**bits, (8, *shape)).astype(np.float32))
    calibrate(model, x)
    return model


def test_input_rules(rng):
    eight_bit_separable = QSequential(QuantInput(bits=8), QSeparableConv2d(1, 4, 3), StepReLU())
    with pytest.raises(ModelError, match="cannot take 8-bit data"):
        convert(eight_bit_separable, input_shape=(8, 8, 1))
    with pytest.raises(ModelError, match="1 or 3 channels"):
        convert(QSequential(QuantInput(bits=8), conv(i=2), StepReLU()), input_shape=(8, 8, 2))
    with pytest.raises(ModelError, match="weight_bits=8"):
        convert(QSequential(QuantInput(bits=8), conv(bits=4), StepReLU()), input_shape=(8, 8, 1))
    model = calibrated(QSequential(QuantInput(bits=4), conv(bits=4), StepReLU()), (1, 8, 8), 4, rng)
    with pytest.raises(ModelError, match="declares bits=4"):
        convert(model, input_shape=(8, 8, 1), input_bits=8)
    eight_bit_data = torch.full((2, 1, 8, 8), 200.0)
    with pytest.raises(InputDataError, match=r"integers in \[0, 15\]"):
        convert(model, sample=eight_bit_data)
    with pytest.raises(InputDataError):
        model(torch.full((1, 1, 8, 8), 0.5))  # fractions are not data of any bit width
    assert convert(model, sample=torch.ones(2, 1, 8, 8)).layers[0].spec.input_bits == 4


def test_weight_grids_are_akida_integers():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 3, 3, 3, generator=gen, requires_grad=True)
    for bits in (1, 2, 4, 8):
        lo, hi = weight_levels(bits)
        q, delta = quantize_weights(w, bits, per_channel=True)
        assert q.min() >= lo and q.max() <= hi and torch.equal(q, torch.round(q))
        if bits > 1:
            # symmetric grid per channel: the largest weight maps to ±hi, the error is ≤ Δ/2
            np.testing.assert_array_equal(q.detach().abs().amax(dim=(1, 2, 3)).numpy(), np.full(6, hi))
            err = (q * delta.view(-1, 1, 1, 1) - w).detach().abs().amax(dim=(1, 2, 3))
            assert torch.all(err <= delta / 2 + 1e-6)
    q, delta = quantize_weights(w, 4, per_channel=False)
    assert torch.all(delta == delta[0])  # depthwise: one step for the whole tensor
    (q * delta[0]).sum().backward()  # straight-through: d(q·Δ)/dw = 1
    np.testing.assert_allclose(w.grad.numpy(), np.ones(w.shape), rtol=1e-6)


def test_rest_of_package_imports_without_torch():
    code = (
        "import sys, importlib\n"
        "sys.modules['torch'] = None\n"  # any import of torch now fails
        "import akida_edge, akida_edge.engine.model, akida_edge.engine.zoo, akida_edge.cli\n"
        "import akida_edge.apps.kws.dataset\n"
        "try:\n import akida_edge.convert\nexcept ImportError as e:\n print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'akida-edge[train]'" in out.stdout


def test_potentials_beyond_float32_exactness_are_refused():
    from akida_edge.convert import integer_forward

    dense = QLinear(1000, 2, weight_bits=8)
    dense.weight.data.fill_(1.0)  # every weight becomes +127: p = 1000 · 255 · 127 > 2^24
    model = QSequential(QuantInput(bits=8, scale=1.0), nn.Flatten(), dense)
    with pytest.raises(ModelError, match="2\\^24"):
        integer_forward(model, torch.full((1, 1000), 255.0))
    assert integer_forward(model, torch.full((1, 1000), 1.0)).int_output.shape == (1, 2)


def test_hardware_limits_are_checked_when_mapping_exists(monkeypatch, rng):
    """`engine.mapping.check` (another engineer's) is called and every violation is listed."""
    import types

    from akida_edge.errors import MappingError

    seen = []

    def check(model):
        seen.append(model)
        return [f"layer {model.layers[-1].name!r}: kernel_size (9, 9) not in (1, 3, 5, 7)", "second one"]

    monkeypatch.setitem(sys.modules, "akida_edge.engine.mapping", types.SimpleNamespace(check=check))
    model = calibrated(QSequential(QuantInput(bits=4), conv(bits=4), StepReLU()), (1, 8, 8), 4, rng)
    with pytest.raises(MappingError, match="breaks 2 AKD1000 limit") as err:
        convert(model, input_shape=(8, 8, 1))
    assert "kernel_size (9, 9)" in str(err.value) and "second one" in str(err.value)
    assert len(seen) == 1
    assert convert(model, input_shape=(8, 8, 1), check_hardware=False).layers[-1].spec.filters == 4
