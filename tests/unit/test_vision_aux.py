"""The auxiliary motions of `train.py --aux`: named variants, their clips, the wider head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from akida_edge.apps.vision import dataset, network, scenes, train
from akida_edge.apps.vision.labels import AUX, BACKGROUND, CLASSES, NOVEL
from akida_edge.apps.vision.scenes import SceneParams
from akida_edge.convert import set_quantized
from akida_edge.errors import ConfigError

pytestmark = pytest.mark.unit


def path_of(motion: str, p: SceneParams, n: int = 9) -> np.ndarray:
    """(n, 2) shape centres (x, y) over the motion."""
    ts = np.linspace(p.start_s, p.start_s + p.gesture_s, n)
    return np.asarray([scenes.pose(BACKGROUND, p, t)[:2] for t in ts])


def test_aux_motions_are_new_and_never_the_novel_gestures():
    assert len(set(AUX)) == len(AUX)
    assert not set(AUX) & set(CLASSES + NOVEL)


@pytest.mark.parametrize("motion", [m for m in AUX if m.startswith("diagonal_")])
def test_diagonals_move_the_way_they_are_named(motion):
    p = SceneParams(motion=motion, start_s=0.1, gesture_s=0.6, extent=0.5, seed=11)
    move = np.diff(path_of(motion, p)[[0, -1]], axis=0)[0]
    want = np.add(scenes.DIRECTIONS[motion[-1]], scenes.DIRECTIONS[motion[-2]])
    assert np.all(np.sign(move) == np.sign(want))
    assert 0.5 < abs(move[0] / move[1]) < 2.0  # within ±15° of the diagonal: ratio in (0.58, 1.73)


@pytest.mark.parametrize("motion", [m for m in AUX if m.startswith("corner_")])
def test_corners_make_their_two_strokes(motion):
    p = SceneParams(motion=motion, start_s=0.1, gesture_s=0.6, extent=0.5, seed=5)
    xy = path_of(motion, p)
    first, second = xy[4] - xy[0], xy[-1] - xy[4]
    for stroke, code in ((first, motion[-2]), (second, motion[-1])):
        d = np.asarray(scenes.DIRECTIONS[code])
        assert stroke @ d > 0.9 * np.linalg.norm(stroke) > 0


def test_nod_is_vertical_and_a_bad_variant_is_a_config_error():
    p = SceneParams(motion="nod", start_s=0.1, gesture_s=0.6, seed=2)
    xy = path_of("nod", p, 25)
    assert np.ptp(xy[:, 1]) > 5 and np.ptp(xy[:, 0]) < 1e-6
    with pytest.raises(ConfigError, match="corner_xy"):
        scenes.pose(BACKGROUND, SceneParams(motion="corner_xy"), 0.5)
    with pytest.raises(ConfigError, match="corner_xy"):
        scenes.render(BACKGROUND, SceneParams(motion="corner_xy", duration_s=0.1))


def test_aux_clips_are_background_scenes_of_their_motion(tmp_path):
    clip = dataset.sample_clip("corner_lu", "train", 3)
    assert clip.label == BACKGROUND and clip.scene.motion == "corner_lu"
    aux = dataset.load_aux(tmp_path, small=True, progress=None)
    assert aux["x"].shape == (len(AUX) * dataset.AUX_SMALL_PER_LABEL, *dataset.ViewParams().tensor_shape)
    assert list(aux["y"]) == [AUX.index(m) for m in AUX for _ in range(dataset.AUX_SMALL_PER_LABEL)]
    assert aux["x"].reshape(len(aux["x"]), -1).any(axis=1).all()  # every motion makes events
    again = dataset.load_aux(tmp_path, small=True, progress=None)  # from the cache
    assert np.array_equal(again["x"], aux["x"])


def test_other_motion_mask_marks_the_undirected_other_motions():
    n = 30
    y = np.repeat(np.arange(len(CLASSES)), n)
    mask = dataset.other_motion_mask("train", y)
    bg = CLASSES.index(BACKGROUND)
    want = [dataset.sample_clip(BACKGROUND, "train", i).scene.motion in scenes.OTHER_MOTIONS
            for i in range(n)]
    assert not mask[y != bg].any() and list(mask[y == bg]) == want and any(want)


def test_fit_with_a_wider_head_trains_it_and_only_in_float(rng):
    torch.manual_seed(0)
    model = network.build(widths=(4, 4, 4, 8), features=16)
    x = torch.from_numpy(rng.integers(0, 4, (12, 8, 64, 64)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, len(CLASSES), 12))
    wide = y.clone()
    wide[:3] = -100
    wide[3:6] = len(CLASSES) + torch.arange(3)
    head = network.aux_head(model, len(CLASSES) + len(AUX))
    before = head.weight.detach().clone(), model.classifier.weight.detach().clone()
    network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=6, progress=None, aux=(head, wide))
    assert not torch.equal(head.weight, before[0]) and not torch.equal(model.classifier.weight, before[1])
    set_quantized(model)
    with pytest.raises(ValueError, match="float"):
        network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, progress=None, aux=(head, wide))


def test_training_set_with_aux_has_both_targets(tmp_path):
    split = dataset.load_split(tmp_path, "train", small=True, progress=None)
    t = (network.to_nchw(split["x"]), torch.from_numpy(split["y"]))
    (x, y), wide, extra = train._with_aux(tmp_path, split, t, True, dataset.ViewParams(), None)
    n, k = len(split["y"]), len(extra["y"])
    assert len(x) == len(y) == len(wide) == n + k and torch.equal(x[:n], t[0])
    assert (y[n:] == CLASSES.index(BACKGROUND)).all() and torch.equal(y[:n], t[1])
    assert torch.equal(wide[n:], torch.from_numpy(extra["y"]) + len(CLASSES))
    ignored = torch.from_numpy(dataset.other_motion_mask("train", split["y"]))
    assert (wide[:n][ignored] == -100).all() and torch.equal(wide[:n][~ignored], t[1][~ignored])
