"""Session 7's float-training levers: mixup across voices (`mixup.py`) and weight averaging
(`averaging.py`), and their `train.py` options."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from akida_edge.apps.kws import averaging, mixup, network, train  # noqa: E402
from akida_edge.apps.kws.features import BANDS, FRAMES  # noqa: E402
from akida_edge.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.unit


def _codes(rng, n: int) -> torch.Tensor:
    return torch.from_numpy(rng.integers(0, 256, (n, 1, FRAMES, BANDS)).astype(np.float32))


def test_only_pairs_of_different_voices_mix_into_rounded_convex_combinations(rng):
    x = _codes(rng, 64)
    voice = torch.from_numpy(rng.integers(0, 3, 64))  # few voices: many same-voice pairs
    mixed, perm, lam = mixup.mix(x, voice, 0.3, np.random.default_rng(int(rng.integers(1 << 30))))
    assert sorted(perm.tolist()) == list(range(64))
    same = voice[perm] == voice
    assert bool(same.any()) and bool((~same).any())
    assert torch.all(lam[same] == 1.0) and torch.equal(mixed[same], x[same])
    assert torch.all((lam[~same] >= 0) & (lam[~same] <= 1))
    want = torch.round(lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[perm])
    assert torch.equal(mixed, want) and torch.equal(mixed, torch.round(mixed))  # integer codes
    lo, hi = torch.minimum(x, x[perm]), torch.maximum(x, x[perm])
    assert torch.all((mixed >= lo) & (mixed <= hi))
    with pytest.raises(ValueError, match="alpha"):
        mixup.mix(x, voice, 0.0, np.random.default_rng(0))


def test_mixed_loss_is_the_weighted_loss_unmixed_and_drops_absent_targets(rng):
    n = 32
    logits = torch.from_numpy(rng.standard_normal((n, 12)).astype(np.float32))
    a = torch.from_numpy(rng.integers(0, 12, n))
    b = torch.from_numpy(rng.integers(0, 12, n))
    w = torch.from_numpy(rng.uniform(0.1, 2.0, n).astype(np.float32))
    ones, zeros = torch.ones(n), torch.zeros(n)
    # λ = 1: the weighted loss of `fit` on the first targets; unit weights: the plain mean
    assert float(mixup.mixed_ce(logits, a, b, ones, w, w)) == pytest.approx(
        float(network.weighted_ce(logits, a, w)), rel=1e-5)
    plain = torch.nn.functional.cross_entropy(logits, a, label_smoothing=0.05)
    assert float(mixup.mixed_ce(logits, a, b, ones)) == pytest.approx(float(plain), rel=1e-5)
    # λ = 0: the second targets; swapping the pair and λ ↔ 1 − λ changes nothing
    assert float(mixup.mixed_ce(logits, a, b, zeros, w, w)) == pytest.approx(
        float(network.weighted_ce(logits, b, w)), rel=1e-5)
    lam = torch.from_numpy(rng.uniform(0, 1, n).astype(np.float32))
    assert float(mixup.mixed_ce(logits, a, b, lam, w, 2 * w)) == pytest.approx(
        float(mixup.mixed_ce(logits, b, a, 1 - lam, 2 * w, w)), rel=1e-5)
    # by hand: Σ [λ·CE(a) + (1 − λ)·CE(b)] / Σ 1 with unit weights
    ce = [torch.nn.functional.cross_entropy(logits, t, reduction="none", label_smoothing=0.05)
          for t in (a, b)]
    want = float((lam * ce[0] + (1 - lam) * ce[1]).sum() / n)
    assert float(mixup.mixed_ce(logits, a, b, lam)) == pytest.approx(want, rel=1e-5)
    # an absent second target (-100) leaves the first term alone: its own weighted mean
    none = torch.full((n,), -100)
    assert float(mixup.mixed_ce(logits, a, none, lam, w, w)) == pytest.approx(
        float(network.weighted_ce(logits, a, lam * w)), rel=1e-5)
    assert float(mixup.mixed_ce(logits, none, none, lam)) == 0.0


def test_fit_with_mixup_trains_both_heads_and_needs_voices(rng):
    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    x, y = _codes(rng, 32), torch.from_numpy(rng.integers(0, 12, 32))
    wide = torch.from_numpy(rng.integers(0, 17, 32))
    wide[:8] = -100  # windows: no word class
    head = network.aux_head(model, 17)
    voice = torch.from_numpy(rng.integers(0, 5, 32))
    before = [p.detach().clone() for p in (model[-1].weight, head.weight)]
    logs = network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=8, progress=None, aux=(head, wide),
                       weight=torch.ones(32), mixup_alpha=0.3, voice=voice)
    assert math.isfinite(logs[0]["loss"])
    assert not torch.equal(before[0], model[-1].weight.detach())
    assert not torch.equal(before[1], head.weight.detach())
    with pytest.raises(ValueError, match="voice"):
        network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, progress=None, mixup_alpha=0.3)


def test_weight_average_is_the_mean_of_the_points_added(rng):
    torch.manual_seed(0)
    models = [network.build(12, width=8, features=16, blocks=2, down=(0,)) for _ in range(3)]
    avg = averaging.WeightAverage()
    with pytest.raises(ValueError, match="no weights"):
        avg.apply(models[0])
    for m in models:
        avg.add(m)
    target = network.build(12, width=8, features=16, blocks=2, down=(0,))
    avg.apply(target)
    for name, p in target.named_parameters():
        want = torch.stack([dict(m.named_parameters())[name].detach() for m in models]).mean(0)
        torch.testing.assert_close(p.detach(), want)


def test_the_step_hook_adds_every_kth_step_of_the_last_share_and_the_last_step():
    calls = []

    class Counter(averaging.WeightAverage):
        def add(self, model) -> None:
            calls.append(step_now[0])

    step_now = [0]
    steps, start, every = 23, 0.5, 4
    hook = averaging.step_hook(Counter(), None, start, every)
    for s in range(steps):
        step_now[0] = s
        hook(s, steps)
    first = math.ceil(start * steps)
    assert calls == sorted(set(range(first, steps, every)) | {steps - 1})
    for bad in ((1.0, 4), (-0.1, 4), (0.5, 0)):
        with pytest.raises(ValueError):
            averaging.step_hook(Counter(), None, *bad)


def test_update_bn_sets_the_plain_batch_statistics_of_augmented_inputs(rng):
    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    x = _codes(rng, 40)
    bn = model[2]
    assert isinstance(bn, torch.nn.BatchNorm2d)
    momentum = bn.momentum
    seen = []
    handle = bn.register_forward_hook(lambda m, i, o: seen.append(i[0].detach().clone()))
    averaging.update_bn(model, x, batch=40, seed=7)  # one batch: the statistics are that batch's
    handle.remove()
    xa = network.spec_augment(x, torch.Generator().manual_seed(7))
    with torch.no_grad():
        pre = model[:2](xa)
    torch.testing.assert_close(seen[0], pre)
    torch.testing.assert_close(bn.running_mean, pre.mean((0, 2, 3)))
    n = pre.numel() / pre.shape[1]
    torch.testing.assert_close(bn.running_var, pre.var((0, 2, 3), unbiased=False) * n / (n - 1))
    assert bn.momentum == momentum and not model.training


def test_fit_data_gives_one_id_per_voice(rng):
    def part(n, names):
        return {"x": rng.integers(0, 256, (n, FRAMES, BANDS, 1)).astype(np.uint8),
                "y": rng.integers(0, 12, n), "word": np.array([""] * n),
                "voice": np.array(rng.choice(names, n))}

    train_part = part(24, ["a", "b", "c"])
    windows = part(10, ["c", "d"])
    fd = train.fit_data(train_part, None, windows)
    names = np.concatenate([train_part["voice"], windows["voice"]])
    ids = fd["voice"].numpy()
    assert len(ids) == len(fd["y"]) == 34
    assert all((ids[i] == ids[j]) == (names[i] == names[j]) for i in range(34) for j in range(34))


@pytest.mark.parametrize("kwargs, match", [
    ({"mixup_alpha": -0.2}, "--mixup"),
    ({"average_from": 1.0}, "--average-from"),
    ({"mixup_alpha": 0.3, "float_from": "x.pt"}, "float epochs"),
    ({"average_from": 0.5, "float_from": "x.pt", "words": "w", "head_only": True}, "float epochs"),
])
def test_bad_regularizer_settings_are_one_line_errors(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        train.run(tmp_path / "data", tmp_path / "out", small=True, progress=None, **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()  # refused before anything is made
