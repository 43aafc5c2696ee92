"""Learned state on a disk that refuses writes (ENOSPC at the write itself): what was learned is
used, the failure is surfaced, and it is saved once the disk takes writes again."""

from __future__ import annotations

import base64
import errno
import shutil
import subprocess
import threading

import numpy as np
import pytest

from akida_edge import statefile
from akida_edge.config import parse_config
from akida_edge.pipelines.base import Activity, Detection

pytestmark = pytest.mark.integration
START_US = 1_700_000_000_000_000


def _no_space(path, data, before_rename=None):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def _anomaly_cfg(state_dir):
    source = {"type": "synthetic_machine", "seed": 2, "fault": "outer", "severity": 0.5,
              "fault_after_s": 26.0, "duration_s": 34.0, "start_us": START_US}
    table = {"name": "pump", "type": "anomaly", "source": source,
             "options": {"learn_s": 20.0, "state_dir": str(state_dir)}}
    return parse_config({"pipelines": [table]}).pipelines[0]


def test_anomaly_normal_that_cannot_be_saved_is_used_and_saved_when_space_returns(tmp_path, monkeypatch,
                                                                                   caplog):
    pytest.importorskip("akida_edge.apps.anomaly.detector", reason="the anomaly app is not installed")
    import akida_edge.pipelines.anomaly as anomaly

    p = anomaly.build(_anomaly_cfg(tmp_path / "state"))
    monkeypatch.setattr(statefile, "_atomic_write", _no_space)  # the disk is full
    monkeypatch.setattr(anomaly, "SAVE_RETRY_S", 0.0, raising=False)
    items, freed = [], False
    with caplog.at_level("ERROR", logger="akida_edge.pipelines.anomaly"):
        for item in p.run(threading.Event()):
            items.append(item)
            if not freed and isinstance(item, Activity) and item.inferences:  # scoring without a save
                assert p.describe()["normal"] == "learned, not saved"
                monkeypatch.undo()  # space returns
                monkeypatch.setattr(anomaly, "SAVE_RETRY_S", 0.0, raising=False)
                freed = True
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "No space left on device" in errors[0]
    assert str(tmp_path / "state" / "anomaly") in errors[0]  # names the file
    assert freed and p.describe()["normal"] == "loaded"
    # the fault is still reported, and the normal is on disk: the next start loads it
    assert [i.fields["phase"] for i in items if isinstance(i, Detection)] == ["start"]
    assert anomaly.build(_anomaly_cfg(tmp_path / "state")).describe()["normal"] == "loaded"


def _espeak_b64(tmp_path, text: str, speed_wpm: int) -> str:
    path = tmp_path / f"{text}-{speed_wpm}.wav"
    subprocess.run(["espeak-ng", "-s", str(speed_wpm), "-w", str(path), text], check=True,
                   capture_output=True)
    return base64.b64encode(path.read_bytes()).decode()


def test_kws_learn_or_forget_the_store_refuses_leaves_the_saved_words_in_use(tmp_path, monkeypatch):
    pytest.importorskip("akida_edge.apps.kws.learn", reason="the kws app is not installed")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from akida_edge.drivers.wavfile import write_wav
    from akida_edge.pipelines import kws

    write_wav(tmp_path / "silence.wav", np.zeros((16000, 1), np.float32), 16000)
    table = {"name": "kws", "type": "kws",
             "source": {"type": "audio_file", "path": str(tmp_path / "silence.wav")},
             "options": {"state_dir": str(tmp_path / "state")}}
    p = kws.build(parse_config({"pipelines": [table]}).pipelines[0])
    banana = [_espeak_b64(tmp_path, "banana", s) for s in (140, 170)]
    lantern = [_espeak_b64(tmp_path, "lantern", s) for s in (140, 170)]
    p.handle_command("learn", {"label": "banana", "audio_wav_b64": banana})
    saved = p.spotter.classes
    monkeypatch.setattr(statefile, "_atomic_write", _no_space)  # the disk is full
    with pytest.raises(ValueError) as exc:  # the daemon answers with this one line
        p.handle_command("learn", {"label": "lantern", "audio_wav_b64": lantern})
    assert "No space left on device" in str(exc.value) and "kws.learned" in str(exc.value)
    # what runs is what was saved (what a restart would load), not a word that is gone at restart
    assert p.handle_command("learned", {}) == {"words": ["banana"]} and p.spotter.classes == saved
    assert "not applied" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(ValueError, match="No space left on device"):
        p.handle_command("forget", {"label": "banana"})
    assert p.handle_command("learned", {}) == {"words": ["banana"]}
    monkeypatch.undo()  # space returns: the same command works, and is saved
    assert p.handle_command("learn", {"label": "lantern", "audio_wav_b64": lantern})["words"] == \
        ["banana", "lantern"]
    again = kws.build(parse_config({"pipelines": [table]}).pipelines[0])
    assert again.handle_command("learned", {}) == {"words": ["banana", "lantern"]}


def test_vision_learn_or_forget_the_store_refuses_leaves_the_saved_gestures_in_use(tmp_path, monkeypatch):
    import sys
    import types

    from vision_fakes import FakeGestureModel, swipe_frames, write_video

    from akida_edge.apps.vision.learn import LearnedGestures
    from akida_edge.pipelines import camera

    gm = FakeGestureModel()  # the stand-in gesture model (as tests/integration/test_vision_daemon.py)
    module = types.ModuleType("akida_edge.apps.vision.gesture_model")
    module.GestureModel = types.SimpleNamespace(load=lambda path=None: gm)
    module.DEFAULT_MODEL = "gestures.aem"
    monkeypatch.setitem(sys.modules, "akida_edge.apps.vision.gesture_model", module)
    monkeypatch.setattr(LearnedGestures, "base_examples", staticmethod(lambda view: None))
    frames, _, _ = swipe_frames(1, 50.0)
    video = write_video(tmp_path / "swipe.avi", np.concatenate([frames] * 2))
    table = {"name": "hands", "type": "camera", "threshold": 0.6,
             "source": {"type": "video_file", "path": str(video)},
             "options": {"mode": "gestures", "width": 48, "height": 48, "state_dir": str(tmp_path / "state")}}
    p = camera.build(parse_config({"pipelines": [table]}).pipelines[0])
    assert any(isinstance(i, Detection) for i in p.run(threading.Event()))  # a window to learn from
    p.handle_command("learn", {"label": "flick"})
    saved = p.recognizer.classes
    with monkeypatch.context() as full:
        full.setattr(statefile, "_atomic_write", _no_space)  # the disk is full
        with pytest.raises(ValueError) as exc:
            p.handle_command("learn", {"label": "wave"})
        assert "No space left on device" in str(exc.value) and "vision.learned" in str(exc.value)
        assert p.handle_command("learned", {}) == {"gestures": ["flick"]} and p.recognizer.classes == saved
        with pytest.raises(ValueError, match="No space left on device"):
            p.handle_command("forget", {"label": "flick"})
        assert p.handle_command("learned", {}) == {"gestures": ["flick"]}
    assert p.handle_command("learn", {"label": "wave"})["gestures"] == ["flick", "wave"]  # space is back


def test_a_save_killed_mid_write_leaves_the_old_state_and_its_temporary_file_is_removed(tmp_path):
    """A writer process killed (SIGKILL) inside `atomic_write`, after its temporary file is written
    and before the rename: the state is the old one, whole, and the next save removes the leftover."""
    import signal
    import sys

    from akida_edge.state import StateStore
    from akida_edge.statefile import StateEntry

    store = StateStore(tmp_path / "state")
    store.save(StateEntry(name="kws", model_hash="h" * 64, extra={"i": 1}))
    script = f"""
import os, signal, sys
from akida_edge import statefile
from akida_edge.state import StateStore
from akida_edge.statefile import StateEntry

statefile.os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # killed just before the rename
StateStore({str(tmp_path / "state")!r}).save(StateEntry(name="kws", model_hash="h" * 64, extra={{"i": 2}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    left = list((tmp_path / "state").glob(".kws.*.tmp"))
    assert left  # the killed save's temporary files (the state's, and its backup's copy)
    _, entries = statefile.read(store.path("kws"))
    assert entries[0].extra == {"i": 1}  # the old state, whole
    store.save(StateEntry(name="kws", model_hash="h" * 64, extra={"i": 3}))
    assert not list((tmp_path / "state").glob(".kws.*.tmp"))
    assert statefile.read(store.path("kws"))[1][0].extra == {"i": 3}
