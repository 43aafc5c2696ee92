"""Keyword clips said by the Kokoro neural voices (`kokoro.py`): more training data, and a test split.

The same clips as the keyword data set's (`dataset.make_clip`: the ten keywords and `_unknown_`
words, random prosody and sox speaker/room/channel effects, a random time shift, background noise
at the data set's SNRs, gain), said by Kokoro voices instead of espeak-ng and flite:

* ``train``: `kokoro.TRAIN_VOICES` (22 voices), two clips per synthesized utterance; `train.py
  --kokoro DIR` adds them to the keyword training clips. With `KokoroConfig.accented`
  (``--accented``), also Kokoro's voices of other languages saying English (`kokoro.ACCENTED_TRAIN`,
  14 voices, accented English), with more clips per class so that every voice says about as many;
* ``test``: `kokoro.HELD_OUT_VOICES` (6 voices never trained on), one clip per utterance: accuracy
  on neural voices the model never heard (`kokoro_test_accuracy` in the training report).

No `_silence_` clips (the keyword data set has them). Its babble noise is said by espeak-ng
voices of the training set (`BABBLE_VOICES`). A shard is determined by (seed, split, index); the
build is resumable like the others (``python -m akida_edge.apps.kws.kokoroset --out
data/kws-kokoro``; about 0.6 s per utterance on one process).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import dataset, kokoro
from akida_edge.apps.kws.labels import CLASSES
from akida_edge.apps.kws.voices import Voice
from akida_edge.errors import AkidaEdgeError, ConfigError

SCHEMA = "akida-edge.kws-kokoro/1"
SPLITS = ("train", "test")
# made by the benchmark only, never written to a set: the accented voices never trained on
# (`kokoro.ACCENTED_HELD_OUT`), clips as the ``test`` split's
ACCENTED_TEST = "accented_test"
SPEECH = [i for i, c in enumerate(CLASSES) if c != "_silence_"]
STREAM = 61  # the generator stream of these shards: [seed, STREAM, split, index]
# the babble noise's voices: espeak-ng (fast; a multi-word Kokoro track would cost more than the
# shard's words), of training accents and variants
BABBLE_VOICES = [Voice("en-us", v) for v in ("m1", "m3", "f1", "f2", "f3")] + [Voice("en-gb", "m2")]


@dataclass(frozen=True)
class KokoroConfig:
    """Clips per speech class and split; its hash guards resuming into the same directory."""

    seed: int = 20261128
    per_class: dict[str, int] = field(default_factory=lambda: {"train": 400, "test": 20})
    repeats: dict[str, int] = field(default_factory=lambda: {"train": 2, "test": 1})
    shard_size: int = 44
    accented: bool = False  # the training voices include `kokoro.ACCENTED_TRAIN`
    synth_version: int = kokoro.SYNTH_VERSION  # sets of version 1 (sessions 17-18) have clipped words

    @staticmethod
    def small(seed: int = 20261128, accented: bool = False) -> KokoroConfig:
        return KokoroConfig(seed=seed, per_class={"train": 1, "test": 1}, shard_size=11, accented=accented)

    @staticmethod
    def with_accents(seed: int = 20261128) -> KokoroConfig:
        """The accented set (``--accented``): 36 training voices, 660 clips per class (18 per voice and
        class, as the English set's 400 over 22)."""
        return KokoroConfig(seed=seed, per_class={"train": 660, "test": 20}, accented=True)

    @staticmethod
    def choose(accented: bool = False, small: bool = False) -> KokoroConfig:
        """The set's settings: English or accented voices, full or smoke-sized."""
        if small:
            return KokoroConfig.small(accented=accented)
        return KokoroConfig.with_accents() if accented else KokoroConfig()

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def clips(self, split: str) -> int:
        return self.per_class.get(split, 0) * len(SPEECH)

    def shards(self, split: str) -> int:
        return -(-self.clips(split) // self.shard_size)


def split_voices(split: str, accented: bool = False) -> list[Voice]:
    if split == ACCENTED_TEST:
        return [Voice(kokoro.PREFIX, v) for v in kokoro.ACCENTED_HELD_OUT]
    names = kokoro.TRAIN_VOICES if split == "train" else kokoro.HELD_OUT_VOICES
    if split == "train" and accented:
        names = names + kokoro.ACCENTED_TRAIN
    return [Voice(kokoro.PREFIX, v) for v in names]


def make_shard(config: KokoroConfig, split: str, index: int) -> dict[str, np.ndarray]:
    """The arrays of one shard (the keyword data set's layout), determined by (seed, split, index)."""
    rng = np.random.default_rng([config.seed, STREAM, (*SPLITS, ACCENTED_TEST).index(split), index])
    voices = split_voices(split, config.accented)
    start, total = index * config.shard_size, config.clips(split)
    labels = np.array(SPEECH)[np.arange(start, min(start + config.shard_size, total)) % len(SPEECH)]
    labels = labels[rng.permutation(labels.size)]
    babble = dataset.babble_track(rng, BABBLE_VOICES)
    repeats = max(1, int(config.repeats.get(split, 1)))
    reuse: dict[int, list] = {}  # label -> [utterance, uses left]
    clips = []
    for lab in map(int, labels):
        entry = reuse.get(lab)
        if entry is None or entry[1] == 0:
            entry = reuse[lab] = [dataset.random_utterance(rng, CLASSES[lab], voices, say=kokoro.synthesize),
                                  repeats]
        entry[1] -= 1
        clips.append(dataset.make_clip(rng, lab, voices, babble, entry[0]))
    return dataset.shard_arrays(clips, labels)


def recorded(out: str | Path) -> dict | None:
    """The settings recorded in a set's manifest (None: no readable manifest)."""
    try:
        return dict(json.loads((Path(out) / "manifest.json").read_text())["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def config_for(out: str | Path, small: bool = False) -> KokoroConfig:
    """The settings to build or resume `out` with: the accented set's when its manifest says so."""
    return KokoroConfig.choose(bool((recorded(out) or {}).get("accented")), small)


def _job(args: tuple) -> int:
    config, out, split, index = args
    arrays = make_shard(config, split, index)
    dataset.write_shard(dataset.shard_path(out, split, index), arrays)
    return int(arrays["label"].size)


def build(out: str | Path, config: KokoroConfig | None = None, workers: int = 1, overwrite: bool = False,
          progress=sys.stderr) -> dict:
    """Make (or finish) the set under `out` (the test split first); returns the manifest."""
    reason = kokoro.missing()
    if reason is not None:
        raise ConfigError(reason)
    out, config = Path(out), config or KokoroConfig()
    old = recorded(out)
    if old is not None and not overwrite and old.get("synth_version", 1) < config.synth_version:
        raise ConfigError(f"{out} holds Kokoro clips of synthesis version {old.get('synth_version', 1)} "
                          f"(words louder than the network's ±1 were cut); make it again: python -m "
                          f"akida_edge.apps.kws.kokoroset --overwrite --out {out}"
                          f"{' --accented' if old.get('accented') else ''}")
    manifest = {
        "schema": SCHEMA, "config": asdict(config), "config_hash": config.digest(),
        "model_sha256": kokoro.MODEL_SHA256, "voice_package": kokoro.NPM_PACKAGE,
        "classes": list(CLASSES),
        "splits": {s: {"clips": config.clips(s), "shards": config.shards(s),
                       "voices": [v.name for v in split_voices(s, config.accented)]} for s in SPLITS},
        "complete": False,
    }
    manifest = dataset.write_manifest(out, manifest, SPLITS, overwrite, "Kokoro clip set")
    jobs = [(config, out, s, i) for s in ("test", "train") for i in range(config.shards(s))
            if not dataset.shard_path(out, s, i).exists()]
    dataset.build_shards(out, manifest, _job, jobs, sum(config.shards(s) for s in SPLITS), workers, progress,
                         "kws kokoro")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.kws.kokoroset",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/kws-kokoro", help="directory (default data/kws-kokoro)")
    ap.add_argument("--small", action="store_true", help="a smoke-sized set (seconds, for CI)")
    ap.add_argument("--accented", action="store_true", help="also the 14 accented training voices (Kokoro's "
                    "voices of other languages saying English), 660 clips per class; another --out, e.g. "
                    "data/kws-kokoro-accented")
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--overwrite", action="store_true", help="replace a set made with other settings")
    args = ap.parse_args(argv)
    try:
        if args.workers < 1:
            raise ConfigError(f"--workers {args.workers}: must be >= 1")
        manifest = build(args.out, KokoroConfig.choose(args.accented, args.small), workers=args.workers,
                         overwrite=args.overwrite)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps({"out": str(args.out), "clips": {s: v["clips"] for s, v in manifest["splits"].items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
