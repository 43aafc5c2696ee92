"""The voice catalogue for keyword-spotting data, and its split by voice and by family.

A *voice* is an espeak-ng English accent combined with a variant (`en-us+f3`, `en-gb+klatt2`), or a
voice of another synthesizer (`flite+slt`, `festival+ked_diphone`; `synth.py`). A *family* is an
accent or a variant group (`klatt`..`klatt6` is one group: a different synthesis method).

English accents only (session 3): the other espeak-ng languages (`LATIN`) read English words with
their OWN letter-to-sound rules, which is not an accent but another word — German "right" is
[ʁɪçt], Spanish "yes" [ʝes], Vietnamese spells "left" and "off" letter by letter; only 86 of the
540 keyword readings of those 54 languages equal an English accent's (`espeak-ng --ipa`), so every
keyword class held several different words. Feeding them English phonemes (`[[...]]`) does not
work either: phonemes missing from their tables are dropped ("up", "on", "stop" lose sounds).
Non-Latin-script languages were never used (espeak-ng reads Latin words with its English voice).

Splits (`split_voices`):

* `cross_family`: voices whose accent AND variant group are both held out (`HELD_OUT_*`): never
  heard in training, not even in part. Voices with exactly one held-out part are unused.
* `train`, `validation`, `test`: the other espeak-ng voices, divided by voice (a seeded shuffle),
  so test voices are never seen in training, though their accent and variant are; `train` also
  has the flite voices (`synth.FLITE_VOICES`).
* `other_synth`: the festival voices (`synth.FESTIVAL_VOICES`), a synthesizer never used in
  training: the closest proxy here for speakers the model never heard. (festival's kal_diphone
  and cmu_us_slt_arctic_hts are recordings of the same speakers as flite's kal and slt, made into
  voices by other methods; ked_diphone is a speaker absent from training.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from akida_edge.apps.kws.synth import FESTIVAL_VOICES, FLITE_VOICES
from akida_edge.errors import SourceError

ENGLISH = ("en-us", "en-us-nyc", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029")
LATIN = ("de", "nl", "af", "lb", "da", "sv", "nb", "is", "fr-fr", "fr-be", "fr-ch", "es", "es-419",
         "it", "pt", "pt-br", "ro", "ca", "an", "pap", "ht", "pl", "cs", "sk", "sl", "hr", "bs", "fi",
         "et", "hu", "lt", "lv", "tr", "az", "id", "ms", "sw", "eo", "ia", "vi", "cy", "ga", "gd",
         "mt", "sq", "eu", "haw", "mi", "tn", "la", "io", "lfn", "qu", "gn")
# Not used for speech (module docstring: their letter-to-sound rules make other words).
# Held-out families: two English accents, human-like variants and a different synthesis method
# (Klatt), fixed so that cross_family_accuracy means the same thing for every seed.
HELD_OUT_LANGUAGES = ("en-gb-scotland", "en-029")
HELD_OUT_VARIANT_GROUPS = ("klatt", "iven", "steph", "RicishayMax", "Gene", "m6", "m7", "f4", "benjamin",
                           "linda")
SPLITS = ("train", "validation", "test", "cross_family", "other_synth")


@dataclass(frozen=True)
class Voice:
    language: str
    variant: str

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}"

    @property
    def variant_group(self) -> str:
        return variant_group(self.variant)


def variant_group(variant: str) -> str:
    """`klatt3` -> `klatt`, `robosoft5` -> `robosoft`; the numbered m1..m8, f1..f5 stay single."""
    if re.fullmatch(r"[mf]\d", variant):
        return variant
    return re.sub(r"\d+$", "", variant)


def _run(args: list[str]) -> str:
    if shutil.which(args[0]) is None:
        raise SourceError(f"{args[0]} is not installed; install it (scripts/setup.sh lists it)")
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def espeak_version() -> str:
    return _run(["espeak-ng", "--version"]).split("Data at")[0].strip()


def synth_versions() -> dict[str, str]:
    """Versions of the other synthesizers (for the data set's manifest); 'missing' if absent."""
    out = {}
    for tool in ("flite", "festival"):
        if shutil.which(tool) is None:
            out[tool] = "missing"
            continue
        text = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout  # flite exits 1
        lines = [ln.strip() for ln in text.splitlines() if "version" in ln.lower()] or \
            [ln.strip() for ln in text.splitlines() if ln.strip()] or ["unknown"]
        out[tool] = lines[0]
    return out


def available_languages() -> list[str]:
    """The English accents that this espeak-ng has, in catalogue order (module docstring)."""
    have = {line.split()[1] for line in _run(["espeak-ng", "--voices"]).splitlines()[1:] if line.split()}
    return [lang for lang in ENGLISH if lang in have]


def available_variants() -> list[str]:
    """Variant file names (`!v/<name>`), without names containing spaces."""
    out = []
    for line in _run(["espeak-ng", "--voices=variant"]).splitlines()[1:]:
        parts = line.split()
        if len(parts) == 5 and parts[4].startswith("!v/"):
            out.append(parts[4][3:])
    return sorted(set(out))


def split_voices(languages: list[str], variants: list[str], seed: int,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, list[Voice]]:
    """Voices per split (see the module docstring); deterministic for a seed."""
    held_lang = set(HELD_OUT_LANGUAGES)
    held_var = set(HELD_OUT_VARIANT_GROUPS)
    seen, cross = [], []
    for lang in languages:
        for var in variants:
            v = Voice(lang, var)
            out_lang, out_var = lang in held_lang, v.variant_group in held_var
            if out_lang and out_var:
                cross.append(v)
            elif not out_lang and not out_var:
                seen.append(v)
    order = np.random.default_rng([seed, 1]).permutation(len(seen))
    seen = [seen[i] for i in order]
    n_train = int(round(fractions[0] * len(seen)))
    n_val = int(round(fractions[1] * len(seen)))
    return {"train": seen[:n_train] + [Voice("flite", v) for v in FLITE_VOICES],
            "validation": seen[n_train:n_train + n_val], "test": seen[n_train + n_val:],
            "cross_family": cross, "other_synth": [Voice("festival", v) for v in FESTIVAL_VOICES]}
