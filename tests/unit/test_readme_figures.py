"""The README's "Measured figures" table quotes the record (`bench/recorded.json`) exactly.

Each row names its figures in backticks before any parenthesis of the figure cell (`a` / `b`), and
gives their values in the same order before any parenthesis of the measured cell (x / y), at the
precision shown. A figure the record does not have, a value that is not the record's, or a suite
whose figures the table does not quote at all fails the test: the table cannot drift from the runs
it claims to quote (session 22's row still said the detection settings had not been re-checked
after they had been; docs/figures.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from akida_edge.bench import record

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"
NUMBER = re.compile(r"[-−]?\d[\d  ]*(?:\.\d+)?")


def _rows() -> list[list[str]]:
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("## Measured figures")
    header = next(i for i in range(start, len(lines)) if lines[i].startswith("| suite | figure |"))
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _shown(cell: str) -> list[str]:
    """The numbers before the cell's first parenthesis, one per ' / ' part (the part's first number)."""
    parts = cell.split("(", 1)[0].split(" / ")
    found = [NUMBER.search(part) for part in parts]
    return [m.group(0).replace(" ", "").replace(" ", "").replace("−", "-").strip() for m in found if m]


def test_the_table_quotes_the_record():
    suites = record.load()
    rows = _rows()
    assert len(rows) >= 30, "the Measured figures table was not found whole"
    quoted: set[str] = set()
    for suite, figure, measured, _target in (r[:4] for r in rows):
        suite = suite.strip("`")
        assert suite in suites, f"README row of suite {suite!r}: the record has no such suite"
        flat = record.flatten(suites[suite]["figures"])
        names = re.findall(r"`([\w.-]+)`", figure.split("(", 1)[0])
        assert names, f"README row {figure!r} names no figure in backticks"
        shown = _shown(measured)
        assert len(shown) == len(names), f"README row {names}: {measured!r} shows {len(shown)} values"
        for name, text in zip(names, shown, strict=True):
            assert name in flat, f"README row of {suite}: the record has no figure {name!r}"
            decimals = len(text.split(".")[1]) if "." in text else 0
            want = f"{flat[name]:.{decimals}f}"
            assert want == text, f"README: {suite} {name} shows {text}, the record has {flat[name]} ({want})"
        quoted.add(suite)
    assert quoted == set(suites), f"the table quotes no figure of {sorted(set(suites) - quoted)}"
