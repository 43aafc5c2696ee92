"""The word data set's vocabulary (`wordset.py`): common English words that are none of the classes.

`TRAIN_WORDS` are said by training voices and train the backbone's binary features to tell words
apart (each its own class of the auxiliary head, `train.py --words`); `DEV_WORDS` are never trained
on and are said by *validation* voices only: the few-shot measure on which backbones are chosen
(`scripts/kws_words_pilot.py`), the analogue of the bench's new words on held-out voices.

Both lists leave out (`EXCLUDED`, checked by `tests/kws/test_vocabulary.py`):

* the ten keywords and their exact homophones ("know", "write", "rite", "wright");
* the bench's new words `backward`, `follow`, `forward` (`bench/_learn_kws.py`), their forms and
  what sounds like a part of them: every word beginning with ``back``, ``for``, ``fore``,
  ``four``, ``foll`` or ending in ``ward``/``wards``, and the rhymes of "follow" (``-ollow``,
  ``-allow``); so no training word teaches the features the bench's words;
* the `_unknown_` words of the keyword data set (`dataset.UNKNOWN_WORDS`): they are already
  classes of the auxiliary head, so a repeat here would be one word under two classes;
* homophones among all of these (two words with the same espeak-ng ``en-us`` phonemes, stress and
  length marks aside, would be one sound under two labels: "wood" / "would", "sea" / "see").
"""

from __future__ import annotations

import re

TRAIN_WORDS = (
    # things
    "air", "animal", "answer", "arm", "army", "art", "baby", "bag", "ball", "band", "bank", "basket",
    "bath", "beach", "bean", "bear", "beard", "bell", "belt", "bench", "berry", "bike", "bill", "board",
    "boat", "body", "bone", "book", "boot", "bottle", "box", "boy", "brain", "bread", "brick", "bridge",
    "brother", "brush", "bucket", "butter", "button", "cake", "candle", "candy", "car", "card", "carpet",
    "castle", "chair", "chalk", "cheese", "chicken", "child", "church", "circle", "city", "class",
    "clock", "cloud", "coat", "coin", "colour", "corner", "cotton", "country", "cow", "crowd", "crown",
    "dance", "daughter", "desk", "diamond", "dinner", "dish", "door", "dragon", "dream", "driver",
    "duck", "dust", "eagle", "ear", "earth", "egg", "elephant", "energy", "eye", "face", "farm",
    "father", "feather", "fence", "field", "finger", "fire", "fish", "flag", "flower", "food", "friend",
    "frog", "fruit", "game", "gate", "gift", "girl", "glass", "glove", "grass", "hair", "hand", "hat",
    "head", "heart", "hill", "horse", "hotel", "ice", "idea", "insect", "iron", "jelly", "jewel",
    "juice", "key", "king", "kite", "knife", "lake", "lamp", "leaf", "leg", "letter", "library",
    "lion", "lip", "lock", "machine", "magic", "map", "market", "meat", "medicine", "metal", "milk",
    "minute", "mirror", "money", "moon", "mother", "mouse", "mouth", "nail", "name", "neck", "needle",
    "nest", "net", "news", "nurse", "oil", "onion", "owl", "page", "paint", "palace", "pan", "park",
    "party", "pen", "pepper", "piano", "picture", "pig", "pillow", "pilot", "pipe", "pizza", "planet",
    "plant", "plate", "pool", "potato", "prince", "queen", "radio", "ring", "road", "robot", "rock",
    "roof", "room", "root", "rope", "ruler", "salt", "sand", "school", "seed", "sheep", "shirt",
    "shoe", "shoulder", "sister", "sky", "snake", "soap", "sock", "soldier", "song", "soup", "spoon",
    "square", "star", "station", "stone", "story", "street", "sugar", "sweater", "teacher", "teeth",
    "tent", "thread", "throat", "thumb", "ticket", "tomato", "tongue", "tool", "tooth", "towel",
    "tower", "toy", "train", "truck", "uncle", "umbrella", "valley", "village", "violin", "voice",
    "wall", "watch", "wheel", "wind", "wing", "wolf", "wool", "worm", "bottom", "butterfly", "captain",
    "cinema", "computer", "dentist", "factory", "holiday", "airport", "hospital", "engineer", "office",
    "student", "vegetable", "blanket", "lettuce", "sandwich", "chocolate", "biscuit", "cupboard",
    # doing
    "carry", "catch", "climb", "cook", "cry", "draw", "drive", "eat", "fight", "find", "fix", "grab",
    "hide", "hold", "hurry", "keep", "kick", "kiss", "knock", "laugh", "listen", "love", "make",
    "miss", "pull", "push", "run", "say", "sell", "send", "shake", "shout", "sing", "sit",
    "sleep", "smile", "speak", "spell", "swim", "take", "talk", "teach", "tell", "throw", "touch",
    "try", "visit", "wait", "walk", "wash", "wish", "remember", "explain", "imagine", "decide",
    "arrive", "borrow", "breathe", "collect", "deliver", "enjoy", "invite", "marry", "measure",
    "notice", "prepare", "protect", "receive", "repeat", "return", "suggest", "surprise",
    # how
    "angry", "busy", "clean", "cold", "dark", "deep", "dry", "early", "easy", "empty", "fast", "funny",
    "gentle", "heavy", "hungry", "kind", "loud", "lucky", "modern", "narrow", "noisy", "quick",
    "quiet", "rich", "sad", "sharp", "short", "simple", "smooth", "strong", "sweet", "tall", "thick",
    "thin", "tiny", "warm", "weak", "wet", "wild", "wise", "careful", "different", "famous",
    "important", "perfect", "popular", "possible", "special", "terrible", "wonderful", "beautiful",
    # numbers, time
    "hundred", "thousand", "million", "twenty", "thirty", "fifty", "sixty", "eleven", "twelve",
    "monday", "tuesday", "friday", "sunday", "january", "april", "october", "december", "today",
    "tomorrow", "tonight", "weekend", "autumn", "spring", "season", "century", "moment",
    # little words
    "almost", "also", "anything", "around", "away", "behind", "below", "beside", "beyond", "during",
    "enough", "everything", "inside", "instead", "nothing", "outside", "perhaps", "quite", "really",
    "since", "soon", "still", "together", "until", "usually", "while", "without", "already",
    "another", "anyone", "certainly", "everybody", "probably", "somewhere", "whatever",
)

DEV_WORDS = (
    "balloon", "carrot", "dolphin", "elbow", "giraffe", "helmet", "jungle", "kettle", "lizard",
    "magnet", "napkin", "octopus", "parrot", "pumpkin", "rocket", "saddle", "spider", "turtle",
    "tunnel", "velvet", "wagon", "whistle", "yogurt", "puzzle",
)

#: Homophones of the keywords (exact: the same sound, another spelling).
KEYWORD_HOMOPHONES = ("know", "write", "rite", "wright")
#: The bench's new words (`bench/_learn_kws.py` `NEW_WORDS`; kept out of every training class).
BENCH_WORDS = ("backward", "follow", "forward")
#: What a word may not look like (module docstring): forms and parts of the bench's words.
EXCLUDED = re.compile(r"^(back|for|fore|four|foll)|wards?$|[ao]llow")


def excluded(word: str) -> bool:
    """True when `word` is a form, part or rhyme of a bench word (`EXCLUDED`)."""
    return bool(EXCLUDED.search(word.lower()))
