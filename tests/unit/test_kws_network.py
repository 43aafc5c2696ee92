"""The KWS network's training pieces: the one-cycle schedule, SpecAugment, the stride-2 block."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from akida_edge.apps.kws import network  # noqa: E402
from akida_edge.apps.kws.features import BANDS, FRAMES, MEAN_CODE  # noqa: E402

pytestmark = pytest.mark.unit


def test_one_cycle_warms_up_linearly_then_decays_by_a_cosine():
    steps, warmup = 200, 0.1
    w = int(round(warmup * steps))
    f = [network.one_cycle(s, steps, warmup) for s in range(steps + 1)]
    np.testing.assert_allclose(f[:w], (np.arange(w) + 1) / w)
    assert f[w] == pytest.approx(1.0) and f[-1] == pytest.approx(0.0, abs=1e-12)
    mid = w + (steps - w) // 2
    assert f[mid] == pytest.approx(0.5 * (1 + math.cos(math.pi * (mid - w) / (steps - w))))
    assert all(a >= b for a, b in zip(f[w:], f[w + 1:], strict=False))


def test_spec_augment_masks_with_the_mean_code_only(rng):
    x = torch.from_numpy(rng.integers(0, 256, (64, 1, FRAMES, BANDS)).astype(np.float32))
    x[x == MEAN_CODE] = MEAN_CODE + 1  # so that every MEAN_CODE in the output is a mask
    before = x.clone()
    gen = torch.Generator().manual_seed(int(rng.integers(1 << 30)))
    out = network.spec_augment(x, gen, max_t=6, max_f=2, masks=2)
    changed = out != x
    assert torch.all(out[changed] == MEAN_CODE)
    per_sample = changed.flatten(1).sum(1)
    assert int(per_sample.max()) > 0  # some masks are drawn
    # at most 2 time masks of 6 frames (whole rows) and 2 masks of 2 coefficients (whole columns)
    assert int(per_sample.max()) <= 2 * 6 * BANDS + 2 * 2 * FRAMES
    assert torch.equal(x, before)  # the input is not modified in place


def test_a_strided_block_halves_the_map_and_the_architecture_round_trips():
    model = network.build(12, width=8, features=16, blocks=3, down=(0,))
    y = model(torch.zeros(2, 1, FRAMES, BANDS))
    assert y.shape == (2, 12)
    saved = {"width": 8, "features": 16, "blocks": 3, "down": [0]}
    assert network.architecture(saved) == {"width": 8, "features": 16, "blocks": 3, "down": (0,)}
    assert network.architecture({"width": 64, "features": 256})["blocks"] == 4  # session-1 files
    seps = [m for m in model if isinstance(m, network.QSeparableConv2d)]
    assert [m.stride for m in seps] == [(2, 2), (1, 1), (1, 1)]


def test_the_auxiliary_head_trains_on_the_binary_features_and_refuses_quantized_models(rng):
    from akida_edge.convert import set_quantized

    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    x = torch.from_numpy(rng.integers(0, 256, (24, 1, FRAMES, BANDS)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 12, 24))
    head = network.aux_head(model, 12 + 5)
    assert head.in_features == 16 == model[-1].in_features
    wide = y.clone()
    wide[:6] = -100  # ignored targets
    before = head.weight.detach().clone()
    logs = network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=8, progress=None, aux=(head, wide))
    assert len(logs) == 1 and math.isfinite(logs[0]["loss"])
    assert not torch.equal(before, head.weight.detach())  # the head learned
    assert network.predict(model, x).shape == (24, 12)  # the model itself keeps its 12 outputs
    set_quantized(model)
    with pytest.raises(ValueError, match="aux"):
        network.fit(model, x, y, epochs=1, lr=1e-3, seed=0, progress=None, aux=(head, wide))


def test_batches_of_word_set_clips_alone_keep_the_loss_finite(rng):
    """Word-set clips have no 12-class target (-100): a batch of only those must not make the
    12-class loss NaN (a mean over no element), and `train_acc` counts labelled clips only."""
    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    x = torch.from_numpy(rng.integers(0, 256, (16, 1, FRAMES, BANDS)).astype(np.float32))
    y = torch.full((16,), -100, dtype=torch.int64)
    head = network.aux_head(model, 12 + 4)
    wide = torch.from_numpy(rng.integers(0, 16, 16))
    before = head.weight.detach().clone()
    logs = network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=4, progress=None, aux=(head, wide))
    assert math.isfinite(logs[0]["loss"]) and logs[0]["train_acc"] == 0.0
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(before, head.weight.detach())  # the auxiliary head still learned


def test_auxiliary_targets_name_every_unknown_word_and_never_the_new_words():
    from akida_edge.apps.kws import train
    from akida_edge.apps.kws.labels import CLASSES

    unknown = CLASSES.index("_unknown_")
    words = np.array(["yes", train.AUX_WORDS[3], "", train.AUX_WORDS[0], "not-a-listed-word"])
    y = np.array([0, unknown, CLASSES.index("_silence_"), unknown, unknown])
    wide = train.aux_targets(y, words).numpy()
    assert wide.tolist() == [0, len(CLASSES) + 3, CLASSES.index("_silence_"), len(CLASSES), -100]
    assert len(set(train.AUX_WORDS)) == len(train.AUX_WORDS)
    assert not {"backward", "follow", "forward"} & set(train.AUX_WORDS)  # the learn bench's new words


def _tiny(rng, n: int = 24):
    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    x = torch.from_numpy(rng.integers(0, 256, (n, 1, FRAMES, BANDS)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 12, n))
    return model, x, y


def test_distillation_is_zero_on_the_teacher_itself_and_grows_with_the_gap(rng):
    """KL(teacher ‖ student) × T²: 0 when the student is the teacher, > 0 otherwise; the per-sample
    weights make it a weighted mean (a sample of weight 0 does not count)."""
    import copy

    model, x, _ = _tiny(rng, 8)
    teacher = copy.deepcopy(model).eval()
    term = network.Distill(teacher, weight=1.0, temperature=2.0)
    model.eval()
    with torch.no_grad():
        same = term.loss(model(x), x)
        other = torch.randn(8, 12, generator=torch.Generator().manual_seed(1)) * 3
        gap = term.loss(other, x)
        w = torch.tensor([1.0] + [0.0] * 7)
        first_only = term.loss(other, x, w)
        t = term.teacher(x[:1]) / 2.0
        p = torch.softmax(t, 1)
        by_hand = 4.0 * (p * (torch.log(p) - torch.log_softmax(other[:1] / 2.0, 1))).sum()
    assert abs(float(same)) < 1e-6
    assert float(gap) > 0.1
    assert float(first_only) == pytest.approx(float(by_hand), rel=1e-5)


def test_the_continuation_with_distillation_logs_its_term(rng):
    import copy

    model, x, y = _tiny(rng)
    head = network.aux_head(model, 12 + 5)
    term = network.Distill(copy.deepcopy(model), weight=1.0)
    frozen = {k: v.clone() for k, v in term.teacher.state_dict().items()}
    logs = network.fit(model, x, y, epochs=2, lr=1e-2, seed=0, batch=8, progress=None, aux=(head, y.clone()),
                       distill=term)
    assert all(math.isfinite(log["distill_loss"]) for log in logs)
    assert logs[-1]["distill_loss"] > 0  # the student moved away from its frozen start
    assert all(torch.equal(v, frozen[k]) for k, v in term.teacher.state_dict().items())  # never learns
    with pytest.raises(ValueError, match="distillation .* no mixup"):
        network.fit(model, x, y, epochs=1, lr=1e-3, seed=0, progress=None, distill=term, mixup_alpha=0.2,
                    voice=torch.zeros(len(x), dtype=torch.long))


def test_quantization_aware_training_can_distill_the_float_network(rng):
    """`--qat-distill`: a quantized student (no aux head) learns with the float teacher's term; the
    term is logged, the teacher never changes, and the seeded run differs from the labels-only run."""
    import copy

    from akida_edge.convert import calibrate, set_quantized

    def run(term_weight: float):
        model, x, y = _tiny(np.random.default_rng(3))
        term = network.Distill(copy.deepcopy(model).eval(), weight=term_weight) if term_weight else None
        calibrate(model, x)
        set_quantized(model)
        logs = network.fit(model, x, y, epochs=2, lr=1e-2, seed=0, batch=8, progress=None, distill=term)
        return model, logs, term
    student, logs, term = run(1.0)
    plain, plain_logs, _ = run(0.0)
    assert all(math.isfinite(log["distill_loss"]) and log["distill_loss"] > 0 for log in logs)
    assert "distill_loss" not in plain_logs[-1]
    assert not term.teacher.quantized and student.quantized
    assert any(not torch.equal(v, plain.state_dict()[k]) for k, v in student.state_dict().items())


def test_distillation_leaves_out_the_samples_it_does_not_keep():
    """`Distill.keep` (`train.py --kokoro`): with no sample kept the term is 0 and the run is exactly
    the run without distillation; with half kept, it differs from both."""
    import copy

    def run(keep: torch.Tensor | None, with_term: bool = True):
        model, x, y = _tiny(np.random.default_rng(4))
        head = network.aux_head(model, 12 + 5)
        torch.manual_seed(0)
        with torch.no_grad():  # a student that starts away from its teacher: the term is not 0 by itself
            teacher = copy.deepcopy(model)
            for p in teacher.parameters():
                p.add_(0.3 * torch.randn_like(p))
        term = network.Distill(teacher, weight=1.0, keep=keep) if with_term else None
        logs = network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=8, progress=None,
                           aux=(head, y.clone()), distill=term)
        return model.state_dict(), logs

    n = len(_tiny(np.random.default_rng(4))[1])
    none_kept, logs = run(torch.zeros(n, dtype=torch.bool))
    plain, _ = run(None, with_term=False)
    assert logs[-1]["distill_loss"] == 0.0
    assert all(torch.equal(v, plain[k]) for k, v in none_kept.items())
    half = torch.arange(n) % 2 == 0
    some, some_logs = run(half)
    assert some_logs[-1]["distill_loss"] > 0
    assert any(not torch.equal(v, plain[k]) for k, v in some.items())


def test_trunk_lr_moves_the_trunk_less_and_leaves_the_rest_at_the_full_rate(rng):
    """The same seeded run at trunk_lr 1 and 0.01: the trunk (before the feature layer) moves much
    less, the feature layer and the heads alike; trunk_lr 1 is the old single-rate optimizer."""
    def run(share: float):
        model, x, y = _tiny(np.random.default_rng(5))
        start = {k: v.clone() for k, v in model.state_dict().items()}
        head = network.aux_head(model, 12 + 5)
        network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=8, progress=None, aux=(head, y.clone()),
                    trunk_lr=share)
        moved = {k: float((v - start[k]).abs().max()) for k, v in model.state_dict().items()
                 if v.dtype.is_floating_point and "running" not in k}
        return model, moved

    model, full = run(1.0)
    _, slow = run(0.01)
    trunk = {k for k in full if int(k.split(".")[0]) < len(model) + network.TRUNK}
    tail = set(full) - trunk
    assert trunk and tail
    assert max(slow[k] for k in trunk) < 0.1 * max(full[k] for k in trunk)
    first_dense = f"{len(model) + network.TRUNK + 2}.weight"
    assert slow[first_dense] > 0.3 * full[first_dense]  # the feature layer still learns at the full rate
    with pytest.raises(ValueError, match="trunk_lr"):
        network.fit(model, *_tiny(rng)[1:], epochs=1, lr=1e-3, seed=0, progress=None, trunk_lr=0.0)
