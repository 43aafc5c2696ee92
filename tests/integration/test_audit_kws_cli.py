"""The kws CLI with inputs a user gets wrong (session-10 audit)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from akida_edge import cli
from akida_edge.drivers.wavfile import write_wav

pytestmark = pytest.mark.integration


def test_detect_on_an_empty_recording_says_so_instead_of_finding_nothing(tmp_path, rng, capsys):
    """Before: no output and exit 0, as for a recording without keywords."""
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros((0, 1), np.float32), 16000)
    for extra in ([], ["--json"]):
        assert cli.main(["kws", "detect", *extra, str(empty), "--state", str(tmp_path / "s")]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.strip().splitlines() == [f"akida-edge: error: {empty} holds no audio samples (empty "
                                            "recording); record at least 1 s"]
    quiet = tmp_path / "quiet.wav"  # a real recording without keywords: nothing found, exit 0
    write_wav(quiet, 0.001 * rng.standard_normal(16000 * 3), 16000)
    assert cli.main(["kws", "detect", "--json", str(quiet), "--state", str(tmp_path / "s")]) == 0
    out, err = capsys.readouterr()
    assert all(json.loads(line)["file"] == str(quiet) for line in out.splitlines()) and "error" not in err


@pytest.fixture(scope="module")
def newer_path(tmp_path_factory):
    """The shipped model with other binary features (a backbone a learned state cannot move to)."""
    from akida_edge.apps.kws.app import MODEL_PATH
    from akida_edge.engine.modelfile import load_model

    newer = load_model(MODEL_PATH)
    layer = newer.layers[-2]
    threshold = layer.get_variable("threshold").copy()
    threshold[::3] += np.abs(threshold[::3]) // 2 + 1
    layer.set_variable("threshold", threshold)
    path = tmp_path_factory.mktemp("model") / "newer.aem"
    newer.save(path)
    return path


def word_like(rng) -> np.ndarray:
    """1 s of a voiced two-syllable sound (a rising harmonic series under two bumps): a stand-in
    for a spoken word, where noise alone is refused as holding none (`Learned.holds_no_word`)."""
    t = np.arange(16000) / 16000
    f0 = 110 + 40 * t + rng.uniform(0, 20)
    voiced = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 25))
    return (0.3 * (np.exp(-((t - 0.35) / 0.08) ** 2) + np.exp(-((t - 0.65) / 0.08) ** 2)) * voiced
            + rng.normal(0.0, 0.005, t.size)).astype(np.float32)


def session9_state(device, rng):
    """A state as session 9 wrote it on the shipped model (layout 2, no clips): (Learned, its bytes)."""
    from akida_edge.apps.kws import learn as K
    from akida_edge.apps.kws.app import MODEL_PATH
    from akida_edge.engine.modelfile import load_model

    old = K.Learned(load_model(MODEL_PATH), device)
    old.learn("banana", [rng.normal(-50.0, 12.0, (70, 40)).astype(np.float32) for _ in range(2)])
    old.store.save_model(K.STATE_NAME, old.model,
                         extra={"labels": old.labels, "version": 2, "known_words": old._known_digest()},
                         arrays={"known_matches": old.known_matches})
    return old, old.store.path(K.STATE_NAME).read_bytes()


def test_a_device_upgraded_from_a_state_without_clips_can_teach_words_again(tmp_path, rng, capsys,
                                                                             newer_path):
    """Before: the warning said "re-learn", and `kws learn` refused ("use another --state DIR"), as
    did the MQTT learn command; now a new state is started for the new model and the old one is
    kept, byte for byte, where the old model finds its words again."""
    from akida_edge.apps.kws import learn as K
    from akida_edge.engine.learning_state import backbone_hash
    from akida_edge.engine.modelfile import load_model

    device = tmp_path / "device"
    old, before = session9_state(device, rng)
    clip = tmp_path / "cherry.wav"
    write_wav(clip, word_like(rng), 16000)
    capsys.readouterr()
    assert cli.main(["kws", "learn", "--label", "cherry", str(clip), "--state", str(device),
                     "--model", str(newer_path)]) == 0
    out, _ = capsys.readouterr()
    assert "learned 'cherry'" in out and "learned words: cherry " in out
    kept = old.store.kept_path(K.STATE_NAME, backbone_hash(old.model))
    assert kept.read_bytes() == before  # the old state, kept for its model
    assert K.Learned(load_model(newer_path), device).words == ["cherry"]
    assert K.Learned(old.base, device).words == ["banana"]  # the old model finds its words again
    # a newer layout of this model's own state is still refused (a save would replace it)
    own = tmp_path / "own"
    mine = K.Learned(old.base, own)
    mine.learn("banana", [rng.normal(-50.0, 12.0, (70, 40)).astype(np.float32)])
    mine.store.save_model(K.STATE_NAME, mine.model,
                          extra={"labels": mine.labels, "version": K.STATE_VERSION + 1})
    assert cli.main(["kws", "learn", "--label", "cherry", str(clip), "--state", str(own)]) == 2
    assert "cannot learn" in capsys.readouterr().err


def test_the_mqtt_learn_command_teaches_an_upgraded_device_too(tmp_path, rng, newer_path):
    import base64

    from akida_edge.apps.kws import learn as K
    from akida_edge.config import parse_config
    from akida_edge.engine.learning_state import backbone_hash
    from akida_edge.pipelines import kws

    device = tmp_path / "device"
    old, before = session9_state(device, rng)
    clip = tmp_path / "cherry.wav"
    write_wav(clip, word_like(rng), 16000)
    cfg = parse_config({"pipelines": [{"name": "kws", "type": "kws", "model": str(newer_path),
                                       "source": {"type": "audio_file", "path": str(clip)},
                                       "options": {"state_dir": str(device)}}]})
    pipeline = kws.build(cfg.pipelines[0])
    assert pipeline.spotter.learned is None  # the old words are not used on the new model
    out = pipeline.handle_command("learn", {"label": "cherry",
                                            "audio_wav_b64": base64.b64encode(clip.read_bytes()).decode()})
    assert out["learned"] == "cherry" and out["words"] == ["cherry"]
    assert pipeline.handle_command("learned", {}) == {"words": ["cherry"]}
    assert old.store.kept_path(K.STATE_NAME, backbone_hash(old.model)).read_bytes() == before


def test_a_clip_that_holds_no_word_is_not_learned(tmp_path, rng, capsys):
    """Session-14 audit: `kws learn` from a silent clip (a muted or wrong microphone) or from hum
    learned the word, which then claimed every quiet clip ("hush (1.00)" for silence). Now such a
    clip is one error line naming it, on the CLI and in the MQTT learn command, and nothing is
    learned from it; the word-like clip beside it is learned."""
    import base64

    from akida_edge.config import parse_config
    from akida_edge.errors import InputDataError
    from akida_edge.pipelines import kws

    t = np.arange(16000) / 16000
    silent, hum, word = tmp_path / "silent.wav", tmp_path / "hum.wav", tmp_path / "word.wav"
    write_wav(silent, np.zeros(16000, np.float32), 16000)
    write_wav(hum, (0.3 * np.sin(2 * np.pi * 50 * t)).astype(np.float32), 16000)
    write_wav(word, word_like(rng), 16000)
    state = str(tmp_path / "state")
    assert cli.main(["kws", "learn", "--label", "hush", str(silent), str(hum), "--state", state]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[:2] == [f"akida-edge: error: {f} holds no word: the base model hears silence or noise only (a "
                       "muted or wrong microphone?); record the word again" for f in (silent, hum)]
    assert cli.main(["kws", "learn", "--label", "hush", str(silent), str(word), "--state", state]) == 1
    assert "learned 'hush' from 1 clip(s)" in capsys.readouterr().out
    assert cli.main(["kws", "classify", str(silent), "--json", "--state", state]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "_silence_"  # not claimed by 'hush'
    cfg = parse_config({"pipelines": [{"name": "kws", "type": "kws", "source": {
        "type": "audio_file", "path": str(word)}, "options": {"state_dir": str(tmp_path / "mqtt")}}]})
    pipeline = kws.build(cfg.pipelines[0])
    uploads = [base64.b64encode(p.read_bytes()).decode() for p in (word, hum)]
    with pytest.raises(InputDataError, match=r"^audio_wav_b64\[1\] holds no word: the base model hears"):
        pipeline.handle_command("learn", {"label": "hush", "audio_wav_b64": uploads})
    assert pipeline.handle_command("learned", {}) == {"words": []}
