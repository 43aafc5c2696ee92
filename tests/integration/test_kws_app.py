"""The keyword app end to end: espeak-ng clips in held-out voices, bad files, any rate/channels,
detection in a long recording, the streaming path, and the smoke training run."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from akida_edge import cli
from akida_edge.apps.kws import dataset, scenes, synth
from akida_edge.apps.kws import features as F
from akida_edge.apps.kws.app import CLASSES, KEYWORDS, MODEL_PATH, DetectParams, Spotter, Stream
from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices
from akida_edge.drivers.audio_file import load_audio
from akida_edge.drivers.wavfile import write_wav
from akida_edge.frontends.audio import logmel
from akida_edge.frontends.resample import resample

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="espeak-ng and sox are needed (scripts/setup.sh installs them)"),
]


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """No test reads or writes the user's learned state."""
    monkeypatch.setenv("AKIDA_EDGE_STATE_DIR", str(tmp_path / "default-state"))


@pytest.fixture(scope="module")
def spotter() -> Spotter:
    return Spotter(learned=False)


@pytest.fixture(scope="module")
def test_voices() -> list[str]:
    return [v.name for v in split_voices(available_languages(), available_variants(), 20261127)["test"]]


@pytest.fixture(scope="module")
def keyword_clips(tmp_path_factory, test_voices):
    """The ten keywords, each in a held-out voice, 16 kHz mono WAVs, with a little noise."""
    out = tmp_path_factory.mktemp("kws-clips")
    rng = np.random.default_rng(4)
    paths = []
    for i, word in enumerate(KEYWORDS):
        x = synth.trim(synth.synthesize(synth.random_speech(rng, test_voices[i % len(test_voices)], word)))
        clip, _ = synth.fit(x, 16000, rng)
        clip = 0.3 * clip / np.abs(clip).max() + 0.001 * rng.standard_normal(16000)
        path = out / f"{word}.wav"
        write_wav(path, clip.astype(np.float32), 16000)
        paths.append((word, path, clip.astype(np.float32)))
    return paths


def _bar(n: int) -> int:
    """Clips of `n` the shipped model must get right: its reported keyword recall on held-out
    voices minus three binomial standard deviations, and at least a clear majority."""
    metrics = json.loads(MODEL_PATH.with_name("metrics.json").read_text())
    p = float(np.mean([metrics["per_class"][k] for k in KEYWORDS]))
    return max(n // 2 + 1, math.floor(n * p - 3 * math.sqrt(n * p * (1 - p))))


def test_model_is_shipped_and_fits_the_chip():
    from akida_edge.engine.mapping import check
    from akida_edge.engine.modelfile import load_model

    model = load_model(MODEL_PATH)
    assert check(model) == []
    assert model.output_shape[-1] == len(CLASSES) == len(dataset.CLASSES)
    assert CLASSES == dataset.CLASSES


def test_keywords_in_held_out_voices(spotter, keyword_clips):
    right = [spotter.classify_file(path)["label"] == word for word, path, _ in keyword_clips]
    assert sum(right) >= _bar(len(right)), right


def test_any_rate_and_channel_count(spotter, keyword_clips, tmp_path):
    agree = 0
    for i, (word, path, clip) in enumerate(keyword_clips):
        rate = (8000, 22050, 44100, 48000)[i % 4]
        x = resample(clip, 16000, rate)
        stereo = np.stack([x, 0.5 * x], axis=1) if i % 2 else x
        other = tmp_path / f"{word}-{rate}.wav"
        write_wav(other, stereo, rate, bits=32 if i % 3 == 0 else 16)
        base, res = spotter.classify_file(path), spotter.classify_file(other)
        assert res["duration_s"] == pytest.approx(1.0, abs=0.01)
        # 8 kHz loses the 4-8 kHz half, but the model only looks below 4 kHz
        agree += res["label"] == base["label"]
    assert agree >= len(keyword_clips) - 1


def test_bad_files_get_one_line_each_and_the_rest_are_classified(keyword_clips, tmp_path, capsys):
    good = str(keyword_clips[0][1])
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_samples = tmp_path / "silent.wav"
    write_wav(no_samples, np.zeros(0, np.float32), 16000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(keyword_clips[1][1].read_bytes()[:5001])
    bad = [str(text), str(empty), str(no_samples), str(truncated), str(tmp_path / "missing.wav")]
    code = cli.main(["kws", "classify", "--json", bad[0], good, *bad[1:]])
    out, err = capsys.readouterr()
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["file"] for r in rows] == [bad[0], good, *bad[1:]]
    assert set(rows[1]) >= {"file", "label", "score"} and "error" not in rows[1]
    assert all("error" in r for i, r in enumerate(rows) if i != 1)
    lines = err.splitlines()
    assert len(lines) == len(bad)
    for path, line in zip(bad, lines, strict=True):
        assert path in line and "Traceback" not in line


def test_text_output_and_exit_code(keyword_clips, capsys):
    paths = [str(p) for _, p, _ in keyword_clips[:3]]
    assert cli.main(["kws", "classify", *paths]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == paths


def test_detect_finds_words_at_their_times(spotter, test_voices, tmp_path, capsys):
    rng = np.random.default_rng(11)
    words = ["yes", "stop", "left", "go"]
    scene = scenes.make_scene(rng, test_voices[1], words, filler_utterances=1, snr_db=25.0, noise_kind="pink")
    path = tmp_path / "long.wav"
    write_wav(path, scene.audio, 16000)
    assert cli.main(["kws", "detect", "--json", str(path)]) == 0
    dets = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(set(d) >= {"file", "label", "t_ms", "score"} for d in dets)
    found = spotter.detect_audio(load_audio(path))  # the CLI reads the 16-bit file
    assert [(d.label, round(d.t_ms, 1)) for d in found] == [(d["label"], d["t_ms"]) for d in dets]
    hits, _ = scenes.score(found, scene)
    assert hits >= len(words) - 1, (found, scene.keywords)


def test_detect_says_when_a_recording_holds_no_keyword(spotter, tmp_path, capsys):
    """Text output names the file when nothing was found (no output at all looked like a failure);
    `--json` stays one object per detection, so nothing."""
    path = tmp_path / "quiet.wav"
    noise = np.random.default_rng(3).normal(0.0, 1e-3, 3 * 16000)
    write_wav(path, noise, 16000)
    assert spotter.detect_audio(load_audio(path)) == []  # the premise: nothing to find
    assert cli.main(["kws", "detect", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{path}: no keyword"]
    assert cli.main(["kws", "detect", "--json", str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_streaming_gives_the_same_detections_as_the_file(spotter, test_voices, rng):
    scene = scenes.make_scene(np.random.default_rng(12), test_voices[2], ["no", "up", "off"],
                              filler_utterances=1, snr_db=20.0, noise_kind="white")
    stream, got, i = Stream(spotter), [], 0
    while i < scene.audio.size:
        n = int(rng.integers(1, 4000))
        got += stream.push(scene.audio[i: i + n])
        i += n
    got += stream.flush()
    assert got and got == spotter.detect_audio(scene.audio)


def test_the_isolation_gate_only_removes_detections(spotter, test_voices):
    scene = scenes.make_scene(np.random.default_rng(13), test_voices[0], ["left", "yes"], filler_utterances=2,
                              snr_db=20.0, noise_kind="pink")
    ungated: list = []
    kept = spotter.detect_audio(scene.audio, ungated=ungated)
    assert ungated == spotter.detect_audio(scene.audio, DetectParams(isolated_max_ms=0.0))
    assert set(kept) <= set(ungated)
    assert kept == DetectParams().gate().filter(ungated, logmel(scene.audio, F.PARAMS))


def test_listen_without_that_microphone_is_one_line(capsys):
    assert cli.main(["kws", "listen", "--device", "no-such-microphone-xyz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-microphone-xyz" in err[0] and "input devices" in err[0]


@pytest.mark.slow
def test_smoke_training_trains_converts_checks_and_classifies(tmp_path, keyword_clips):
    torch = pytest.importorskip("torch")
    from akida_edge.apps.kws import kokoroset, speechwindows, train, wordset

    metrics = train.run(tmp_path / "data", tmp_path / "model", small=True, threads=1, progress=None,
                        checkpoints=tmp_path / "ckpt")
    assert metrics["agreement"] == 1.0 and metrics["nps"] > 0
    # the per-epoch checkpoints went to the directory given, not under the data set
    ckpt = torch.load(tmp_path / "ckpt" / "float-seed1.pt", weights_only=True)
    assert "aux_state_dict" in ckpt  # a warm restart (--continue-epochs) resumes the auxiliary head too
    assert not (tmp_path / "data" / "checkpoints").exists()
    assert (tmp_path / "model" / "confusion.png").stat().st_size > 0
    model = tmp_path / "model" / "kws.aem"
    res = Spotter(model).classify_file(keyword_clips[0][1])
    assert res["label"] in CLASSES and 0 < res["score"] <= 1
    # a warm restart of that float network (--float-from + --continue-epochs), as the session-4 run
    again = train.run(tmp_path / "data", tmp_path / "again", small=True, threads=1, progress=None,
                      checkpoints=tmp_path / "ckpt", float_from=tmp_path / "ckpt" / "float-seed1.pt",
                      continue_epochs=1, continue_lr=5e-4, distill=0.5, trunk_lr=0.3, qat_distill=0.7,
                      kokoro=tmp_path / "kokoro")
    assert again["float_reused"] and again["epochs_float_continued"] == 1 and again["continue_lr"] == 5e-4
    # --kokoro: the Kokoro voices' clips joined the training clips; their held-out voices are measured
    small_kokoro = kokoroset.KokoroConfig.small()
    assert again["kokoro_train_clips"] == small_kokoro.clips("train")
    assert again["clips"]["train"] == metrics["clips"]["train"] + small_kokoro.clips("train")
    assert again["kokoro_test_clips"] == small_kokoro.clips("test")
    assert 0 <= again["kokoro_test_accuracy"] <= 1 and "kokoro_test_accuracy" not in metrics
    # the metrics name the Kokoro voices that trained it (the English set here), and so does the report
    assert again["kokoro_train_voices"] == list(kokoroset.kokoro.TRAIN_VOICES)
    assert again["kokoro_word_accented"] is None and "kokoro_train_voices" not in metrics
    assert f"said by {len(kokoroset.kokoro.TRAIN_VOICES)} Kokoro-82M training voices" in (
        tmp_path / "again" / "REPORT.md").read_text()
    assert (again["distill"], again["distill_temperature"], again["trunk_lr"]) == (0.5, 2.0, 0.3)
    assert [log["distill_loss"] >= 0 for log in again["history"] if log.get("what") == "float+"] == [True]
    assert (metrics["distill"], metrics["distill_temperature"], metrics["trunk_lr"]) == (0.0, None, 1.0)
    # --qat-distill: the quantization-aware phase learnt from the float network too
    q_logs = [log for log in again["history"] if log.get("what") == "quantized"]
    assert again["qat_distill"] == 0.7 and q_logs and all(log["distill_loss"] >= 0 for log in q_logs)
    assert metrics["qat_distill"] == 0.0
    assert all("distill_loss" not in log for log in metrics["history"] if log.get("what") == "quantized")
    assert metrics["continue_lr"] is None  # a first training has no continuation
    assert again["epochs_float"] == metrics["epochs_float"] + 1
    assert "warm restart" in (tmp_path / "again" / "REPORT.md").read_text()
    qat_words = "soft outputs too, weight 0.7 at T = 2.0 (`--qat-distill`)"
    assert qat_words in (tmp_path / "again" / "REPORT.md").read_text()
    assert "--qat-distill" not in (tmp_path / "model" / "REPORT.md").read_text()
    # the word set in the auxiliary head, only the feature layer and heads retrained (--words --head-only)
    words = train.run(tmp_path / "data", tmp_path / "words", small=True, threads=1, progress=None,
                      checkpoints=tmp_path / "ckpt", float_from=tmp_path / "ckpt" / "float-seed1.pt",
                      words=tmp_path / "wordset", head_only=True, head_epochs=1)
    assert words["head_only"] and words["word_classes"] == len(wordset.WordsetConfig.small().train_words)
    assert words["agreement"] == 1.0
    head = torch.load(tmp_path / "ckpt" / "float-head-seed1.pt", weights_only=True)
    wide = len(CLASSES) + len(train.AUX_WORDS) + words["word_classes"]
    assert head["aux_state_dict"]["weight"].shape[0] == wide
    assert "--head-only" in (tmp_path / "words" / "REPORT.md").read_text()
    # new `_unknown_` examples: the word set's clips and continuous-speech windows (--words-unknown,
    # --windows), in a warm restart and in quantization-aware training
    neg = train.run(tmp_path / "data", tmp_path / "neg", small=True, threads=1, progress=None,
                    checkpoints=tmp_path / "ckpt", float_from=tmp_path / "ckpt" / "float-seed1.pt",
                    continue_epochs=1, words=tmp_path / "wordset", words_unknown=True,
                    windows=tmp_path / "windows")
    assert neg["window_clips"] == speechwindows.WindowsConfig.small().windows and neg["words_unknown"]
    assert neg["negative_share"] == train.NEGATIVE_SHARE and neg["agreement"] == 1.0
    assert "--windows" in (tmp_path / "neg" / "REPORT.md").read_text()
    # session 11: a second word set (--more-words), its words further classes of the grown auxiliary head;
    # session 13: a third after it (--more-words DIR DIR2, built as parts 1 and 2 by their places)
    more = train.run(tmp_path / "data", tmp_path / "more", small=True, threads=1, progress=None,
                     checkpoints=tmp_path / "ckpt", float_from=tmp_path / "ckpt" / "float-continued-seed1.pt",
                     continue_epochs=1, words=tmp_path / "wordset", words_unknown=True,
                     more_words=[tmp_path / "wordset-more", tmp_path / "wordset-more2"])
    small_more, small_first = wordset.WordsetConfig.more(small=True), wordset.WordsetConfig.small()
    assert wordset.WordsetConfig.of(tmp_path / "wordset-more2") == wordset.WordsetConfig.more(small=True,
                                                                                               part=2)
    assert more["word_classes"] == len(small_first.train_words) + 2 * len(small_more.train_words)
    assert more["word_clips"] == neg["word_clips"] + 2 * small_more.clips("train")
    assert more["agreement"] == 1.0
    assert more["more_words"] == 2
    grown = torch.load(tmp_path / "ckpt" / "float-continued-seed1.pt", weights_only=True)["aux_state_dict"]
    assert grown["weight"].shape[0] == len(CLASSES) + len(train.AUX_WORDS) + more["word_classes"]
    assert "--more-words" in (tmp_path / "more" / "REPORT.md").read_text()
    # session 18: the first set's words said by Kokoro voices (wordset.py --kokoro) join those words'
    # classes, in a run with --kokoro and --distill (the mask that leaves every Kokoro clip out of the
    # term: tests/unit/test_kws_speechwindows.py)
    small_neural = wordset.WordsetConfig.kokoro(small=True)
    wordset.build(tmp_path / "wordset-kokoro", small_neural, progress=None)
    neural = train.run(tmp_path / "data", tmp_path / "neural", small=True, threads=1, progress=None,
                       checkpoints=tmp_path / "ckpt-neural",
                       float_from=tmp_path / "ckpt" / "float-seed1.pt", continue_epochs=1,
                       words=tmp_path / "wordset", words_unknown=True, distill=1.0,
                       more_words=[tmp_path / "wordset-kokoro"], kokoro=tmp_path / "kokoro")
    assert neural["word_classes"] == len(small_first.train_words)  # no new classes: the same words
    assert neural["word_clips"] == neg["word_clips"] + small_neural.clips("train")
    assert neural["kokoro_word_clips"] == small_neural.clips("train") and neural["agreement"] == 1.0
    assert "wordset.py --kokoro" in (tmp_path / "neural" / "REPORT.md").read_text()
    # session 12: a linear probe of the auxiliary head before training on (--probe-epochs, LP-FT)
    probe = train.run(tmp_path / "data", tmp_path / "probe", small=True, threads=1, progress=None,
                      checkpoints=tmp_path / "ckpt-probe", float_from=tmp_path / "ckpt" / "float-seed1.pt",
                      continue_epochs=1, words=tmp_path / "wordset", probe_epochs=2)
    assert probe["probe_epochs"] == 2 and [h["what"] for h in probe["history"]].count("probe") == 2
    assert probe["agreement"] == 1.0 and "--probe-epochs" in (tmp_path / "probe" / "REPORT.md").read_text()
    # session 7: mixup across voices and weight averaging in that warm restart (--mixup, --average-from);
    # session 8: with metric learning on cross-voice episodes of the word set too (--metric)
    reg = train.run(tmp_path / "data", tmp_path / "reg", small=True, threads=1, progress=None,
                    checkpoints=tmp_path / "ckpt", float_from=tmp_path / "ckpt" / "float-seed1.pt",
                    continue_epochs=1, words=tmp_path / "wordset", words_unknown=True,
                    windows=tmp_path / "windows", mixup_alpha=0.3, average_from=0.0, batch=16, metric=1.0)
    assert reg["mixup_alpha"] == 0.3 and reg["averaged_points"] >= 2 and reg["agreement"] == 1.0
    assert reg["metric_weight"] == 1.0 and all(math.isfinite(h["metric_loss"]) for h in reg["history"][-2:-1])
    averaged = torch.load(tmp_path / "ckpt" / "float-averaged-seed1.pt", weights_only=True)["state_dict"]
    last = torch.load(tmp_path / "ckpt" / "float-continued-seed1.pt", weights_only=True)["state_dict"]
    assert any(not torch.equal(averaged[k], last[k]) for k in last)  # the average is not the last point
    report_text = (tmp_path / "reg" / "REPORT.md").read_text()
    assert "--mixup" in report_text and "--average-from" in report_text and "--metric" in report_text
    # session 9: the phonetic head on the binarized features (--phones), in a warm restart and head-only
    ph = train.run(tmp_path / "data", tmp_path / "ph", small=True, threads=1, progress=None,
                   checkpoints=tmp_path / "ckpt", float_from=tmp_path / "ckpt" / "float-seed1.pt",
                   continue_epochs=1, words=tmp_path / "wordset", windows=tmp_path / "windows",
                   phone_weight=1.0)
    assert ph["phone_weight"] == 1.0 and ph["agreement"] == 1.0
    continued_logs = [h for h in ph["history"] if h.get("what") == "float+"]
    continued_ok = [math.isfinite(h["phone_loss"]) and h["phone_loss"] > 0 for h in continued_logs]
    assert continued_logs and all(continued_ok)
    table = json.loads((tmp_path / "ckpt" / "phones.json").read_text())
    continued = torch.load(tmp_path / "ckpt" / "float-continued-seed1.pt", weights_only=True)
    assert continued["phone_state_dict"]["weight"].shape == (3 * len(table["inventory"]), 32)
    assert "--phones" in (tmp_path / "ph" / "REPORT.md").read_text()
    train.run(tmp_path / "data", tmp_path / "ph-head", small=True, threads=1, progress=None,
              checkpoints=tmp_path / "ckpt", float_from=tmp_path / "ckpt" / "float-seed1.pt",
              words=tmp_path / "wordset", head_only=True, head_epochs=1, phone_weight=1.0)
    assert "phone_state_dict" in torch.load(tmp_path / "ckpt" / "float-head-seed1.pt", weights_only=True)


def _word_clips(out, rng, voice: str, word: str, n: int) -> list[str]:
    paths = []
    for i in range(n):
        x = synth.trim(synth.synthesize(synth.random_speech(rng, voice, word)))
        clip, _ = synth.fit(x, 16000, rng)
        clip = 0.3 * clip / np.abs(clip).max() + 0.001 * rng.standard_normal(16000)
        path = out / f"{word}-{i}.wav"
        write_wav(path, clip.astype(np.float32), 16000)
        paths.append(str(path))
    return paths


def test_learn_a_new_word_keep_it_across_restarts_and_forget_it(tmp_path, test_voices, keyword_clips, capsys):
    state = str(tmp_path / "state")
    rng = np.random.default_rng(21)
    voice = test_voices[3]
    shots = _word_clips(tmp_path, rng, voice, "backward", 5)
    others = _word_clips(tmp_path, rng, voice, "backward", 6)
    base = [r["label"] for r in map(Spotter(state_dir=state).classify_file, others)]
    assert "backward" not in base
    assert cli.main(["kws", "learn", "--label", "backward", *shots, "--state", state]) == 0
    assert cli.main(["kws", "learned", "--json", "--state", state]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1])["words"] == ["backward"]
    fresh = Spotter(state_dir=state)  # a restart: the state comes from the store
    after = [fresh.classify_file(p)["label"] for p in others]
    assert after.count("backward") > len(others) // 2, after
    kept = [fresh.classify_file(p)["label"] == w for w, p, _ in keyword_clips]
    was = [Spotter(learned=False).classify_file(p)["label"] == w for w, p, _ in keyword_clips]
    assert sum(kept) >= sum(was) - 1
    assert cli.main(["kws", "forget", "backward", "--state", state]) == 0
    assert Spotter(state_dir=state).learned.words == []
    assert cli.main(["kws", "forget", "backward", "--state", state]) == 2
    assert "not a learned word" in capsys.readouterr().err
