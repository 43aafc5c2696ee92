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

A write the disk refuses (full, read-only, its directory deleted) raises nothing: a detection is
held in RAM, in order and without a `seq` yet (up to `HELD_MAX`), and stored with the next seq
before any newer one as soon as a write succeeds again; telemetry is counted in
`telemetry_dropped` (the daemon then publishes it directly); an acknowledgement that cannot be
deleted is retried later (the row may go out twice, same `id`). `error` names the path and the
reason while this lasts; the first failure and the recovery are logged once each.

A damaged file (SQLITE_CORRUPT, SQLITE_NOTADB: a power cut, a failing SD card) never heals: at the
start, or within `check_path`'s period while running, it is moved aside (`outbox.db.damaged-<UTC
time>`, kept) and a new outbox is started with the rows and `seq` counter that could be read
(`outbox_repair`); one error line says so. It used to stop the start, or, damaged while running,
to hold every new detection in memory until the stop lost them.
"""

from __future__ import annotations

import collections
import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from akida_edge.errors import StateError
from akida_edge.mqtt import outbox_repair, payloads

log = logging.getLogger("akida_edge.outbox")

#: SQLite errors at open that may pass (a full disk, an I/O error, a read-only remount): the outbox
#: then starts in memory instead of refusing to start
_PASSING = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY")
#: the same for the lock file beside it (a directory remounted read-only, not writable, full)
_PASSING_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO)


class _Unopenable(Exception):
    """The database cannot be opened now (`_PASSING`); carries the directory lock, still held."""

    def __init__(self, lockfile: Any) -> None:
        super().__init__()
        self.lockfile = lockfile


class _Damaged(_Unopenable):
    """The database file is damaged (`outbox_repair.DAMAGED`); carries the directory lock."""


KIND_DETECTION = 0
KIND_TELEMETRY = 1
#: detections held in RAM while the disk refuses writes (~0.5 kB each); beyond, the oldest are lost
#: and counted in `detections_lost`
HELD_MAX = 100_000
LOG_EVERY_S = 60.0  # at most one "cannot store" line per minute while writes keep failing

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
        self.in_memory = False  # the file could not be opened: rows live in RAM until it can
        self.reopened = 0  # counts moves of the rows to a new database (the link re-reads them)
        self._seq = 0
        self._damaged = False  # SQLite said the file is damaged: `check_path` replaces it
        try:
            try:
                self._lockfile, self._db, self._rdb = self._connect()
            except _Damaged as exc:
                self._lockfile, self._db, self._rdb = self._replace_damaged(exc.lockfile, exc.__cause__)
        except _Unopenable as exc:  # a full or failing disk at start: run, with the outbox in RAM
            self._lockfile, self._db, self._rdb = exc.lockfile, *self._memory_db()
            self.in_memory = True
            log.error("%s: cannot open the outbox database (%s); running with the outbox in memory, moved "
                      "to the file as soon as it opens (checked every few seconds): free space in (or "
                      "make writable, or repair) %s", self.path, exc.__cause__, self.path.parent)
        self._ino = self._inode()
        self._lock = threading.Lock()
        self._rlock = threading.Lock()
        got = self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
        self._seq = int(got[0]) if got else 0  # this process is the file's only writer
        self.telemetry_max_rows = int(telemetry_max_rows)
        self.telemetry_max_age_ms = int(telemetry_max_age_s * 1000)
        self.telemetry_dropped = 0
        self.max_bytes = int(max_bytes)
        self.over_budget = False
        self.error = ""  # why the last write failed, while writes fail ("" once one succeeds)
        self._held: collections.deque = collections.deque()  # detections not stored yet, oldest first
        self.detections_lost = 0  # held ones pushed out beyond HELD_MAX (logged)
        self._announced = False  # a failure was logged and its recovery not yet
        self._logged_at: float | None = None  # monotonic time of the last failure line
        self._page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        if self.in_memory:
            self.error = f"{self.path}: cannot open the outbox database; it is kept in memory"

    def _connect(self, lockfile: Any = None) -> tuple[Any, sqlite3.Connection, sqlite3.Connection]:
        """(lock file held, writer, reader) for `path`, its directory created; `lockfile`: one
        already held. `_Unopenable` (holding the lock, or None when the directory refuses even the
        lock file: read-only, full) when SQLite cannot open or write the file for a reason that may
        pass (full disk, I/O error); `StateError` otherwise."""
        if lockfile is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateError(f"{self.path.parent}: cannot create the state directory ({exc.strerror}); "
                                 "set [state] dir to a writable directory") from exc
            try:
                lockfile = open(self.path.with_name(self.path.name + ".lock"), "a+")
            except OSError as exc:
                if exc.errno in _PASSING_ERRNOS:  # a read-only or full filesystem: run in memory
                    raise _Unopenable(None) from exc
                raise StateError(f"{self.path.parent}: cannot create {self.path.name}.lock there "
                                 f"({exc.strerror}); set [state] dir to a writable directory") from exc
            try:
                fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                lockfile.close()
                raise StateError(f"{self.path}: another akida-edge process uses this outbox; stop it or "
                                 "give this one its own [state] dir") from exc
        db = None
        try:
            db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            # the publisher reads on its own connection: WAL readers never wait for the writer
            rdb = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0)
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            if outbox_repair.is_damaged(exc):
                raise _Damaged(lockfile) from exc
            if getattr(exc, "sqlite_errorname", "").startswith(_PASSING):
                raise _Unopenable(lockfile) from exc
            lockfile.close()
            raise StateError(f"{self.path}: cannot open the outbox database ({exc}); move the file "
                             "away to start a new outbox") from exc
        return lockfile, db, rdb

    def _memory_db(self, seq_floor: int = 0) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        """A shared in-memory database (writer, reader) continuing the file's `seq` and row ids
        (read from it as immutable, which needs no write), so rows move to it unchanged later."""
        uri = f"file:akida-outbox-{id(self)}?mode=memory&cache=shared"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        db.executescript(_SCHEMA)
        seq = last = 0
        try:
            if not self.path.is_file():
                raise FileNotFoundError  # a new outbox: nothing to continue
            old = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True)
            try:
                got = old.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
                seq = int(got[0]) if got else 0
                got = old.execute("SELECT MAX(r) FROM (SELECT MAX(row) AS r FROM outbox UNION ALL "
                                  "SELECT seq FROM sqlite_sequence WHERE name='outbox')").fetchone()
                last = int(got[0] or 0)
            finally:
                old.close()
        except FileNotFoundError:
            pass
        except sqlite3.Error as exc:
            log.error("%s: its seq counter cannot be read (%s); seq starts again at 1", self.path, exc)
        db.execute("INSERT INTO meta(key, value) VALUES('seq', ?)", (max(seq, seq_floor),))
        db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES('outbox', ?)", (last,))
        rdb = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        rdb.execute("PRAGMA read_uncommitted = 1")  # a shared cache locks tables: the reader takes none
        return db, rdb

    def _inode(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def check_path(self) -> bool:
        """When the database file was deleted (or replaced) while open — its directory removed by a
        cleanup, a reinstall —, SQLite goes on writing to the deleted file (lost at the next start)
        and its reader fails: create it again at `path` with every row still waiting and the seq
        counter, and log it. Cheap (one `stat`); the daemon calls it every few seconds. True when
        it re-created the file."""
        if self._damaged and not self.in_memory:
            return self._move_damaged()
        now = self._inode()
        if not self.in_memory and now is not None and now == self._ino:
            return False
        with self._lock, self._rlock:
            try:
                waiting = self._db.execute("SELECT row, kind, topic, payload, qos, created_ms, attempts "
                                           "FROM outbox ORDER BY row").fetchall()
                refused = self._db.execute("SELECT row, topic, payload, reason, reason_text, rejected_ms "
                                           "FROM rejected").fetchall()
            except sqlite3.Error as exc:
                waiting, refused = [], []
                log.error("%s: the messages waiting in the deleted database cannot be read (%s); they are "
                          "lost", self.path, exc)
            try:
                lockfile, db, rdb = self._connect(self._lockfile if self.in_memory else None)
                self._copy_in(db, waiting, refused, self._seq)
            except (StateError, sqlite3.Error, _Unopenable) as exc:
                if not self.in_memory:
                    self._failed("re-creating the deleted database", exc)
                return False
            for old in (self._rdb, self._db) + (() if self.in_memory else (self._lockfile,)):
                try:
                    old.close()
                except (sqlite3.Error, OSError):
                    pass
            self._lockfile, self._db, self._rdb = lockfile, db, rdb
            self._ino = self._inode()
            was_memory, self.in_memory = self.in_memory, False
            self.reopened += 1
            self._recovered()
        if was_memory:
            log.warning("%s: opened; the %d message(s) kept in memory meanwhile are in it now", self.path,
                        len(waiting))
        else:
            log.error("%s was deleted while akida-edge ran; created again with the %d message(s) still "
                      "waiting (keep [state] dir out of cleanups)", self.path, len(waiting))
        return True

    @staticmethod
    def _copy_in(db: sqlite3.Connection, waiting: list, refused: list, seq: int) -> None:
        """Put rows (with their row ids) and the seq counter into the new database `db`."""
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT OR IGNORE INTO outbox(row, kind, topic, payload, qos, created_ms, "
                       "attempts) VALUES(?,?,?,?,?,?,?)", waiting)
        db.executemany("INSERT OR IGNORE INTO rejected(row, topic, payload, reason, reason_text, "
                       "rejected_ms) VALUES(?,?,?,?,?,?)", refused)
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('seq', MAX(?, COALESCE("
                   "(SELECT value FROM meta WHERE key='seq'), 0)))", (seq,))
        db.execute("COMMIT")

    def _replace_damaged(self, lockfile: Any, why: BaseException | None) -> tuple[Any, sqlite3.Connection,
                                                                                  sqlite3.Connection]:
        """Move the damaged database aside and open a new one at `path` holding what could be read
        of it (`lockfile`: the directory lock, held; the old connections are closed). `_Unopenable`
        when the new file cannot be opened either."""
        aside = outbox_repair.move_aside(self.path)
        waiting, refused, seq, lost = outbox_repair.salvage(aside, KIND_DETECTION, self._seq)
        lockfile, db, rdb = self._connect(lockfile)
        self._copy_in(db, waiting, refused, seq)
        # new rows far beyond the old ones: the rows lost on a damaged page may be in flight, and a
        # late acknowledgement of one deletes its row id, which must not be a new detection's
        last = max([r[0] for r in waiting] + [r[0] for r in refused], default=0)
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
        db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES('outbox', ?)",
                   (last + outbox_repair.ROW_GAP,))
        self._seq, self._damaged = seq, False
        log.error("%s: the outbox database is damaged (%s); moved to %s (kept) and a new one started with "
                  "the %d waiting message(s) and seq %d that could be read%s; what stood on its damaged "
                  "pages is lost", self.path, why, aside.name, len(waiting), seq,
                  f" ({lost})" if lost else "")
        return lockfile, db, rdb

    def _move_damaged(self) -> bool:
        """`check_path` for a database SQLite found damaged while running: replace it (True), or
        run with the outbox in memory when the new file cannot be opened (False)."""
        with self._lock, self._rlock:
            for old in (self._rdb, self._db):
                try:
                    old.close()
                except sqlite3.Error:
                    pass
            why = self.error.removeprefix(f"{self.path}: ")
            try:
                self._lockfile, self._db, self._rdb = self._replace_damaged(self._lockfile, why)
            except (StateError, sqlite3.Error, _Unopenable) as exc:
                self._db, self._rdb = self._memory_db(self._seq)
                self.in_memory = True
                self.error = f"{self.path}: cannot open the outbox database; it is kept in memory"
                log.error("%s: the damaged outbox was moved aside, but a new one cannot be opened (%s); "
                          "running with the outbox in memory", self.path, exc)
                return False
            self._ino = self._inode()
            self.reopened += 1
            self._recovered()
        return True

    # -- producers -------------------------------------------------------------------------------
    def add_detection(self, topic: str, node: str, pipeline: str, ts_ms: int,
                      fields: dict) -> tuple[int, int, str]:
        """Allocate the next `seq`, build the payload and commit it; return (row, seq, id).

        When the disk refuses the write, the detection is held in RAM (row and seq 0) and stored
        before any newer one once writes succeed again (`store_held`); nothing is raised."""
        msg_id = payloads.uuid7()
        with self._lock:
            self._held.append((topic, node, pipeline, int(ts_ms), dict(fields), msg_id))
            if len(self._held) > HELD_MAX:
                self._held.popleft()
                self.detections_lost += 1
                if self.detections_lost & (self.detections_lost - 1) == 0:  # 1, 2, 4, 8... lost
                    log.error("%s: a detection held in memory was lost (%d so far): more than %d wait "
                              "for disk space", self.path, self.detections_lost, HELD_MAX)
            stored = self._store_held()
        if stored and stored[-1][2] == msg_id:
            return stored[-1]
        return 0, 0, msg_id

    def store_held(self) -> int:
        """Try again to store the detections held in RAM; the number still held."""
        with self._lock:
            if self._held:
                self._store_held()
            return len(self._held)

    @property
    def held(self) -> int:
        """Detections held in RAM because the disk refused them."""
        return len(self._held)

    def _store_held(self) -> list[tuple[int, int, str]]:
        """Commit held detections oldest first, each with the next seq; stop at the first failure.
        Caller holds `_lock`."""
        done = []
        while self._held:
            topic, node, pipeline, ts_ms, fields, msg_id = self._held[0]
            seq = self._seq + 1
            body = payloads.detection_payload(msg_id=msg_id, seq=seq, node=node, pipeline=pipeline,
                                              ts_ms=ts_ms, fields=fields)
            row = self._write("storing a detection", (
                ("INSERT OR REPLACE INTO meta(key, value) VALUES('seq', ?)", (seq,)),
                ("INSERT INTO outbox(kind, topic, payload, qos, created_ms) VALUES(?,?,?,?,?)",
                 (KIND_DETECTION, topic, body, 1, payloads.now_ms()))))
            if row is None:
                break
            self._held.popleft()
            self._seq = seq  # only once committed: a failed insert leaves no hole
            done.append((int(row), seq, msg_id))
        return done

    def _write(self, what: str, statements, stores: bool = True) -> int | None:
        """Run `statements` in one transaction; the last row id, or None when SQLite refused
        (`error` set, logged). `stores`: a success means new rows are stored again (a delete
        may succeed on a full disk, an insert not). Caller holds `_lock`."""
        cur = self._db.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for sql, args in statements:
                cur.execute(sql, args)
            row = cur.lastrowid
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(cur)
            self._failed(what, exc)
            return None
        if stores:
            self._recovered()
        return row

    def _rollback(self, cur: sqlite3.Cursor) -> None:
        """End a failed transaction (a rollback that fails too leaves nothing more to do)."""
        if self._db.in_transaction:
            try:
                cur.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _failed(self, what: str, exc: Exception) -> None:
        """Record a refused write; log it unless one was logged in the last `LOG_EVERY_S` (a disk
        at the edge of full may refuse one write in two: two lines a minute at most)."""
        code = getattr(exc, "sqlite_errorname", "")
        if outbox_repair.is_damaged(exc) and not self.in_memory:
            if not self._damaged:  # no advice to free space: `check_path` replaces the file
                log.error("%s: %s failed (%s, %s): the file is damaged; it is moved aside and a new "
                          "outbox started within seconds", self.path, what, exc, code)
            self._damaged = True
            self.error = f"{self.path}: {exc} ({code})"
            return
        now = time.monotonic()
        if not self._announced and (self._logged_at is None or now - self._logged_at >= LOG_EVERY_S):
            self._announced, self._logged_at = True, now
            log.error("%s: %s failed (%s%s); detections are held in memory and stored when the "
                      "disk takes writes again: free space in (or make writable) %s", self.path, what, exc,
                      f", {code}" if code else "", self.path.parent)
        self.error = f"{self.path}: {exc}" + (f" ({code})" if code else "")

    def _recovered(self) -> None:
        if self.in_memory:  # stored, in RAM: the error stands until `check_path` opens the file
            return
        self.error = ""
        if self._announced:
            self._announced = False
            log.warning("%s: writes succeed again; %d held detection(s) being stored", self.path,
                        len(self._held))

    def add_telemetry(self, topic: str, payload: bytes) -> int | None:
        """Store one telemetry message, then trim telemetry to its bounds (oldest first); None
        (counted in `telemetry_dropped`) when the disk refuses the write."""
        now = payloads.now_ms()
        with self._lock:
            if self._held:
                self._store_held()
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
                self._rollback(cur)
                self._failed("storing telemetry", exc)
                self.telemetry_dropped += 1
                return None
            if not self._held:  # a small message may fit where a held detection did not
                self._recovered()
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
        rows = self._read("SELECT row, kind, topic, payload, qos, created_ms, attempts FROM outbox WHERE "
                          "row > ? ORDER BY row LIMIT ?", (after_row, limit))
        return [Message(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6]) for r in rows]

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Rows of a query on the reader connection; none when SQLite fails (an I/O error, the
        file deleted: `error` is set, and `check_path` re-creates the file), never an exception
        into the MQTT thread or the daemon's main loop."""
        with self._rlock:
            try:
                return self._rdb.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                self._failed("reading the waiting messages", exc)  # plain attributes: no lock needed
                return []

    def ack(self, rows: list[int]) -> bool:
        """Delete acknowledged rows (the broker accepted them); False when the disk refused (the
        caller keeps them and tries again: until then a reconnect sends them again, same `id`)."""
        if not rows:
            return True
        with self._lock:
            return self._write("deleting acknowledged messages", [("DELETE FROM outbox WHERE row = ?", (r,))
                                                      for r in rows], stores=False) is not None

    def reject(self, row: int, reason: int, reason_text: str) -> bool:
        """Move a row the broker refused (v5 reason >= 0x80) to `rejected` (kept, not retried);
        False when the disk refused (the row stays, and is sent again after a reconnect)."""
        with self._lock:
            return self._write("moving a refused publish", (
                ("INSERT OR REPLACE INTO rejected(row, topic, payload, reason, reason_text, rejected_ms) "
                 "SELECT row, topic, payload, ?, ?, ? FROM outbox WHERE row = ?",
                 (reason, reason_text, payloads.now_ms(), row)),
                ("DELETE FROM outbox WHERE row = ?", (row,))), stores=False) is not None

    # -- figures -----------------------------------------------------------------------------------
    def last_row(self) -> int:
        got = self._read("SELECT MAX(row) FROM outbox")
        return int(got[0][0] or 0) if got else 0

    def depth(self) -> int:
        got = self._read("SELECT COUNT(*) FROM outbox")
        return int(got[0][0]) if got else 0

    def oldest_age_s(self) -> float:
        got = self._read("SELECT MIN(created_ms) FROM outbox")
        oldest = got[0][0] if got else None
        return 0.0 if oldest is None else max(0.0, (time.time() * 1000 - oldest) / 1000.0)

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
            if self._lockfile is not None:  # None: in memory, the directory refused the lock file
                self._lockfile.close()  # releases the flock
