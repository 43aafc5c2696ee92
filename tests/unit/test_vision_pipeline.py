"""The camera pipeline's gesture mode (`pipelines/vision.py`) with the stand-in gesture model:
config validation of the mode's options, a still scene at the static power floor, gestures from
a video replay published as detections, and learn / forget / learned commands."""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pytest
from stepping_clock import stepping
from vision_fakes import FakeGestureModel, swipe_frames, write_video

import akida_edge.pipelines.vision as vision_pipeline
from akida_edge.apps.vision.learn import LearnedGestures
from akida_edge.config import parse_config
from akida_edge.engine.power import CHIP_STATIC_MW
from akida_edge.errors import ConfigError, InputDataError
from akida_edge.pipelines.base import Activity, Detection
from akida_edge.pipelines.camera import CameraPipeline, build

pytestmark = pytest.mark.integration
START_US = 1_700_000_000_000_000


@pytest.fixture
def fake_model(monkeypatch):
    gm = FakeGestureModel()
    module = types.ModuleType("akida_edge.apps.vision.gesture_model")
    module.GestureModel = types.SimpleNamespace(load=lambda path=None: gm)
    module.DEFAULT_MODEL = "apps/vision/model/gestures.aem"
    monkeypatch.setitem(sys.modules, "akida_edge.apps.vision.gesture_model", module)
    monkeypatch.setattr(LearnedGestures, "base_examples", staticmethod(lambda view: None))  # no data set
    return gm


def _table(source: dict, tmp_path, threshold: float = 0.6, **options) -> dict:
    return {"name": "cam", "type": "camera", "threshold": threshold, "source": source,
            "options": {"mode": "gestures", "width": 48, "height": 48, "state_dir": str(tmp_path), **options}}


def _run(pipeline) -> tuple[list[Detection], list[Activity]]:
    items = list(pipeline.run(threading.Event()))
    return [i for i in items if isinstance(i, Detection)], [i for i in items if isinstance(i, Activity)]


def test_mode_options_are_checked_and_motion_stays_the_default(tmp_path):
    src = {"type": "synthetic_camera", "realtime": False, "duration_s": 1.0}
    cfg = parse_config({"pipelines": [{"name": "cam", "type": "camera", "source": src}]})
    assert isinstance(build(cfg.pipelines[0]), CameraPipeline)
    with pytest.raises(ConfigError, match=r"options\.smooth does nothing in motion mode"):
        parse_config({"pipelines": [{"name": "c", "type": "camera", "source": src,
                                     "options": {"smooth": 3}}]})
    with pytest.raises(ConfigError, match=r"options\.window_ms does nothing in gestures mode"):
        parse_config({"pipelines": [_table(src, tmp_path, window_ms=500.0)]})
    with pytest.raises(ConfigError, match=r"options\.mode = 'blink'"):
        parse_config({"pipelines": [_table(src, tmp_path, mode="blink")]})
    motion_with_model = {"name": "c", "type": "camera", "model": "x.aem", "source": src}
    with pytest.raises(ValueError, match="does nothing in motion mode"):
        build(parse_config({"pipelines": [motion_with_model]}).pipelines[0])


def test_a_still_scene_costs_the_static_floor_and_detects_nothing(tmp_path, fake_model):
    src = {"type": "synthetic_camera", "realtime": False, "fps": 30.0, "move_s": 0.0, "still_s": 1.0,
           "duration_s": 2.0, "width": 48, "height": 48, "start_us": START_US}
    p = build(parse_config({"pipelines": [_table(src, tmp_path)]}).pipelines[0])
    dets, acts = _run(p)
    assert dets == []
    classified = [a for a in acts if a.inferences]
    assert classified and sum(a.inferences for a in classified) >= 2000 // 100 - 4 - 1
    assert all(a.chip_power_mw == CHIP_STATIC_MW and a.synops == 0 for a in classified)
    # each window's energy is the static share of one hop
    for a in classified:
        assert a.chip_energy_uj == pytest.approx(CHIP_STATIC_MW * 1e3 * 0.1 * a.inferences)


def test_gestures_in_a_video_replay_are_published_with_times_and_can_be_learned(tmp_path, fake_model):
    frames, a_s, b_s = swipe_frames(1, 50.0)
    path = write_video(tmp_path / "swipe.avi", np.concatenate([frames, frames]))
    src = {"type": "video_file", "path": str(path), "start_us": START_US}
    p = build(parse_config({"pipelines": [_table(src, tmp_path / "state")]}).pipelines[0])
    assert p.describe()["mode"] == "gestures" and p.describe()["nps"] > 0
    dets, acts = _run(p)
    assert [d.label for d in dets] == ["swipe_right", "swipe_right"]  # the swipe, twice
    clip_s = len(frames) / 50.0
    for k, d in enumerate(dets):
        assert d.kind == "gesture" and d.ts_ms == d.fields["t_end_ms"]
        t_end_s = (d.fields["t_end_ms"] * 1000 - START_US) / 1e6 - k * clip_s
        assert a_s < t_end_s <= b_s + fake_model.view.window_ms / 1000
        assert d.fields["t_end_ms"] - d.fields["t_start_ms"] == fake_model.view.window_ms
    busy = [a for a in acts if a.inferences and a.synops]
    assert busy and all(a.chip_power_mw > CHIP_STATIC_MW for a in busy)
    assert p.handle_command("learned", {}) == {"gestures": []}
    lock_free_while_drawing = []

    def base_examples(view):  # the first learn's base examples are drawn outside the pipeline's lock
        lock_free_while_drawing.append(not p.lock.locked())

    p.recognizer.learned.base_examples = base_examples
    done = p.handle_command("learn", {"label": "flick"})
    assert lock_free_while_drawing == [True]
    assert done["gestures"] == ["flick"] and done["source"] == "last_detection (swipe_right)"
    assert "flick" in p.describe()["labels"]
    assert p.handle_command("learn", {"label": "flick"})["gestures"] == ["flick"]
    assert lock_free_while_drawing == [True]  # drawn once: only the first learn needs them
    assert p.handle_command("forget", {"label": "flick"})["gestures"] == []
    with pytest.raises(InputDataError, match="base class"):
        p.handle_command("learn", {"label": "swipe_left"})
    with pytest.raises(ValueError, match="unknown command"):
        p.handle_command("dance", {})


def test_home_assistant_discovery_lists_the_gestures_of_a_gesture_camera(tmp_path):
    import json

    from akida_edge.apps.vision.labels import GESTURES
    from akida_edge.mqtt.discovery import device_config
    from akida_edge.mqtt.topics import Topics

    src = {"type": "synthetic_camera"}
    cfg = parse_config({"pipelines": [_table(src, tmp_path), {"name": "m", "type": "camera", "source": src}]})
    cmps = json.loads(device_config(cfg, Topics("akida", "edge")))["cmps"]
    assert cmps["cam_event"]["event_types"] == list(GESTURES)
    assert cmps["m_event"]["event_types"] == ["motion"]


def test_the_synthetic_camera_gesture_scene_cycles_the_gestures_and_can_be_still():
    pytest.importorskip("akida_edge.apps.vision.scenes")  # the model engineer's renderer
    from akida_edge.apps.vision.labels import BACKGROUND, GESTURES
    from akida_edge.drivers.synthetic_camera import GestureScene, SyntheticCameraConfig

    size = {"width": 64, "height": 48}
    c = SyntheticCameraConfig(scene="gestures", fps=10.0, move_s=0.5, still_s=1.0, seed=3, **size)
    scene = GestureScene(c)
    period = round((c.move_s + c.still_s) * c.fps)
    assert [scene.label(k) for k in range(len(GESTURES))] == [GESTURES[(3 + k) % 8] for k in range(8)]
    frames = np.stack([scene.grey(i) for i in range(period)])
    assert frames.shape == (period, 48, 64) and scene.bgr(0).shape == (48, 64, 3)
    moving = [i for i in range(1, period) if np.any(frames[i] != frames[i - 1])]
    t_moving = np.array(moving) / c.fps  # the hand moves in the middle of the period only
    assert moving and t_moving.min() >= c.still_s / 2
    assert t_moving.max() <= c.still_s / 2 + c.move_s + 1 / c.fps
    # gestures are chained: across every period boundary the hand does not jump (no motion there)
    c2 = SyntheticCameraConfig(scene="gestures", fps=10.0, move_s=0.5, still_s=1.0, seed=3)
    chained = GestureScene(c2)
    moved = [np.count_nonzero(np.abs(chained.grey(i).astype(int) - chained.grey(i - 1)) > 8)
             for k in range(1, 10) for i in (k * period,)]
    in_motion = np.count_nonzero(np.abs(chained.grey(period + 9).astype(int) - chained.grey(period + 8)) > 8)
    assert in_motion > 0 and max(moved) <= in_motion // 20
    still = GestureScene(SyntheticCameraConfig(scene="gestures", move_s=0.0, still_s=1.0, **size))
    assert still.label(5) == BACKGROUND
    np.testing.assert_array_equal(still.grey(0), still.grey(7))
    with pytest.raises(ValueError, match="scene"):
        SyntheticCameraConfig(scene="disco")


def test_the_shipped_model_on_a_still_scene_costs_the_static_floor(tmp_path):
    src = {"type": "synthetic_camera", "realtime": False, "fps": 30.0, "move_s": 0.0, "still_s": 1.0,
           "duration_s": 1.5, "start_us": START_US}
    p = build(parse_config({"pipelines": [_table(src, tmp_path, width=160, height=120)]}).pipelines[0])
    assert p.describe()["model"] == "gestures.aem" and p.describe()["nps"] > 0
    dets, acts = _run(p)
    classified = [a for a in acts if a.inferences]
    assert dets == [] and classified
    assert all(a.chip_power_mw == CHIP_STATIC_MW and a.synops == 0 for a in classified)


def test_the_retained_state_names_the_gesture_of_its_frame_only(tmp_path, fake_model):
    """docs/config.md: the state is `{"gesture", "windows", "busy_windows"}`, sent with each gesture
    (its label) and every `state_interval_s` ("none" unless one was found at that frame: not the last
    gesture seen); the window counts are those of that frame."""
    frames, _, _ = swipe_frames(1, 50.0)
    path = write_video(tmp_path / "swipe.avi", np.concatenate([frames, frames]))
    src = {"type": "video_file", "path": str(path), "start_us": START_US}
    p = build(parse_config({"pipelines": [_table(src, tmp_path / "state")]}).pipelines[0])
    items = list(p.run(threading.Event()))
    states = []
    for k, item in enumerate(items):
        if isinstance(item, Activity) and item.state is not None:
            after = []
            for nxt in items[k + 1:]:
                if isinstance(nxt, Activity):
                    break
                after.append(nxt.label)
            states.append((item, after))
    assert any(after for _, after in states) and any(not after for _, after in states)
    for activity, after in states:
        state = dict(activity.state)
        assert set(state) == {"gesture", "windows", "busy_windows"}
        assert state["gesture"] == (after[-1] if after else "none")
        assert 0 <= state["busy_windows"] <= state["windows"] == activity.inferences


def test_gesture_times_follow_a_live_clock_that_steps_and_the_step_is_not_classified(tmp_path, fake_model,
                                                                                      monkeypatch):
    """A live camera's frame stamps follow a forward step of the wall clock (NTP's first sync on
    a box without a real-time clock: hours, or decades from 1970): a gesture made after the step
    carries the new time, and the step is not taken for an hour of empty scene to classify."""

    frames, a_s, b_s = swipe_frames(1, 50.0)
    path = write_video(tmp_path / "swipe.avi", np.concatenate([frames, frames]))
    clip_s = len(frames) / 50.0
    step_us = 3_600_000_000
    stepping(vision_pipeline, monkeypatch, START_US + round(clip_s * 1e6), step_us)  # between the swipes
    src = {"type": "video_file", "path": str(path), "start_us": START_US}
    p = build(parse_config({"pipelines": [_table(src, tmp_path / "state")]}).pipelines[0])
    dets, acts = _run(p)
    assert [d.label for d in dets] == ["swipe_right", "swipe_right"]
    for k, d in enumerate(dets):  # the first on the old clock, the second on the stepped one
        t_end_s = (d.fields["t_end_ms"] * 1000 - START_US - k * step_us) / 1e6 - k * clip_s
        assert a_s < t_end_s <= b_s + fake_model.view.window_ms / 1000
        assert d.fields["t_end_ms"] - d.fields["t_start_ms"] == fake_model.view.window_ms
    hops = 2 * clip_s * 1000 / fake_model.view.hop_ms
    assert sum(a.inferences for a in acts) <= hops + 20  # the windows of the clip, not of the step
