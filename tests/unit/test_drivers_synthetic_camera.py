"""The synthetic camera scene: seeded, a pure function of the frame index, motion in episodes."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.drivers import make_source
from akida_edge.drivers.synthetic_camera import SyntheticCameraConfig, SyntheticScene, write_video

pytestmark = pytest.mark.unit


def test_reproducible_and_seeded():
    cfg = SyntheticCameraConfig(seed=4, realtime=False, duration_s=0.5)
    a = [c.data for c in make_source("synthetic_camera", seed=4, realtime=False, duration_s=0.5).open()]
    b = [SyntheticScene(cfg).bgr(i) for i in range(len(a))]
    assert len(a) == int(cfg.duration_s * cfg.fps)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    other = SyntheticScene(SyntheticCameraConfig(seed=5)).bgr(0)
    assert not np.array_equal(other, b[0]) and b[0].shape == (cfg.height, cfg.width, 3)


def test_moves_in_episodes_and_rests_in_between():
    cfg = SyntheticCameraConfig(fps=10.0, move_s=1.0, still_s=2.0)
    scene = SyntheticScene(cfg)
    period = round((cfg.move_s + cfg.still_s) * cfg.fps)
    for i in range(1, 2 * period):
        changed = not np.array_equal(scene.grey(i), scene.grey(i - 1))
        assert changed == scene.moving(i), i
        assert scene.moving(i) == (1 <= i % period <= cfg.move_s * cfg.fps)
    x0, _ = scene.position(0)
    x1, _ = scene.position(round(cfg.move_s * cfg.fps))
    assert abs(x1 - x0) > cfg.object_px  # it really went somewhere


def test_times_follow_the_frame_rate():
    src = make_source("synthetic_camera", fps=20.0, realtime=False, duration_s=0.25, start_us=1000)
    times = [c.t_us for c in src.open()]
    assert times == [1000 + round(i * 1e6 / 20.0) for i in range(len(times))]
    assert src.health.state == "ended"


def test_write_video_roundtrip(tmp_path):
    import cv2

    cfg = SyntheticCameraConfig(fps=10.0)
    n = write_video(str(tmp_path / "s.avi"), cfg, 1.0)
    cap = cv2.VideoCapture(str(tmp_path / "s.avi"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames == n == round(cfg.fps)


def test_write_video_writes_the_configured_scene(tmp_path):
    """`scene = "gestures"` writes the rendered hand the source shows, not the moving object (the
    video of a newcomer's `vision classify` try held no gesture before)."""
    import cv2

    cfg = SyntheticCameraConfig(scene="gestures", fps=10.0, move_s=0.5, still_s=0.5, realtime=False)
    n = write_video(str(tmp_path / "g.avi"), cfg, 1.0)
    shown = [c.data for c in make_source("synthetic_camera", scene="gestures", fps=10.0, move_s=0.5,
                                         still_s=0.5, realtime=False, duration_s=1.0).open()]
    cap = cv2.VideoCapture(str(tmp_path / "g.avi"))
    written = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        written.append(frame.astype(np.float64))
    cap.release()
    assert len(written) == len(shown) == n
    objects = SyntheticScene(cfg)
    for i, frame in enumerate(written):
        to_source = np.abs(frame - shown[i]).mean()  # Motion-JPEG loses a little
        to_object = np.abs(frame - objects.bgr(i)).mean()
        assert to_source < to_object / 4, (i, to_source, to_object)


def test_the_gesture_scene_keeps_no_history_of_its_periods():
    """Session-27 soak: the gesture scene kept every period's `SceneParams` in a list, ~240 kB an
    hour of the daemon's memory for ever (tracemalloc between minutes 5 and 35 of the shipped
    config). Now only the last is kept: the same params, in order or not, at a bounded cost."""
    import tracemalloc

    from akida_edge.drivers.synthetic_camera import GestureScene

    cfg = SyntheticCameraConfig(scene="gestures", move_s=0.5, still_s=2.5, seed=0)
    scene, fresh = GestureScene(cfg), lambda k: GestureScene(cfg).params(k)
    assert [scene.params(k) for k in (0, 1, 2, 7, 3, 9)] == [fresh(k) for k in (0, 1, 2, 7, 3, 9)]
    scene.params(100)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        scene.params(2100)  # 2 000 periods more: ~1.7 hours of the shipped config's gestures
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20_000, grown
