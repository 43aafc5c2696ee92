"""Retraining the binary feature layer and the heads on a frozen trunk (apps/kws/feature_head.py),
and train.py's checks of --words / --head-only."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from akida_edge.apps.kws import feature_head, network, train  # noqa: E402
from akida_edge.apps.kws.features import BANDS, FRAMES  # noqa: E402
from akida_edge.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Tiny tensors: PyTorch on one thread (`torch_one_thread`, conftest)."""


def _model_and_inputs(rng, n=48):
    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    x = torch.from_numpy(rng.integers(0, 256, (n, 1, FRAMES, BANDS)).astype(np.float32))
    return model, x


def test_trunk_outputs_are_the_input_of_the_feature_layer(rng):
    model, x = _model_and_inputs(rng)
    trunk = feature_head.trunk_outputs(model, x)
    assert trunk.shape == (len(x), model[-4].in_features)
    with torch.no_grad():
        np.testing.assert_allclose(model[feature_head.TRUNK + 1:](trunk).numpy(), model(x).numpy(), rtol=1e-5,
                                   atol=1e-5)
    feats = feature_head.binary_features(model, trunk)
    assert feats.dtype == np.uint8 and set(np.unique(feats)) <= {0, 1} and feats.shape == (len(x), 16)


@pytest.mark.parametrize("binary", [False, True])
def test_only_the_feature_layer_and_heads_learn_and_word_clips_need_no_class(rng, binary):
    model, x = _model_and_inputs(rng)
    trunk = torch.from_numpy(rng.uniform(0, 1, (len(x), 8)).astype(np.float32))  # stand-in trunk outputs
    y = torch.from_numpy(rng.integers(0, 12, len(x)))
    y[: len(x) // 2] = -100  # word-set clips: no 12-class target
    aux_y = (trunk[:, 0] > 0.5).long() * 2 + (trunk[:, 1] > 0.5).long()  # 4 classes the trunk tells apart
    frozen = {k: v.clone() for k, v in model[: len(model) + feature_head.TRUNK + 1].state_dict().items()}
    tail_before = model[-4].weight.detach().clone()
    aux = feature_head.retrain(model, trunk, y, aux_y, 4, epochs=40, lr=1e-2, batch=16, seed=0,
                               binary=binary, progress=None)
    for k, v in model[: len(model) + feature_head.TRUNK + 1].state_dict().items():
        assert torch.equal(v, frozen[k]), k
    assert not torch.equal(tail_before, model[-4].weight.detach())
    assert aux.out_features == 4 and aux.in_features == 16
    # the auxiliary head learns its classes, well above chance (1/4)
    with torch.no_grad():
        feats = model[feature_head.TRUNK + 2: -1](trunk)
        fit = float((aux(feats).argmax(1) == aux_y).float().mean())
    assert fit > 0.6


def test_train_refuses_words_without_aux_and_head_only_without_a_float_network(tmp_path):
    with pytest.raises(ConfigError, match="--no-aux"):
        train.run(tmp_path / "d", tmp_path / "o", small=True, words=tmp_path / "w", aux=False, progress=None)
    with pytest.raises(ConfigError, match="--float-from"):
        train.run(tmp_path / "d", tmp_path / "o", small=True, head_only=True, progress=None)
    assert not (tmp_path / "d").exists()


def test_the_probe_fits_only_the_auxiliary_head_and_ignores_clips_without_a_word(rng):
    """`--probe-epochs` (session 12, LP-FT): the network is untouched, the head learns word classes
    its frozen features tell apart, and clips without a word class (-100) are left out."""
    model, x = _model_and_inputs(rng, n=96)
    with torch.no_grad():
        for _ in range(30):  # BatchNorm statistics of these inputs: features of order 1, not 1e-3
            model.train()(x)
        feats = model[:-1].eval()(x)
    j = int(feats.std(0).argmax())
    aux_y = (feats[:, j] > feats[:, j].median()).long()  # 2 balanced classes the frozen features tell apart
    aux_y[::4] = -100
    before = {k: v.clone() for k, v in model.state_dict().items()}
    head = network.aux_head(model, 2)
    logs = feature_head.probe(model, head, x, aux_y, epochs=60, lr=3e-2, batch=32, seed=0, progress=None)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert len(logs) == 60 and all(g["what"] == "probe" for g in logs)
    assert logs[-1]["loss"] < logs[0]["loss"] and logs[-1]["acc"] > 0.8
    with torch.no_grad():
        right = (head(feats).argmax(1) == aux_y)[aux_y >= 0].float().mean()
    assert float(right) > 0.8


def test_train_refuses_a_probe_without_a_saved_network_or_without_the_head(tmp_path):
    with pytest.raises(ConfigError, match="--probe-epochs 2: .* needs --float-from"):
        train.run(tmp_path / "d", tmp_path / "o", small=True, probe_epochs=2, progress=None)
    with pytest.raises(ConfigError, match="--probe-epochs 2"):
        train.run(tmp_path / "d", tmp_path / "o", small=True, probe_epochs=2, aux=False,
                  float_from=tmp_path / "f.pt", progress=None)
    assert not (tmp_path / "d").exists()
