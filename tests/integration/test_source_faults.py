"""A source that dies mid-run, in a running daemon (in process, its embedded broker): a camera
unplugged (OpenCV's capture stops giving frames and cannot be reopened) is reported `offline` with
the reason while its driver retries with backoff, the other pipeline goes on, and the pipeline is
`online` again once the camera is back; a replay that ends says so in its state."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from mqtt_fixtures import Recorder

from akida_edge.config import load_config
from akida_edge.daemon import Daemon

pytestmark = pytest.mark.integration

CONFIG = """
[device]
id = "n1"
[mqtt]
broker = "embedded"
port = 0
prefix = "akida"
discovery = false
[state]
dir = "{state}"
[telemetry]
interval_s = 0.5
[[pipelines]]
name = "tick"
type = "custom"
factory = "daemon_pipelines:counter"
source = {{ type = "synthetic", rate_hz = 20 }}
[[pipelines]]
name = "cam"
type = "camera"
threshold = 0.2
source = {{ type = "camera", device = "rtsp://cam.invalid/s", backoff_initial_s = 0.1, backoff_max_s = 0.2 }}
options = {{ width = 32, height = 24, on_chip = false }}
"""


class _Camera:
    """Stands in for `cv2.VideoCapture` of a network camera: frames while `plugged` is set; once
    it is cleared, reads fail and opening fails, as with a camera that lost power."""

    plugged = threading.Event()
    opened = 0

    def __init__(self, *args, **kwargs) -> None:
        type(self).opened += 1
        self.ok = self.plugged.is_set()
        self.rng = np.random.default_rng(type(self).opened)

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.ok

    def get(self, prop: int) -> float:
        return 20.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def read(self):
        threading.Event().wait(0.05)  # a camera's frame period
        if not (self.ok and self.plugged.is_set()):
            return False, None
        return True, self.rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)

    def release(self) -> None:
        self.ok = False


def _status(rec: Recorder, name: str) -> bytes | None:
    got = rec.payloads(f"/{name}/status")
    return got[-1] if got else None


def test_an_unplugged_camera_is_reported_offline_with_the_reason_and_comes_back(tmp_path, monkeypatch):
    import cv2

    monkeypatch.setattr(cv2, "VideoCapture", _Camera)
    _Camera.plugged.set()
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"), encoding="utf-8")
    daemon = Daemon(load_config(path))
    daemon.start()
    rec = Recorder(daemon.broker.port, "akida/n1/#")
    try:
        assert rec.wait_for(lambda r: _status(r, "cam") == b"online", 120)  # a cold cache compiles
        assert rec.wait_for(lambda r: r.json("/cam/state"), 30)  # frames are processed
        assert "error" not in rec.json("/cam/state")[-1]
        _Camera.plugged.clear()  # unplugged
        assert rec.wait_for(lambda r: _status(r, "cam") == b"offline", 30)
        assert rec.wait_for(lambda r: any("cannot open stream" in s.get("error", "")
                                          for s in r.json("/cam/state")), 30)
        state = [s for s in rec.json("/cam/state") if "error" in s][-1]
        assert state["error"].startswith("source reconnecting") and state["reconnects"] >= 1
        runner = daemon.runners["cam"]
        assert runner.restarts == 0 and "reconnecting" in runner.last_error  # no rebuild: the driver retries
        ticks = len(rec.json("/tick/detection"))
        assert rec.wait_for(lambda r: len(r.json("/tick/detection")) > ticks + 5)  # the others go on
        assert _status(rec, "tick") == b"online"
        _Camera.plugged.set()  # back
        assert rec.wait_for(lambda r: _status(r, "cam") == b"online", 30)
        assert runner.restarts == 0
    finally:
        _Camera.plugged.set()
        daemon.request_stop()
        daemon.shutdown()
        rec.close()


class _DeadStream:
    """A PortAudio input stream (the `sounddevice.InputStream` a microphone opens) whose device
    went away: it is no longer active and starting a new one raises, as PortAudio does."""

    unplugged = True

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback) -> None:
        self.callback, self.active = callback, True

    def start(self) -> None:
        if _DeadStream.unplugged:
            raise RuntimeError("Error starting stream: Unanticipated host error [PaErrorCode -9999]")

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        pass


def test_a_microphone_whose_stream_dies_gives_its_reason_to_the_daemon(monkeypatch):
    import sys
    import types

    from akida_edge.drivers.base import Backoff
    from akida_edge.drivers.microphone import MicrophoneConfig, MicrophoneSource
    from akida_edge.pipelines.compose import idle_activity

    sd = types.ModuleType("sounddevice")
    sd.query_devices = lambda device=None, kind=None: (
        {"name": "USB Mic", "max_input_channels": 1, "default_samplerate": 16000.0} if kind else [])
    sd.InputStream = _DeadStream
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    _DeadStream.unplugged = False
    src = MicrophoneSource(MicrophoneConfig(), Backoff(0.01, 0.02)).open()
    assert idle_activity(src).source is None  # open and well: nothing to report
    _DeadStream.unplugged = True
    src._stream.active = False  # PortAudio stopped the stream (device gone)
    assert src.read(timeout_s=0.1) is None
    act = idle_activity(src)
    assert act.source["state"] == "reconnecting" and act.source["reconnects"] >= 1
    assert "PaErrorCode -9999" in act.source["last_error"]
    _DeadStream.unplugged = False  # plugged back: the driver's next attempt opens it
    assert src.read(timeout_s=0.1) is None and src.health.state == "open"
    assert idle_activity(src).source is None
    src.close()


class _SteppingClock:
    """The camera driver's `time` module with a wall clock that can be stepped (NTP, an operator's
    `date -s`); the monotonic clock is the real one."""

    def __init__(self) -> None:
        self.step_ns = 0

    def __getattr__(self, name: str):
        import time

        return getattr(time, name)

    def time_ns(self) -> int:
        import time

        return time.time_ns() + self.step_ns


class _Scene(_Camera):
    """A camera looking at a moving scene until `still` is set, then at a still one."""

    still = threading.Event()

    def read(self):
        threading.Event().wait(0.01)
        if self.still.is_set():
            return True, np.full((24, 32, 3), 128, np.uint8)
        return True, self.rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


def test_motion_episode_ends_and_state_goes_on_after_the_wall_clock_steps_back(monkeypatch):
    import cv2

    import akida_edge.drivers.camera as camera_driver
    from akida_edge.config import parse_config
    from akida_edge.pipelines import camera
    from akida_edge.pipelines.base import Activity, Detection

    clock = _SteppingClock()
    monkeypatch.setattr(cv2, "VideoCapture", _Scene)
    monkeypatch.setattr(camera_driver, "time", clock)
    _Scene.plugged.set()
    _Scene.still.clear()
    table = {"name": "cam", "type": "camera", "threshold": 0.2, "debounce_ms": 100,
             "source": {"type": "camera", "device": "rtsp://cam.invalid/s"},
             "options": {"width": 32, "height": 24, "on_chip": False, "window_ms": 200,
                         "state_interval_s": 0.1}}
    p = camera.build(parse_config({"pipelines": [table]}).pipelines[0])
    phases, states_after, frames_after = [], 0, 0
    stop = threading.Event()
    for item in p.run(stop):
        if isinstance(item, Detection):
            phases.append(item.fields["phase"])
        if phases == ["start"] and not _Scene.still.is_set():
            clock.step_ns = -3600 * 10**9  # the wall clock steps back an hour, and the scene stops
            _Scene.still.set()
        if _Scene.still.is_set() and isinstance(item, Activity) and item.inferences:
            frames_after += 1
            states_after += item.state is not None
        if phases == ["start", "end"] and states_after >= 3 or frames_after >= 300:  # 3 s of frames
            stop.set()
    # the still scene ends the episode after window + debounce, and the state keeps coming
    assert phases == ["start", "end"], (phases, frames_after)
    assert states_after >= 3
