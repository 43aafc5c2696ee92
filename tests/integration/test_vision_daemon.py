"""The daemon with a gesture camera (in process, real Mosquitto, the stand-in gesture model of
`tests/vision_fakes.py`): a swipe replayed from a video file is published once per pass as a
`gesture` detection with its times, the learn / learned / forget commands answer over MQTT, and the
Home Assistant discovery's event types follow what is learned and forgotten."""

from __future__ import annotations

import json
import sys
import threading
import types

import numpy as np
import pytest
from mqtt_fixtures import Recorder, mosquitto  # noqa: F401 (fixture)
from vision_fakes import FakeGestureModel, swipe_frames, write_video

from akida_edge.apps.vision.learn import LearnedGestures
from akida_edge.config import parse_config
from akida_edge.daemon import STOP_DRAIN_S, Daemon

pytestmark = pytest.mark.integration


@pytest.fixture
def fake_model(monkeypatch):
    gm = FakeGestureModel()
    module = types.ModuleType("akida_edge.apps.vision.gesture_model")
    module.GestureModel = types.SimpleNamespace(load=lambda path=None: gm)
    module.DEFAULT_MODEL = "gestures.aem"
    monkeypatch.setitem(sys.modules, "akida_edge.apps.vision.gesture_model", module)
    monkeypatch.setattr(LearnedGestures, "base_examples", staticmethod(lambda view: None))
    return gm


def _ask(rec: Recorder, req: dict) -> dict:
    """Send a pipeline command until the pipeline is running; its response."""
    for _ in range(100):
        n = len(rec.json("response/pipeline"))
        rec.client.publish("akida/n8/request/pipeline", json.dumps(req), qos=1)
        assert rec.wait_for(lambda r, n=n: len(r.json("response/pipeline")) > n)
        last = rec.json("response/pipeline")[-1]
        if "no running pipeline" not in last.get("error", ""):
            return last
        threading.Event().wait(0.2)
    raise AssertionError("the pipeline never answered")


def test_gestures_are_published_and_learned_over_mqtt(tmp_path, mosquitto, fake_model):  # noqa: F811
    frames, _, _ = swipe_frames(1, 50.0)
    video = write_video(tmp_path / "swipe.avi", np.concatenate([frames] * 3))
    table = {"name": "hands", "type": "camera", "threshold": 0.6,
             "source": {"type": "video_file", "path": str(video), "realtime": True},
             "options": {"mode": "gestures", "width": 48, "height": 48}}
    cfg = parse_config({"device": {"id": "n8"}, "mqtt": {"broker": "external", "port": mosquitto.port},
                        "state": {"dir": str(tmp_path / "state")}, "pipelines": [table]},
                       str(tmp_path / "config.toml"))
    # raced: subscribed after the daemon started, the recorder could miss the first detections of
    # the video (not retained); the broker is external: subscribe first
    rec = Recorder(mosquitto.port, "akida/n8/#")
    ha = Recorder(mosquitto.port, "homeassistant/#")
    daemon = Daemon(cfg)
    daemon.start()

    def event_types() -> list[str] | None:
        configs = ha.json("akida_n8/config")
        return configs[-1]["cmps"]["hands_event"]["event_types"] if configs else None

    try:
        assert daemon.link.wait_connected(10)
        topic = "akida/n8/hands/detection"
        assert rec.wait_for(lambda r: len(r.json(topic)) >= 1, 60)  # a cold numba cache compiles first
        det = rec.json(topic)[0]
        assert (det["kind"], det["label"], det["event_type"]) == ("gesture", "swipe_right", "swipe_right")
        assert det["t_end_ms"] - det["t_start_ms"] == fake_model.view.window_ms
        assert det["ts"] == det["t_end_ms"]
        learned = _ask(rec, {"transaction": "a", "pipeline": "hands", "command": "learn", "label": "flick"})
        assert learned["status"] == "ok" and learned["data"]["gestures"] == ["flick"]
        # Home Assistant ignores an event type it was not told about: discovery is re-sent
        assert ha.wait_for(lambda r: "flick" in (event_types() or []))
        assert "swipe_right" in event_types() and "_background_" not in event_types()
        listed = _ask(rec, {"transaction": "b", "pipeline": "hands", "command": "learned"})
        assert listed["data"] == {"gestures": ["flick"]}
        bad = _ask(rec, {"transaction": "c", "pipeline": "hands", "command": "forget", "label": "wave"})
        assert bad["status"] == "error" and "not a learned gesture" in bad["error"]
        gone = _ask(rec, {"transaction": "d", "pipeline": "hands", "command": "forget", "label": "flick"})
        assert gone["status"] == "ok"
        assert ha.wait_for(lambda r: "flick" not in (event_types() or ["flick"]))
    finally:
        rec.close()
        ha.close()
        stopper = threading.Thread(target=daemon.shutdown, daemon=True)
        stopper.start()
        stopper.join(STOP_DRAIN_S + 60.0)
        assert not stopper.is_alive(), "Daemon.shutdown() hung"
    assert (tmp_path / "state").is_dir()  # the learned gesture went to the daemon's state dir
