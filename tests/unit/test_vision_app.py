"""The vision app (`apps/vision/app.py`, the `vision` CLI) on real files — MJPG videos written with
OpenCV and EVT 2.0 recordings — with a stand-in gesture model (`vision_fakes`): a swipe rendered
to the right must be named so, at the time it happened, whichever file carries it."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from vision_fakes import VIEW, FakeGestureModel, swipe_frames, write_video

from akida_edge.apps.vision.app import FrameEvents, Recognizer, load_events
from akida_edge.cli import main
from akida_edge.errors import InputDataError

pytestmark = pytest.mark.unit
FPS = 50.0


@pytest.fixture(scope="module")
def gm() -> FakeGestureModel:
    return FakeGestureModel()


@pytest.fixture
def fake_model_module(monkeypatch, gm):
    """`akida_edge.apps.vision.gesture_model` replaced by the stand-in, for the CLI."""
    module = types.ModuleType("akida_edge.apps.vision.gesture_model")
    module.GestureModel = types.SimpleNamespace(load=lambda path=None: gm)
    monkeypatch.setitem(sys.modules, "akida_edge.apps.vision.gesture_model", module)
    monkeypatch.setenv("AKIDA_EDGE_STATE_DIR", "")
    return module


def encode_evt2(ev: np.ndarray) -> bytes:
    """EVT 2.0 words: TIME_HIGH (t >> 6) whenever it changes, then CD_ON / CD_OFF events."""
    words, high = [], None
    cols = (ev["t"].tolist(), ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist())
    for t, x, y, p in zip(*cols, strict=True):
        if t >> 6 != high:
            high = t >> 6
            words.append((0x8 << 28) | (high & 0x0FFFFFFF))
        words.append(((1 if p > 0 else 0) << 28) | ((t & 0x3F) << 22) | (x << 11) | y)
    return np.asarray(words, "<u4").tobytes()


def write_evt(path, events: np.ndarray, shape: tuple[int, int]):
    h, w = shape
    path.write_bytes(f"% evt 2.0\n% format EVT2;height={h};width={w}\n% end\n".encode() + encode_evt2(events))
    return path


def swipe_events(direction: int, seed: int = 0):
    frames, a, b = swipe_frames(direction, FPS, seed=seed)
    fe = FrameEvents()
    ev = np.concatenate([fe.step(f, int(round(i * 1e6 / FPS))) for i, f in enumerate(frames)])
    return ev, fe.sensor_shape, (a, b)


@pytest.mark.parametrize("direction,label", [(1, "swipe_right"), (-1, "swipe_left")])
def test_a_swipe_in_a_video_and_in_an_evt_recording_is_named_at_its_time(tmp_path, gm, direction, label):
    rec = Recognizer(gm=gm, state_dir=tmp_path / "state")
    frames, a_s, b_s = swipe_frames(direction, FPS)
    video = rec.classify_file(write_video(tmp_path / "swipe.avi", frames))
    assert [g.label for g in video] == [label]
    g = video[0]
    # the window that names it holds the motion: it ends after the motion started, within a window
    assert a_s * 1000 < g.t_end_ms <= b_s * 1000 + VIEW.window_ms
    assert g.t_end_ms - g.t_start_ms == pytest.approx(VIEW.window_ms)
    events, shape, _ = swipe_events(direction)
    evt = rec.classify_file(write_evt(tmp_path / "swipe.raw", events, shape))
    assert [x.label for x in evt] == [label]
    assert abs(evt[0].t_end_ms - g.t_end_ms) <= VIEW.hop_ms  # one code path, up to MJPG's loss


def test_a_still_scene_gives_no_gesture_and_runs_nothing_on_the_chip(tmp_path, gm):
    rec = Recognizer(gm=gm, state_dir=tmp_path)
    frames, _, _ = swipe_frames(1, FPS)
    still = np.repeat(frames[:1], 60, axis=0)
    stream = rec.stream((48, 48))
    fe = FrameEvents()
    found = []
    for i, f in enumerate(still):
        t = int(round(i * 1e6 / FPS))
        found += stream.push(fe.step(f, t), t)
    assert found == []
    assert stream.windows > 0 and stream.busy_windows == 0


def test_video_events_and_the_streaming_path_agree(tmp_path):
    from akida_edge.apps.vision.representation import video_events

    frames, _, _ = swipe_frames(1, FPS)
    whole, shape = video_events(list(frames), FPS)
    fe = FrameEvents()
    parts = np.concatenate([fe.step(f, int(round(i * 1e6 / FPS))) for i, f in enumerate(frames)])
    assert shape == fe.sensor_shape
    np.testing.assert_array_equal(whole, parts)


def test_large_frames_are_shrunk_to_the_training_scale():
    fe = FrameEvents()
    fe.step(np.zeros((480, 640, 3), np.uint8), 0)
    side = min(fe.sensor_shape)
    assert side == 128 and fe.sensor_shape[1] == round(640 * side / 480)
    raw = FrameEvents(side_px=None)
    raw.step(np.zeros((480, 640), np.uint8), 0)
    assert raw.sensor_shape == (480, 640)


def test_bad_files_are_one_line_each_naming_the_file(tmp_path, gm):
    rec = Recognizer(gm=gm, state_dir=tmp_path)
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all")
    truncated = tmp_path / "cut.raw"
    truncated.write_bytes(b"% evt 2.0\n% format EVT2;height=48;width=48\n% end\n" + b"\x00\x00\x80")
    for bad in (tmp_path / "missing.mp4", tmp_path, junk, truncated):
        with pytest.raises(InputDataError) as info:
            rec.classify_file(bad)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputDataError, match="missing"):
        load_events(tmp_path / "missing.mp4")


def test_recordings_with_nothing_to_classify_are_errors_not_no_gesture(tmp_path, gm):
    """Session-27 audit: an EVT recording without events and a one-frame video (or a still image)
    were "no gesture", exit 0: a verdict on nothing, where a WAV without samples is an error."""
    rec = Recognizer(gm=gm, state_dir=tmp_path)
    empty = tmp_path / "empty.raw"
    empty.write_bytes(b"% evt 3.0\n% format EVT3;height=48;width=48\n% end\n")
    with pytest.raises(InputDataError, match=rf"{empty}: holds no events \(an empty recording\)"):
        rec.classify_file(empty)
    frames, _, _ = swipe_frames(1, FPS)
    one = write_video(tmp_path / "one.avi", frames[:1])
    with pytest.raises(InputDataError, match=rf"{one}: holds one frame \(a still image\)"):
        rec.classify_file(one)
    assert rec.classify_file(write_video(tmp_path / "two.avi", frames[:2])) == []  # two frames: a verdict


def test_a_video_cut_short_is_an_error_naming_it_not_fewer_gestures(tmp_path, gm):
    """Session-14 audit: an AVI cut short (a copy or a download interrupted) was read up to the cut
    without a word: `classify` gave the gestures before it ("no gesture" for most of a clip) with
    exit 0, and `learn` learned from the part. Its header's frame count tells."""
    frames, _, _ = swipe_frames(1, FPS)
    whole = write_video(tmp_path / "whole.avi", frames)
    data = whole.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 3])
    rec = Recognizer(gm=gm, state_dir=tmp_path)
    assert [g.label for g in rec.classify_file(whole)] == ["swipe_right"]
    load_events(whole)
    message = rf"{cut}: truncated \(its header declares {len(frames)} frames, \d+ could be read\); give"
    with pytest.raises(InputDataError, match=message):
        rec.classify_file(cut)
    with pytest.raises(InputDataError, match=message):
        load_events(cut)


def test_cli_classify_json_reports_every_file_and_fails_for_the_bad_one(tmp_path, capsys, fake_model_module):
    frames, _, _ = swipe_frames(1, FPS)
    good = write_video(tmp_path / "right.avi", frames)
    missing = tmp_path / "nope.avi"
    code = main(["vision", "classify", "--json", "--state", str(tmp_path / "s"), str(missing), str(good)])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert rows[0] == {"file": str(missing), "error": rows[0]["error"]} and "nope.avi" in rows[0]["error"]
    assert [(r["file"], r["label"]) for r in rows[1:]] == [(str(good), "swipe_right")]
    assert {"t_start_ms", "t_end_ms", "score"} <= set(rows[1])
    assert err.count("akida-edge: error:") == 1 and "nope.avi" in err
    assert main(["vision", "classify", "--state", str(tmp_path / "s"), str(good)]) == 0
    assert "swipe_right" in capsys.readouterr().out


def test_watch_prints_gestures_of_a_camera_as_they_happen(tmp_path, gm):
    import io

    from akida_edge.apps.vision.watch import run
    from akida_edge.drivers.camera import CameraConfig, CameraSource

    frames, a_s, b_s = swipe_frames(-1, FPS)
    path = write_video(tmp_path / "cam.avi", frames)
    rec = Recognizer(gm=gm, state_dir=tmp_path)
    out = io.StringIO()
    source = CameraSource(CameraConfig(device=str(path))).open()  # a file paced like a camera
    assert run(source, rec, rec.segment_params(), out, as_json=True) == 1
    row = json.loads(out.getvalue())
    assert row["file"] == "camera" and row["label"] == "swipe_left"
    assert a_s * 1000 < row["t_end_ms"] <= b_s * 1000 + VIEW.window_ms


def test_watch_preview_without_a_display_is_one_clear_line(monkeypatch, capsys, fake_model_module):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["vision", "watch", "--preview", "--duration", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("akida-edge: error: --preview needs a display") and "\n" not in err


def test_a_model_with_other_classes_and_a_bad_threshold_are_refused(tmp_path, gm, capsys, fake_model_module):
    other = types.SimpleNamespace(**{**vars(gm), "labels": ("a", "b")})
    with pytest.raises(InputDataError, match="gesture model gives the classes"):
        Recognizer(gm=other, state_dir=tmp_path)
    assert main(["vision", "classify", "--threshold", "1.5", "--state", str(tmp_path), "x.avi"]) == 2
    assert "--threshold 1.5" in capsys.readouterr().err
    params = Recognizer(gm=gm, state_dir=tmp_path).segment_params(threshold=0.7)
    assert params.threshold == 0.7 and params.window_ms == gm.view.window_ms


def test_load_events_reads_an_evt_clip_and_a_video_clip(tmp_path):
    events, shape, _ = swipe_events(1)
    got, got_shape = load_events(write_evt(tmp_path / "c.raw", events, shape))
    assert got_shape == shape
    np.testing.assert_array_equal(got[["t", "x", "y"]], events[["t", "x", "y"]])
    frames, _, _ = swipe_frames(1, FPS)
    ev, sh = load_events(write_video(tmp_path / "c.avi", frames))
    assert sh == shape and ev.size > 0 and np.all(np.diff(ev["t"]) >= 0)
