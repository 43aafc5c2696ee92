"""A model upgrade re-learns a device's KWS words from the clips kept with them
(`apps.kws.kept_clips`, `learn.Learned`), and keeps the old state; a state without clips is kept
unused with the reason."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from akida_edge import cli
from akida_edge.apps.kws import learn as K
from akida_edge.apps.kws.app import MODEL_PATH, Spotter
from akida_edge.engine.modelfile import load_model
from akida_edge.state import IncompatibleStateError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base():
    return load_model(MODEL_PATH)


@pytest.fixture(scope="module")
def newer():
    """The shipped model with other binary features: a backbone a learned state cannot move to."""
    model = load_model(MODEL_PATH)
    layer = model.layers[-2]
    threshold = layer.get_variable("threshold").copy()
    threshold[::3] += np.abs(threshold[::3]) // 2 + 1
    layer.set_variable("threshold", threshold)
    return model


def mels(rng: np.random.Generator, n: int, frames: int = 70) -> list[np.ndarray]:
    """Log-mel of noise clips with a louder stretch (any input teaches the learning layer something)."""
    out = []
    for _ in range(n):
        mel = rng.normal(-50.0, 12.0, (frames, 40)).astype(np.float32)
        a = int(rng.integers(0, frames - 20))
        mel[a: a + 20] += 25.0
        out.append(mel)
    return out


def arrays(learned: K.Learned) -> dict[str, np.ndarray]:
    return learned.model.learning.arrays()


def teach(learned: K.Learned, rng: np.random.Generator) -> list[tuple[str, list[np.ndarray]]]:
    calls = [("banana", mels(rng, 3)), ("yes", mels(rng, 2, frames=30)), ("cherry", mels(rng, 2)),
             ("banana", mels(rng, 1))]
    for word, clips in calls:
        learned.learn(word, clips)
    return calls


def test_a_newer_model_relearns_the_words_from_their_kept_clips(base, newer, tmp_path, rng, caplog):
    old = K.Learned(base, tmp_path / "device")
    calls = teach(old, rng)
    old.forget("cherry")
    old_bytes = old.store.path(K.STATE_NAME).read_bytes()
    with caplog.at_level(logging.WARNING, logger="akida_edge.replay"):
        upgraded = K.Learned(newer, tmp_path / "device")
    assert upgraded.words == ["banana", "yes"]  # the forgotten word is not re-learned
    assert "learned banana, yes again on this model from their 6 kept clips" in caplog.text
    assert "NOT" not in caplog.text
    # the same as teaching the newer model the same clips in the same order
    fresh = K.Learned(newer, tmp_path / "fresh")
    for word, clips in calls:
        if word != "cherry":
            fresh.learn(word, clips)
    for name, value in arrays(fresh).items():
        assert np.array_equal(arrays(upgraded)[name], value), name
    assert np.array_equal(upgraded.known_matches, fresh.known_matches, equal_nan=True)
    # saved as the current state; the old one kept byte for byte
    kept = sorted((tmp_path / "device").glob("kws.*.learned"))
    assert len(kept) == 1 and kept[0].read_bytes() == old_bytes
    again = K.Learned(newer, tmp_path / "device")
    assert again.words == ["banana", "yes"] and again.clips.count("banana") == 4
    # the old model still finds its own state
    assert K.Learned(base, tmp_path / "device").words == ["banana", "yes"]


def test_replaying_on_the_same_model_gives_the_same_state(base, tmp_path, rng):
    learned = K.Learned(base, tmp_path / "a")
    teach(learned, rng)
    replay = K.Learned(base, tmp_path / "b")
    for word, clips in K.Learned(base, tmp_path / "a").clips.calls():
        replay._learn_clips(word, clips)
    for name, value in arrays(learned).items():
        assert np.array_equal(arrays(replay)[name], value), name
    assert replay.labels == learned.labels


def test_a_state_without_clips_is_kept_unused_with_the_reason(base, newer, tmp_path, rng, capsys):
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))
    # what session 9 wrote: layout 2, no clips
    learned.store.save_model(K.STATE_NAME, learned.model,
                             extra={"labels": learned.labels, "version": 2,
                                    "known_words": learned._known_digest()},
                             arrays={"known_matches": learned.known_matches})
    assert K.Learned(base, tmp_path).words == ["banana"]  # layout 2 still loads on its own model
    before = learned.store.path(K.STATE_NAME).read_bytes()
    with pytest.raises(IncompatibleStateError, match="keeps no clips to learn again from"):
        K.Learned(newer, tmp_path)
    assert learned.store.path(K.STATE_NAME).read_bytes() == before
    spotter = Spotter(state_dir=tmp_path)  # the shipped model: the words are there
    assert spotter.learned is not None and spotter.learned.words == ["banana"]


def test_words_learned_before_clips_were_kept_are_named_when_the_rest_is_learned_again(
        base, newer, tmp_path, rng, caplog):
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))
    learned.learn("cherry", mels(rng, 2))
    # what session 9 wrote: layout 2, no clips
    learned.store.save_model(K.STATE_NAME, learned.model,
                             extra={"labels": learned.labels, "version": 2,
                                    "known_words": learned._known_digest()},
                             arrays={"known_matches": learned.known_matches})
    now = K.Learned(base, tmp_path)
    now.learn("cherry", mels(rng, 1))  # clips are kept from now on
    now.learn("yes", mels(rng, 2))
    with caplog.at_level(logging.WARNING, logger="akida_edge.replay"):
        upgraded = K.Learned(newer, tmp_path)
    assert upgraded.words == ["cherry", "yes"]
    assert "NOT banana: no clip of them was kept" in caplog.text
    assert "cherry only from the clips kept since" in caplog.text
    assert upgraded.clips.unkept == ["cherry"]


def test_a_state_that_cannot_be_saved_is_relearned_in_memory(base, newer, tmp_path, rng, monkeypatch,
                                                              caplog):
    teach(K.Learned(base, tmp_path), rng)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    def read_only(_self):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(K.Learned, "save", read_only)
    with caplog.at_level(logging.WARNING, logger="akida_edge.replay"):
        upgraded = K.Learned(newer, tmp_path)
    assert upgraded.words == ["banana", "yes", "cherry"]
    assert "could not save them" in caplog.text and "learned again at every start" in caplog.text
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_an_exported_state_relearns_on_a_device_with_a_newer_model(base, newer, tmp_path, rng, capsys):
    teach(K.Learned(base, tmp_path / "a"), rng)
    export = tmp_path / "words.akstate"
    assert cli.main(["state", "export", str(export), "--state", str(tmp_path / "a")]) == 0
    assert cli.main(["state", "import", str(export), "--state", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert K.Learned(newer, tmp_path / "b").words == ["banana", "yes", "cherry"]
    assert cli.main(["kws", "learned", "--json", "--state", str(tmp_path / "b")]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["words"] == ["banana", "yes", "cherry"]
    assert listed["clips"] == {"banana": 4, "yes": 2, "cherry": 2}
    assert cli.main(["state", "list", "--json", "--state", str(tmp_path / "b")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # the state learned again on the newer model, and the imported one kept for the old model
    assert sorted("kept" in r for r in rows) == [False, True] and {r["inputs_kept"] for r in rows} == {8}
    assert cli.main(["state", "list", "--state", str(tmp_path / "b")]) == 0
    assert "8 learning inputs kept for a newer model" in capsys.readouterr().out


def test_inconsistent_kept_clips_leave_the_words_working_and_are_named(base, tmp_path, rng, caplog):
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))
    entry = learned.store.load(K.STATE_NAME)
    entry.arrays["clips/length"] = entry.arrays["clips/length"][:-1]  # a clip's frame count lost
    learned.store.save(entry)
    with caplog.at_level(logging.WARNING, logger="akida_edge.apps.kws.learn"):
        again = K.Learned(base, tmp_path)
    assert again.words == ["banana"] and "inconsistent" in caplog.text
    assert again.clips.unkept == ["banana"] and again.clips.calls() == []
