"""Session 22 pilot: does learning a device's false alarms as `_unknown_` cut its false alarms?

Environment = one voice talking non-keyword speech near the device (a TV, a colleague). Its speech is
split in half: the first half's false alarms (detections of D, the shipped settings) are taught as
`_unknown_` (a 1-s clip centred on each detection: what a user marking "wrong" would give), the
second half measures false alarms after. Recall cost: keyword scenes in other voices.
Compared against the plain threshold trade-off (raising `threshold` until the same false alarms).
Not shipped: no gain (docs/kws-learning.md §28); the decision for the negative word is patched in
here (`decide_neg`), the app does not take `_unknown_` as a word to learn.

    NEG_EPS=0.05 python scripts/kws_negatives_pilot.py validation|test OUT.json
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import dataset, learn, scenes, tune
from akida_edge.apps.kws.app import DetectParams, Spotter
from akida_edge.apps.kws.labels import CLASSES
from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices

UNK = CLASSES.index("_unknown_")
NEG_EPS = float(os.environ.get("NEG_EPS", "0.05"))
D = DetectParams()


def decide_neg(p_base, match, known_matches, labels, *_settings):
    """`learn.decide` with `_unknown_` learned as negative adaptation: its calibrated match moves the
    window's probability to `_unknown_`, never vetoed."""
    n, k = match.shape
    out = np.concatenate([p_base, np.zeros((n, k))], axis=1)
    j = labels.index("_unknown_")
    pv = learn.p_values(match, known_matches)[:, j]
    hit = pv <= NEG_EPS
    out[hit, : p_base.shape[1]] *= pv[hit, None]
    out[hit, UNK] += 1.0 - pv[hit]
    return out


learn.decide = decide_neg


def env_scenes(which: str, n_env: int, seconds: float) -> list[tuple[str, list[scenes.Scene]]]:
    seed = dataset.DatasetConfig().seed
    voices = split_voices(available_languages(), available_variants(), seed)[which]
    rng = np.random.default_rng([seed, 4245 if which == "validation" else 4246])
    picked = [voices[int(i)].name for i in rng.choice(len(voices), n_env, replace=False)]
    out = []
    for v in picked:
        out.append((v, list(scenes.filler_only(rng, [v], seconds, 40, dataset.UNKNOWN_WORDS))))
        print(f"env {v}: {len(out[-1][1])} scenes", file=sys.stderr, flush=True)
    return out


def run_detect(spotter, scene, params=D):
    t, p, mel = tune.window_probabilities(spotter, scene.audio, params.hop_ms)
    return tune.detect(spotter.classes, params, t, p, mel), (t, p, mel)


def main() -> None:
    which, out_path = sys.argv[1], Path(sys.argv[2])
    envs = env_scenes(which, 4, 1200.0)
    if which == "validation":
        kw_scenes = tune.validation_scenes(Path("data/kws-en"), 24)
    else:
        from akida_edge.bench import kws as bench
        kw_scenes = [s for s, _ in bench.detection_scenes()]
    base = Spotter(learned=False)
    # the threshold curve on the keyword scenes (base): recall at each threshold
    kw_cache = [run_detect(base, s)[1] for s in kw_scenes]

    def recall_at(params, cache, classes):
        hits = total = false = 0
        for s, (t, p, mel) in zip(kw_scenes, cache, strict=True):
            h, f = scenes.score(tune.detect(classes, params, t, p, mel), s)
            hits, total, false = hits + h, total + len(s.keywords), false + f
        return hits / total, false

    thr = (0.7, 0.75, 0.8, 0.85, 0.9)
    curve = {str(x): recall_at(DetectParams(threshold=x), kw_cache, base.classes) for x in thr}
    result = {"which": which, "neg_eps": NEG_EPS, "envs": [], "base_recall_by_threshold": curve}
    for voice, sc in envs:
        half = len(sc) // 2
        teach, held = sc[:half], sc[half:]
        held_hours = sum(s.filler_speech_s for s in held) / 3600
        clips, fa_teach = [], 0
        for s in teach:
            found, _ = run_detect(base, s)
            fa_teach += len(found)
            for d in found:
                c = int(round(d.t_ms * 16))
                a = s.audio[max(0, c - 8000): c + 8000]
                if len(a) == 16000:
                    clips.append(a)
        held_cache = [run_detect(base, s)[1] for s in held]
        fa_before = {str(x): sum(len(tune.detect(base.classes, DetectParams(threshold=x), t, p, mel))
                                 for t, p, mel in held_cache) for x in thr}
        row = {"voice": voice, "teach_fa": fa_teach, "clips": len(clips), "held_hours": round(held_hours, 3),
               "held_fa_by_threshold": fa_before}
        if clips:
            with tempfile.TemporaryDirectory() as state:
                sp = Spotter(state_dir=state)
                sp.learned.learn_audio("_unknown_", clips)
                after = sum(len(run_detect(sp, s)[0]) for s in held)
                rec, kw_false = recall_at(D, [run_detect(sp, s)[1] for s in kw_scenes], sp.classes)
            row.update(held_fa_after=after, recall_after=rec, kw_scene_fa_after=kw_false)
        result["envs"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
