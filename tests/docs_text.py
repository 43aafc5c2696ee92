"""Reading the project's Markdown docs for the docs-match-the-code tests (`tests/unit/test_docs_*.py`).

Small, literal parsers: fenced code blocks, inline code spans, the pipe tables under a heading,
and the command-line notation the docs use (``[--json]`` optional, ``a|b|c`` alternatives,
upper-case placeholders such as ``FILE`` or ``S``), expanded into argument lists that the real
`akida-edge` parser can check.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Line:
    """A piece of doc text and where it is (`file:line` in failure messages)."""

    file: str
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def read(rel: str) -> str:
    return (ROOT / rel).read_text(encoding="utf-8")


def code_block_lines(rel: str, languages: tuple[str, ...] = ("bash",)) -> list[Line]:
    """The lines inside fenced blocks of `languages` (```bash ... ```)."""
    out, inside = [], False
    for i, text in enumerate(read(rel).splitlines(), 1):
        stripped = text.strip()
        if stripped.startswith("```"):
            inside = not inside and stripped[3:].strip() in languages
            continue
        if inside:
            out.append(Line(rel, i, text))
    return out


def inline_spans(rel: str, pattern: str, lines: list[Line] | None = None) -> list[Line]:
    """Inline code spans (single backticks) of `rel` (or of its `lines` only) whose text matches
    `pattern` at its start."""
    if lines is None:
        lines = [Line(rel, i, text) for i, text in enumerate(read(rel).splitlines(), 1)]
    out = []
    for ln in lines:
        for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", ln.text):
            if re.match(pattern, m.group(1)):
                out.append(Line(rel, ln.line, m.group(1)))
    return out


def section(rel: str, heading: str) -> list[Line]:
    """The lines under the first Markdown heading whose text contains `heading`, up to the next
    heading of the same or a higher level."""
    lines = read(rel).splitlines()
    for i, text in enumerate(lines):
        m = re.match(r"(#+) ", text)
        if m and heading in text:
            level = len(m.group(1))
            out = []
            for j in range(i + 1, len(lines)):
                n = re.match(r"(#+) ", lines[j])
                if n and len(n.group(1)) <= level:
                    break
                out.append(Line(rel, j + 1, lines[j]))
            return out
    raise AssertionError(f"{rel}: no heading containing {heading!r}")


def tables(lines: list[Line]) -> list[list[tuple[Line, list[str]]]]:
    """The pipe tables in `lines`: for each, its body rows as (line, cells) (header and rule dropped).
    Cells are split on `|` not escaped as `\\|`."""
    found: list[list[tuple[Line, list[str]]]] = []
    current: list[tuple[Line, list[str]]] | None = None
    for ln in lines:
        if ln.text.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", ln.text.strip())[1:-1]]
            if current is None:
                current = []
                found.append(current)
                current.append((ln, cells))  # header, dropped below
            elif set("".join(cells)) <= set("-: "):
                continue
            else:
                current.append((ln, cells))
        else:
            current = None
    return [t[1:] for t in found]


def backticked(cell: str) -> list[str]:
    """The `code` words of a table cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


# -- command-line notation -----------------------------------------------------------------------------

#: Sample values for the placeholders the docs write where a number is required.
PLACEHOLDERS = {"S": "10", "PORT": "8081", "N": "40", "MS": "800", "INDEX": "0"}


def command_segments(text: str) -> list[list[str]]:
    """The `akida-edge ...` commands on a shell line (split at `&&`, `||` and `;`), as shell tokens
    from the program name on, comments dropped."""
    out = []
    for part in re.split(r"&&|\|\||;", text.split(" #", 1)[0]):
        try:
            tokens = shlex.split(part, comments=True)
        except ValueError:
            continue
        for k, tok in enumerate(tokens):
            if tok == "akida-edge" or tok.endswith("bin/akida-edge"):  # also .venv/bin/, ExecStart=...
                out.append(tokens[k + 1:])
                break
    return out


def _group(tokens: list[str]) -> list:
    """Tokens into items: a word (str) or an optional group (list) from `[` to its `]`."""
    stack: list[list] = [[]]
    for tok in tokens:
        opens = len(tok) - len(tok.lstrip("["))
        for _ in range(opens):
            stack.append([])
        word = tok.lstrip("[")
        closes = len(word) - len(word.rstrip("]"))
        word = word.rstrip("]")
        if word:
            stack[-1].append(word)
        for _ in range(closes):
            group = stack.pop()
            stack[-1].append(group)
    while len(stack) > 1:  # an unclosed bracket: keep its words
        group = stack.pop()
        stack[-1].extend(group)
    return stack[0]


def _flatten(items: list, keep_optional: bool) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, list):
            if keep_optional:
                out += _flatten(item, True)
        else:
            out.append(item)
    return out


def _alternatives(word: str) -> list[str]:
    if "|" in word and "://" not in word:
        return word.split("|")
    return [word]


def expand(tokens: list[str]) -> list[list[str]]:
    """Argument lists the notation stands for: optional groups all left out and all given, and each
    alternative of `a|b|c` words in turn; placeholders of numbers get sample values."""
    items = _group(tokens)
    variants = []
    for keep in (False, True):
        words = _flatten(items, keep)
        alts = [_alternatives(w) for w in words]
        for k in range(max((len(a) for a in alts), default=1)):
            argv = [PLACEHOLDERS.get(a[min(k, len(a) - 1)], a[min(k, len(a) - 1)]) for a in alts]
            if argv not in variants:
                variants.append(argv)
    return variants
