"""Derive `vocabulary.MORE_WORDS` once (session 11): the most frequent English words that obey the
word set's exclusions. Needs `wordfreq` 3.1.1 (`dev` extra, for this and its test; no runtime dependency:
the list is committed, and nothing downloads it at run time) and espeak-ng.

    python scripts/kws_more_words.py [--count 1000] > words.txt

Candidates: `wordfreq.top_n_list("en", 12000)` in frequency order, three or more letters a–z with
a vowel, not `vocabulary.excluded` (the bench's words, their forms and rhymes) and not in `BLOCK`
(names, abbreviations, slang, swear words). A candidate is kept unless it is a word of the first
lists (`TRAIN_WORDS`, `DEV_WORDS`, `_unknown_` words, keywords, their homophones, the bench's words)
or of the kept ones, an inflection of one or the stem of one's inflection (`forms`, `_key`), sounds
like one of them (espeak-ng ``en-us`` phonemes, stress and length marks aside) or is said by
espeak-ng as more than one word.

Words 2 001–3 000 of the derivation are reserved, never to be trained on (session 13:
`vocabulary.BENCH_FILLER_WORDS`, the bench's unseen-word filler, and `VALIDATION_FILLER_WORDS`, its
validation counterpart): `derive` skips them, so a list derived later (``--count`` above 2 000)
holds the words after them. ``--unreserved`` derives without skipping (how the reserved lists were
made: ``--count 3000 --unreserved``, words 2 001–2 500 and 2 501–3 000).
"""

from __future__ import annotations

import argparse
import re
import subprocess

from akida_edge.apps.kws import vocabulary as V
from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
from akida_edge.apps.kws.labels import KEYWORDS

BLOCK = set("""
shit fuck fucking fucked sex sexy sexual damn hell ass bitch lol etc gonna wanna gotta dont dick gay
trump obama facebook twitter google usa inc via pre pro non anti san angeles per porn john david james
michael george paul peter robert thomas tom louis chris mike richard joe mary charles henry martin jones
lee harry johnson scott steve ben smith jesus christ william kill killed killing murder rape nazi cunt
pussy cock whore slut nigga nigger fag dumb stupid idiot hitler isis terrorist drugs gun guns kevin jim
bob dave jason ryan brian jeff jr mr mrs ms dr st ny la uk tv vs ok wtf omg btw tbh irl idk imo imho
lmao haha hahaha yeah yes fbi cia nba nfl nhl mlb ceo dna gps pdf url html api app apps iphone ipad
amazon youtube instagram reddit microsoft apple samsung lgbt covid bts shooting lies movies
""".split())


def phonemes(words: list[str]) -> list[str | None]:
    """espeak-ng ``en-us`` phonemes per word, stress and length marks aside (None: said as several)."""
    text = "\n".join(w + "." for w in words)
    lines = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us"], input=text, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    lines = [line.strip() for line in lines]
    if len(lines) != len(words):
        raise RuntimeError(f"espeak-ng gave {len(lines)} lines for {len(words)} words")
    return [None if " " in p else re.sub("[ˈˌː]", "", p) for p in lines]


def _key(w: str) -> str:
    """A crude stem (one suffix off, a doubled consonant and a final e dropped)."""
    if len(w) > 4 and w.endswith(("ies", "ied")):
        return w[:-3] + "y"
    for suf in ("ing", "ed", "es", "er", "est", "ly", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 2:
            s = w[: -len(suf)]
            if len(s) >= 3 and s[-1] == s[-2] and s[-1] not in "lsaeiou":
                s = s[:-1]
            return s.rstrip("e") or s
    return w.rstrip("e") if len(w) > 3 else w


def forms(w: str) -> set[str]:
    """What `w` could be an inflection of (-s, -es, -ed, -d, -ing, -er, -ly, -ies, -ied, -est, -ers)."""
    out = set()
    suffixes = (("s", ""), ("es", ""), ("ed", ""), ("d", ""), ("ing", ""), ("ing", "e"), ("er", ""),
                ("r", ""), ("ly", ""), ("ies", "y"), ("ied", "y"), ("est", ""), ("ers", ""), ("ers", "e"))
    for suf, add in suffixes:
        if w.endswith(suf) and len(w) - len(suf) >= 2:
            s = w[: -len(suf)] + add
            out.add(s)
            if len(s) >= 3 and s[-1] == s[-2]:
                out.add(s[:-1])
    return out


RESERVED = V.BENCH_FILLER_WORDS + V.VALIDATION_FILLER_WORDS


def derive(count: int, reserved: tuple[str, ...] = RESERVED) -> list[str]:
    """The first `count` words of the derivation (module docstring) that are not `reserved`. A
    reserved word is kept as any other (its forms and its sound bar later candidates) but not
    listed; since the reserved lists are words 2 001–3 000 of ``derive(3000, reserved=())``, the
    first 2 000 (`MORE_WORDS`, `MORE_WORDS_2`) are the same either way."""
    from wordfreq import top_n_list  # only here: deriving the list once needs it, nothing else does

    taken = list(dict.fromkeys(V.TRAIN_WORDS + V.DEV_WORDS + tuple(UNKNOWN_WORDS) + tuple(KEYWORDS)
                               + V.KEYWORD_HOMOPHONES + V.BENCH_WORDS))
    keys = {_key(w) for w in taken} | set(taken)
    cands = [w for w in top_n_list("en", 12000) if re.fullmatch(r"[a-z]{3,}", w) and re.search("[aeiouy]", w)
             and not V.excluded(w) and w not in BLOCK and w not in keys and _key(w) not in keys]
    seen = set(phonemes(taken))
    pool, fpool = set(taken), set().union(*(forms(t) for t in taken))
    out: list[str] = []
    kept_keys: set[str] = set()
    for w, sound in zip(cands, phonemes(cands), strict=True):
        if (sound is None or sound in seen or _key(w) in kept_keys or w in kept_keys or forms(w) & pool
                or w in fpool):
            continue
        pool.add(w)
        fpool |= forms(w)
        seen.add(sound)
        kept_keys |= {_key(w), w}
        if w in reserved:
            continue
        out.append(w)
        if len(out) == count:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="words to keep (default 1000)")
    ap.add_argument("--unreserved", action="store_true", help="do not skip the reserved filler words")
    args = ap.parse_args()
    print(" ".join(derive(args.count, () if args.unreserved else RESERVED)))


if __name__ == "__main__":
    main()
