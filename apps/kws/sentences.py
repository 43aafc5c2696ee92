"""Everyday English sentences that never say a keyword, for a false-alarm figure (`bench kws`).

Written on 2026-11-28 by 07:46 UTC (session 13, first commit), before any measurement on the model, and not
tuned to it since. The word lists and templates below are the whole grammar; nothing is derived
from a model, a data set or a frequency list.

Why: the bench's other non-keyword speech is lists of words (`dataset.UNKNOWN_WORDS`, near misses
on purpose; `vocabulary.BENCH_FILLER_WORDS`, rarer, longer, and by construction no form of a
keyword). A user speaks sentences: short function words ("the", "to", "it", "was") and words that
contain or inflect a keyword ("going", "stopped", "nobody", "upstairs", "downtown", "yesterday",
"offer", "gone", "ago", "tonight", "known"), the hard case for a spotter never trained on them.

What a sentence is: one of `TEMPLATES` (about forty), its ``{slots}`` filled uniformly from the
lists of `SLOTS` (subjects with their form of "be", verbs in base / past / third-person / -ing /
participle forms, objects, places, times, adjectives, people), 4–14 words (redrawn otherwise),
lower case with a final "." or "?" (espeak-ng reads it as the end of a sentence). What it never
holds, as a token (letters and apostrophes; hyphens split words, as espeak-ng says them):

* the ten keywords ``yes no up down left right on off stop go`` — so none of the very common
  particles "turn on", "pick up", "go out", "no idea", "right now", "on Monday" either: real
  speech says them, a command spotter cannot tell "on" in "turn on the light" from the command
  (that needs the isolated-command gate, docs/kws.md), and this figure is about words that are
  not keywords;
* their exact homophones (`vocabulary.KEYWORD_HOMOPHONES`: "know", "write", "rite", "wright").

What it holds on purpose (the point of the figure): `KEYWORD_FORMS`, words that contain or
inflect a keyword, spread over the lists: going, goes, gone, goal, ago, stopped, stops, upper,
upon, upstairs, upset, update, downstairs, downtown, download, nobody, nothing, nowhere, known,
offer, office, coffee, often, online, onion, once, only, tonight, bright, lefty, leftovers,
yesterday, yeast, …  (`keyword_forms_in` lists those a text holds).

Not a model of English: no long clauses, no names, no numbers beyond a few, no disfluencies, and
the particles above are absent, so real speech has *more* keyword-like material than this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from akida_edge.apps.kws.labels import KEYWORDS
from akida_edge.apps.kws.vocabulary import KEYWORD_HOMOPHONES

MIN_WORDS = 4
MAX_WORDS = 14
FORBIDDEN = frozenset(KEYWORDS) | frozenset(KEYWORD_HOMOPHONES)

# Subjects with their present form of "be" (for "{be} going to ...") and whether they take "-s".
_SUBJECTS: tuple[tuple[str, str, bool], ...] = (
    ("i", "i am", False), ("we", "we are", False), ("you", "you are", False),
    ("they", "they are", False), ("she", "she is", True), ("he", "he is", True),
    ("my sister", "my sister is", True), ("our neighbour", "our neighbour is", True),
    ("the kids", "the kids are", False), ("my brother", "my brother is", True),
    ("the teacher", "the teacher is", True), ("my parents", "my parents are", False),
    ("everyone", "everyone is", True), ("nobody", "nobody is", True), ("the doctor", "the doctor is", True),
    ("my friend", "my friend is", True), ("the manager", "the manager is", True),
    ("your mother", "your mother is", True), ("the boys", "the boys are", False),
    ("somebody", "somebody is", True), ("the baker", "the baker is", True),
)

# Verbs: base, past, third person, -ing, past participle; each takes an object of `OBJECTS`.
_VERBS: tuple[tuple[str, str, str, str, str], ...] = (
    ("buy", "bought", "buys", "buying", "bought"), ("bring", "brought", "brings", "bringing", "brought"),
    ("clean", "cleaned", "cleans", "cleaning", "cleaned"), ("cook", "cooked", "cooks", "cooking", "cooked"),
    ("fix", "fixed", "fixes", "fixing", "fixed"), ("find", "found", "finds", "finding", "found"),
    ("need", "needed", "needs", "needing", "needed"), ("sell", "sold", "sells", "selling", "sold"),
    ("carry", "carried", "carries", "carrying", "carried"), ("read", "read", "reads", "reading", "read"),
    ("wash", "washed", "washes", "washing", "washed"), ("paint", "painted", "paints", "painting", "painted"),
    ("order", "ordered", "orders", "ordering", "ordered"), ("share", "shared", "shares", "sharing", "shared"),
    ("borrow", "borrowed", "borrows", "borrowing", "borrowed"),
    ("want", "wanted", "wants", "wanting", "wanted"),
    ("update", "updated", "updates", "updating", "updated"),
    ("upload", "uploaded", "uploads", "uploading", "uploaded"),
    ("download", "downloaded", "downloads", "downloading", "downloaded"),
    ("offer", "offered", "offers", "offering", "offered"),
    ("forget", "forgot", "forgets", "forgetting", "forgotten"),
    ("move", "moved", "moves", "moving", "moved"), ("open", "opened", "opens", "opening", "opened"),
    ("close", "closed", "closes", "closing", "closed"), ("check", "checked", "checks", "checking", "checked"),
    ("see", "saw", "sees", "seeing", "seen"), ("take", "took", "takes", "taking", "taken"),
    ("hide", "hid", "hides", "hiding", "hidden"), ("keep", "kept", "keeps", "keeping", "kept"),
    ("lose", "lost", "loses", "losing", "lost"), ("send", "sent", "sends", "sending", "sent"),
)

# Verbs without an object (base, past, third person, -ing).
_INTRANSITIVE: tuple[tuple[str, str, str, str], ...] = (
    ("sleep", "slept", "sleeps", "sleeping"), ("work", "worked", "works", "working"),
    ("wait", "waited", "waits", "waiting"), ("laugh", "laughed", "laughs", "laughing"),
    ("stay", "stayed", "stays", "staying"), ("arrive", "arrived", "arrives", "arriving"),
    ("travel", "travelled", "travels", "travelling"), ("cry", "cried", "cries", "crying"),
    ("rest", "rested", "rests", "resting"), ("swim", "swam", "swims", "swimming"),
    ("eat", "ate", "eats", "eating"), ("call", "called", "calls", "calling"),
)

_OBJECTS = (
    "the coffee", "some bread", "the onions", "a new phone", "the car keys", "the old lamp",
    "my glasses", "the letters", "a bottle of milk", "the heater", "the kitchen table",
    "a bag of yeast", "the leftovers", "the upper shelf", "the blue jacket", "a present for her",
    "the office printer", "the garden gate", "your umbrella", "the homework", "a birthday cake",
    "the windows", "the tickets", "some potatoes", "the radio", "the bright lights", "his notes",
    "the photos", "a better offer", "the washing machine", "the garage door", "her laptop",
    "the shopping", "the dog", "a cup of tea", "the report", "the goal posts", "a gold ring",
)

_PLACES = (
    "at the office", "in the kitchen", "upstairs", "downstairs", "downtown", "at the station",
    "in the garden", "at school", "in the car", "at the market", "in the living room", "at home",
    "near the river", "in the garage", "at the bakery", "behind the house", "at the library",
    "in the city", "at the hospital", "in the attic", "online", "at the corner shop",
)

_PAST_TIMES = (
    "yesterday", "this morning", "last week", "a while ago", "two days ago", "last night",
    "early this morning", "last summer", "an hour ago", "at lunchtime", "after lunch",
)

_FUTURE_TIMES = (
    "tonight", "tomorrow", "next week", "later today", "this afternoon", "at the weekend",
    "before dinner", "after work", "in the morning",
)

_HABIT_TIMES = (
    "every day", "once a week", "in the evening", "most mornings", "every tuesday",
    "after school", "twice a month", "at night",
)

_DESTINATIONS = (
    "upstairs", "downstairs", "downtown", "home", "to the office", "to the market", "to school",
    "to the station", "to the bakery", "abroad", "outside", "to bed", "to the seaside",
)

_ADJECTIVES = (
    "cold", "warm", "bright", "empty", "noisy", "quiet", "broken", "clean", "expensive", "cheap",
    "lovely", "tired", "busy", "upset", "late", "early", "happy", "hungry", "heavy", "small",
)

_PEOPLE = (
    "your brother", "the neighbour", "my aunt", "the plumber", "her boss", "your uncle", "grandma",
    "the new teacher", "our lefty pitcher", "the postman", "my cousin", "the driver",
)

_NOUNS = (
    "kitchen", "office", "garden", "bedroom", "coffee", "weather", "traffic", "bus", "meeting",
    "movie", "soup", "onion soup", "shop", "train", "party", "water", "room", "film", "game",
)

# Templates: ``{s}`` subject, ``{be}`` subject + be, ``{s3}`` a singular subject, ``{v*}`` a verb
# (``vb`` base, ``vp`` past, ``v3`` third person, ``vg`` -ing, ``vn`` participle) with ``{o}``
# its object, ``{i*}`` an intransitive verb (``ib``, ``ip``, ``i3``, ``ig``), ``{pl}`` place,
# ``{tp}`` / ``{tf}`` / ``{th}`` a past / future / habitual time, ``{d}`` a destination, ``{a}``
# adjective, ``{p}`` person, ``{n}`` noun. Grammatical, not always sensible ("uploaded the onions").
TEMPLATES = (
    "{s} {vp} {o} {tp}.",
    "{s} {vp} {o} {pl}.",
    "{s} {vp} {o} {pl} {tp}.",
    "{s} will {vb} {o} {tf}.",
    "{be} going to {vb} {o} {tf}.",
    "{be} going to {vb} {o} {pl}.",
    "{be} going {d} {tf}.",
    "{be} {vg} {o} {pl}.",
    "{s3} {v3} {o} {th}.",
    "{s3} often {v3} {o} {pl}.",
    "{s3} {i3} {pl} {th}.",
    "{s} {ip} {pl} {tp}.",
    "{s} {ip} {pl} until the rain stopped.",
    "{s} stopped {ig} {tp}.",
    "{s} stopped {vg} {o}.",
    "{s3} only {i3} {pl} once a week.",
    "did you {vb} {o} {tp}?",
    "have you {vn} {o}?",
    "where did {p} {vb} {o}?",
    "why is the {n} so {a} {th}?",
    "is {p} going {d} {tf}?",
    "when does {p} usually {ib}?",
    "the {n} was {a} {tp}.",
    "the {n} {pl} is {a} again.",
    "it was {a} {pl} {tp}.",
    "nobody {vp} {o} {tp}.",
    "there was nothing {pl} {tp}.",
    "i have known {p} for years.",
    "{p} has gone {d}.",
    "{p} goes {d} {th}.",
    "please {vb} {o} before you leave.",
    "could you {vb} {o} for me?",
    "let us {vb} {o} {tf}.",
    "i think {p} {vp} {o}.",
    "{p} said that the {n} was {a}.",
    "we should {vb} {o} {pl} {tf}.",
    "it is too {a} to {ib} {pl}.",
    "{s} made onion soup with {o} {tp}.",
    "{p} made us an offer {tp}.",
    "the lights stopped working {pl} {tp}.",
    "once upon a time {p} {vp} {o}.",
    "{s} can {ib} {pl} {tf}.",
    "{p} was upset about the {n}.",
)

_SLOT = re.compile(r"\{(\w+)\}")
_TOKEN = re.compile(r"[a-z']+")

KEYWORD_FORMS = (
    "going", "goes", "gone", "goal", "gold", "ago", "stopped", "upper", "upstairs", "upset", "update",
    "updated", "updates", "updating", "upload", "uploaded", "uploads", "uploading", "upon",
    "downstairs", "downtown", "download", "downloaded", "downloads", "downloading", "nobody", "nothing",
    "known", "notes", "offer", "offered", "offers", "offering", "office", "coffee", "often", "online",
    "onion", "onions", "once", "only", "tonight", "bright", "lefty", "leftovers",
    "yesterday", "yeast",
)


def tokens(text: str) -> list[str]:
    """Words of `text` as espeak-ng says them: runs of letters and apostrophes, lower case."""
    return _TOKEN.findall(text.lower())


def keyword_forms_in(text: str) -> list[str]:
    """The words of `text` that are in `KEYWORD_FORMS`."""
    return [w for w in tokens(text) if w in KEYWORD_FORMS]


def _fill(rng: np.random.Generator, template: str) -> str:
    subject = _SUBJECTS[int(rng.integers(0, len(_SUBJECTS)))]
    singular = [s for s in _SUBJECTS if s[2]]
    verb = _VERBS[int(rng.integers(0, len(_VERBS)))]
    intr = _INTRANSITIVE[int(rng.integers(0, len(_INTRANSITIVE)))]

    def pick(pool: tuple[str, ...]) -> str:
        return pool[int(rng.integers(0, len(pool)))]

    fixed = {"s": subject[0], "be": subject[1], "s3": pick(tuple(s[0] for s in singular)),
             "vb": verb[0], "vp": verb[1], "v3": verb[2], "vg": verb[3], "vn": verb[4],
             "ib": intr[0], "ip": intr[1], "i3": intr[2], "ig": intr[3]}
    pools = {"o": _OBJECTS, "pl": _PLACES, "tp": _PAST_TIMES, "tf": _FUTURE_TIMES, "th": _HABIT_TIMES,
             "d": _DESTINATIONS, "a": _ADJECTIVES, "p": _PEOPLE, "n": _NOUNS}
    return _SLOT.sub(lambda m: fixed[m[1]] if m[1] in fixed else pick(pools[m[1]]), template)


def sentence(rng: np.random.Generator) -> str:
    """One sentence of `MIN_WORDS`–`MAX_WORDS` words (a template drawn uniformly, its slots
    filled uniformly; redrawn until the length fits), drawn with `rng` only."""
    while True:
        text = _fill(rng, TEMPLATES[int(rng.integers(0, len(TEMPLATES)))])
        if MIN_WORDS <= len(tokens(text)) <= MAX_WORDS:
            return text


def vocabulary() -> set[str]:
    """Every word a sentence can hold (the templates' and the lists' tokens)."""
    texts: Iterable[str] = (*TEMPLATES, *_OBJECTS, *_PLACES, *_PAST_TIMES, *_FUTURE_TIMES, *_HABIT_TIMES,
                            *_DESTINATIONS, *_ADJECTIVES, *_PEOPLE, *_NOUNS,
                            *(w for s in _SUBJECTS for w in s[:2]), *(w for v in _VERBS for w in v),
                            *(w for v in _INTRANSITIVE for w in v))
    return {w for t in texts for w in tokens(_SLOT.sub(" ", t))}


__all__ = ["FORBIDDEN", "KEYWORD_FORMS", "MAX_WORDS", "MIN_WORDS", "TEMPLATES", "keyword_forms_in",
           "sentence", "tokens", "vocabulary"]
