"""The files the user docs name exist: a newcomer who opens `apps/kws/learn.py` or
`drivers/synthetic_speech.py` because the docs say so must find it. Docs: README.md, docs/kws.md,
docs/vision.md, docs/mqtt.md, docs/config.md, docs/mapping.md and the systemd unit.

A path is an inline code span holding a `/` and ending in a file suffix (`.py`, `.md`, ...) or a
`/` (a folder); it is looked up from the repository root and, for the docs' short forms
(`engine/power.py`), under `akida_edge/`. The project's design brief (`shared/...`,
`reference/...`) is not part of the repository: the docs must say so on the same line.
"""

from __future__ import annotations

import docs_text as D
import pytest

pytestmark = pytest.mark.unit

DOCS = ("README.md", "docs/kws.md", "docs/vision.md", "docs/mqtt.md", "docs/config.md", "docs/mapping.md",
        "deploy/akida-edge.service")
PATH = r"[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*(\.(py|md|toml|sh|aem|service|json|png|pt|txt)|/)$"
OUTSIDE = ("shared/", "reference/")  # the project's brief, outside the repository
GENERATED = ("data/", "/tmp/", "/etc/", "/opt/", "/var/", "~/", "ckpt/", "takes/")  # made by the user


def _spans() -> list[D.Line]:
    out = []
    for rel in DOCS:
        lines = [D.Line(rel, i, t) for i, t in enumerate(D.read(rel).splitlines(), 1)]
        out += [ln for ln in D.inline_spans(rel, PATH, lines) if " " not in ln.text]
    return out


def test_the_docs_name_paths():
    """The extraction finds them (a pattern that found none would pass vacuously)."""
    assert len(_spans()) > 50


def test_every_path_the_docs_name_exists():
    bad = []
    for ln in _spans():
        path = ln.text
        if path.startswith(GENERATED):
            continue
        if path.startswith(OUTSIDE):
            line = D.read(ln.file).splitlines()[ln.line - 1:ln.line + 1]
            if "not part of this repository" not in " ".join(line):
                bad.append(f"{ln.where}: `{path}` is not in the repository and the doc does not say so")
            continue
        if not any((base / path).exists() for base in (D.ROOT, D.ROOT / "akida_edge")):
            bad.append(f"{ln.where}: `{path}` does not exist")
    assert not bad, "\n".join(bad)
