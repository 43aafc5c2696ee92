"""The word data set: hundreds of common words, each said by many voices, to train word features.

Few-shot learning of a new word (`learn.py`) needs binary features that carry a word's identity
across voices, also for words the model was never trained on (docs/kws-learning.md §1, §8). The
keyword data set has 192 `_unknown_` words with ~12 utterances each; this set has the
`vocabulary.TRAIN_WORDS` (454 words, none of the classes, the bench's new words or their forms)
with `clips_per_word` clips each, for the auxiliary word head of `train.py --words`.

Splits:

* ``train``: every word of `vocabulary.TRAIN_WORDS`, said by the keyword data set's TRAINING voices
  (`voices.split_voices` with its seed: espeak-ng English accents × variants, flite for
  `flite_share` of the utterances) with its training recipe, reused, not copied: prosody and
  speaker/channel effects (`synth.random_speech`), time shift, background noise at an SNR of
  `dataset.SNRS_DB` with babble, gain (`dataset.make_clip`), `repeats` clips per utterance;
* ``dev``: the `vocabulary.DEV_WORDS` (never trained on) said `dev_clips_per_voice` times by each
  of `dev_voices` VALIDATION voices with the bench's clip recipe (`known_words.clip`): the
  choosing set for backbones (`scripts/kws_words_pilot.py`); never the test, cross-family or
  other-synthesizer voices.

Layout under the output directory (default ``data/kws-words/``, git-ignored): ``manifest.json``
(settings, their hash, tool versions, words and voices per split) and
``<split>/shard_00000.npz`` with the keys of `dataset.py`'s shards (audio int16 (n, 16000),
label int16 = the word's index in its split's list, word, voice, noise, snr_db, speech).
Every shard is determined by (seed, split, shard index) alone and written atomically, so an
interrupted run resumes where it stopped. Features (`train.load_features`, cached beside the
shards) are computed at the end. Usage::

    python -m akida_edge.apps.kws.wordset [--out data/kws-words] [--small] [--workers 1]

A second set (session 11, `--more`, under another directory, e.g. ``data/kws-words-more``): the
1 000 `vocabulary.MORE_WORDS`, `--clips-per-word` (48) clips each, same voices and recipe, random
streams of their own (`WordsetConfig.stream`), no dev split; `train.py --more-words DIR` adds it.
A third (session 13, `--more 2`, e.g. ``data/kws-words-more2``): the 1 000 `vocabulary.MORE_WORDS_2`
the same way on streams of its own; `train.py --more-words DIR DIR2` adds both.
A neural one (session 18, `--kokoro`, e.g. ``data/kws-words-kokoro``): the first set's 454 words,
8 clips each, said by the 22 Kokoro training voices (`kokoro.TRAIN_VOICES`; babble noise by
espeak-ng voices, as in `kokoroset`); `train.py --more-words ... DIR` adds its clips to the same
words' classes (the word lists are equal), so the word features learn neural voices too. With
``--accented`` (session 19) the 14 accented Kokoro voices (`kokoro.ACCENTED_TRAIN`) say them too.
Sets made before `kokoro.SYNTH_VERSION` 2 have some words cut at the network's ±1; training
refuses them with the command that makes them again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import dataset, known_words, synth, vocabulary
from akida_edge.apps.kws.labels import CLASSES, UNKNOWN
from akida_edge.apps.kws.voices import (
    Voice,
    available_languages,
    available_variants,
    espeak_version,
    split_voices,
    synth_versions,
)
from akida_edge.errors import AkidaEdgeError, ConfigError

SCHEMA = "akida-edge.kws-wordset/1"
SPLITS = ("train", "dev")
_LABEL = CLASSES.index(UNKNOWN)  # `make_clip` only asks whether the clip is silence
#: The further word sets' lists (`WordsetConfig.more`, `--more PART`).
MORE_PARTS = {1: vocabulary.MORE_WORDS, 2: vocabulary.MORE_WORDS_2}


@dataclass(frozen=True)
class WordsetConfig:
    """What the word set is made of; its hash guards resuming into the same directory."""

    seed: int = 20261127  # the keyword data set's seed: the same voice split
    clips_per_word: int = 96
    repeats: int = 2  # clips per synthesized utterance (independent shift, noise, SNR, gain)
    shard_size: int = 96
    flite_share: float = 0.15
    dev_voices: int = 12
    dev_clips_per_voice: int = 5
    train_words: tuple[str, ...] = vocabulary.TRAIN_WORDS
    dev_words: tuple[str, ...] = vocabulary.DEV_WORDS
    stream: int = 0  # > 0: random streams apart from the first set's (`--more`)
    synth: str = "espeak"  # "kokoro": said by the Kokoro training voices (`--kokoro`)
    synth_version: int = 0  # a Kokoro set's `kokoro.SYNTH_VERSION` (0: not recorded; version 1 sets)
    accented: bool = False  # a Kokoro set said by the accented voices too (`--kokoro --accented`)

    @staticmethod
    def small(seed: int = 20261127) -> WordsetConfig:
        """A smoke-sized set (seconds): 6 words × 4 clips, 2 dev words × 2 voices × 2 clips."""
        return WordsetConfig(seed=seed, clips_per_word=4, shard_size=8, dev_voices=2, dev_clips_per_voice=2,
                             train_words=vocabulary.TRAIN_WORDS[:6], dev_words=vocabulary.DEV_WORDS[:2])

    @staticmethod
    def more(seed: int = 20261127, clips_per_word: int = 48, small: bool = False,
             part: int = 1) -> WordsetConfig:
        """A further word set (`--more PART`): part 1 `vocabulary.MORE_WORDS`, part 2
        `vocabulary.MORE_WORDS_2`, by the same training voices with the same recipe, `clips_per_word`
        clips each, on random streams of their own (`stream` = part); no dev split (the first set has
        it). `small`: 6 of its words × 4 clips (seconds)."""
        if part not in MORE_PARTS:
            raise ConfigError(f"--more {part}: no such word list; the parts are "
                              f"{', '.join(map(str, MORE_PARTS))}")
        words = MORE_PARTS[part]
        if small:
            return WordsetConfig(seed=seed, clips_per_word=4, shard_size=8, dev_words=(), stream=part,
                                 train_words=words[:6])
        return WordsetConfig(seed=seed, clips_per_word=clips_per_word, train_words=words, dev_words=(),
                             stream=part)

    @staticmethod
    def kokoro(seed: int = 20261127, clips_per_word: int = 8, small: bool = False,
               accented: bool = False) -> WordsetConfig:
        """The first set's words (`vocabulary.TRAIN_WORDS`) said by the 22 Kokoro training voices
        (`kokoro.TRAIN_VOICES`, neural; `--kokoro`; with `accented` also `kokoro.ACCENTED_TRAIN`),
        `clips_per_word` clips each with the same recipe, on random streams of their own (stream 3);
        no flite, no dev split. `train.py --more-words` joins its clips to the first set's words (same
        word list: same classes). `small`: 6 words × 4 clips."""
        from akida_edge.apps.kws import kokoro

        neural = dict(flite_share=0.0, dev_words=(), stream=3, synth="kokoro", accented=accented,
                      synth_version=kokoro.SYNTH_VERSION)
        if small:
            return WordsetConfig(seed=seed, clips_per_word=4, shard_size=8,
                                 train_words=vocabulary.TRAIN_WORDS[:6], **neural)
        return WordsetConfig(seed=seed, clips_per_word=clips_per_word, shard_size=48, **neural)

    def settings(self) -> dict:
        """The settings as stored and hashed; `stream` 0, `synth` "espeak", `synth_version` 0 and
        `accented` False are left out, so the manifests and feature caches made before those fields
        existed stay valid."""
        out = asdict(self)
        for key, unset in (("stream", 0), ("synth", "espeak"), ("synth_version", 0), ("accented", False)):
            if out[key] == unset:
                del out[key]
        return out

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode()).hexdigest()[:16]

    @staticmethod
    def of(out: str | Path) -> WordsetConfig:
        """The settings of the word set under `out` (its manifest), or a one-line error."""
        path = Path(out) / "manifest.json"
        try:
            config = json.loads(path.read_text())["config"]
            return WordsetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: not a word set's manifest ({exc}); build it: python -m "
                              f"akida_edge.apps.kws.wordset --out {out}") from None

    def words(self, split: str) -> tuple[str, ...]:
        return self.train_words if split == "train" else self.dev_words

    def clips(self, split: str) -> int:
        if split == "train":
            return len(self.train_words) * self.clips_per_word
        return len(self.dev_words) * self.dev_voices * self.dev_clips_per_voice

    def shards(self, split: str) -> int:
        """Train: `shard_size` clips each; dev: one shard per word."""
        return -(-self.clips(split) // self.shard_size) if split == "train" else len(self.dev_words)

    def check(self) -> None:
        if self.shard_size % self.repeats or self.clips_per_word % self.repeats:
            raise ConfigError(f"wordset: shard_size {self.shard_size} and clips_per_word "
                              f"{self.clips_per_word} must be multiples of repeats {self.repeats}")


def split_voices_of(config: WordsetConfig) -> dict[str, list[Voice]]:
    """Training voices for ``train``; `dev_voices` validation voices (a seeded pick) for ``dev``. A
    Kokoro set: the Kokoro training voices, no dev voices."""
    if config.synth == "kokoro":
        from akida_edge.apps.kws import kokoro

        names = kokoro.TRAIN_VOICES + (kokoro.ACCENTED_TRAIN if config.accented else ())
        return {"train": [Voice(kokoro.PREFIX, v) for v in names], "dev": []}
    splits = split_voices(available_languages(), available_variants(), config.seed)
    val = splits["validation"]
    pick = np.random.default_rng([config.seed, 17]).permutation(len(val))[: config.dev_voices]
    return {"train": splits["train"], "dev": [val[i] for i in pick]}


def _rng(config: WordsetConfig, split: str, index: int) -> np.random.Generator:
    # 17: apart from the keyword data set's streams ([seed, split, index]); a `stream` apart from the first
    stream = [config.stream] if config.stream else []
    return np.random.default_rng([config.seed, 17, SPLITS.index(split), index, *stream])


def make_train_shard(config: WordsetConfig, index: int, voices: list[Voice]) -> dict[str, np.ndarray]:
    """Clips [index·size, (index+1)·size) of ``train``: clip i is utterance i // repeats, of word
    (i // repeats) mod n_words (so every word gets `clips_per_word` clips, from as many utterances
    / repeats, in as many voices as drawn)."""
    rng = _rng(config, "train", index)
    start = index * config.shard_size
    stop = min(start + config.shard_size, config.clips("train"))
    say = synth.synthesize
    if config.synth == "kokoro":  # the babble is espeak-ng's, as in the Kokoro keyword clips
        from akida_edge.apps.kws import kokoro, kokoroset

        say = kokoro.synthesize
        babble = dataset.babble_track(rng, kokoroset.BABBLE_VOICES)
    else:
        babble = dataset.babble_track(rng, voices)
    clips, labels, utt = [], [], None
    for i in range(start, stop):
        label = (i // config.repeats) % len(config.train_words)
        if i % config.repeats == 0 or utt is None:
            utt = dataset.random_utterance(rng, config.train_words[label], voices, config.flite_share,
                                           say=say)
        clips.append(dataset.make_clip(rng, _LABEL, voices, babble, utt))
        labels.append(label)
    return _arrays(clips, labels)


def make_dev_shard(config: WordsetConfig, index: int, voices: list[Voice]) -> dict[str, np.ndarray]:
    """Dev word `index` said `dev_clips_per_voice` times by each dev voice (the bench's recipe)."""
    rng = _rng(config, "dev", index)
    word = config.dev_words[index]
    clips = [{"audio": dataset.to_int16(known_words.clip(rng, v.name, word)), "word": word, "voice": v.name,
              "noise": "", "snr_db": np.nan, "speech": ""}
             for v in voices for _ in range(config.dev_clips_per_voice)]
    return _arrays(clips, [index] * len(clips))


def _arrays(clips: list[dict], labels: list[int]) -> dict[str, np.ndarray]:
    return {"audio": np.stack([c["audio"] for c in clips]), "label": np.array(labels, np.int16),
            **{k: np.array([c[k] for c in clips]) for k in ("word", "voice", "noise", "speech")},
            "snr_db": np.array([c["snr_db"] for c in clips], np.float32)}


def _job(args: tuple) -> int:
    config, out, split, index, voices = args
    make = make_train_shard if split == "train" else make_dev_shard
    arrays = make(config, index, voices)
    dataset.write_shard(dataset.shard_path(out, split, index), arrays)
    return int(arrays["label"].size)


def _prepare(out: Path, config: WordsetConfig, voices: dict[str, list[Voice]], overwrite: bool) -> dict:
    manifest = {
        "schema": SCHEMA, "config": config.settings(), "config_hash": config.digest(),
        "espeak_ng": espeak_version(), "synthesizers": synth_versions(),
        "sample_rate_hz": synth.SAMPLE_RATE_HZ,
        "splits": {s: {"clips": config.clips(s), "shards": config.shards(s), "words": list(config.words(s)),
                       "voices": [v.name for v in voices[s]]} for s in SPLITS},
        "complete": False,
    }
    return dataset.write_manifest(out, manifest, SPLITS, overwrite, "word set")


def build(out: str | Path, config: WordsetConfig | None = None, workers: int = 1, overwrite: bool = False,
          progress=sys.stderr) -> dict:
    """Make (or finish) the word set under `out`; returns the manifest."""
    out, config = Path(out), config or WordsetConfig()
    config.check()
    if config.synth == "kokoro":
        from akida_edge.apps.kws import kokoro

        reason = kokoro.missing()
        if reason is not None:
            raise ConfigError(reason)
    voices = split_voices_of(config)
    manifest = _prepare(out, config, voices, overwrite)
    jobs = [(config, out, s, i, voices[s]) for s in ("dev", "train") for i in range(config.shards(s))
            if not dataset.shard_path(out, s, i).exists()]
    total = sum(config.shards(s) for s in SPLITS)
    done, t0 = total - len(jobs), time.monotonic()
    if jobs:
        dataset.store_manifest(out, manifest, complete=False)
        if workers > 1:
            with get_context("fork").Pool(workers) as pool:
                for _ in pool.imap_unordered(_job, jobs):
                    done += 1
                    _report(progress, done, total, t0, total - len(jobs))
        else:
            for job in jobs:
                _job(job)
                done += 1
                _report(progress, done, total, t0, total - len(jobs))
    dataset.store_manifest(out, manifest, complete=True)
    return manifest


def _report(stream, done: int, total: int, t0: float, skipped: int) -> None:
    dataset.report_progress(stream, done, total, t0, skipped, what="kws wordset")


def load_split(out: str | Path, split: str) -> dict[str, np.ndarray]:
    """All shards of `split`, concatenated in shard order (a one-line error when none)."""
    if not any((Path(out) / split).glob("shard_*.npz")):
        raise ConfigError(f"{Path(out) / split} holds no shards; build it: python -m "
                          f"akida_edge.apps.kws.wordset --out {out}")
    return dataset.load_split(out, split)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.kws.wordset",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/kws-words", help="data directory (default data/kws-words)")
    ap.add_argument("--small", action="store_true", help="a smoke-sized set (seconds, for CI)")
    ap.add_argument("--seed", type=int, default=20261127, help="the keyword data set's seed (voice split)")
    ap.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    ap.add_argument("--more", type=int, nargs="?", const=1, default=None, metavar="PART",
                    help="a further word set: part 1 (the default) vocabulary.MORE_WORDS, part 2 "
                    "vocabulary.MORE_WORDS_2; --clips-per-word clips each, no dev split (use another --out, "
                    "e.g. data/kws-words-more, data/kws-words-more2)")
    ap.add_argument("--kokoro", action="store_true",
                    help="the first set's words said by the 22 Kokoro training voices (needs the train "
                    "extra and the voice tables; another --out, e.g. data/kws-words-kokoro)")
    ap.add_argument("--accented", action="store_true",
                    help="with --kokoro: the 14 accented Kokoro voices (other languages' voices saying "
                    "English) say the words too (another --out, e.g. data/kws-words-kokoro-accented)")
    ap.add_argument("--clips-per-word", type=int, default=None,
                    help="with --more or --kokoro: clips per word, even (default 48 with --more, 8 with "
                    "--kokoro)")
    ap.add_argument("--overwrite", action="store_true", help="replace a word set made with other settings")
    ap.add_argument("--no-features", action="store_true", help="do not compute the feature cache")
    args = ap.parse_args(argv)
    try:
        if args.seed < 0 or args.workers < 1:
            raise ConfigError(f"--seed {args.seed} / --workers {args.workers}: the seed must be >= 0 and "
                              "the workers >= 1")
        if args.more is not None and args.kokoro:
            raise ConfigError("--more and --kokoro make different sets: pass one of them")
        if args.accented and not args.kokoro:
            raise ConfigError("--accented names voices of a Kokoro word set: pass it with --kokoro")
        per_word = args.clips_per_word or (8 if args.kokoro else 48)
        if per_word < 2 or per_word % 2:
            raise ConfigError(f"--clips-per-word {per_word}: must be an even number >= 2")
        if args.more is not None:
            config = WordsetConfig.more(args.seed, per_word, small=args.small, part=args.more)
        elif args.kokoro:
            config = WordsetConfig.kokoro(args.seed, per_word, small=args.small, accented=args.accented)
        else:
            config = WordsetConfig.small(args.seed) if args.small else WordsetConfig(seed=args.seed)
        manifest = build(args.out, config, workers=args.workers, overwrite=args.overwrite)
        if not args.no_features:
            from akida_edge.apps.kws.train import load_features  # needs the `train` extra (PyTorch)

            for split in SPLITS:
                if config.clips(split):
                    load_features(Path(args.out), split)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps({"out": str(args.out), "clips": {s: v["clips"] for s, v in manifest["splits"].items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
