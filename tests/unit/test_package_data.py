"""Every data file shipped inside the packages (models, reports, dashboard assets) is in the wheel:
pyproject's package-data globs must cover it, or an installed akida-edge misses it."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest
import tomllib

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_package_data_covers_every_shipped_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tool = project["tool"]["setuptools"]
    globs = tool["package-data"]["*"]
    data_files = [f for src in tool["package-dir"].values() for f in (ROOT / src).rglob("*")
                  if f.is_file() and f.suffix not in {".py", ".pyc"} and "__pycache__" not in f.parts
                  and not any(part.startswith(".") for part in f.relative_to(ROOT).parts)]
    assert any(f.name == "kws_float.pt" for f in data_files)  # the kws bench's float baseline
    uncovered = [str(f.relative_to(ROOT)) for f in data_files
                 if not any(fnmatch.fnmatch(f.name, g) for g in globs)]
    assert uncovered == []
