"""The espeak-ng voice catalogue for keyword-spotting data, and its split by voice and by family.

A *voice* is a language/accent voice combined with a variant (`en-us+f3`, `de+klatt2`). Languages
are the English accents plus the Latin-script languages, which read English words with their own
letter-to-sound rules (an accent). Non-Latin-script voices are left out: espeak-ng switches them
to its English voice for Latin words, so they would add no diversity. A *family* is a language
(accent) or a variant group (`klatt`..`klatt6` is one group: a different synthesis method).

Splits (`split_voices`):

* `cross_family`: voices whose language AND variant group are both held out (`HELD_OUT_*`):
  never heard in training, not even in part. Voices with exactly one held-out part are unused.
* `train`, `validation`, `test`: the other voices, divided by voice (a seeded shuffle), so test
  voices are never seen in training, though their language and variant are.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from akida_edge.errors import SourceError

ENGLISH = ("en-us", "en-us-nyc", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029")
LATIN = ("de", "nl", "af", "lb", "da", "sv", "nb", "is", "fr-fr", "fr-be", "fr-ch", "es", "es-419",
         "it", "pt", "pt-br", "ro", "ca", "an", "pap", "ht", "pl", "cs", "sk", "sl", "hr", "bs", "fi",
         "et", "hu", "lt", "lv", "tr", "az", "id", "ms", "sw", "eo", "ia", "vi", "cy", "ga", "gd",
         "mt", "sq", "eu", "haw", "mi", "tn", "la", "io", "lfn", "qu", "gn")
# Held-out families: a mix of English accents and foreign accents, of human-like variants and a
# different synthesis method (Klatt), fixed so that cross_family_accuracy means the same thing
# for every seed.
HELD_OUT_LANGUAGES = ("en-gb-scotland", "en-029", "nl", "pt-br", "pl", "fi", "id", "cy")
HELD_OUT_VARIANT_GROUPS = ("klatt", "iven", "steph", "RicishayMax", "Gene", "m6", "m7", "f4", "benjamin",
                           "linda")
SPLITS = ("train", "validation", "test", "cross_family")


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


def available_languages() -> list[str]:
    """Our candidate languages that this espeak-ng has, in catalogue order."""
    have = {line.split()[1] for line in _run(["espeak-ng", "--voices"]).splitlines()[1:] if line.split()}
    return [lang for lang in (*ENGLISH, *LATIN) if lang in have]


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
    return {"train": seen[:n_train], "validation": seen[n_train:n_train + n_val],
            "test": seen[n_train + n_val:], "cross_family": cross}
