"""Rendered gesture scenes and the data set's split rules."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from akida_edge.apps.vision import dataset, scenes
from akida_edge.apps.vision.labels import BACKGROUND, CLASSES, NOVEL
from akida_edge.apps.vision.scenes import SceneParams
from akida_edge.errors import ConfigError

pytestmark = pytest.mark.unit

CALM = dict(flicker=0.0, noise_dn=0.0, light_gain=(1.0, 1.0), distractors=0, tremor_px=0.0)


def centroids(label: str, p: SceneParams) -> np.ndarray:
    """Centre of the shape's coverage in the first and last frame, (2, 2) as (x, y)."""
    out = []
    for t in (0.0, p.duration_s):
        m = scenes.shape_mask(p, *scenes.pose(label, p, t))
        yy, xx = np.mgrid[0:m.shape[0], 0:m.shape[1]]
        out.append(((m * xx).sum() / m.sum(), (m * yy).sum() / m.sum()))
    return np.asarray(out)


def test_render_is_reproducible_and_sized():
    p = SceneParams(size=(48, 64), fps=20.0, duration_s=0.5, seed=3, noise_dn=2.0)
    a, fps = scenes.render("swipe_up", p)
    b, _ = scenes.render("swipe_up", p)
    assert fps == 20.0 and a.shape == (11, 48, 64) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    c, _ = scenes.render("swipe_up", replace(p, seed=4))
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("label, sign", [("swipe_left", (-1, 0)), ("swipe_right", (1, 0)),
                                         ("swipe_up", (0, -1)), ("swipe_down", (0, 1))])
def test_swipes_move_the_way_they_are_named(label, sign):
    p = SceneParams(start_s=0.1, gesture_s=0.5, extent=0.5, **CALM)
    c = centroids(label, p)
    d = c[1] - c[0]
    along, across = (0, 1) if sign[0] else (1, 0)
    assert np.sign(d[along]) == sum(sign) and abs(d[along]) > 0.4 * 128 * 0.5
    assert abs(d[across]) < 0.1 * abs(d[along])


def test_circles_turn_the_way_they_are_named():
    p = SceneParams(start_s=0.1, gesture_s=0.6, turns=0.75, **CALM)
    turn = {}
    for label in ("circle_cw", "circle_ccw"):
        pts = np.asarray([scenes.pose(label, p, t)[:2] for t in np.linspace(0.1, 0.7, 7)])
        v = np.diff(pts, axis=0)
        cross = v[:-1, 0] * v[1:, 1] - v[:-1, 1] * v[1:, 0]  # > 0: clockwise on screen (y down)
        turn[label] = np.sign(cross)
    assert np.all(turn["circle_cw"] > 0) and np.all(turn["circle_ccw"] < 0)


def test_approach_grows_and_recede_shrinks():
    p = SceneParams(**CALM)
    area = {label: [scenes.shape_mask(p, *scenes.pose(label, p, t)).sum() for t in (0.0, 1.0)]
            for label in ("approach", "recede")}
    assert area["approach"][1] > 2 * area["approach"][0]
    assert area["recede"][0] > 2 * area["recede"][1]


def test_a_still_scene_has_still_frames():
    frames, _ = scenes.render(BACKGROUND, SceneParams(duration_s=0.3, **CALM))
    assert np.array_equal(frames.min(axis=0), frames.max(axis=0))


def test_other_motions_move():
    for motion in scenes.OTHER_MOTIONS:
        p = SceneParams(motion=motion, start_s=0.1, gesture_s=0.6, **CALM)
        path = np.asarray([scenes.pose(BACKGROUND, p, t)[:2] for t in np.linspace(0.0, 1.0, 21)])
        assert np.ptp(path, axis=0).max() > 0.2 * 128 * p.extent
        frames, _ = scenes.render(BACKGROUND, replace(p, duration_s=0.4))
        assert not np.array_equal(frames[0], frames[-1])


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="unknown gesture"):
        scenes.render("jump", SceneParams())
    with pytest.raises(ConfigError, match="background"):
        SceneParams(background="wallpaper")
    with pytest.raises(ConfigError, match="motion"):
        scenes.render(BACKGROUND, SceneParams(motion="moonwalk"))


def test_splits_hold_out_speeds_shapes_and_backgrounds():
    def draw(split: str, label: str = "swipe_left") -> list[dataset.Clip]:
        return [dataset.sample_clip(label, split, i) for i in range(60)]

    train, test = draw("train"), draw("test")
    assert all(not 0.40 <= c.scene.gesture_s <= 0.55 for c in train)
    assert all(0.40 <= c.scene.gesture_s <= 0.55 for c in test)
    assert {c.scene.shape for c in train} <= {"hand", "fist", "mitten"}
    assert "object" in {c.scene.shape for c in test}
    assert all(c.scene.background != "rects" for c in train)
    assert not {c.scene.bg_seed for c in train} & {c.scene.bg_seed for c in test}
    assert dataset.sample_clip("wave", "train", 5) == dataset.sample_clip("wave", "train", 5)


def inside_share(scene: SceneParams) -> float:
    """Share of the motion [start, start + d) inside the model's window [PRE_S, PRE_S + 0.8 s)."""
    w0, w1 = dataset.PRE_S, dataset.PRE_S + 0.8
    s0, s1 = scene.start_s, scene.start_s + scene.gesture_s
    return max(0.0, min(s1, w1) - max(s0, w0)) / scene.gesture_s


def test_gestures_lie_in_the_window_and_cut_ones_are_background():
    for split in ("train", "test"):
        assert all(inside_share(dataset.sample_clip("circle_cw", split, i).scene) >= 0.8 - 1e-9
                   for i in range(40))
        bg = [dataset.sample_clip(BACKGROUND, split, i).scene for i in range(80)]
        cut = [s for s in bg if s.motion in CLASSES[:-1]]
        assert cut and all(inside_share(s) <= 0.3 + 1e-9 for s in cut)
        other = [s for s in bg if s.motion in scenes.OTHER_MOTIONS]
        assert other and all(inside_share(s) >= 0.8 - 1e-9 for s in other)
        assert not {s.motion for s in bg} & set(NOVEL)
        assert all(s.gesture_s == 0.0 for s in bg if not s.motion)


def test_make_clips_is_label_major_and_reproducible():
    labels = [CLASSES[0], NOVEL[1]]
    x, names = dataset.make_clips(labels, "validation", 2, seed=0)
    assert names == [labels[0]] * 2 + [labels[1]] * 2
    assert x.shape == (4, 64, 64, 8) and x.dtype == np.uint8 and x.max() <= 3
    assert all(xi.any() for xi in x)  # a gesture always makes events
    x2, _ = dataset.make_clips(labels[1:], "validation", 1, seed=0)
    assert np.array_equal(x2[0], x[2])
