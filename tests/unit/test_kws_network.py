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
