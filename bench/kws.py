"""Keyword-spotting benchmark: the shipped model (`apps/kws/model/kws.aem`) on the virtual AKD1000.

Everything is rebuilt here, deterministically (seeded), with the espeak-ng generator:

- held-out clips: `dataset.build` with the training run's seed (hence the same voice split) but
  only the `test` split (voices never used in training), the `cross_family` split (accents and
  variant groups never used in training), `PER_CLASS` clips per class each, i.e. 12 × 25 = 300
  clips per split, and the `other_synth` split (festival voices, a synthesizer never used in
  training), `OTHER_SYNTH_PER_CLASS` per class;
- detection scenes (`scenes.py`): `SCENES` recordings, each in one test voice, with 10 keywords
  (one of each) between stretches of non-keyword speech (two 3–8-word utterances before each
  keyword), background noise at 10–30 dB SNR.

Figures:
- ``accuracy`` — 12-class top-1 of the converted model on the held-out voices (target ≥ 0.97);
- ``float_accuracy`` — the float network (`kws_float.pt`, needs PyTorch; else null) on the same
  clips; ``quantization_drop`` = float − quantized (target ≤ 0.01);
- ``cross_family_accuracy`` — quantized, held-out families (target ≥ 0.90);
- ``other_synth_accuracy`` — quantized, festival voices (no target: the honest proxy for speakers
  the model never heard; flite is in training, festival never);
- ``neural_voice_accuracy`` (with ``_keyword_accuracy``, ``_accuracy_by_snr_db``,
  ``_per_class_recall``) — quantized, a neural voice of a real person (Piper's ``en_US-joe-medium``,
  `apps/kws/neural_voice.py`), 80 clips per class (960; 240 before session 20) made as the held-out
  splits' clips (`bench/_kws_neural.py`; no target; null with ``neural_voice_reason`` without the
  ``dev`` extra);
- ``kokoro_accuracy`` (with ``_keyword_accuracy``, ``_accuracy_by_voice``) — quantized, six Kokoro
  neural voices never trained on (`apps/kws/kokoro.py`), 20 clips per speech class
  (`bench/_kws_kokoro.py`, the training report's ``kokoro_test`` clips; no target; null with
  ``kokoro_reason`` without the ``train`` extra and the voice tables); ``kokoro_accented_accuracy``
  (with the same parts) — three accented Kokoro voices never trained on (Spanish, Japanese and
  Portuguese voices saying English, session 19), 20 clips per speech class;
- ``accuracy_by_snr_db`` / ``cross_family_accuracy_by_snr_db`` — the same top-1 per background-noise
  SNR of the clips (speech clips only; ~40 per level here, so ±0.05), and ``per_class_recall``
  (test split): where the errors are;
- ``ms_per_clip`` — `Spotter.classify_file` on a 1-s WAV (read, resample, features, model),
  warm, best of 20 (target ≤ 20 ms);
- ``detect_recall`` — keywords found with the right label within 0.5 s of the word (≥ 0.95);
  ``false_alarms_per_hour`` — other detections per hour of non-keyword speech (≤ 2);
- ``false_alarms_per_hour_filler`` — the same false alarms on about an hour (`FILLER_S`) of
  non-keyword speech alone (`FILLER_SCENE_UTTERANCES` utterances per scene, each scene in one test
  voice, the same noise), with ``filler_false_alarms``, ``filler_speech_s`` and the labels that
  fired (``filler_false_alarms_by_label``). The scenes above hold ~9 minutes of non-keyword speech,
  so one false alarm there is already ~7 per hour and the ≤ 2 target can only read "zero": this
  figure resolves one false alarm per hour (the scene figure stays as defined);
- ``false_alarms_per_hour_unseen_words`` — the same on `UNSEEN_FILLER_S` of non-keyword speech
  made of words the model was never trained on (`vocabulary.BENCH_FILLER_WORDS`; the filler above
  is made of `dataset.UNKNOWN_WORDS`, the very words trained as `_unknown_`, so it flatters the
  model: a user says any words), same recipe and voices, seed stream ``[SEED, 97]``; with
  ``unseen_words_false_alarms``, ``unseen_words_speech_s``, ``unseen_words_false_alarms_by_label``
  and ``false_alarms_per_hour_unseen_words_gate_off``;
- ``false_alarms_per_hour_sentences`` — the same on `SENTENCE_FILLER_S` of everyday sentences
  (`apps/kws/sentences.py`: never a keyword as a word of its own, often a word that contains or
  inflects one: "going", "nobody", "yesterday"), seed stream ``[SEED, 96]``; with
  ``sentences_false_alarms``, ``sentences_speech_s``, ``sentences_false_alarms_by_label`` and
  ``false_alarms_per_hour_sentences_gate_off``;
- ``detect_recall_gate_off``, ``false_alarms_per_hour_gate_off``,
  ``false_alarms_per_hour_filler_gate_off`` — the same three without the isolated-command gate
  (`DetectParams.isolated_max_ms` 0, `apps/kws/isolation.py`): keywords run into other words count
  too (the app's detections before the gate, same scenes and settings);
- ``listen_cpu_pct`` — process CPU time / wall time × 100 while a 10-s recording is fed in real
  time (`AudioFileSource(realtime=True)`, blocks of 100 ms, as a microphone) through the
  streaming detector (≤ 10): the best of `LISTEN_RUNS` runs, as ``ms_per_clip`` is a best time
  (on this shared 2-core virtual machine, other load only adds to a run: session 16 saw single
  runs of one model file read 2.2–12 %); ``listen_cpu_pct_runs`` has every run.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from akida_edge.apps.kws import dataset, features, report, scenes, sentences, vocabulary
from akida_edge.apps.kws.app import MODEL_PATH, Spotter, Stream
from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices
from akida_edge.bench import _kws_kokoro, _kws_neural
from akida_edge.bench.timing import best_seconds
from akida_edge.drivers.audio_file import AudioFileConfig, AudioFileSource
from akida_edge.drivers.wavfile import write_wav

SUITE = "kws"
PER_CLASS = 25
OTHER_SYNTH_PER_CLASS = 20
SCENES = 12
SEED = 20261127
FILLER_S = 3600.0  # seconds of non-keyword speech for `false_alarms_per_hour_filler`
FILLER_SCENE_UTTERANCES = 40  # utterances (3-8 words each) per filler-only scene
UNSEEN_FILLER_S = FILLER_S  # seconds of never-trained words' speech for `false_alarms_per_hour_unseen_words`
SENTENCE_FILLER_S = FILLER_S  # seconds of everyday sentences for `false_alarms_per_hour_sentences`


def held_out(out: Path, progress: IO[str] | None) -> dict[str, dict[str, np.ndarray]]:
    config = dataset.DatasetConfig(seed=SEED, per_class={"train": 0, "validation": 0, "test": PER_CLASS,
                                                         "cross_family": PER_CLASS,
                                                         "other_synth": OTHER_SYNTH_PER_CLASS}, shard_size=50)
    dataset.build(out, config, workers=2, progress=progress)
    return {s: dataset.load_split(out, s) for s in ("test", "cross_family", "other_synth")}


def float_accuracy(x: np.ndarray, y: np.ndarray) -> float | None:
    """Top-1 of the float network shipped next to the model, or None without PyTorch/weights."""
    path = MODEL_PATH.with_name("kws_float.pt")
    try:
        import torch

        from akida_edge.apps.kws import network
    except ImportError:
        return None
    if not path.exists():
        return None
    saved = torch.load(path, weights_only=True)
    model = network.build(len(dataset.CLASSES), **network.architecture(saved))
    model.load_state_dict(saved["state_dict"])
    return float(np.mean(network.predict(model, network.to_nchw(x)).argmax(1) == y))


def detection_scenes() -> Iterator[tuple[scenes.Scene, list[str]]]:
    """The `SCENES` detection scenes (test voices, seeded) and the keywords said in each."""
    voices = split_voices(available_languages(), available_variants(), SEED)["test"]
    rng = np.random.default_rng([SEED, 99])
    for _ in range(SCENES):
        voice = voices[int(rng.integers(0, len(voices)))].name
        words = list(rng.permutation(dataset.KEYWORDS))
        yield scenes.make_scene(rng, voice, words, snr_db=float(rng.uniform(10, 30))), words


def filler_scenes(seconds: float = FILLER_S, utterances: int = FILLER_SCENE_UTTERANCES,
                  words: Sequence[str] = dataset.UNKNOWN_WORDS, stream: int = 98,
                  text: Callable[[np.random.Generator], str] | None = None) -> Iterator[scenes.Scene]:
    """Scenes of non-keyword speech alone (test voices, seeded: rng ``[SEED, stream]``, words of
    `words`, or utterances drawn by `text`) until `seconds` of it."""
    voices = [v.name for v in split_voices(available_languages(), available_variants(), SEED)["test"]]
    yield from scenes.filler_only(np.random.default_rng([SEED, stream]), voices, seconds, utterances, words,
                                  text)


def unseen_filler_scenes(seconds: float = UNSEEN_FILLER_S,
                         utterances: int = FILLER_SCENE_UTTERANCES) -> Iterator[scenes.Scene]:
    """The same recipe with words the model was never trained on (`vocabulary.BENCH_FILLER_WORDS`)
    and a seed stream of its own."""
    return filler_scenes(seconds, utterances, vocabulary.BENCH_FILLER_WORDS, stream=97)


def sentence_filler_scenes(seconds: float = SENTENCE_FILLER_S,
                           utterances: int = FILLER_SCENE_UTTERANCES) -> Iterator[scenes.Scene]:
    """The same recipe with everyday sentences (`sentences.sentence`, one an utterance) and a seed
    stream of its own."""
    return filler_scenes(seconds, utterances, stream=96, text=sentences.sentence)


def detection(spotter: Spotter, progress: IO[str] | None) -> tuple[float, float, dict]:
    hits = false = total = hits0 = false0 = 0
    filler_s = 0.0
    for i, (scene, words) in enumerate(detection_scenes()):
        ungated: list = []
        h, f = scenes.score(spotter.detect_audio(scene.audio, ungated=ungated), scene)
        hits, false, total = hits + h, false + f, total + len(words)
        h0, f0 = scenes.score(ungated, scene)
        hits0, false0 = hits0 + h0, false0 + f0
        filler_s += scene.filler_speech_s
        if progress:
            print(f"bench: kws scene {i + 1}/{SCENES}: {h}/{len(words)} found, {f} false", file=progress,
                  flush=True)
    hours = filler_s / 3600
    return hits / total, false / hours, {"detect_keywords": total,
                                         "detect_filler_speech_s": round(filler_s, 1),
                                         "detect_false_alarms": false,
                                         "detect_recall_gate_off": round(hits0 / total, 3),
                                         "false_alarms_per_hour_gate_off": round(false0 / hours, 2)}


def filler_false_alarms(spotter: Spotter, progress: IO[str] | None, seconds: float = FILLER_S,
                        utterances: int = FILLER_SCENE_UTTERANCES, name: str = "filler",
                        scene_iter: Iterable[scenes.Scene] | None = None) -> dict[str, Any]:
    """Detections on non-keyword speech alone (every one a false alarm), until `seconds` of it:
    `filler_scenes` unless `scene_iter` is given; the figures' keys are named after `name`."""
    by_label: dict[str, int] = {}
    speech_s = 0.0
    ungated: list = []
    for scene in filler_scenes(seconds, utterances) if scene_iter is None else scene_iter:
        for det in spotter.detect_audio(scene.audio, ungated=ungated):
            by_label[det.label] = by_label.get(det.label, 0) + 1
        speech_s += scene.filler_speech_s
        if progress:
            print(f"bench: kws non-keyword speech ({name}) {speech_s / 60:.1f}/{seconds / 60:.0f} min, "
                  f"{sum(by_label.values())} false alarms", file=progress, flush=True)
    false = sum(by_label.values())
    return {f"false_alarms_per_hour_{name}": round(false / (speech_s / 3600), 2) if speech_s else None,
            f"{name}_false_alarms": false, f"{name}_speech_s": round(speech_s, 1),
            f"{name}_false_alarms_by_label": dict(sorted(by_label.items())),
            f"false_alarms_per_hour_{name}_gate_off":
                round(len(ungated) / (speech_s / 3600), 2) if speech_s else None}


def unseen_false_alarms(spotter: Spotter, progress: IO[str] | None, seconds: float = UNSEEN_FILLER_S,
                        utterances: int = FILLER_SCENE_UTTERANCES) -> dict[str, Any]:
    """`filler_false_alarms` on `unseen_filler_scenes`: ``false_alarms_per_hour_unseen_words`` etc."""
    return filler_false_alarms(spotter, progress, seconds, utterances, "unseen_words",
                               unseen_filler_scenes(seconds, utterances))


def sentence_false_alarms(spotter: Spotter, progress: IO[str] | None, seconds: float = SENTENCE_FILLER_S,
                          utterances: int = FILLER_SCENE_UTTERANCES) -> dict[str, Any]:
    """`filler_false_alarms` on `sentence_filler_scenes`: ``false_alarms_per_hour_sentences`` etc."""
    return filler_false_alarms(spotter, progress, seconds, utterances, "sentences",
                               sentence_filler_scenes(seconds, utterances))


LISTEN_RUNS = 3


def listen_figures(spotter: Spotter, path: Path, runs: int = LISTEN_RUNS) -> dict[str, Any]:
    """``listen_cpu_pct`` (the best of `runs` passes) and ``listen_cpu_pct_runs`` (every pass)."""
    passes = [listen_cpu(spotter, path) for _ in range(runs)]
    return {"listen_cpu_pct": round(min(passes), 2), "listen_cpu_pct_runs": [round(c, 2) for c in passes]}


def listen_cpu(spotter: Spotter, path: Path) -> float:
    """CPU share (%) of one real-time pass of `path` through a fresh `Stream`."""
    stream = Stream(spotter)
    source = AudioFileSource(AudioFileConfig(str(path), block_s=0.1, realtime=True))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with source:
        for chunk in source:
            stream.push(chunk.data[:, 0])
    return 100.0 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    spotter = Spotter()
    with tempfile.TemporaryDirectory(prefix="kws-bench-") as tmp:
        tmp = Path(tmp)
        data = held_out(tmp / "data", progress)
        x = {s: features.batch_features(v["audio"]) for s, v in data.items()}
        pred = {s: spotter.probabilities(x[s]).argmax(1) for s in x}
        acc = {s: float(np.mean(pred[s] == data[s]["label"])) for s in x}
        silence = dataset.CLASSES.index("_silence_")
        by_snr = {s: report.accuracy_by_snr(pred[s], data[s]["label"], data[s]["snr_db"], silence)
                  for s in ("test", "cross_family")}
        y_test = data["test"]["label"]
        recall = {c: round(float(np.mean(pred["test"][y_test == i] == i)), 3)
                  for i, c in enumerate(dataset.CLASSES) if np.any(y_test == i)}
        f_acc = float_accuracy(x["test"], data["test"]["label"].astype(np.int64))
        clip = tmp / "clip.wav"
        write_wav(clip, data["test"]["audio"][0].astype(np.float32) / 32768.0, 16000)
        spotter.classify_file(clip)
        ms = best_seconds(lambda: spotter.classify_file(clip), repeat=20) * 1e3
        extra = {f"{prefix}accuracy_by_snr_db": {k: round(v, 3) for k, v in by_snr[s].items()}
                 for prefix, s in (("", "test"), ("cross_family_", "cross_family"))}
        extra["per_class_recall"] = recall
        extra.update(_kws_neural.figures(spotter, progress))
        extra.update(_kws_kokoro.figures(spotter, progress))
        det_recall, fa_h, det_extra = detection(spotter, progress)
        extra.update(det_extra)
        extra.update(filler_false_alarms(spotter, progress))
        extra.update(unseen_false_alarms(spotter, progress))
        extra.update(sentence_false_alarms(spotter, progress))
        rng = np.random.default_rng([SEED, 7])
        voice = split_voices(available_languages(), available_variants(), SEED)["test"][0].name
        scene = scenes.make_scene(rng, voice, ["yes", "stop", "go"], snr_db=20.0)
        long = tmp / "listen.wav"
        reps = int(np.ceil(10 * 16000 / scene.audio.size))
        write_wav(long, np.tile(scene.audio, reps)[: 10 * 16000], 16000)
        listen = listen_figures(spotter, long)
    return {
        "accuracy": round(acc["test"], 4),
        "float_accuracy": None if f_acc is None else round(f_acc, 4),
        "quantization_drop": None if f_acc is None else round(f_acc - acc["test"], 4),
        "cross_family_accuracy": round(acc["cross_family"], 4),
        "other_synth_accuracy": round(acc["other_synth"], 4),
        "ms_per_clip": round(ms, 3),
        "detect_recall": round(det_recall, 4),
        "false_alarms_per_hour": round(fa_h, 2),
        **listen,
        "held_out_clips": int(len(x["test"])),
        "cross_family_clips": int(len(x["cross_family"])),
        "other_synth_clips": int(len(x["other_synth"])),
        **extra,
        "targets": {"accuracy": ">= 0.97", "quantization_drop": "<= 0.01", "cross_family_accuracy": ">= 0.90",
                    "other_synth_accuracy": "reported (no target)",
                    "neural_voice_accuracy": "reported (no target)",
                    "kokoro_accuracy": "reported (no target)",
                    "kokoro_accented_accuracy": "reported (no target)",
                    "ms_per_clip": "<= 20", "detect_recall": ">= 0.95", "false_alarms_per_hour": "<= 2",
                    "false_alarms_per_hour_filler": "<= 2 (the same target, resolved)",
                    "false_alarms_per_hour_unseen_words": "<= 2 (the same target, on words never trained on)",
                    "false_alarms_per_hour_sentences": "<= 2 (the same target, on everyday sentences)",
                    "listen_cpu_pct": "<= 10"},
    }
