"""The ``neural_voice`` figures of the ``kws`` suite: the shipped model on a neural voice of a real person.

The voice (`apps.kws.neural_voice`: Piper's ``en_US-joe-medium``, a VITS network trained on one
man's recordings) is held out from everything: never trained on, never used to choose a setting.
Its clips are made exactly as the data set's held-out splits make theirs (`dataset.make_shard`,
``repeats`` 1): `per_class` clips of each of the 12 classes, in shards of `shard_size` clips, each
shard with its own 3-s babble track said by this voice (the held-out splits' babble is by the
split's own voices); per clip a random utterance (`dataset.random_utterance`: the keyword, or for
`_unknown_` a near miss or another word; `synth.random_speech`: speaking rate, speaker and channel
effects), then `dataset.make_clip`: time shift, background noise at an SNR in
{clean, 30, 20, 15, 10, 5, 0} dB, gain; `_silence_` clips are noise alone, as everywhere.

Figures: ``neural_voice_accuracy`` (12-class top-1 of the quantized model, `Spotter.probabilities`
on `features.batch_features` as the other accuracy figures), ``neural_voice_keyword_accuracy``
(the ten keywords' clips only), ``neural_voice_accuracy_by_snr_db`` (speech clips per SNR; ~120
per level, so ±0.04) and ``neural_voice_per_class_recall``; all null, with
``neural_voice_reason``, when the voice package is not installed.
"""

from __future__ import annotations

from typing import IO, Any

import numpy as np

PER_CLASS = 80  # 960 clips; before session 20 20 (240), whose SD 0.03 was the size of the differences judged
SEED = 20261127
SHARD_SIZE = 48
STREAM = 77  # the generator stream of these clips: [seed, STREAM, shard]


def clips(per_class: int = PER_CLASS, seed: int = SEED, shard_size: int = SHARD_SIZE,
          progress: IO[str] | None = None) -> dict[str, np.ndarray]:
    """The voice's held-out clips: ``audio`` int16 (n, 16000), ``label``, ``word``, ``snr_db``."""
    from akida_edge.apps.kws import dataset, neural_voice
    from akida_edge.apps.kws.labels import CLASSES
    from akida_edge.apps.kws.voices import Voice

    voices = [Voice(*neural_voice.VOICE.split("+"))]
    say = neural_voice.synthesize
    total = per_class * len(CLASSES)
    out: list[dict] = []
    labels_all: list[int] = []
    for index in range(-(-total // shard_size)):
        rng = np.random.default_rng([seed, STREAM, index])
        labels = np.arange(index * shard_size, min((index + 1) * shard_size, total)) % len(CLASSES)
        labels = labels[rng.permutation(labels.size)]
        babble = dataset.babble_track(rng, voices, say)
        for lab in map(int, labels):
            utterance = None
            if CLASSES[lab] != "_silence_":
                utterance = dataset.random_utterance(rng, CLASSES[lab], voices, say=say)
            out.append(dataset.make_clip(rng, lab, voices, babble, utterance))
        labels_all += list(labels)
        if progress:
            print(f"bench: kws neural voice {len(out)}/{total} clips", file=progress, flush=True)
    return {"audio": np.stack([c["audio"] for c in out]), "label": np.array(labels_all, np.int8),
            "word": np.array([c["word"] for c in out]),
            "snr_db": np.array([c["snr_db"] for c in out], np.float32)}


def figures(spotter: Any, progress: IO[str] | None = None, per_class: int = PER_CLASS,
            seed: int = SEED) -> dict[str, Any]:
    """The figures of the module docstring for `spotter` (an `apps.kws.app.Spotter`)."""
    from akida_edge.apps.kws import neural_voice

    reason = neural_voice.missing()
    keys = ("neural_voice_accuracy", "neural_voice_keyword_accuracy", "neural_voice_accuracy_by_snr_db",
            "neural_voice_per_class_recall")
    if reason is not None:
        return {**dict.fromkeys(keys), "neural_voice_reason": reason, "neural_voice_clips": 0}
    from akida_edge.apps.kws import features, report
    from akida_edge.apps.kws.labels import CLASSES, KEYWORDS

    data = clips(per_class, seed, progress=progress)
    pred = spotter.probabilities(features.batch_features(data["audio"])).argmax(1)
    y = data["label"].astype(np.int64)
    keyword = np.isin(y, [CLASSES.index(k) for k in KEYWORDS])
    by_snr = report.accuracy_by_snr(pred, y, data["snr_db"], CLASSES.index("_silence_"))
    return {
        "neural_voice_accuracy": round(float(np.mean(pred == y)), 4),
        "neural_voice_keyword_accuracy": round(float(np.mean(pred[keyword] == y[keyword])), 4),
        "neural_voice_accuracy_by_snr_db": {k: round(v, 3) for k, v in by_snr.items()},
        "neural_voice_per_class_recall": {c: round(float(np.mean(pred[y == i] == i)), 3)
                                          for i, c in enumerate(CLASSES) if np.any(y == i)},
        "neural_voice_clips": int(len(y)),
        "neural_voice": f"{neural_voice.VOICE} ({neural_voice.REQUIREMENT}, held out)",
    }
