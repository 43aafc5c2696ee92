"""KWS pipeline commands (`handle_command`: learn / forget / learned): directly on a pipeline built
from a config, and once through a real Mosquitto (`request/pipeline` → `response/pipeline`).
Clips are spoken by espeak-ng (22.05 kHz WAV: the upload path resamples them)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading

import numpy as np
import pytest
from mqtt_fixtures import Recorder, mosquitto  # noqa: F401 (fixture)

pytest.importorskip("akida_edge.apps.kws.scenes", reason="the kws app is not installed")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed", allow_module_level=True)

from akida_edge.apps.kws.scenes import make_scene  # noqa: E402
from akida_edge.config import parse_config  # noqa: E402
from akida_edge.daemon import STOP_DRAIN_S, Daemon  # noqa: E402
from akida_edge.drivers.wavfile import read_wav, write_wav  # noqa: E402
from akida_edge.pipelines import kws  # noqa: E402
from akida_edge.pipelines.base import Detection  # noqa: E402

pytestmark = pytest.mark.integration
START_US = 1_700_000_000_000_000


def espeak_wav(tmp_path, text: str, speed_wpm: int = 150) -> bytes:
    path = tmp_path / f"{text}-{speed_wpm}.wav"
    subprocess.run(["espeak-ng", "-s", str(speed_wpm), "-w", str(path), text], check=True,
                   capture_output=True)
    return path.read_bytes()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def table(tmp_path, wav: str, **source) -> dict:
    return {"name": "kws", "type": "kws", "threshold": 0.7,
            "source": {"type": "audio_file", "path": wav, **source},
            "options": {"state_dir": str(tmp_path / "state")}}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return [espeak_wav(d, "banana", s) for s in (140, 170)]


def build(tmp_path) -> kws.KwsPipeline:
    write_wav(tmp_path / "silence.wav", np.zeros((16000, 1), np.float32), 16000)
    cfg = parse_config({"pipelines": [table(tmp_path, str(tmp_path / "silence.wav"))]})
    return kws.build(cfg.pipelines[0])


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """One pipeline with nothing learned, shared by the error cases (a refused command changes nothing)."""
    return build(tmp_path_factory.mktemp("fresh"))


def test_learn_from_upload_then_list_forget_and_persist(tmp_path, clips):
    p = build(tmp_path)
    assert p.handle_command("learned", {}) == {"words": []}
    # the first clip as `base64 FILE` writes it (76-character lines; session-27 audit: "not valid base64")
    wrapped = base64.encodebytes(clips[0]).decode()
    assert "\n" in wrapped
    out = p.handle_command("learn", {"label": "banana", "audio_wav_b64": [wrapped, *map(b64, clips[1:])]})
    assert out["learned"] == "banana" and out["clips"] == len(clips) and out["source"] == "upload"
    assert out["samples"] == 3 * len(clips)  # each clip: its loudest second and two shifts (learn.py)
    assert p.handle_command("learned", {}) == {"words": ["banana"]}
    assert "banana" in p.spotter.classes
    # persisted in the pipeline's state dir: a new pipeline on the same config knows it
    again = build(tmp_path)
    assert again.handle_command("learned", {}) == {"words": ["banana"]}
    assert p.handle_command("forget", {"label": "banana"})["words"] == []
    assert build(tmp_path).handle_command("learned", {}) == {"words": []}


@pytest.mark.parametrize("command, args, needle", [
    ("explode", {}, "unknown command 'explode'"),
    ("learn", {"audio_wav_b64": "AAAA"}, "needs a label"),
    ("learn", {"label": "_silence_", "audio_wav_b64": "AAAA"}, "label '_silence_'"),
    ("learn", {"label": "two words", "audio_wav_b64": "AAAA"}, "letters, digits"),
    ("forget", {"label": "banana"}, "not a learned word"),
    ("learn", {"label": "banana"}, "either source"),
    ("learn", {"label": "banana", "source": "last_detection", "audio_wav_b64": "AAAA"},
     "one audio source: source: \"last_detection\" or audio_wav_b64, not both"),
    ("learn", {"label": "banana"}, "needs either source"),
    ("learn", {"label": "banana", "source": "yesterday"}, "the only source"),
    ("learn", {"label": "banana", "source": "last_detection"}, "detected nothing yet"),
    ("learn", {"label": "banana", "audio_wav_b64": "not base64!"}, "not valid base64"),
    ("learn", {"label": "banana", "audio_wav_b64": b64(b"hello, not a wav")}, "not a WAV file"),
    ("learn", {"label": "banana", "audio_wav_b64": []}, "a list of 1.."),
    ("learn", {"label": "banana", "audio_wav_b64": [7]}, "a list of 1.."),
    ("learn", {"label": "banana", "audio_wav_b64": b64(bytes(kws.MAX_UPLOAD_BYTES + 1024))}, "more than"),
    ("learn", {"label": "banana", "synthesize": -1}, "synthesize -1"),
    ("learn", {"label": "banana", "synthesize": "40"}, "whole number"),
    ("learn", {"label": "banana", "synthesize": True}, "whole number"),
    ("learn", {"label": "banana", "synthesize": kws.MAX_SYNTHESIZE + 1}, f"0..{kws.MAX_SYNTHESIZE}"),
    ("learn", {"label": "banana", "synthesize": 0}, "either source"),
    ("learn", {"label": "down", "synthesize": 3}, "base keyword"),
])
def test_bad_commands_give_one_line_errors(fresh, command, args, needle):
    p = fresh
    with pytest.raises(ValueError) as exc:  # the daemon answers ValueError with an error response
        p.handle_command(command, args)
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    assert p.handle_command("learned", {}) == {"words": []}  # nothing learned by a refused command


def test_learn_from_the_spelling_alone_and_with_an_upload(tmp_path, clips):
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed (synthesized clips need it)")
    p = build(tmp_path)
    out = p.handle_command("learn", {"label": "lantern", "synthesize": 3})
    assert (out["learned"], out["clips"], out["synthesized"]) == ("lantern", 0, 3)
    assert out["source"] == "synthesized"
    assert out["samples"] == 3 * 3 and out["words"] == ["lantern"]  # three samples per clip (learn.py)
    out = p.handle_command("learn", {"label": "banana", "synthesize": 2,
                                     "audio_wav_b64": [b64(c) for c in clips]})
    assert (out["clips"], out["synthesized"]) == (len(clips), 2)
    assert out["source"] == "upload + 2 synthesized" and out["samples"] == 3 * (len(clips) + 2)


def test_learn_by_spelling_without_espeak_is_a_one_line_error(fresh, monkeypatch):
    from akida_edge.apps.kws import enroll

    monkeypatch.setattr(enroll.shutil, "which", lambda tool: None if tool == "sox" else "/usr/bin/" + tool)
    with pytest.raises(ValueError) as exc:
        fresh.handle_command("learn", {"label": "lantern", "synthesize": 3})
    assert "needs sox" in str(exc.value) and "\n" not in str(exc.value)
    assert fresh.handle_command("learned", {}) == {"words": []}


def test_learning_a_word_the_base_model_is_sure_of_answers_with_a_warning(tmp_path):
    p = build(tmp_path)
    downs = [b64(espeak_wav(tmp_path, "down", s)) for s in (140, 170)]
    out = p.handle_command("learn", {"label": "dune", "audio_wav_b64": downs})
    assert out["learned"] == "dune" and "is 'down'" in out["warning"], out
    assert "warning" not in p.handle_command("learn", {"label": "down", "audio_wav_b64": downs})


def test_learn_from_the_last_detection_window(tmp_path):
    scene = make_scene(np.random.default_rng(1), "en-us", ["yes", "stop"], filler_utterances=0, snr_db=30.0)
    write_wav(tmp_path / "scene.wav", scene.audio[:, None], 16000)
    cfg = parse_config({"pipelines": [table(tmp_path, str(tmp_path / "scene.wav"), start_us=START_US)]})
    p = kws.build(cfg.pipelines[0])
    dets = [i for i in p.run(threading.Event()) if isinstance(i, Detection)]
    assert dets, "the scene's keywords give at least one detection"
    label, window = p.last_window
    assert label == dets[-1].label and window.size == kws.RATE_HZ
    # the window is the 1 s of audio centred on the last detection (ts_ms: the peak window's centre)
    audio, _ = read_wav(tmp_path / "scene.wav")
    start = int(round((dets[-1].ts_ms - START_US / 1000 - 500.0) * kws.RATE_HZ / 1000))
    assert np.array_equal(window, audio[start: start + kws.RATE_HZ, 0])
    out = p.handle_command("learn", {"label": "hello", "source": "last_detection"})
    assert out["source"] == f"last_detection ({label})" and out["words"] == ["hello"]
    # learning while the stream runs: its detector takes the longer label list and the run goes on
    run = p.run(threading.Event())
    next(run)
    assert p.handle_command("learn", {"label": "world", "source": "last_detection"})["words"] == \
        ["hello", "world"]
    rest = list(run)
    assert p.stream.detector.classes == p.spotter.classes and p.spotter.classes[-2:] == ("hello", "world")
    assert any(isinstance(i, Detection) for i in rest)


def test_learn_over_mqtt_through_mosquitto(tmp_path, mosquitto, clips):  # noqa: F811
    write_wav(tmp_path / "silence.wav", np.zeros((16000, 1), np.float32), 16000)
    kws_table = table(tmp_path, str(tmp_path / "silence.wav"), realtime=True, loop=True)
    cfg = parse_config({"device": {"id": "n7"}, "mqtt": {"broker": "external", "port": mosquitto.port,
                                                          "discovery": False},
                        "state": {"dir": str(tmp_path / "state")}, "pipelines": [kws_table]},
                       str(tmp_path / "config.toml"))
    daemon = Daemon(cfg)
    daemon.start()
    rec = Recorder(mosquitto.port, "akida/n7/response/#")
    try:
        assert daemon.link.wait_connected(10)
        requests = [
            {"transaction": "a", "pipeline": "kws", "command": "learn", "label": "banana",
             "audio_wav_b64": b64(clips[0])},
            {"transaction": "b", "pipeline": "kws", "command": "learned"},
            {"transaction": "c", "pipeline": "kws", "command": "learn", "label": "banana",
             "audio_wav_b64": "%%%"},
        ]
        for req in requests:
            # the pipeline may still be starting: ask until it answers something else than "no running"
            for _ in range(100):
                n = len(rec.json("response/pipeline"))
                rec.client.publish("akida/n7/request/pipeline", json.dumps(req), qos=1)
                assert rec.wait_for(lambda r, n=n: len(r.json("response/pipeline")) > n)
                last = rec.json("response/pipeline")[-1]
                if "no running pipeline" not in last.get("error", ""):
                    break
                threading.Event().wait(0.2)
        by_tx = {r["transaction"]: r for r in rec.json("response/pipeline")}
        assert by_tx["a"]["status"] == "ok" and by_tx["a"]["data"]["words"] == ["banana"]
        assert by_tx["b"]["status"] == "ok" and by_tx["b"]["data"] == {"words": ["banana"]}
        assert by_tx["c"]["status"] == "error" and "not valid base64" in by_tx["c"]["error"]
    finally:
        rec.close()
        stopper = threading.Thread(target=daemon.shutdown, daemon=True)
        stopper.start()
        stopper.join(STOP_DRAIN_S + 60.0)
        assert not stopper.is_alive(), "Daemon.shutdown() hung"
