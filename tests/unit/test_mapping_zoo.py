"""Rebuilt zoo architectures against the published Minimal NP counts (akida-facts §5.1, §5.2).

Tolerance: the capacity model has four constants fitted on ten published totals plus one
per-layer table (docs/mapping.md). They reproduce the five counts the design names and the
per-layer table exactly today. The five design targets are pinned exactly (DESIGN.md §5 claims
them); the other zoo models (the AkidaNet family) are allowed max(1 NP, 10 %) (1.0@160 is 65 vs 68)
so that a re-calibration on new data does not need new tests for them.
AkidaNet 1.0@224 (116 published, above the chip's 78 NPs, so several passes whose overheads the
model ignores) is printed, not asserted.
"""

from __future__ import annotations

import pytest

from akida_edge.engine import mapping, zoo

pytestmark = pytest.mark.unit

DESIGN_TARGETS = [  # (name, builder, published Minimal NPs)
    ("DS-CNN KWS", lambda: zoo.dscnn_kws(classes=33), 5),
    ("AkidaNet 0.25@96 VWW", zoo.akidanet_vww, 16),
    ("AkidaNet 0.5@224", lambda: zoo.akidanet(0.5, 224), 32),
    ("GXNOR MNIST", zoo.gxnor_mnist, 3),
    ("Convtiny CWRU", zoo.convtiny_cwru, 3),
]
FAMILY = [
    ("AkidaNet 0.25@160", lambda: zoo.akidanet(0.25, 160), 20),
    ("AkidaNet 0.5@160", lambda: zoo.akidanet(0.5, 160), 24),
    ("AkidaNet 1.0@160", lambda: zoo.akidanet(1.0, 160), 68),
    ("AkidaNet 0.25@224", lambda: zoo.akidanet(0.25, 224), 22),
]
# AkidaNet 0.5@224 per layer, older tutorial (`plot_1_akidanet_imagenet` @00740f56), 32 NPs in total
AKIDANET_05_PER_LAYER = {"conv_1": 4, "conv_2": 6, "conv_3": 3, "separable_4": 3, "separable_5": 2,
                         "separable_6": 2, "separable_7": 1, "separable_8": 1, "separable_9": 1,
                         "separable_10": 1, "separable_11": 1, "separable_12": 2, "separable_13": 4,
                         "classifier": 1}


def _within(got: int, want: int, rel: float) -> bool:
    return abs(got - want) <= max(1, rel * want)


@pytest.mark.parametrize("name,build,published", DESIGN_TARGETS, ids=[t[0] for t in DESIGN_TARGETS])
def test_design_targets_reproduce_published_counts(name, build, published):
    result = mapping.plan(build())
    print(f"{name}: {result.np_count} NPs (published {published})")
    assert len(result.sequences) == 1
    assert result.np_count == published


@pytest.mark.parametrize("name,build,published", FAMILY, ids=[t[0] for t in FAMILY])
def test_akidanet_family_lands_near_published_counts(name, build, published):
    result = mapping.plan(build())
    print(f"{name}: {result.np_count} NPs (published {published})")
    assert _within(result.np_count, published, 0.10)


def test_akidanet_05_per_layer_counts_are_close():
    result = mapping.plan(zoo.akidanet(0.5, 224))
    got = {lm.name: len(lm.nps) for lm in result.layers if lm.kind != "InputConvolutional"}
    assert set(got) == set(AKIDANET_05_PER_LAYER)
    off = {k: got[k] - v for k, v in AKIDANET_05_PER_LAYER.items() if got[k] != v}
    print("per-layer differences (model - published):", off)
    assert sum(abs(d) for d in off.values()) <= 2
    assert all(got[k] == v for k, v in AKIDANET_05_PER_LAYER.items() if k.startswith("separable_1"))


def test_akidanet_10_224_needs_several_passes():
    result = mapping.plan(zoo.akidanet(1.0, 224))
    print(f"AkidaNet 1.0@224: {result.np_count} NPs in {len(result.sequences)} sequences (published 116)")
    assert result.np_count > 78 and len(result.sequences) >= 2


def test_dvs_gesture_maps_in_one_pass():
    result = mapping.plan(zoo.convtiny_dvs_gesture())
    assert len(result.sequences) == 1 and result.np_count <= 78
