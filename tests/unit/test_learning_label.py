"""`pipelines.base.learning_label`: the shared start of every learning pipeline's commands."""

from __future__ import annotations

import pytest

from akida_edge.errors import InputDataError, LearningError
from akida_edge.pipelines.base import learning_label

pytestmark = pytest.mark.unit


def check(label: object) -> str | None:
    return None if isinstance(label, str) and label.isalpha() else "letters only"


def test_learning_label_paths():
    store = object()
    assert learning_label("p", "learned", {}, store, check, "the word") is None
    assert learning_label("p", "learn", {"label": "wave"}, store, check, "the word") == "wave"
    assert learning_label("p", "forget", {"label": "wave"}, store, check, "the word") == "wave"
    with pytest.raises(ValueError, match="unknown command 'explode'; known: learn, forget, learned"):
        learning_label("p", "explode", {}, store, check, "the word")
    with pytest.raises(LearningError, match="pipeline 'p' does not learn"):
        learning_label("p", "learn", {"label": "wave"}, None, check, "the word")
    with pytest.raises(InputDataError, match=r"forget needs a label \(the word\)"):
        learning_label("p", "forget", {}, store, check, "the word")
    with pytest.raises(InputDataError, match="label 'w4ve': letters only"):
        learning_label("p", "learn", {"label": "w4ve"}, store, check, "the word")


def test_an_argument_the_command_does_not_take_is_refused_naming_it():
    """Session-10 audit: a misspelt option ("synthesise") was dropped without a word, so the word
    was learned without what the user asked for."""
    store = object()
    takes = ("label", "source", "audio_wav_b64", "synthesize")
    with pytest.raises(InputDataError, match="learn takes no argument 'synthesise'; it takes label, source, "
                                             "audio_wav_b64, synthesize"):
        learning_label("p", "learn", {"label": "wave", "synthesise": 40}, store, check, "the word", takes)
    with pytest.raises(InputDataError, match="forget takes no argument 'source'; it takes label"):
        learning_label("p", "forget", {"label": "wave", "source": "x"}, store, check, "the word", takes)
    with pytest.raises(InputDataError, match="learned takes no argument 'label'; it takes none"):
        learning_label("p", "learned", {"label": "wave"}, store, check, "the word", takes)
    args = {"label": "wave", "synthesize": 40, "audio_wav_b64": "x", "source": "y"}
    assert learning_label("p", "learn", args, store, check, "the word", takes) == "wave"
