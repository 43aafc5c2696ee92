"""Keyword-spotting data made here with speech synthesizers: 12 classes of 1 s clips at 16 kHz.

Classes: the ten Speech Commands keywords `yes no up down left right on off stop go`, `_unknown_`
(other words, `UNKNOWN_WORDS`) and `_silence_` (background noise of several kinds and levels).
`backward`, `follow` and `forward` are kept out of every class: they stay new for the few-shot
learning demos, as in BrainChip's KWS example.

Voices, splits and families: `voices.py` (espeak-ng English accents × variants; flite voices say
`FLITE_SHARE` of the training utterances; festival only in the held-out `other_synth` split).
Prosody and speaker/channel augmentation: `synth.py`.
Noises: `noise.py`. Each clip then gets a time shift (random onset), background noise at an SNR in
{clean, 30, 20, 15, 10, 5, 0} dB with babble from the same split's voices, and a gain (peak
−30..−1 dBFS). Silence clips are noise at −75..−25 dBFS RMS.

Layout under the output directory (default `data/kws/`, git-ignored)::

    manifest.json                    settings, their hash, tool versions, voices per split
    <split>/shard_00000.npz          audio int16 (n, 16000), label int8, word, voice, noise,
                                     snr_db (NaN = clean), speech (espeak/sox parameters)

Every shard is determined by (seed, split, shard index) alone, so the data are the same whatever
the number of processes, and an interrupted run resumes where it stopped (shards are written
atomically). Usage: ``python -m akida_edge.apps.kws.dataset --out data/kws [--small]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import noise, synth
from akida_edge.apps.kws.labels import CLASSES, KEYWORDS  # noqa: F401 (dataset.KEYWORDS: bench/kws.py)
from akida_edge.apps.kws.voices import (
    SPLITS,
    Voice,
    available_languages,
    available_variants,
    espeak_version,
    split_voices,
    synth_versions,
)
from akida_edge.errors import AkidaEdgeError, ConfigError

OTHER_WORDS = (
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow", "zero", "one",
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "learn", "visual", "yeah",
    "yellow", "note", "nose", "dove", "done", "town",
    "dawn", "light", "ride", "bright", "night", "own", "of", "often", "top",
    "shop", "stock", "step", "goal", "gold", "ghost", "kept", "let", "late", "rain", "red", "table",
    "water", "window", "garden", "morning", "evening", "music", "paper", "pencil", "orange", "apple",
    "banana", "cherry", "lemon", "monkey", "rabbit", "tiger", "zebra", "camera", "coffee", "doctor",
    "engine", "family", "guitar", "hammer", "island", "jacket", "kitchen", "ladder", "mountain",
    "number", "ocean", "pocket", "question", "river", "summer", "winter", "travel", "under", "very",
    "wonder", "yesterday", "again", "about", "after", "always", "because", "before", "between",
    "could", "every", "first", "great", "little", "never", "other", "people", "place", "small",
    "something", "think", "through", "where", "which", "world", "would", "young", "back", "blue",
    "green", "black", "white", "brown", "purple", "silver", "hello", "thanks", "please", "sorry",
    "maybe", "sure", "okay", "start", "begin", "finish", "open", "close", "turn", "move", "jump",
)
# Near misses: words that share most of their sounds with a keyword (not homophones: "know" and
# "write" sound exactly like "no" and "right" and were removed in session 2 — no classifier of
# sound can tell them apart, so they were label noise).
NEAR_MISS_WORDS = (
    "yet", "yell", "yep", "guess", "chess", "dress", "less", "mess", "now", "nope", "noon", "nor",
    "snow", "cup", "pup", "upon", "app", "hop", "doubt", "drown", "gown", "round", "lift", "loft",
    "laughed", "theft", "lap", "fright", "bite", "rice", "wrote", "an", "in", "honest",
    "oft", "cough", "soft", "spot", "stomp", "stuff", "drop", "goat", "grow", "low", "show", "slow",
    "row", "lost", "long", "gap", "stay", "stood", "cop",
)
UNKNOWN_WORDS = OTHER_WORDS + NEAR_MISS_WORDS
NEAR_MISS_SHARE = 0.5  # share of `_unknown_` clips that say a near miss
SCHEMA = "akida-edge.kws-dataset/1"
CLIP_SAMPLES = synth.SAMPLE_RATE_HZ  # 1 s
SNRS_DB = (np.nan, 30.0, 20.0, 15.0, 10.0, 5.0, 0.0)


@dataclass(frozen=True)
class DatasetConfig:
    """What the data set is made of; its hash guards resuming into the same directory."""

    seed: int = 20261127
    per_class: dict[str, int] = field(default_factory=lambda: {
        "train": 600, "validation": 80, "test": 100, "cross_family": 100, "other_synth": 50})
    shard_size: int = 96
    # clips made from one synthesized utterance (each with its own time shift, noise, SNR and
    # gain): 2 for training halves the espeak-ng/sox cost per clip; the held-out splits keep 1
    repeats: dict[str, int] = field(default_factory=lambda: {
        "train": 2, "validation": 1, "test": 1, "cross_family": 1, "other_synth": 1})
    # share of the utterances said by a flite voice where the split has some (5 flite voices
    # against ~365 espeak-ng ones: drawn uniformly they would say 1.4 %)
    flite_share: float = 0.15

    @staticmethod
    def small(seed: int = 20261127) -> DatasetConfig:
        return DatasetConfig(seed=seed, per_class={"train": 3, "validation": 1, "test": 1, "cross_family": 1,
                                                   "other_synth": 1}, shard_size=12)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def shards(self, split: str) -> int:
        return -(-self.per_class.get(split, 0) * len(CLASSES) // self.shard_size)


def babble_track(rng: np.random.Generator, voices: list[Voice],
                 say: Callable[[synth.Speech], np.ndarray] = synth.synthesize) -> np.ndarray:
    """3 s of 3-5 voices saying other words, overlapped (the 'babble' noise of this shard); `say`:
    the synthesizer (another one for a held-out voice, `neural_voice.synthesize`)."""
    track = np.zeros(3 * CLIP_SAMPLES, np.float32)
    for _ in range(int(rng.integers(3, 6))):
        words = " ".join(rng.choice(UNKNOWN_WORDS, int(rng.integers(4, 8))))
        voice = voices[int(rng.integers(0, len(voices)))].name
        x = say(synth.random_speech(rng, voice, words))[: track.size]
        if x.size:
            start = int(rng.integers(0, track.size - x.size + 1))
            track[start: start + x.size] += x / (np.abs(x).max() + 1e-9)
    return track


def pick_voice(rng: np.random.Generator, voices: list[Voice], flite_share: float) -> str:
    """A voice name: a flite voice with probability `flite_share` when `voices` mixes flite and
    other voices, else uniform over `voices`."""
    flite = [v for v in voices if v.language == "flite"]
    rest = [v for v in voices if v.language != "flite"]
    if flite and rest:
        voices = flite if rng.random() < flite_share else rest
    return voices[int(rng.integers(0, len(voices)))].name


def random_utterance(rng: np.random.Generator, name: str, voices: list[Voice], flite_share: float = 0.0,
                     say: Callable[[synth.Speech], np.ndarray] = synth.synthesize,
                     ) -> tuple[str, str, synth.Speech, np.ndarray]:
    """A random word of class `name` in a random voice: (word, voice, speech, trimmed samples);
    `say` as in `babble_track`."""
    word = name
    if name == "_unknown_":
        pool = NEAR_MISS_WORDS if rng.random() < NEAR_MISS_SHARE else OTHER_WORDS
        word = str(rng.choice(pool))
    voice = pick_voice(rng, voices, flite_share)
    speech = synth.random_speech(rng, voice, word)
    return word, voice, speech, synth.trim(say(speech))


def make_clip(rng: np.random.Generator, label: int, voices: list[Voice], babble: np.ndarray,
              utterance: tuple | None = None) -> dict:
    """One 1 s int16 clip of class `label` and its metadata; `utterance` (from `random_utterance`) reuses
    a synthesized word, else a new one is drawn."""
    name = CLASSES[label]
    if name == "_silence_":
        kind = noise.KINDS[int(rng.integers(0, len(noise.KINDS)))]
        level_db = rng.uniform(-75, -25)
        audio = noise.generate(kind, CLIP_SAMPLES, rng, babble) * 10 ** (level_db / 20)
        return {"audio": to_int16(audio), "word": "", "voice": "", "noise": kind, "snr_db": np.nan,
                "speech": f"level {level_db:.1f} dBFS"}
    word, voice, speech, x = utterance if utterance is not None else random_utterance(rng, name, voices)
    clip, onset = synth.fit(x, CLIP_SAMPLES, rng)
    snr_db = float(SNRS_DB[int(rng.integers(0, len(SNRS_DB)))])
    kind = ""
    if not np.isnan(snr_db):
        kind = noise.KINDS[int(rng.integers(0, len(noise.KINDS)))]
        active = slice(onset, onset + max(min(x.size, CLIP_SAMPLES), 1))
        clip = noise.mix_at_snr(clip, noise.generate(kind, CLIP_SAMPLES, rng, babble), snr_db, active)
    peak = float(np.abs(clip).max())
    if peak > 0:
        clip = clip * (10 ** (rng.uniform(-30, -1) / 20) / peak)
    return {"audio": to_int16(clip), "word": word, "voice": voice, "noise": kind, "snr_db": snr_db,
            "speech": speech.describe()}


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def make_shard(config: DatasetConfig, split: str, index: int, voices: list[Voice]) -> dict[str, np.ndarray]:
    """The arrays of one shard, determined by (seed, split, index) (see the module docstring)."""
    rng = np.random.default_rng([config.seed, SPLITS.index(split), index])
    total = config.per_class.get(split, 0) * len(CLASSES)
    start = index * config.shard_size
    labels = np.arange(start, min(start + config.shard_size, total)) % len(CLASSES)
    labels = labels[rng.permutation(labels.size)]
    babble = babble_track(rng, voices)
    repeats = max(1, int(config.repeats.get(split, 1)))
    reuse: dict[int, list] = {}  # label -> [utterance, uses left]
    clips = []
    for lab in map(int, labels):
        entry = reuse.get(lab)
        if CLASSES[lab] == "_silence_":
            clips.append(make_clip(rng, lab, voices, babble))
            continue
        if entry is None or entry[1] == 0:
            entry = reuse[lab] = [random_utterance(rng, CLASSES[lab], voices, config.flite_share), repeats]
        entry[1] -= 1
        clips.append(make_clip(rng, lab, voices, babble, entry[0]))
    return shard_arrays(clips, labels)


def shard_arrays(clips: list[dict], labels: np.ndarray) -> dict[str, np.ndarray]:
    """A shard's arrays from `make_clip`'s clips and their labels."""
    return {
        "audio": np.stack([c["audio"] for c in clips]), "label": labels.astype(np.int8),
        "word": np.array([c["word"] for c in clips]), "voice": np.array([c["voice"] for c in clips]),
        "noise": np.array([c["noise"] for c in clips]),
        "snr_db": np.array([c["snr_db"] for c in clips], np.float32),
        "speech": np.array([c["speech"] for c in clips]),
    }


def shard_path(out: Path, split: str, index: int) -> Path:
    """Where shard `index` of `split` lives (the layout the word and window sets share)."""
    return out / split / f"shard_{index:05d}.npz"


def write_shard(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a shard atomically (a temporary file, then a rename): an interrupted build leaves
    whole shards only, and resumes at the first missing one."""
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _job(args: tuple) -> int:
    config, out, split, index, voices = args
    arrays = make_shard(config, split, index, voices)
    write_shard(shard_path(out, split, index), arrays)
    return int(arrays["label"].size)


def _prepare(out: Path, config: DatasetConfig, overwrite: bool) -> dict:
    languages, variants = available_languages(), available_variants()
    splits = split_voices(languages, variants, config.seed)
    manifest = {
        "schema": SCHEMA, "config": asdict(config), "config_hash": config.digest(),
        "espeak_ng": espeak_version(), "synthesizers": synth_versions(),
        "classes": list(CLASSES), "sample_rate_hz": synth.SAMPLE_RATE_HZ,
        "splits": {s: {"clips": config.per_class.get(s, 0) * len(CLASSES), "shards": config.shards(s),
                       "voices": [v.name for v in splits[s]]} for s in SPLITS},
        "complete": False,
    }
    def resize(old: dict) -> bool:  # only the clip counts changed: keep the shards still valid
        if not _resizable(old, manifest):
            return False
        _drop_changed_shards(out, old, config)
        return True

    return write_manifest(out, manifest, SPLITS, overwrite, "data set", resize)


def write_manifest(out: Path, manifest: dict, splits: tuple[str, ...], overwrite: bool, what: str,
                   resize: Callable[[dict], bool] | None = None) -> dict:
    """Start or resume a shard directory: an existing `manifest.json` of other settings or voices is
    refused (one line) unless `overwrite` (its shards are then deleted) or `resize(old)` handles it
    (returns True); then the split folders and the new manifest are written."""
    path = out / "manifest.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
        if resize is not None and resize(old):
            pass
        elif old.get("config_hash") != manifest["config_hash"] or old.get("splits") != manifest["splits"]:
            if not overwrite:
                raise ConfigError(f"{path} describes a {what} made with other settings or voices; use "
                                  "another --out or pass --overwrite to replace it")
            for split in splits:
                shutil.rmtree(out / split, ignore_errors=True)
        elif _same(old, manifest):  # a rerun of a finished or interrupted build: leave the file be
            for split in splits:
                (out / split).mkdir(parents=True, exist_ok=True)
            return manifest
    for split in splits:
        (out / split).mkdir(parents=True, exist_ok=True)
    store_manifest(out, manifest)
    return manifest


def _same(old: dict, new: dict) -> bool:
    """True when two manifests differ at most in their ``complete`` flag."""
    def rest(m: dict) -> dict:
        return {k: v for k, v in m.items() if k != "complete"}

    return rest(old) == rest(new)


def store_manifest(out: Path, manifest: dict, complete: bool | None = None) -> None:
    """Write `manifest` (with ``complete`` set when given) as ``out/manifest.json`` atomically
    (temporary file, then rename), and not at all when the file already says the same: a rerun of
    a finished build reads a shared data directory without writing to it."""
    if complete is not None:
        manifest["complete"] = complete
    path, text = out / "manifest.json", json.dumps(manifest, indent=1)
    try:
        if path.read_text() == text:
            return
    except (OSError, ValueError):
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _resizable(old: dict, new: dict) -> bool:
    """True when `old` differs from `new` only in clips per split (same seed, shard size, voices)."""
    try:
        same = {k: v for k, v in old["config"].items() if k != "per_class"} == \
            {k: v for k, v in new["config"].items() if k != "per_class"}
        voices = all(old["splits"][s]["voices"] == new["splits"][s]["voices"] for s in SPLITS)
    except (KeyError, TypeError):
        return False
    return same and voices and old.get("config_hash") != new["config_hash"]


def _drop_changed_shards(out: Path, old: dict, config: DatasetConfig) -> None:
    """Remove the shards whose content a new clip count changes: a shard is determined by (seed,
    split, index) and its clip range [i·size, min((i+1)·size, total)), so full shards below both
    totals stay valid (a training set can grow or shrink without remaking anything else)."""
    size = config.shard_size
    for split in SPLITS:
        total_old = int(old["config"]["per_class"].get(split, 0)) * len(CLASSES)
        total_new = config.per_class.get(split, 0) * len(CLASSES)
        if total_old == total_new:
            continue
        for path in (out / split).glob("shard_*.npz"):
            index = int(path.stem.split("_")[1].split(".")[0])
            if index >= config.shards(split) or (index + 1) * size > min(total_old, total_new):
                path.unlink()


def build(out: str | Path, config: DatasetConfig | None = None, workers: int = 2, overwrite: bool = False,
          progress=sys.stderr) -> dict:
    """Make (or finish) the data set under `out`; returns the manifest."""
    out, config = Path(out), config or DatasetConfig()
    manifest = _prepare(out, config, overwrite)
    voices = {s: split_voices(available_languages(), available_variants(), config.seed)[s] for s in SPLITS}
    # held-out splits first: an interrupted build can already be evaluated on
    order = [s for s in SPLITS if s != "train"] + ["train"]
    jobs = [(config, out, s, i, voices[s]) for s in order for i in range(config.shards(s))
            if not shard_path(out, s, i).exists()]
    build_shards(out, manifest, _job, jobs, sum(config.shards(s) for s in SPLITS), workers, progress)
    return manifest


def build_shards(out: Path, manifest: dict, job: Callable[[tuple], int], jobs: list[tuple], total: int,
                 workers: int, progress, what: str = "kws dataset") -> None:
    """Run `job` on the missing shards' `jobs` in `workers` processes, with progress (`what`) of
    `total` shards; the manifest says ``complete`` false while they run and true after."""
    done, t0 = total - len(jobs), time.monotonic()
    report_progress(progress, done, total, t0, done, what)
    if jobs:
        store_manifest(out, manifest, complete=False)
        with get_context("fork").Pool(max(1, workers)) as pool:
            for _ in pool.imap_unordered(job, jobs):
                done += 1
                report_progress(progress, done, total, t0, total - len(jobs), what)
    store_manifest(out, manifest, complete=True)


def report_progress(stream, done: int, total: int, t0: float, skipped: int,
                    what: str = "kws dataset") -> None:
    """Plain stderr progress of a shard build (`what`): a bar, shards done, elapsed and estimated
    time left (`skipped`: shards found already made, not counted in the rate)."""
    if stream is None:
        return
    elapsed = time.monotonic() - t0
    rate = (done - skipped) / elapsed if elapsed > 0 and done > skipped else 0.0
    left = f"~{(total - done) / rate:.0f} s left" if rate > 0 and done < total else ""
    bar = "#" * int(30 * done / max(total, 1))
    tty = getattr(stream, "isatty", lambda: False)()
    if not tty and done not in (skipped, total) and done % max(1, total // 20):
        return  # to a file or CI log: about every 5 %
    end = "\n" if done == total or not tty else "\r"
    stream.write(f"{what} [{bar:<30}] {done}/{total} shards {elapsed:.0f} s {left}   {end}")
    stream.flush()


def load_split(out: str | Path, split: str) -> dict[str, np.ndarray]:
    """All shards of `split`, concatenated in shard order."""
    out = Path(out)
    files = sorted((out / split).glob("shard_*.npz"))
    files = [f for f in files if not f.name.endswith(".tmp.npz")]
    if not files:
        raise ConfigError(f"{out / split} holds no shards; build it: python -m akida_edge.apps.kws.dataset "
                          f"--out {out}")
    parts = [dict(np.load(f)) for f in files]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.kws.dataset",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/kws", help="data directory (default data/kws)")
    ap.add_argument("--small", action="store_true", help="a smoke-sized set (seconds, for CI)")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--overwrite", action="store_true", help="replace a data set made with other settings")
    args = ap.parse_args(argv)
    config = DatasetConfig.small(args.seed) if args.small else DatasetConfig(seed=args.seed)
    try:
        if args.seed < 0 or args.workers < 1:
            raise ConfigError(f"--seed {args.seed} / --workers {args.workers}: the seed must be >= 0 and "
                              "the workers >= 1")
        manifest = build(args.out, config, workers=args.workers, overwrite=args.overwrite)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    clips = {s: v["clips"] for s, v in manifest["splits"].items()}
    print(json.dumps({"out": str(args.out), "clips": clips}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
