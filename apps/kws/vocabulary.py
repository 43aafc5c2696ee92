"""The word data set's vocabulary (`wordset.py`): common English words that are none of the classes.

`TRAIN_WORDS` are said by training voices and train the backbone's binary features to tell words
apart (each its own class of the auxiliary head, `train.py --words`); `DEV_WORDS` are never trained
on and are said by *validation* voices only: the few-shot measure on which backbones are chosen
(`scripts/kws_words_pilot.py`), the analogue of the bench's new words on held-out voices.

`MORE_WORDS` (session 11) are 1 000 more training words for a second word set (`wordset.py --more`).
All lists leave out (`EXCLUDED`, checked by `tests/unit/test_kws_vocabulary.py`):

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

#: 1 000 more words (session 11, issue #5), in the order of their frequency in English: the most
#: frequent words of `wordfreq` 3.1.1 (``top_n_list("en", 12000)``, derived once by
#: `scripts/kws_more_words.py`; building the word set needs neither) of three or more letters a–z
#: with a vowel, that obey every exclusion of `TRAIN_WORDS` (module docstring) and besides are none
#: of `TRAIN_WORDS`, `DEV_WORDS`, `_unknown_` words or keywords or a simple inflection of one (``-s``,
#: ``-es``, ``-ed``, ``-ing``, ``-er``, ``-ly``, ``-ies``: no "eyes" beside "eye", no "going" beside
#: "go"), not sounding like any of them or like an earlier word, not spelled out by espeak-ng as two
#: words, and not a person's name, an abbreviation, slang or a swear word (the script's block list).
MORE_WORDS = (
    "the", "that", "you", "with", "this", "was", "are", "have", "from", "all", "his", "they", "can", "will",
    "just", "like", "out", "what", "has", "when", "more", "were", "who", "had", "their", "her", "time",
    "get", "been", "she", "how", "some", "them", "its", "our", "than", "him", "into", "over", "any", "then",
    "these", "want", "well", "said", "way", "most", "much", "may", "need", "did", "work", "year", "being",
    "day", "why", "made", "got", "many", "those", "life", "last", "best", "such", "man", "home", "look",
    "use", "same", "both", "come", "part", "state", "better", "help", "high", "old", "does", "things",
    "give", "next", "each", "against", "end", "found", "must", "big", "feel", "team", "ever", "might",
    "put", "free", "second", "someone", "lot", "play", "company", "few", "called", "set", "thought",
    "however", "government", "group", "public", "women", "business", "system", "case", "person", "change",
    "full", "live", "point", "read", "told", "bad", "hard", "mean", "once", "support", "including", "power",
    "seen", "based", "believe", "men", "national", "took", "came", "far", "job", "side", "though", "went",
    "actually", "american", "line", "order", "service", "children", "everyone", "general", "united", "area",
    "law", "war", "whole", "president", "course", "health", "least", "within", "able", "information",
    "local", "post", "video", "ago", "social", "court", "fact", "given", "guys", "half", "level", "mind",
    "single", "become", "control", "death", "hours", "pay", "problem", "south", "true", "history", "known",
    "large", "research", "several", "university", "wrong", "along", "else", "matter", "pretty", "hit",
    "nice", "understand", "york", "international", "past", "cause", "due", "human", "members", "months",
    "series", "woman", "ask", "community", "data", "leave", "north", "saw", "either", "future", "police",
    "taken", "age", "buy", "deal", "rather", "reason", "report", "third", "whether", "among", "check",
    "development", "further", "myself", "yourself", "act", "although", "fun", "major", "media", "phone",
    "building", "near", "plan", "political", "west", "according", "available", "education", "final",
    "front", "kids", "list", "ready", "sometimes", "son", "bring", "college", "current", "example",
    "experience", "heard", "london", "program", "type", "chance", "march", "process", "study", "word",
    "across", "action", "clear", "gave", "himself", "self", "cost", "cut", "held", "main", "seems",
    "department", "fine", "issue", "price", "rest", "results", "space", "term", "wife", "america", "date",
    "land", "project", "shot", "account", "especially", "june", "parents", "period", "position", "record",
    "similar", "total", "above", "club", "common", "died", "film", "happened", "knew", "lead", "military",
    "personal", "security", "share", "center", "county", "couple", "dead", "english", "industry", "online",
    "private", "sense", "test", "view", "weeks", "break", "british", "event", "middle", "present", "design",
    "gone", "interest", "july", "policy", "society", "added", "alone", "average", "brought", "east", "hot",
    "medical", "movie", "original", "performance", "press", "role", "sent", "themselves", "worth", "became",
    "cool", "director", "exactly", "ground", "meeting", "provide", "relationship", "september", "sound",
    "source", "value", "evidence", "official", "production", "rate", "save", "stand", "tax", "amount",
    "fall", "federal", "felt", "league", "management", "match", "model", "size", "trust", "central",
    "england", "hey", "mom", "paid", "range", "review", "science", "trade", "various", "attention",
    "cannot", "character", "chief", "football", "led", "natural", "property", "quality", "style", "vote",
    "amazing", "august", "blood", "china", "complete", "economic", "involved", "itself", "language", "lord",
    "november", "related", "serious", "stage", "title", "article", "attack", "born", "decision", "entire",
    "french", "met", "poor", "release", "situation", "technology", "website", "written", "choice", "code",
    "considered", "continue", "council", "cover", "election", "european", "financial", "increase", "legal",
    "lose", "pick", "race", "sign", "simply", "staff", "super", "union", "washington", "began", "built",
    "crazy", "daily", "difficult", "figure", "published", "safe", "version", "whose", "australia", "huge",
    "internet", "practice", "sea", "sir", "success", "access", "created", "mark", "pass", "professional",
    "risk", "ten", "truth", "district", "europe", "india", "mine", "minister", "percent", "piece",
    "products", "recent", "straight", "culture", "fans", "february", "growth", "pain", "respect",
    "response", "shall", "specific", "standard", "album", "charge", "effect", "except", "limited",
    "network", "required", "sales", "spent", "store", "track", "addition", "ahead", "association", "beat",
    "capital", "chinese", "committee", "conference", "difference", "double", "expect", "gas", "normal",
    "population", "potential", "pressure", "russian", "text", "treatment", "western", "california",
    "campaign", "content", "credit", "cross", "described", "despite", "female", "focus", "husband",
    "individual", "join", "message", "miles", "particular", "previous", "region", "section", "sort",
    "speed", "contact", "fair", "feet", "link", "positive", "throughout", "tour", "welcome", "absolutely",
    "additional", "conditions", "earlier", "extra", "immediately", "nature", "significant", "unless",
    "winning", "agree", "canada", "construction", "episode", "favorite", "income", "justice", "manager",
    "movement", "photo", "safety", "sold", "spend", "statement", "ability", "announced", "coach",
    "collection", "definitely", "knowledge", "search", "subject", "wide", "author", "claim", "dad",
    "developed", "fear", "fit", "german", "global", "judge", "lady", "material", "nobody", "opportunity",
    "plus", "regular", "secretary", "annual", "anymore", "bar", "battle", "contract", "degree", "features",
    "floor", "france", "hurt", "image", "insurance", "majority", "meant", "opinion", "physical", "reach",
    "sports", "successful", "active", "administration", "approach", "australian", "cancer", "civil",
    "defense", "direction", "independent", "master", "none", "russia", "ship", "worst", "africa", "awesome",
    "cash", "commercial", "compared", "effort", "impact", "lack", "multiple", "operation", "organization",
    "secret", "senior", "activities", "address", "analysis", "anyway", "bought", "choose", "christmas",
    "commission", "competition", "details", "direct", "easily", "grand", "indian", "literally", "luck",
    "marriage", "necessary", "patients", "resources", "skin", "supposed", "thus", "caught", "congress",
    "damage", "disease", "drink", "established", "germany", "glad", "overall", "professor", "shown", "trip",
    "associated", "basic", "crime", "effective", "fully", "japan", "male", "reality", "texas", "worse",
    "advice", "agreement", "block", "broken", "challenge", "christian", "comment", "equipment",
    "eventually", "holy", "nation", "otherwise", "primary", "purpose", "responsible", "sick", "theory",
    "agency", "avoid", "coast", "drug", "economy", "environment", "executive", "foot", "hall", "mass",
    "mission", "politics", "pop", "produced", "ran", "saturday", "status", "therefore", "trial",
    "application", "complex", "division", "flight", "freedom", "heat", "interview", "located", "location",
    "offered", "accept", "appear", "attempt", "broke", "channel", "distance", "exchange", "fat", "fell",
    "mobile", "northern", "powerful", "prior", "protection", "religious", "royal", "screen", "serve",
    "species", "speech", "traffic", "wearing", "whom", "benefits", "demand", "investment", "lie", "partner",
    "raised", "solution", "southern", "structure", "traditional", "twice", "worry", "brand", "bus",
    "chicago", "count", "critical", "digital", "fresh", "mental", "mentioned", "realize", "remain", "scale",
    "score", "separate", "smart", "surface", "wedding", "african", "budget", "click", "estate", "failed",
    "faith", "fashion", "generation", "hearing", "jack", "mid", "paris", "profile", "rose", "seat",
    "target", "agent", "authority", "basis", "dude", "employees", "enter", "foundation", "gain", "japanese",
    "memory", "prime", "rise", "soul", "spread", "waste", "weird", "adult", "apparently", "artist",
    "chairman", "edition", "grade", "healthy", "institute", "method", "obviously", "option", "prison",
    "senate", "somebody", "strength", "camp", "cast", "correct", "dangerous", "extremely", "firm", "handle",
    "improve", "indeed", "negative", "prevent", "removed", "spirit", "television", "till", "trouble",
    "advantage", "apart", "aware", "customers", "dollars", "eastern", "fifth", "function", "herself",
    "impossible", "influence", "items", "progress", "proud", "shut", "van", "birth", "concept", "copy",
    "dear", "host", "israel", "journal", "labor", "leadership", "length", "neither", "onto", "possibly",
    "prove", "rare", "skills", "software", "tough", "alive", "balance", "birthday", "boss", "connection",
    "fellow", "florida", "request", "stick", "vehicle", "volume", "wake", "aid", "beauty", "billion",
    "cells", "concerned", "conversation", "criminal", "cultural", "existing", "file", "fly", "frank",
    "guide", "investigation", "mexico", "operating", "responsibility", "slightly", "technical", "treat",
    "unique", "variety", "violence", "weapons", "yours", "youth", "appreciate", "discovered", "edge",
    "evil", "excited", "funds", "injury", "magazine", "parliament", "reference", "religion", "strategy",
    "web", "audience", "bay", "blog", "core", "democratic", "description", "excellent", "guard", "nuclear",
    "port", "presence", "reaction", "reduce", "shoot", "solid", "spanish", "stress", "taste", "tea",
    "victory", "afternoon", "assistant", "britain", "citizens", "classic", "clothes", "electric",
    "emergency", "failure", "festival", "flat", "fuel", "ill", "initial", "introduced", "massive", "pair",
    "plenty", "proper", "quarter", "regional", "session", "shape", "transfer", "useful", "zone", "accident",
    "advanced", "alternative", "anywhere", "capacity", "cheap", "climate", "discussion", "duty",
    "fantastic", "feelings", "governor", "industrial", "joint", "mix", "museum", "path", "promise",
    "proposed", "purchase", "steel", "tired"
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
