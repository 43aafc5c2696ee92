"""Read what can be read from a damaged outbox database (SQLITE_CORRUPT, SQLITE_NOTADB).

A power cut on a disk that lies about its flushes, an SD card wearing out, or a copy cut short
leaves `outbox.db` with a damaged page or header. SQLite then refuses every write and most reads,
for good. `Outbox` moves the damaged file aside (kept for inspection: `sqlite3 FILE .recover`)
and starts a new one with what this module salvaged: the rows before the first damaged page read
forwards, and those after the last one read backwards, and the `seq` counter (the larger of the
stored one and the highest `seq` among the salvaged detections).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

#: SQLite's names for a file that is damaged, not merely unwritable now (`sqlite_errorname`)
DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")

#: how far beyond the last salvaged row the new outbox numbers its rows: more than can be in flight
#: (`max_inflight` <= 65535), so that an acknowledgement of a lost row never deletes a new one
ROW_GAP = 1 << 20

_COLUMNS = {"outbox": "row, kind, topic, payload, qos, created_ms, attempts",
            "rejected": "row, topic, payload, reason, reason_text, rejected_ms"}


def is_damaged(exc: BaseException) -> bool:
    return getattr(exc, "sqlite_errorname", "").startswith(DAMAGED)


def move_aside(path: Path) -> Path:
    """Rename `path` and its `-wal` and `-shm` files to `<name>.damaged-<UTC time>` (the WAL keeps
    its database's name, so SQLite applies it when the moved file is read); the new path."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    for suffix in ("", "-wal", "-shm"):
        try:
            Path(f"{path}{suffix}").rename(f"{aside}{suffix}")
        except FileNotFoundError:
            pass
    return aside


def _rows(db: sqlite3.Connection, table: str, notes: list[str]) -> list[tuple]:
    """Rows of `table` read forwards (by `row`) up to the first error, then backwards; the error,
    if any, noted."""
    got: dict[int, tuple] = {}
    sql = f"SELECT {_COLUMNS[table]} FROM {table} ORDER BY row"
    for order in (sql, sql + " DESC"):
        try:
            for r in db.execute(order):
                got.setdefault(int(r[0]), tuple(r))
        except sqlite3.Error as exc:
            if order != sql:
                notes.append(f"{table}: some rows unreadable ({exc})")
            continue
        break  # read to the end without an error: nothing more to find backwards
    return [got[k] for k in sorted(got)]


def salvage(path: Path, detection_kind: int, seq_floor: int = 0) -> tuple[list[tuple], list[tuple], int, str]:
    """(waiting rows, rejected rows, seq, a note on what could not be read) of the database at
    `path`; rows of `detection_kind` carry a `seq` in their payload."""
    waiting: list[tuple] = []
    refused: list[tuple] = []
    seq, notes = seq_floor, []
    try:
        db = sqlite3.connect(str(path), isolation_level=None)
    except sqlite3.Error as exc:
        return [], [], seq, f"nothing could be read ({exc})"
    try:
        waiting, refused = _rows(db, "outbox", notes), _rows(db, "rejected", notes)
        try:
            got = db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
            seq = max(seq, int(got[0]) if got else 0)
        except sqlite3.Error as exc:
            notes.append(f"its seq counter is unreadable ({exc})")
    finally:
        db.close()
    for r in waiting:
        if r[1] == detection_kind:  # its seq is a floor for the counter
            try:
                seq = max(seq, int(json.loads(r[3]).get("seq", 0)))
            except (ValueError, TypeError, AttributeError):
                pass
    return waiting, refused, seq, "; ".join(notes)


__all__ = ["DAMAGED", "ROW_GAP", "is_damaged", "move_aside", "salvage"]
