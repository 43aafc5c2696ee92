"""Continuous-speech `_unknown_` windows: 1 s cuts of utterances of several non-keywords.

Every `_unknown_` clip of the keyword data set (`dataset.py`) is one isolated word, while a
keyword spotter listens to 1 s windows of running speech: word pairs, a word's end and the next
one's start, half a word. The detector's false alarms on non-keyword speech come from such windows
(docs/kws.md, "Where the false alarms come from"). This set shows them to training as `_unknown_`:

* an utterance is `words_min`..`words_max` words of the TRAINING vocabulary's non-keywords
  (`vocabulary_words`: the keyword set's `_unknown_` words with probability `unknown_share`, else
  the word set's `vocabulary.TRAIN_WORDS`; never a keyword, a keyword homophone, a dev word or
  anything `vocabulary.excluded` keeps out for the bench's new words), said by a TRAINING voice
  (`voices.split_voices` with the data set's seed; flite for `flite_share` of them) with the
  training prosody and speaker/channel effects (`synth.random_speech`);
* `per_utterance` windows of 1 s are cut from it at offsets drawn uniformly from
  [−`edge_s`, duration − 1 s + `edge_s`] (so some windows hold a word's end or start and up to
  `edge_s` of silence: `_unknown_` all the same, as a detector must stay quiet there too); each
  window then gets the training split's noise at an SNR of `dataset.SNRS_DB`, babble from
  training voices and a gain (`dataset.make_clip`, reused).

Layout under the output directory (default ``data/kws-windows/``, git-ignored): ``manifest.json``
(settings, their hash, tool versions, the vocabulary and the voices) and
``train/shard_00000.npz`` with the keys of `dataset.py`'s shards (audio int16 (n, 16000), label
int8 = the `_unknown_` class, word = the utterance's text, voice, noise, snr_db, speech) and
``offset_ms`` (the window's start in its utterance; negative: it starts before the speech).
Every shard is determined by (seed, shard index) alone and written atomically, so an interrupted
run resumes where it stopped. Features (`train.load_features`) are cached beside the shards.
Usage::

    python -m akida_edge.apps.kws.speechwindows [--out data/kws-windows] [--windows 20000] [--small]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import dataset, synth, vocabulary
from akida_edge.apps.kws.labels import CLASSES, KEYWORDS, UNKNOWN
from akida_edge.apps.kws.voices import (
    Voice,
    available_languages,
    available_variants,
    espeak_version,
    split_voices,
    synth_versions,
)
from akida_edge.errors import AkidaEdgeError, ConfigError

SCHEMA = "akida-edge.kws-speechwindows/1"
SPLITS = ("train",)
LABEL = CLASSES.index(UNKNOWN)
CLIP_SAMPLES = dataset.CLIP_SAMPLES


def vocabulary_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the `_unknown_` words, the word set's training words) an utterance draws from: training
    words only, none a keyword, a keyword homophone, a dev word or excluded for the bench's words."""
    banned = set(KEYWORDS) | set(vocabulary.KEYWORD_HOMOPHONES) | set(vocabulary.BENCH_WORDS) \
        | set(vocabulary.DEV_WORDS)

    def keep(words: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(w for w in words if w not in banned and not vocabulary.excluded(w))

    return keep(dataset.UNKNOWN_WORDS), keep(vocabulary.TRAIN_WORDS)


@dataclass(frozen=True)
class WindowsConfig:
    """What the window set is made of; its hash guards resuming into the same directory."""

    seed: int = 20261127  # the keyword data set's seed: the same voice split
    windows: int = 20000
    per_utterance: int = 2  # windows cut from one synthesized utterance
    shard_size: int = 96
    words_min: int = 3
    words_max: int = 8
    unknown_share: float = 0.5  # share of the words drawn from the `_unknown_` words
    edge_s: float = 0.5  # how far a window may start before / end after the speech
    flite_share: float = 0.15

    @staticmethod
    def small(seed: int = 20261127) -> WindowsConfig:
        """A smoke-sized set (seconds): 16 windows in shards of 8."""
        return WindowsConfig(seed=seed, windows=16, shard_size=8)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def shards(self) -> int:
        return -(-self.windows // self.shard_size)

    def check(self) -> None:
        if not (1 <= self.words_min <= self.words_max) or self.per_utterance < 1 or self.windows < 1 \
                or self.shard_size < 1 or not 0.0 <= self.unknown_share <= 1.0 or self.edge_s < 0:
            raise ConfigError(f"speechwindows: settings out of range ({asdict(self)}): need 1 <= words_min "
                              "<= words_max, per_utterance, windows, shard_size >= 1, unknown_share in "
                              "[0, 1], edge_s >= 0")


def utterance_text(rng: np.random.Generator, config: WindowsConfig) -> str:
    """`words_min`..`words_max` words, each from the `_unknown_` words with probability
    `unknown_share`, else from the word set's training words (`vocabulary_words`)."""
    unknown, words = vocabulary_words()
    n = int(rng.integers(config.words_min, config.words_max + 1))
    return " ".join(str(rng.choice(unknown if rng.random() < config.unknown_share else words))
                    for _ in range(n))


def cut(x: np.ndarray, rng: np.random.Generator, edge_s: float,
        n: int = CLIP_SAMPLES) -> tuple[np.ndarray, int]:
    """A window of `n` samples of `x` starting at an offset drawn uniformly from
    [−edge, len(x) − n + edge] samples (edge = `edge_s` · rate; zeros outside `x`): (window, offset)."""
    edge = int(round(edge_s * synth.SAMPLE_RATE_HZ))
    lo, hi = -edge, max(x.size - n + edge, -edge)
    offset = int(rng.integers(lo, hi + 1))
    out = np.zeros(n, np.float32)
    a, b = max(offset, 0), min(offset + n, x.size)
    if b > a:
        out[a - offset: b - offset] = x[a:b]
    return out, offset


def _rng(config: WindowsConfig, index: int) -> np.random.Generator:
    # 23: apart from the keyword data set's ([seed, split, index]) and the word set's ([seed, 17, ..])
    return np.random.default_rng([config.seed, 23, index])


def make_shard(config: WindowsConfig, index: int, voices: list[Voice]) -> dict[str, np.ndarray]:
    """Windows [index·size, min((index+1)·size, windows)): whole utterances of `per_utterance`
    windows each (the shard's last utterance gives only the windows still needed)."""
    rng = _rng(config, index)
    count = min(config.shard_size, config.windows - index * config.shard_size)
    babble = dataset.babble_track(rng, voices)
    clips, offsets = [], []
    while len(clips) < count:
        text = utterance_text(rng, config)
        voice = dataset.pick_voice(rng, voices, config.flite_share)
        speech = synth.random_speech(rng, voice, text)
        x = synth.trim(synth.synthesize(speech))
        for _ in range(min(config.per_utterance, count - len(clips))):
            window, offset = cut(x, rng, config.edge_s)
            # a window of exactly one clip: `make_clip` keeps it as it is, then adds noise and gain
            clips.append(dataset.make_clip(rng, LABEL, voices, babble, (text, voice, speech, window)))
            offsets.append(1000.0 * offset / synth.SAMPLE_RATE_HZ)
    return {"audio": np.stack([c["audio"] for c in clips]), "label": np.full(count, LABEL, np.int8),
            **{k: np.array([c[k] for c in clips]) for k in ("word", "voice", "noise", "speech")},
            "snr_db": np.array([c["snr_db"] for c in clips], np.float32),
            "offset_ms": np.array(offsets, np.float32)}


def _write(config: WindowsConfig, out: Path, index: int, voices: list[Voice]) -> None:
    arrays = make_shard(config, index, voices)
    dataset.write_shard(dataset.shard_path(out, "train", index), arrays)


def build(out: str | Path, config: WindowsConfig | None = None, overwrite: bool = False,
          progress=sys.stderr) -> dict:
    """Make (or finish) the window set under `out` in this process; returns the manifest."""
    out, config = Path(out), config or WindowsConfig()
    config.check()
    voices = split_voices(available_languages(), available_variants(), config.seed)["train"]
    unknown, words = vocabulary_words()
    manifest = {
        "schema": SCHEMA, "config": asdict(config), "config_hash": config.digest(),
        "espeak_ng": espeak_version(), "synthesizers": synth_versions(),
        "sample_rate_hz": synth.SAMPLE_RATE_HZ,
        "splits": {"train": {"clips": config.windows, "shards": config.shards(),
                             "unknown_words": list(unknown), "words": list(words),
                             "voices": [v.name for v in voices]}},
        "complete": False,
    }
    dataset.write_manifest(out, manifest, SPLITS, overwrite, "speech-window set")
    todo = [i for i in range(config.shards()) if not dataset.shard_path(out, "train", i).exists()]
    total = config.shards()
    done, t0 = total - len(todo), time.monotonic()
    if todo:
        dataset.store_manifest(out, manifest, complete=False)
    for index in todo:
        _write(config, out, index, voices)
        done += 1
        dataset.report_progress(progress, done, total, t0, total - len(todo), what="kws windows")
    dataset.store_manifest(out, manifest, complete=True)
    return manifest


def load(out: str | Path) -> dict[str, np.ndarray]:
    """All windows (a one-line error when there are none)."""
    if not any((Path(out) / "train").glob("shard_*.npz")):
        raise ConfigError(f"{Path(out) / 'train'} holds no shards; build it: python -m "
                          f"akida_edge.apps.kws.speechwindows --out {out}")
    return dataset.load_split(out, "train")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.kws.speechwindows",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/kws-windows", help="data directory (default data/kws-windows)")
    ap.add_argument("--windows", type=int, default=WindowsConfig.windows,
                    help=f"windows to make (default {WindowsConfig.windows})")
    ap.add_argument("--small", action="store_true", help="a smoke-sized set (seconds, for CI)")
    ap.add_argument("--seed", type=int, default=20261127, help="the keyword data set's seed (voice split)")
    ap.add_argument("--overwrite", action="store_true", help="replace a window set made with other settings")
    ap.add_argument("--no-features", action="store_true", help="do not compute the feature cache")
    args = ap.parse_args(argv)
    try:
        if args.seed < 0:
            raise ConfigError(f"--seed {args.seed}: the seed must be >= 0")
        config = WindowsConfig.small(args.seed) if args.small else WindowsConfig(seed=args.seed,
                                                                                windows=args.windows)
        manifest = build(args.out, config, overwrite=args.overwrite)
        if not args.no_features:
            from akida_edge.apps.kws.train import load_features  # needs the `train` extra (PyTorch)

            load_features(Path(args.out), "train")
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps({"out": str(args.out), "clips": manifest["splits"]["train"]["clips"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
