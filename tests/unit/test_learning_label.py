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
