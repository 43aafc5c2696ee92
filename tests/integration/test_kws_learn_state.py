"""KWS learned state (`apps.kws.learn.Learned`): the known-word calibration is saved with the words,
an older layout is kept and calibrated on load, a newer one is kept unused with the reason."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from state_files import as_newer_format

from akida_edge import cli
from akida_edge.apps.kws import known_words
from akida_edge.apps.kws import learn as K
from akida_edge.apps.kws.app import Spotter
from akida_edge.drivers.wavfile import write_wav
from akida_edge.engine.modelfile import load_model
from akida_edge.errors import InputDataError
from akida_edge.state import IncompatibleStateError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base():
    from akida_edge.apps.kws.app import MODEL_PATH

    return load_model(MODEL_PATH)


def mels(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Log-mel of `n` noise clips (any input teaches the learning layer something)."""
    return [rng.normal(-45.0, 12.0, (55, 40)).astype(np.float32) for _ in range(n)]


def test_learning_saves_the_calibration_and_forgetting_clears_it(base, tmp_path, rng):
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))
    learned.learn("yes", mels(rng, 2))
    _, labels = known_words.load()
    n_yes = labels.count("yes")
    entry = learned.store.load(K.STATE_NAME)
    assert entry.extra["version"] == K.STATE_VERSION and entry.extra["labels"] == ["banana", "yes"]
    stored = entry.arrays["known_matches"]
    assert stored.shape == (2, len(labels))
    # a new word is calibrated on every known clip, an adaptation word on the other words' clips
    assert np.isfinite(stored[0]).sum() == len(labels)
    assert np.isfinite(stored[1]).sum() == len(labels) - n_yes
    feats = learned._known_features()[0]
    assert np.allclose(np.sort(stored[0]), np.sort(learned._match_features(feats)[:, 0]))
    learned.forget("banana")
    again = K.Learned(base, tmp_path)
    assert again.words == ["yes"] and np.isnan(again.known_matches[0]).all()
    assert np.array_equal(again.known_matches[1], learned.known_matches[1], equal_nan=True)


def test_the_stored_calibration_works_without_the_known_word_set(base, tmp_path, rng, monkeypatch):
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))

    def missing(*_args):
        raise InputDataError("known_words.npz: the known-word set is missing")

    monkeypatch.setattr(known_words, "load", missing)
    again = K.Learned(base, tmp_path)
    assert again.words == ["banana"]
    assert np.array_equal(again.known_matches, learned.known_matches, equal_nan=True)
    with pytest.raises(InputDataError, match="missing"):  # learning needs the set: one line
        again.learn("cherry", mels(rng, 1))
    assert again.labels == ["banana"] and K.Learned(base, tmp_path).words == ["banana"]


def test_a_layout_1_state_is_kept_and_calibrated_on_load(base, tmp_path, rng, caplog):
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 3))
    expected = learned.known_matches.copy()
    # what session 1 wrote: the labels only
    learned.store.save_model(K.STATE_NAME, learned.model, extra={"labels": learned.labels})
    before = learned.store.path(K.STATE_NAME).read_bytes()
    with caplog.at_level(logging.WARNING, logger="akida_edge.apps.kws.learn"):
        old = K.Learned(base, tmp_path)
    assert "layout version 1" in caplog.text and "banana" in caplog.text
    assert old.words == ["banana"]
    assert np.array_equal(old.known_matches, expected, equal_nan=True)
    assert learned.store.path(K.STATE_NAME).read_bytes() == before  # loading writes nothing
    old.learn("banana", mels(rng, 1))  # the next learn saves the current layout
    assert old.store.load(K.STATE_NAME).extra["version"] == K.STATE_VERSION


def test_a_newer_layout_is_kept_unused_with_the_reason(base, tmp_path, rng, capsys):
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))
    learned.store.save_model(K.STATE_NAME, learned.model,
                             extra={"labels": learned.labels, "version": K.STATE_VERSION + 1})
    before = learned.store.path(K.STATE_NAME).read_bytes()
    with pytest.raises(IncompatibleStateError, match=f"layout version {K.STATE_VERSION + 1}.*upgrade"):
        K.Learned(base, tmp_path)
    spotter = Spotter(state_dir=tmp_path)  # classification goes on with the base model
    assert spotter.learned is None and "upgrade akida-edge" in capsys.readouterr().err
    wav = tmp_path / "clip.wav"
    write_wav(wav, (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    assert cli.main(["kws", "learn", "--label", "banana", str(wav), "--state", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "cannot learn" in err[-1] and f"layout version {K.STATE_VERSION + 1}" in err[-1]
    assert learned.store.path(K.STATE_NAME).read_bytes() == before


def test_a_state_of_a_newer_akida_edge_is_kept_unused_not_rolled_back(base, tmp_path, rng, capsys):
    """Session-14 audit: after a downgrade, `kws classify` took the newer version's state file for a
    corrupt one, moved it aside as .corrupt and restored the older backup (the words learned last
    lost once the newer version came back). Now it goes on with the base model, as for a newer
    layout, `kws learn` refuses, and the files stay as they were."""
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))
    learned.learn("cherry", mels(rng, 2))  # the backup holds banana only
    path = learned.store.path(K.STATE_NAME)
    newer = as_newer_format(path)
    backup = learned.store.backup_path(K.STATE_NAME).read_bytes()
    spotter = Spotter(state_dir=tmp_path)
    assert spotter.learned is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by a newer akida-edge" in err[0] and "upgrade akida-edge" in err[0]
    wav = tmp_path / "clip.wav"
    write_wav(wav, (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    assert cli.main(["kws", "classify", str(wav), "--state", str(tmp_path)]) == 0
    assert cli.main(["kws", "learn", "--label", "banana", str(wav), "--state", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "cannot learn" in err[-1] and "upgrade akida-edge" in err[-1]
    assert path.read_bytes() == newer
    assert learned.store.backup_path(K.STATE_NAME).read_bytes() == backup
    assert not path.with_name(path.name + ".corrupt").exists()


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="espeak-ng and sox are needed (scripts/setup.sh installs them)")
def test_learning_a_word_the_base_model_is_sure_of_warns_which_keyword_keeps_it(tmp_path, rng, capsys):
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"down-{i}.wav"))
        write_wav(paths[-1], known_words.clip(rng, "en-us", "down"), 16000)
    sure = [Spotter(learned=False).classify_file(p) for p in paths]
    assert all(r["label"] == "down" and r["score"] >= K.BASE_VETO for r in sure)  # the premise
    state = str(tmp_path / "state")
    assert cli.main(["kws", "learn", "--label", "dune", *paths, "--state", state]) == 0
    err = capsys.readouterr().err
    assert "warning: the base model is sure 'dune' is 'down' in 9 of 9 samples" in err
    # learning `down` itself (adaptation) raises no such warning: its own keyword is no rival
    assert cli.main(["kws", "learn", "--label", "down", *paths, "--state", state]) == 0
    assert "warning" not in capsys.readouterr().err


def test_decision_settings_default_to_the_module_values_when_the_store_opens(base, tmp_path, monkeypatch):
    """`scripts/kws_learn_dev.py --set FALSE_ACCEPT=...` sets the module's constant: a store opened
    afterwards decides with it (an explicit argument still wins)."""
    monkeypatch.setattr(K, "FALSE_ACCEPT", K.FALSE_ACCEPT * 2)
    monkeypatch.setattr(K, "BASE_VETO", K.BASE_VETO / 2)
    opened = K.Learned(base, tmp_path)
    assert (opened.false_accept, opened.base_veto) == (K.FALSE_ACCEPT, K.BASE_VETO)
    assert K.Learned(base, tmp_path, false_accept=0.01, base_veto=0.9).false_accept == 0.01


def test_a_damaged_state_without_backup_starts_a_new_one_and_keeps_the_damaged_file(base, tmp_path, rng,
                                                                                     caplog):
    """Session-27 audit: a damaged kws.learned with no backup made `kws learn`, `classify` and
    `learned` refuse ("re-learn or import"), while `kws learn` was what refused; the anomaly store
    moved such a file aside. Now the words are not used (said once), the base classes work, and
    what is learned next starts a new state; the damaged file is kept as kws.learned.corrupt."""
    learned = K.Learned(base, tmp_path)
    learned.learn("banana", mels(rng, 2))
    path = learned.store.path(K.STATE_NAME)
    damaged = path.read_bytes()[:1000]
    path.write_bytes(damaged)
    with caplog.at_level(logging.WARNING):
        again = K.Learned(base, tmp_path)
    assert again.words == []
    said = [r.getMessage() for r in caplog.records if "kws.learned.corrupt" in r.getMessage()]
    assert len(said) == 1 and "checksum mismatch" in said[0] and "there is no backup" in said[0]
    again.learn("cherry", mels(rng, 2))
    assert K.Learned(base, tmp_path).words == ["cherry"]
    assert path.with_name(path.name + ".corrupt").read_bytes() == damaged
