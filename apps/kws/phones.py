"""Phonetic targets for the binary features: which phones occur in each third of a word (`train.py --phones`).

Query-by-example spoken-term detection generalizes to unseen words and speakers by matching
phonetic posteriorgrams rather than word embeddings (Hazen et al., "Query-by-example spoken term
detection using phonetic posteriorgram templates", ASRU 2009; Gaussian posteriorgrams: Zhang &
Glass, ASRU 2009): a new word is a new sequence of the SAME phones, and every training word
teaches them. This module gives the 256 binary features such a target.
For a clip of word w said by a voice of accent a:

* the phones are espeak-ng's own (the synthesizer that said the clip):
  ``espeak-ng -q -x --sep=_ -v a w``, stress marks (``'`` ``,``) stripped;
* a phone at index i of n goes to position bin ⌊B·(i + ½)/n⌋ (B = 3: beginning, middle, end);
* the target is multi-hot over B × P (P: the phone inventory): y[b·P + p] = 1 iff phone p occurs
  in bin b. A separate float head on the binarized features predicts it with a sigmoid per output
  and the binary cross-entropy (multi-label).

The accent is the clip's espeak voice without its ``+variant`` (``en-gb-x-rp+Alex`` → ``en-gb-x-rp``);
flite voices use ``en-us``; clips without a voice or word (``_silence_``, continuous-speech
windows) get no target (masked out). Symbols seen in fewer than `MIN_COUNT` (accent, word) pairs
(1 % of the pairs for a table of fewer than 100·`MIN_COUNT`, as the smoke run's) are merged into a
frequent symbol after dropping their length and variant marks (``i:`` → ``i``, ``@2`` → ``@``),
or dropped when none remains.

Needs espeak-ng on PATH (already a dependency of the data generator, `synth.py`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.errors import ConfigError

BINS = 3  # position bins per word: beginning, middle, end
MIN_COUNT = 20  # (accent, word) pairs a symbol needs to stay in the inventory
STRESS = "',"  # espeak-ng's primary and secondary stress marks
MODIFIERS = ":;#2"  # length, palatalization, variant marks stripped when merging a rare symbol
FLITE_ACCENT = "en-us"


def accent(voice: str) -> str | None:
    """The espeak-ng voice whose letter-to-sound rules said a clip of `voice` (None: no voice)."""
    voice = str(voice)
    if not voice:
        return None
    base = voice.split("+", 1)[0]
    return FLITE_ACCENT if base == "flite" else base


def split_phones(transcription: str) -> list[str]:
    """espeak-ng's ``--sep=_`` output of one word as a list of phones, stress marks stripped."""
    out = []
    for token in transcription.replace(" ", "_").split("_"):
        token = token.strip().strip(STRESS).replace("'", "").replace(",", "")
        if token:
            out.append(token)
    return out


def transcribe(accent_name: str, words: list[str]) -> dict[str, list[str]]:
    """Phones of each word by espeak-ng with the `accent_name` voice: one process per accent (one
    clause per line), per word if the line count disagrees."""
    if shutil.which("espeak-ng") is None:
        raise ConfigError("espeak-ng is not on PATH: the phonetic targets (--phones) need it "
                          "(scripts/setup.sh installs it)")
    words = sorted(set(map(str, words)))
    cmd = ["espeak-ng", "-q", "-x", "--sep=_", "-v", accent_name]
    run = subprocess.run(cmd, input="".join(f"{w}.\n" for w in words), capture_output=True, text=True,
                         check=False)
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    if run.returncode != 0 or len(lines) != len(words):
        lines = [subprocess.run(cmd + [w], capture_output=True, text=True, check=False).stdout.strip()
                 for w in words]
    return {w: split_phones(ln) for w, ln in zip(words, lines, strict=True)}


def position_bins(n: int, bins: int = BINS) -> np.ndarray:
    """Bin of each of n phones: ⌊bins·(i + ½)/n⌋ for i = 0..n−1."""
    i = np.arange(n)
    return np.floor(bins * (i + 0.5) / max(n, 1)).astype(np.int64)


@dataclass(frozen=True)
class PhoneTable:
    """Phones per (accent, word) pair over a merged inventory (module docstring)."""

    inventory: tuple[str, ...]
    phones: dict[tuple[str, str], tuple[str, ...]]  # merged; rare symbols without a merge dropped
    bins: int = BINS

    @property
    def outputs(self) -> int:
        return self.bins * len(self.inventory)

    def vector(self, phones: tuple[str, ...]) -> np.ndarray:
        """Multi-hot float32 (bins·P,) of one word's phones."""
        out = np.zeros(self.outputs, np.float32)
        index = {p: k for k, p in enumerate(self.inventory)}
        for b, p in zip(position_bins(len(phones), self.bins), phones, strict=True):
            out[b * len(self.inventory) + index[p]] = 1.0
        return out

    def targets(self, voices: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(float32 (n, bins·P) targets, bool (n,) mask) for clips given by voice and word; the mask
        is False (target all zero) for a clip without a voice or word or with no phone left."""
        y = np.zeros((len(words), self.outputs), np.float32)
        mask = np.zeros(len(words), bool)
        cache: dict[tuple[str, str], np.ndarray] = {}
        for i, (v, w) in enumerate(zip(np.asarray(voices), np.asarray(words), strict=True)):
            a, w = accent(v), str(w)
            key = (a, w)
            if a is None or not w or not self.phones.get(key):
                continue
            if key not in cache:
                cache[key] = self.vector(self.phones[key])
            y[i], mask[i] = cache[key], True
        return y, mask

    def to_json(self) -> dict:
        return {"inventory": list(self.inventory), "bins": self.bins,
                "phones": [[a, w, list(p)] for (a, w), p in sorted(self.phones.items())]}

    @classmethod
    def from_json(cls, d: dict) -> PhoneTable:
        return cls(tuple(d["inventory"]), {(a, w): tuple(p) for a, w, p in d["phones"]}, int(d["bins"]))


def merge_rare(raw: dict[tuple[str, str], list[str]], min_count: int = MIN_COUNT
               ) -> tuple[tuple[str, ...], dict[tuple[str, str], tuple[str, ...]]]:
    """The inventory (symbols in ≥ `min_count` pairs, sorted) and every pair's phones with rare
    symbols mapped to their base form (modifiers stripped) when that is in the inventory, else dropped."""
    count = Counter(p for ph in raw.values() for p in set(ph))
    frequent = {p for p, c in count.items() if c >= min_count}
    phones = {k: to_inventory(ph, frequent) for k, ph in raw.items()}
    used = sorted({p for ph in phones.values() for p in ph})
    return tuple(used), phones


def to_inventory(phones: list[str], inventory: set[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`phones` with each symbol outside `inventory` replaced by its base form (`MODIFIERS`
    stripped) when that is in it, else dropped."""
    out = []
    for p in phones:
        if p not in inventory:
            p = p.translate({ord(c): None for c in MODIFIERS})
        if p in inventory:
            out.append(p)
    return tuple(out)


def extend(table: PhoneTable, voices: np.ndarray, words: np.ndarray) -> PhoneTable:
    """`table` with the (accent, word) pairs of these clips that it lacks (new words: the dev
    words, the bench's), transcribed and mapped onto its inventory (`to_inventory`)."""
    new = sorted({(a, str(w)) for v, w in zip(np.asarray(voices), np.asarray(words), strict=True)
                  if (a := accent(v)) is not None and str(w) and (a, str(w)) not in table.phones})
    phones = dict(table.phones)
    for a in sorted({a for a, _ in new}):
        got = transcribe(a, [w for b, w in new if b == a])
        phones.update({(a, w): to_inventory(ph, table.inventory) for w, ph in got.items()})
    return PhoneTable(table.inventory, phones, table.bins)


def build_table(voices: np.ndarray, words: np.ndarray, cache: str | Path | None = None,
                min_count: int = MIN_COUNT, bins: int = BINS) -> PhoneTable:
    """The phone table for every (accent, word) pair of the clips (module docstring), read from
    `cache` (a JSON file) when it holds the same pairs and settings, else built and written there."""
    pairs = sorted({(a, str(w)) for v, w in zip(np.asarray(voices), np.asarray(words), strict=True)
                    if (a := accent(v)) is not None and str(w)})
    digest = hashlib.sha256(json.dumps([pairs, min_count, bins]).encode()).hexdigest()[:16]
    if cache is not None and Path(cache).exists():
        saved = json.loads(Path(cache).read_text())
        if saved.get("digest") == digest:
            return PhoneTable.from_json(saved)
    raw: dict[tuple[str, str], list[str]] = {}
    for a in sorted({a for a, _ in pairs}):
        got = transcribe(a, [w for b, w in pairs if b == a])
        raw.update({(a, w): ph for w, ph in got.items()})
    inventory, phones = merge_rare(raw, min(min_count, max(1, len(pairs) // 100)))
    table = PhoneTable(inventory, phones, bins)
    if cache is not None:
        path = Path(cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**table.to_json(), "digest": digest}))
        tmp.replace(path)
    return table


def bin_f1(scores: np.ndarray, targets: np.ndarray, bins: int = BINS, threshold: float = 0.0) -> list[float]:
    """Micro-averaged F1 per position bin of multi-label predictions: `scores` (n, bins·P) logits
    (positive where > `threshold`, i.e. sigmoid > ½ at 0), `targets` (n, bins·P) in {0, 1};
    F1 = 2·TP / (2·TP + FP + FN) over every (clip, phone) of the bin (0 when the bin has none)."""
    pred = np.asarray(scores) > threshold
    true = np.asarray(targets) > 0.5
    per = pred.shape[1] // bins
    out = []
    for b in range(bins):
        p, t = pred[:, b * per:(b + 1) * per], true[:, b * per:(b + 1) * per]
        tp = float(np.sum(p & t))
        wrong = float(np.sum(p ^ t))
        out.append(2 * tp / (2 * tp + wrong) if tp + wrong else 0.0)
    return out


def bin_auc(scores: np.ndarray, targets: np.ndarray, bins: int = BINS) -> list[float]:
    """Threshold-free companion of `bin_f1`: per bin, the ROC AUC of the scores of every (clip, phone)
    pair present (targets 1) against every pair absent (Mann–Whitney, ties counted ½); 0.5 = chance."""
    scores, true = np.asarray(scores, np.float64), np.asarray(targets) > 0.5
    per = scores.shape[1] // bins
    out = []
    for b in range(bins):
        s, t = scores[:, b * per:(b + 1) * per].ravel(), true[:, b * per:(b + 1) * per].ravel()
        pos, neg = int(t.sum()), int((~t).sum())
        if not pos or not neg:
            out.append(0.5)
            continue
        order = np.argsort(s, kind="mergesort")
        ranks = np.empty(len(s))
        sorted_s = s[order]
        # average ranks over ties (1-based)
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
        ends = np.r_[starts[1:], len(s)]
        for a, e in zip(starts, ends, strict=True):
            ranks[order[a:e]] = (a + e + 1) / 2
        out.append(float((ranks[t].sum() - pos * (pos + 1) / 2) / (pos * neg)))
    return out
