"""Gesture learning (`apps/vision/learn.py`, `vision learn|forget|learned`) with the stand-in model:
a gesture the base model does not know is learned from five clips, wins its own windows in the
one competition against base-class prototypes, does not take the base gestures' windows, survives
a restart, and can be forgotten."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from vision_fakes import VIEW, FakeGestureModel, swipe_frames, write_video

from akida_edge.apps.vision import learn as Lr
from akida_edge.apps.vision.app import FrameEvents, Recognizer
from akida_edge.apps.vision.labels import BACKGROUND, CLASSES
from akida_edge.apps.vision.representation import clip_tensor
from akida_edge.cli import main
from akida_edge.errors import ConfigError, InputDataError

pytestmark = pytest.mark.unit
FPS = 50.0


@pytest.fixture(scope="module")
def gm() -> FakeGestureModel:
    return FakeGestureModel()


def clip(direction: int, seed: int, vertical: bool):
    frames, _, _ = swipe_frames(direction, FPS, seed=seed, vertical=vertical, still_s=0.2)
    fe = FrameEvents()
    ev = np.concatenate([fe.step(f, int(round(i * 1e6 / FPS))) for i, f in enumerate(frames)])
    return ev, fe.sensor_shape


def windows(direction: int, seeds, vertical: bool) -> np.ndarray:
    return np.concatenate([Lr.busiest_windows(*clip(direction, s, vertical), VIEW) for s in seeds])


def fake_base(view):
    """Base prototypes for the two swipes the stand-in knows (the real ones come from the data set)."""
    x = np.concatenate([windows(1, range(20, 23), False), windows(-1, range(20, 23), False)])
    return x, np.repeat([CLASSES.index("swipe_right"), CLASSES.index("swipe_left")], len(x) // 2)


@pytest.fixture
def learned(tmp_path, gm, monkeypatch):
    monkeypatch.setattr(Lr.LearnedGestures, "base_examples", staticmethod(fake_base))
    lg = Lr.LearnedGestures(gm, tmp_path)
    lg.learn_clips("drop", [clip(1, s, True) for s in range(5)])
    return lg


def test_busiest_window_holds_the_motion_and_refuses_an_empty_clip():
    ev, shape = clip(1, 0, False)
    x = Lr.busiest_windows(ev, shape, VIEW)
    assert x.shape == (len(Lr.SHIFTS), *VIEW.tensor_shape) and x.dtype == np.uint8
    # the first window is the busiest: the most events of any window start on the slice grid
    t = np.sort(ev["t"])
    starts = np.arange(t[0] - VIEW.window_us + VIEW.slice_us, t[-1] + 1, VIEW.slice_us)
    counts = np.array([np.count_nonzero((t >= s) & (t < s + VIEW.window_us)) for s in starts])
    busiest = [clip_tensor(ev, shape, VIEW, s, s + VIEW.window_us) for s in starts[counts == counts.max()]]
    assert any(np.array_equal(x[0], b) for b in busiest)
    for k, w in zip(Lr.SHIFTS[1:], x[1:], strict=True):  # the others: whole hops from it
        assert any(np.array_equal(w, clip_tensor(ev, shape, VIEW, s + k * VIEW.hop_us,
                                                 s + k * VIEW.hop_us + VIEW.window_us))
                   for s in starts[counts == counts.max()])
    with pytest.raises(InputDataError, match="no events"):
        Lr.busiest_windows(ev[:0], shape, VIEW)


def test_a_learned_gesture_wins_its_windows_and_leaves_the_base_swipes_alone(learned, gm):
    assert learned.n_base == len(CLASSES) and learned.labels == ["drop"]
    assert learned.model.learning.num_weights <= int(np.prod(learned.model.layers[-1].input_shape)) // 2
    learned.match = 0.0  # the competition alone (the stand-in's random features match weakly)
    down, right = windows(1, range(10, 13), True), windows(1, range(10, 13), False)
    col = len(CLASSES)  # the learned gesture's column
    p_down = learned.decide(gm.features(down), gm.probabilities(down))
    p_right = learned.decide(gm.features(right), gm.probabilities(right))
    assert np.mean(p_down.argmax(axis=1) == col) >= 2 / 3
    base_right = gm.probabilities(right).argmax(axis=1)
    assert np.all(p_right.argmax(axis=1) == base_right)  # the base answer stands on the base swipes
    assert np.mean(base_right == CLASSES.index("swipe_right")) >= 0.5
    np.testing.assert_allclose(p_down.sum(axis=1), 1.0, atol=1e-6)  # still a distribution


def test_the_match_floor_keeps_the_base_answer(learned, gm):
    learned.match = 1.01  # no match can reach it
    down = windows(1, range(10, 12), True)
    p = learned.decide(gm.features(down), gm.probabilities(down))
    assert np.all(p[:, len(CLASSES)] == 0)
    assert np.all(p.argmax(axis=1) == CLASSES.index(BACKGROUND))  # what the base model says


def test_learned_state_survives_a_restart_and_forget_frees_the_name(learned, gm, tmp_path):
    again = Lr.LearnedGestures(gm, tmp_path)
    assert again.gestures == ["drop"] and again.n_base == learned.n_base
    np.testing.assert_array_equal(again.model.learning.weights, learned.model.learning.weights)
    again.forget("drop")
    assert Lr.LearnedGestures(gm, tmp_path).labels == [""]
    with pytest.raises(ConfigError, match="not a learned gesture"):
        again.forget("drop")
    again.learn_clips("nod", [clip(-1, 0, True)])  # reuses the forgotten class
    assert again.labels == ["nod"]


def test_without_base_prototypes_the_match_alone_decides(tmp_path, gm):
    lg = Lr.LearnedGestures(gm, tmp_path, use_base=False)
    lg.learn_clips("drop", [clip(1, s, True) for s in range(5)])
    assert lg.n_base == 0 and lg.classes == ["drop"]
    lg.match = 0.0
    down = windows(1, range(10, 11), True)
    down = down[down.reshape(len(down), -1).any(axis=1)]  # the windows that hold events
    p = lg.decide(gm.features(down), gm.probabilities(down))
    assert len(down) >= 3 and np.all(p.argmax(axis=1) == len(CLASSES))


def test_names_of_base_classes_are_refused():
    assert Lr.check_name("wave", CLASSES) is None
    for bad in ("swipe_left", BACKGROUND, "", "two words", 3):
        assert Lr.check_name(bad, CLASSES)


def test_cli_learn_learned_forget(tmp_path, gm, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "akida_edge.apps.vision.gesture_model",
                        types.SimpleNamespace(GestureModel=types.SimpleNamespace(load=lambda path=None: gm)))
    monkeypatch.setattr(Lr.LearnedGestures, "base_examples", staticmethod(fake_base))
    state = str(tmp_path / "state")
    clips = []
    for s in range(3):
        frames, _, _ = swipe_frames(1, FPS, seed=s, vertical=True, still_s=0.2)
        clips.append(str(write_video(tmp_path / f"down{s}.avi", frames)))
    code = main(["vision", "learn", "--label", "drop", "--state", state, *clips, str(tmp_path / "x.avi")])
    out, err = capsys.readouterr()
    assert code == 1 and "x.avi" in err, err  # the bad file is named, the others are learned
    assert "first gesture on this device: rendering the base gestures" in err  # seconds of CPU, said
    assert f"learned 'drop' from 3 clip(s) ({3 * len(Lr.SHIFTS)} windows)" in out
    assert main(["vision", "learned", "--json", "--state", state]) == 0
    assert json.loads(capsys.readouterr().out)["gestures"] == ["drop"]
    assert main(["vision", "learn", "--label", "swipe_left", "--state", state, clips[0]]) == 2
    assert "swipe_left" in capsys.readouterr().err
    assert main(["vision", "learn", "--label", "drop", "--state", state, clips[0]]) == 0  # one more clip
    assert "rendering the base gestures" not in capsys.readouterr().err  # only the first time
    assert Recognizer(gm=gm, state_dir=state).classes == CLASSES + ("drop",)
    assert main(["vision", "forget", "drop", "--state", state]) == 0
    assert main(["vision", "learned", "--state", state]) == 0
    assert "no learned gestures" in capsys.readouterr().out


def test_a_newer_model_learns_the_gestures_again_from_the_kept_windows(learned, tmp_path, caplog):
    nods = [clip(-1, s, True) for s in range(2)]
    learned.learn_clips("nod", nods)
    learned.learn_clips("wave", [clip(1, 7, False)])
    learned.forget("drop")
    old_bytes = learned.store.path(Lr.STATE_NAME).read_bytes()
    newer = FakeGestureModel(seed=6)  # another backbone: the state cannot move to it
    with caplog.at_level("WARNING", logger="akida_edge.replay"):
        again = Lr.LearnedGestures(newer, tmp_path)
    assert again.gestures == ["nod", "wave"] and again.n_base == len(CLASSES)
    assert "learned nod, wave again on this model" in caplog.text
    fresh = Lr.LearnedGestures(newer, tmp_path / "fresh")  # teaching it the same clips by hand
    fresh.learn_clips("nod", nods)
    fresh.learn_clips("wave", [clip(1, 7, False)])
    for name, value in fresh.model.learning.arrays().items():
        np.testing.assert_array_equal(again.model.learning.arrays()[name], value, err_msg=name)
    assert again.classes == fresh.classes
    # kept packed at the input's 2 bits: a quarter of the window's bytes
    assert {(x.nbytes, bits) for x, bits in again.kept.items} == {(16 * 16 * 4 // 4, 2)}
    kept = sorted(tmp_path.glob("vision.*.learned"))
    assert len(kept) == 1 and kept[0].read_bytes() == old_bytes
    assert Lr.LearnedGestures(learned.gm, tmp_path).gestures == ["nod", "wave"]  # the old model's state


def test_a_state_without_kept_windows_stays_with_its_model(learned, tmp_path):
    learned.kept = Lr.replay.ReplayLog("", Lr.PER_GESTURE)  # what a state from before session 10 holds
    learned.save()
    assert Lr.LearnedGestures(learned.gm, tmp_path).kept.unkept == ["drop"]
    with pytest.raises(Lr.IncompatibleStateError, match="keeps no clips"):
        Lr.LearnedGestures(FakeGestureModel(seed=6), tmp_path)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_kept_windows_pack_at_the_input_bits_and_unpack_exactly(rng, bits):
    x = rng.integers(0, 1 << bits, (5, 7, 6, 3)).astype(np.uint8)  # 126 values: not a whole byte at 4/8
    p = Lr.pack(x, bits)
    assert p.shape == (5, -(-126 * bits // 8)) and p.dtype == np.uint8
    np.testing.assert_array_equal(Lr.unpack(p, bits, (7, 6, 3)), x)


def test_a_device_upgraded_from_a_state_without_kept_windows_can_teach_gestures_again(learned, tmp_path,
                                                                                      monkeypatch):
    """Session-10 audit: `vision learn` (and the MQTT learn command) refused such a state ("use
    another --state DIR"), so the device could not be taught; now a new state is started for the new
    model and the old one is kept, byte for byte, where the old model finds its gestures."""
    from akida_edge.engine.learning_state import backbone_hash

    learned.kept = Lr.replay.ReplayLog("", Lr.PER_GESTURE)  # what a state from before session 10 holds
    learned.save()
    before = learned.store.path(Lr.STATE_NAME).read_bytes()
    newer = FakeGestureModel(seed=6)
    recognizer = Recognizer(gm=newer, state_dir=tmp_path)
    assert recognizer.learned is None and "keeps no clips" in recognizer.learned_problem
    recognizer.learn_afresh()
    recognizer.learned.learn_clips("nod", [clip(-1, s, True) for s in range(2)])
    assert recognizer.learned.gestures == ["nod"] and recognizer.learned_problem == ""
    assert learned.store.kept_path(Lr.STATE_NAME, backbone_hash(learned.model)).read_bytes() == before
    assert Lr.LearnedGestures(newer, tmp_path).gestures == ["nod"]
    assert Lr.LearnedGestures(learned.gm, tmp_path).gestures == ["drop"]  # the old model's own state
    # only a state of another model is set aside: without one, the problem stands
    with pytest.raises(Lr.IncompatibleStateError, match="the problem"):
        Lr.LearnedGestures.afresh(learned.gm, tmp_path / "empty", Lr.IncompatibleStateError("the problem"))
    with pytest.raises(Lr.IncompatibleStateError, match="the problem"):  # this model's own state
        Lr.LearnedGestures.afresh(newer, tmp_path, Lr.IncompatibleStateError("the problem"))


def test_a_damaged_state_without_backup_starts_a_new_one(learned, gm, tmp_path):
    """Session-27 audit: as for keywords (test_kws_learn_state), a damaged gestures state with no
    backup blocked learning; now it is set aside at the next save and learning goes on."""
    path = learned.store.path(Lr.STATE_NAME)
    damaged = path.read_bytes()[:500]
    path.write_bytes(damaged)
    again = Lr.LearnedGestures(gm, tmp_path)
    assert again.gestures == []
    again.learn_clips("nod", [clip(-1, 0, True)])
    assert Lr.LearnedGestures(gm, tmp_path).gestures == ["nod"]
    assert path.with_name(path.name + ".corrupt").read_bytes() == damaged
