"""One piece of work per input file, where a bad file costs only itself (a private module: the CLI
registers no command here).

The `classify`, `learn`, `fit` and `score` commands of the apps take several files: a file that is
missing, not a recording, empty or truncated gets one line naming it on stderr (and an `error`
object on stdout with `--json`, so a consumer of the JSON lines sees it too), the other files are
still processed, and the command exits 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from akida_edge.errors import AkidaEdgeError

#: What a bad *file* raises (a user mistake about that file); anything else is a bug and propagates.
FILE_ERRORS: tuple[type[BaseException], ...] = (AkidaEdgeError, OSError)


def report_file_error(file: str, exc: BaseException, as_json: bool) -> None:
    """One line on stderr naming `file` (and an `{"file", "error"}` JSON line on stdout with `as_json`)."""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if as_json:
        print(json.dumps({"file": file, "error": msg}), flush=True)
    print(f"akida-edge: error: {file}: {msg}" if file not in msg else f"akida-edge: error: {msg}",
          file=sys.stderr, flush=True)


class PerFile:
    """Runs `work(path)` per path and yields `(path, result)` for those that succeed; `failed` counts
    the others (each reported by `report_file_error`); `exit_code` is 1 if any failed. `errors`: what
    counts as a bad file (a parser that raises `ValueError` on a malformed file adds it)."""

    def __init__(self, as_json: bool = False, errors: tuple[type[BaseException], ...] = FILE_ERRORS) -> None:
        self.as_json = as_json
        self.errors = errors
        self.failed = 0

    def results(self, paths: Iterable[str], work: Callable[[str], Any]) -> Iterator[tuple[str, Any]]:
        for path in paths:
            try:
                result = work(path)
            except self.errors as exc:
                self.fail(path, exc)
                continue
            yield path, result

    def fail(self, path: str, exc: BaseException) -> None:
        """Count and report a file found unusable after loading (e.g. too short, another sensor)."""
        self.failed += 1
        report_file_error(path, exc, self.as_json)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0
