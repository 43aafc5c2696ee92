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
