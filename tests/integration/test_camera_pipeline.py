"""The camera motion pipeline: synthetic scene (episodes with start/end), still scene (no
detection, static-floor power), a real video file written with OpenCV and replayed."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from stepping_clock import stepping

import akida_edge.pipelines.camera as camera_pipeline
from akida_edge.config import parse_config
from akida_edge.drivers.synthetic_camera import SyntheticCameraConfig, SyntheticScene
from akida_edge.engine.power import CHIP_STATIC_MW
from akida_edge.pipelines.base import Activity, Detection
from akida_edge.pipelines.camera import MotionDecoder, build
from akida_edge.pipelines.compose import Encoded

pytestmark = pytest.mark.integration
START_US = 1_700_000_000_000_000  # an epoch time: capture times are used as they are
STEP_US = 3_600_000_000  # the wall clock's forward step (NTP's first sync)


def _pipeline(source: dict, threshold: float = 0.2, **options):
    table = {"name": "cam", "type": "camera", "threshold": threshold, "debounce_ms": 300.0,
             "source": source, "options": options}
    return build(parse_config({"pipelines": [table]}).pipelines[0])


def _run(pipeline) -> tuple[list[Detection], list[Activity]]:
    items = list(pipeline.run(threading.Event()))
    return ([i for i in items if isinstance(i, Detection)], [i for i in items if isinstance(i, Activity)])


def test_synthetic_scene_gives_one_start_and_one_end_per_episode():
    scene = dict(type="synthetic_camera", realtime=False, fps=20.0, move_s=1.0, still_s=2.0, duration_s=6.5,
                 seed=5, start_us=START_US)
    p = _pipeline(scene, window_ms=500.0)
    dets, acts = _run(p)
    period_s = scene["move_s"] + scene["still_s"]
    episodes = int(np.ceil(scene["duration_s"] / period_s))  # motion begins at 0, 3, 6 s
    phases = [d.fields["phase"] for d in dets]
    assert phases[:2 * episodes - 1] == ["start", "end"] * (episodes - 1) + ["start"]
    assert len(dets) in (2 * episodes - 1, 2 * episodes)
    assert all(d.label == "motion" and d.kind == "motion" for d in dets)
    starts = [d for d in dets if d.fields["phase"] == "start"]
    for k, d in enumerate(starts):  # each start within the first window of its motion phase
        t_s = (d.ts_ms * 1000 - START_US) / 1e6
        assert k * period_s <= t_s <= k * period_s + 0.5
        assert d.score >= p.motion.threshold and d.fields["power_label"] == "estimated"
    for d in dets:
        if d.fields["phase"] == "end":
            assert d.fields["duration_ms"] >= scene["move_s"] * 1000
    assert len(acts) == round(scene["duration_s"] * scene["fps"])  # one inference per frame
    moving = [a for a in acts if a.events]
    assert moving and all(a.synops > 0 and a.chip_power_mw > CHIP_STATIC_MW for a in moving)
    states = [a.state for a in acts if a.state is not None]
    assert {"ON", "OFF"} <= {s["motion"] for s in states}
    assert p.describe()["model"] == "motion_map" and p.describe()["nps"] > 0


def test_still_scene_no_detection_static_floor_power():
    scene = dict(type="synthetic_camera", realtime=False, fps=10.0, move_s=0.0, still_s=1.0, duration_s=2.0)
    dets, acts = _run(_pipeline(scene, threshold=0.001))
    assert dets == []
    assert acts and all(a.events == 0 and a.synops == 0 for a in acts)
    assert all(a.chip_power_mw == pytest.approx(CHIP_STATIC_MW) for a in acts)
    # energy per inference is the static floor shared over the frame rate (mW / Hz = mJ)
    assert all(a.chip_energy_uj == pytest.approx(CHIP_STATIC_MW * 1e3 / scene["fps"]) for a in acts)
    assert all(a.state["motion"] == "OFF" for a in acts if a.state is not None)


def test_video_file_written_with_opencv_replays_through_the_pipeline(tmp_path: Path):
    import cv2

    fps, n = 20.0, 60
    cfg = SyntheticCameraConfig(fps=fps, move_s=1.0, still_s=2.0, seed=9)
    scene = SyntheticScene(cfg)
    path = tmp_path / "scene.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (cfg.width, cfg.height))
    assert writer.isOpened()
    for i in range(n):
        writer.write(scene.bgr(i))
    writer.release()
    p = _pipeline({"type": "video_file", "path": str(path)}, window_ms=500.0)
    dets, acts = _run(p)
    assert len(acts) == n
    assert [d.fields["phase"] for d in dets] == ["start", "end"]
    start, end = dets
    assert end.ts_ms - start.ts_ms >= cfg.move_s * 1000 * 0.9
    assert sum(a.events for a in acts[1:round(fps * cfg.move_s)]) > 0  # events while it moves


def test_hysteresis_one_episode_while_the_rate_hovers():
    pixels, thr = 1000, 1.0
    dec = MotionDecoder(thr, pixels, window_ms=100.0, release_ratio=0.5, hold_ms=200.0, state_interval_s=1.0)
    # 10 frames/s at 1.2·thr, then hovering between release and threshold, then silence
    rates = [1.2] * 5 + [0.7, 0.9, 0.6, 0.8] * 5 + [0.0] * 10
    out = []
    for i, r in enumerate(rates):
        t_us = START_US + i * 100_000
        enc = Encoded(t_us, int(r * thr * pixels * 0.1))
        out += dec(enc, None, t_us // 1000)[0]
    assert [d.fields["phase"] for d in out] == ["start", "end"]
    assert out[1].ts_ms - out[0].ts_ms >= 25 * 100  # held through the hovering part


def _stepped_and_steady(monkeypatch, step_at_s: float, threshold: float = 0.2, **options):
    """A live-like synthetic scene (epoch stamps, 20 fps, motion 0–2 s and 4–6 s) run twice: with
    its stamps jumping an hour forward from `step_at_s` on (a camera's, when NTP first sets the
    clock), and without; each run's (detections, activities)."""
    scene = dict(type="synthetic_camera", realtime=False, fps=20.0, move_s=2.0, still_s=2.0, duration_s=7.9,
                 seed=5, start_us=START_US)
    steady = _run(_pipeline(scene, threshold, window_ms=500.0, **options))
    with monkeypatch.context() as m:
        stepping(camera_pipeline, m, START_US + round(step_at_s * 1e6), STEP_US)
        stepped = _run(_pipeline(scene, threshold, window_ms=500.0, **options))
    return stepped, steady


def _same_scene(stepped, steady, step_at_s: float) -> None:
    """The step changes nothing but the clock: the same frames' events and states, the same
    detections (scores, rates, `duration_ms`), those after the step dated `STEP_US` later."""
    (dets, acts), (dets0, acts0) = stepped, steady
    assert [d.fields["phase"] for d in dets] == [d.fields["phase"] for d in dets0]
    for d, d0 in zip(dets, dets0, strict=True):
        later = STEP_US // 1000 if (d0.ts_ms * 1000 - START_US) / 1e6 >= step_at_s else 0
        assert d.ts_ms == d0.ts_ms + later  # detection times follow the clock
        assert (d.label, d.score) == (d0.label, d0.score)
        timing = ("latency_ms", "processing_ms")
        assert {k: v for k, v in d.fields.items() if k not in timing} == \
            {k: v for k, v in d0.fields.items() if k not in timing}
    assert [a.events for a in acts] == [a.events for a in acts0]
    assert [a.state for a in acts] == [a.state for a in acts0]


def test_a_forward_step_of_a_live_clock_is_not_scene_time_in_an_episode(monkeypatch):
    """The clock steps an hour in the middle of the second episode while the object keeps moving:
    the scene is run as without the step (before: the episode's `duration_ms` was 3 602 700, the
    step included, and the rate fell from 1.78 to 0.11 events/pixel/s, the window emptied by the
    step), and the episode's end carries the clock's new time."""
    stepped, steady = _stepped_and_steady(monkeypatch, 5.0, state_interval_s=0.1)
    dets = steady[0]
    assert [d.fields["phase"] for d in dets] == ["start", "end"] * 2
    assert (dets[2].ts_ms * 1000 - START_US) / 1e6 < 5.0 < (dets[3].ts_ms * 1000 - START_US) / 1e6
    _same_scene(stepped, steady, 5.0)


def test_a_forward_step_of_a_live_clock_in_a_still_scene_makes_no_episode(monkeypatch):
    """With the noisy DVS preset an emulated hour is an hour of sensor noise in one frame (before:
    7 092 364 events, 739 events/pixel/s, and a spurious 800 ms episode at the step); the
    threshold sits between the noise floor (≈ 3.3 events/pixel/s) and the moving object (≈ 5.3)."""
    stepped, steady = _stepped_and_steady(monkeypatch, 3.0, threshold=4.5, dvs="noisy", release_ratio=0.9)
    assert [d.fields["phase"] for d in steady[0]] == ["start", "end"] * 2
    _same_scene(stepped, steady, 3.0)
