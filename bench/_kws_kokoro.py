"""The ``kokoro`` figures of the ``kws`` suite: the shipped model on six neural voices it never heard.

The voices are Kokoro-82M's `apps.kws.kokoro.HELD_OUT_VOICES` (two American female, two American
male, one British of each); the other 22 Kokoro voices may be in training (`train.py --kokoro`),
these six never are. The clips are the Kokoro clip set's ``test`` split (`kokoroset.make_shard`,
made here, not read from a directory): 20 per speech class (no `_silence_`), made as the data
set's held-out clips (random prosody and sox effects, time shift, noise at the data set's SNRs,
gain). They are the clips of the training report's ``kokoro_test_accuracy``.

Figures: ``kokoro_accuracy`` (12-class top-1 of the quantized model), ``kokoro_keyword_accuracy``
(the ten keywords' clips), ``kokoro_accuracy_by_voice``. The same for three accented neural voices
never trained on (``kokoro_accented_*``, session 19): Kokoro's Spanish, Japanese and Portuguese
voices saying English (`kokoro.ACCENTED_HELD_OUT`), 20 clips per speech class too
(`kokoroset.ACCENTED_TEST`). All null, with ``kokoro_reason``, when the Kokoro network or voice
tables are not installed (`scripts/setup.sh --train`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import IO, Any

import numpy as np


def figures(spotter: Any, progress: IO[str] | None = None, config: Any = None) -> dict[str, Any]:
    """The figures of the module docstring for `spotter` (an `apps.kws.app.Spotter`); `config`: the
    clip set's settings (default `kokoroset.KokoroConfig()`; a smaller one for tests)."""
    from akida_edge.apps.kws import kokoro, kokoroset

    reason = kokoro.missing()
    keys = [f"kokoro{part}_{what}" for part in ("", "_accented")
            for what in ("accuracy", "keyword_accuracy", "accuracy_by_voice")]
    if reason is not None:
        return {**dict.fromkeys(keys), "kokoro_reason": reason, "kokoro_clips": 0,
                "kokoro_accented_clips": 0}
    config = config or kokoroset.KokoroConfig()
    # the accented voices say as many clips per class as the six English ones together
    per_class = {**config.per_class, kokoroset.ACCENTED_TEST: config.per_class["test"]}
    config = replace(config, per_class=per_class)
    return {**_split_figures(spotter, config, "test", "kokoro", progress),
            **_split_figures(spotter, config, kokoroset.ACCENTED_TEST, "kokoro_accented", progress)}


def _split_figures(spotter: Any, config: Any, split: str, name: str,
                   progress: IO[str] | None) -> dict[str, Any]:
    from akida_edge.apps.kws import features, kokoroset
    from akida_edge.apps.kws.labels import CLASSES, KEYWORDS

    shards = []
    for index in range(config.shards(split)):
        shards.append(kokoroset.make_shard(config, split, index))
        if progress:
            print(f"bench: kws {name.replace('_', ' ')} voices {sum(len(s['label']) for s in shards)}/"
                  f"{config.clips(split)} clips", file=progress, flush=True)
    audio = np.concatenate([s["audio"] for s in shards])
    y = np.concatenate([s["label"] for s in shards]).astype(np.int64)
    voice = np.concatenate([s["voice"] for s in shards]).astype(str)
    pred = spotter.probabilities(features.batch_features(audio)).argmax(1)
    keyword = np.isin(y, [CLASSES.index(k) for k in KEYWORDS])
    return {
        f"{name}_accuracy": round(float(np.mean(pred == y)), 4),
        f"{name}_keyword_accuracy": round(float(np.mean(pred[keyword] == y[keyword])), 4),
        f"{name}_accuracy_by_voice": {v.split("+", 1)[1]: round(float(np.mean(pred[mine] == y[mine])), 3)
                                      for v in sorted(set(voice)) for mine in [voice == v]},
        f"{name}_clips": int(len(y)),
    }
