"""The disk outbox: SQLite in WAL mode; nothing leaves it before the broker acknowledged it.

Every detection is written (committed) *before* it is published and deleted only when the broker
acknowledged it with success (QoS 1 PUBACK; MQTT 5 reason code < 0x80). Rows left after a crash,
a SIGKILL or a broker outage are sent again, oldest first, with `"replayed": true`. The per-node
`seq` is allocated in the same transaction as the row, so it never repeats and has no holes
(a sequence number exists only if its row was committed). With `journal_mode=WAL` and
`synchronous=NORMAL` a commit survives the process being killed; only a power cut may lose the
last commits (SQLite docs, "WAL mode"). Telemetry shares the table with a bound on rows and age
(oldest dropped first); detections are never dropped. A publish the broker refuses (reason
>= 0x80, e.g. 0x87 Not authorized) moves to the `rejected` table: kept, counted and reported,
never retried in a loop.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from akida_edge.errors import StateError
from akida_edge.mqtt import payloads

KIND_DETECTION = 0
KIND_TELEMETRY = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    row INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
    row INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
    reason INTEGER NOT NULL, reason_text TEXT NOT NULL, rejected_ms INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Message:
    """One row waiting for its acknowledgement."""

    row: int
    kind: int
    topic: str
    payload: bytes
    qos: int
    created_ms: int
    attempts: int


class Outbox:
    """A thread-safe SQLite outbox at `path` (one connection guarded by a lock).

    Parameters
    ----------
    path : the database file (its directory is created).
    telemetry_max_rows, telemetry_max_age_s : bound on telemetry kept while the broker is away.
    max_bytes : beyond this much live data, the oldest telemetry is dropped; detections never are
        (`over_budget` turns true and the daemon reports it).
    """

    def __init__(self, path: str | Path, telemetry_max_rows: int = 10_000,
                 telemetry_max_age_s: float = 3600.0, max_bytes: int = 256 << 20) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfile = open(self.path.with_name(self.path.name + ".lock"), "a+")
        except OSError as exc:
            raise StateError(f"{self.path.parent}: cannot create the state directory ({exc.strerror}); "
                             "set [state] dir to a writable directory") from exc
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lockfile.close()
            raise StateError(f"{self.path}: another akida-edge process uses this outbox; stop it or give "
                             "this one its own [state] dir") from exc
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                       timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            # the publisher reads on its own connection: WAL readers never wait for the writer
            self._rdb = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                        timeout=30.0)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: cannot open the outbox database ({exc}); move the file "
                             "away to start a new outbox") from exc
        self._lock = threading.Lock()
        self._rlock = threading.Lock()
        got = self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
        self._seq = int(got[0]) if got else 0  # this process is the file's only writer
        self.telemetry_max_rows = int(telemetry_max_rows)
        self.telemetry_max_age_ms = int(telemetry_max_age_s * 1000)
        self.telemetry_dropped = 0
        self.max_bytes = int(max_bytes)
        self.over_budget = False
        self._page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])

    # -- producers -------------------------------------------------------------------------------
    def add_detection(self, topic: str, node: str, pipeline: str, ts_ms: int,
                      fields: dict) -> tuple[int, int, str]:
        """Allocate the next `seq`, build the payload and commit it; return (row, seq, id)."""
        msg_id = payloads.uuid7()
        with self._lock:
            cur = self._db.cursor()
            seq = self._seq + 1
            body = payloads.detection_payload(msg_id=msg_id, seq=seq, node=node, pipeline=pipeline,
                                              ts_ms=ts_ms, fields=fields)
            try:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('seq', ?)", (seq,))
                cur.execute("INSERT INTO outbox(kind, topic, payload, qos, created_ms) VALUES(?,?,?,?,?)",
                            (KIND_DETECTION, topic, body, 1, payloads.now_ms()))
                row = cur.lastrowid
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    cur.execute("ROLLBACK")
                raise StateError(f"{self.path}: cannot store a detection ({exc}); free disk space "
                                 "in the state directory") from exc
            self._seq = seq  # only once committed: a failed insert leaves no hole
        return int(row), seq, msg_id

    def add_telemetry(self, topic: str, payload: bytes) -> int:
        """Store one telemetry message, then trim telemetry to its bounds (oldest first)."""
        now = payloads.now_ms()
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute("INSERT INTO outbox(kind, topic, payload, qos, created_ms) VALUES(?,?,?,?,?)",
                            (KIND_TELEMETRY, topic, payload, 1, now))
                row = cur.lastrowid
                n = cur.execute("DELETE FROM outbox WHERE kind=? AND created_ms < ?",
                                (KIND_TELEMETRY, now - self.telemetry_max_age_ms)).rowcount
                n += cur.execute(
                    "DELETE FROM outbox WHERE kind=? AND row NOT IN "
                    "(SELECT row FROM outbox WHERE kind=? ORDER BY row DESC LIMIT ?)",
                    (KIND_TELEMETRY, KIND_TELEMETRY, self.telemetry_max_rows)).rowcount
                while self._used_bytes() > self.max_bytes:
                    got = cur.execute(
                        "DELETE FROM outbox WHERE row IN (SELECT row FROM outbox WHERE kind=? "
                        "ORDER BY row LIMIT 100)", (KIND_TELEMETRY,)).rowcount
                    n += got
                    if got == 0:
                        break
                self.over_budget = self._used_bytes() > self.max_bytes
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    cur.execute("ROLLBACK")
                raise StateError(f"{self.path}: cannot store telemetry ({exc})") from exc
            self.telemetry_dropped += max(n, 0)
        return int(row)

    def _used_bytes(self) -> int:
        """Live bytes in the database (pages in use; deleted rows' pages are on the freelist)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * self._page_size

    # -- the publisher -----------------------------------------------------------------------------
    def pending(self, after_row: int = 0, limit: int = 100) -> list[Message]:
        """Rows after `after_row`, oldest first."""
        with self._rlock:
            rows = self._rdb.execute(
                "SELECT row, kind, topic, payload, qos, created_ms, attempts FROM outbox WHERE row > ? "
                "ORDER BY row LIMIT ?", (after_row, limit)).fetchall()
        return [Message(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6]) for r in rows]

    def ack(self, rows: list[int]) -> None:
        """Delete acknowledged rows (the broker accepted them)."""
        if rows:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM outbox WHERE row = ?", [(r,) for r in rows])
                self._db.execute("COMMIT")

    def reject(self, row: int, reason: int, reason_text: str) -> None:
        """Move a row the broker refused (v5 reason >= 0x80) to `rejected` (kept, not retried)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO rejected(row, topic, payload, reason, reason_text, rejected_ms) "
                "SELECT row, topic, payload, ?, ?, ? FROM outbox WHERE row = ?",
                (reason, reason_text, payloads.now_ms(), row))
            self._db.execute("DELETE FROM outbox WHERE row = ?", (row,))
            self._db.execute("COMMIT")

    # -- figures -----------------------------------------------------------------------------------
    def last_row(self) -> int:
        with self._rlock:
            got = self._rdb.execute("SELECT MAX(row) FROM outbox").fetchone()
        return int(got[0] or 0)

    def depth(self) -> int:
        with self._rlock:
            return int(self._rdb.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def oldest_age_s(self) -> float:
        with self._rlock:
            got = self._rdb.execute("SELECT MIN(created_ms) FROM outbox").fetchone()[0]
        return 0.0 if got is None else max(0.0, (time.time() * 1000 - got) / 1000.0)

    def rejected_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0])

    def rejected(self) -> list[tuple[str, int, str]]:
        with self._lock:
            return [(r[0], r[1], r[2]) for r in self._db.execute(
                "SELECT topic, reason, reason_text FROM rejected ORDER BY row")]

    def last_seq(self) -> int:
        with self._lock:
            got = self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
        return int(got[0]) if got else 0

    def close(self) -> None:
        with self._lock, self._rlock:
            self._rdb.close()
            self._db.close()
            self._lockfile.close()  # releases the flock
