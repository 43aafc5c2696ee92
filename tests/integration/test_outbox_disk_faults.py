"""The outbox and the daemon when the disk refuses writes (full, read-only): nothing raised, nothing
lost, the error surfaced, everything stored once the disk takes writes again.

A full disk is SQLite's own SQLITE_FULL from `PRAGMA max_page_count` (what a full filesystem
gives an insert); a read-only one is `PRAGMA query_only` (every write refused, deletes too).
"""

from __future__ import annotations

import json
import threading

import pytest
from mqtt_fixtures import Recorder

from akida_edge.config import load_config
from akida_edge.daemon import Daemon
from akida_edge.mqtt.outbox import KIND_DETECTION, Outbox

pytestmark = pytest.mark.integration


def _pragma(box: Outbox, sql: str) -> None:
    with box._lock:
        box._db.execute(sql)


def _fill_disk(box: Outbox) -> None:
    """No page beyond those the database has now: the next insert that needs one fails."""
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    _pragma(box, f"PRAGMA max_page_count = {pages}")


def _free_disk(box: Outbox) -> None:
    _pragma(box, "PRAGMA max_page_count = 1073741823")


def _stored_detections(box: Outbox) -> list[dict]:
    return [json.loads(m.payload) for m in box.pending(0, 100_000) if m.kind == KIND_DETECTION]


def test_full_disk_holds_detections_in_order_and_stores_them_when_space_returns(tmp_path, rng):
    box = Outbox(tmp_path / "outbox.db")
    sizes = rng.integers(200, 2000, size=400)
    for i in range(3):
        box.add_detection("t/detection", "n1", "p", i, {"i": i, "pad": "x" * int(sizes[i])})
    _fill_disk(box)
    i = 3
    while box.held == 0:  # until the database needs a page it may not have
        assert i < len(sizes), "the database never filled"
        box.add_detection("t/detection", "n1", "p", i, {"i": i, "pad": "x" * int(sizes[i])})
        i += 1
    for _ in range(5):  # later ones wait behind the first one held
        box.add_detection("t/detection", "n1", "p", i, {"i": i, "pad": "x" * int(sizes[i])})
        i += 1
    assert box.held >= 6
    assert str(box.path) in box.error and "full" in box.error
    dropped = box.telemetry_dropped
    big = json.dumps({"pad": "x" * 3 * box._page_size}).encode()  # needs pages the disk has not
    assert box.add_telemetry("t/telemetry", big) is None
    assert box.telemetry_dropped == dropped + 1
    _free_disk(box)
    assert box.store_held() == 0 and box.error == ""
    stored = _stored_detections(box)
    assert [d["i"] for d in stored] == list(range(i))  # every one, in the order they came
    assert [d["seq"] for d in stored] == list(range(1, i + 1))  # no hole, no repeat
    assert box.add_telemetry("t/telemetry", big) is not None
    box.close()


def test_read_only_outbox_keeps_acks_for_later_and_is_not_left_in_a_transaction(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    rows = [box.add_detection("t/detection", "n1", "p", i, {"i": i})[0] for i in range(4)]
    _pragma(box, "PRAGMA query_only = 1")
    assert box.ack(rows[:2]) is False  # refused, not raised: the link keeps the rows
    assert box.reject(rows[2], 0x87, "Not authorized") is False
    assert box.add_detection("t/detection", "n1", "p", 4, {"i": 4})[1] == 0  # held
    assert box.held == 1 and "readonly" in box.error
    assert box.depth() == 4
    _pragma(box, "PRAGMA query_only = 0")
    assert box.ack(rows[:2]) is True
    assert box.reject(rows[2], 0x87, "Not authorized") is True
    assert box.add_detection("t/detection", "n1", "p", 5, {"i": 5})[1] == 6  # the held one took seq 5
    assert [d["i"] for d in _stored_detections(box)] == [3, 4, 5]
    assert box.rejected_count() == 1 and box.held == 0
    box.close()


CONFIG = """
[device]
id = "n1"
[mqtt]
broker = "embedded"
port = 0
prefix = "akida"
discovery = false
[state]
dir = "{state}"
[telemetry]
interval_s = 0.3
[[pipelines]]
name = "tick"
type = "custom"
factory = "daemon_pipelines:counter"
source = {{ type = "synthetic", rate_hz = 40, gated = true }}
"""


def _start(tmp_path):
    """The daemon of `CONFIG` running with its supervising loop, and a recorder of its topics
    subscribed before the first detection."""
    import daemon_pipelines

    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"), encoding="utf-8")
    daemon_pipelines.GO.clear()
    daemon = Daemon(load_config(path))
    daemon.start()
    supervisor = threading.Thread(target=daemon.supervise, name="supervise", daemon=True)
    supervisor.start()
    rec = Recorder(daemon.broker.port, "akida/n1/#")
    # raced: the recorder subscribed to the daemon's own broker after the first detections went
    # out (a test thread 0.3 s late missed seq 1 and waited for it in vain): the counter starts now
    daemon_pipelines.GO.set()
    return daemon, supervisor, rec


def _stop(daemon, supervisor, rec) -> None:
    daemon.request_stop()
    supervisor.join(10)
    daemon.shutdown()
    rec.close()


def test_daemon_keeps_running_and_loses_nothing_while_the_disk_refuses_writes(tmp_path):
    daemon, supervisor, rec = _start(tmp_path)
    try:
        assert rec.wait_for(lambda r: len(r.json("/detection")) >= 5)
        _pragma(daemon.outbox, "PRAGMA query_only = 1")  # the filesystem went read-only
        assert rec.wait_for(lambda r: daemon.outbox.held >= 20, 30)
        # the operator sees it: telemetry, sent directly, names the error and what is held
        assert rec.wait_for(lambda r: any(t["outbox_held"] > 0 and "outbox.db" in t["outbox_error"]
                                          for t in r.json("/telemetry")), 30)
        runner = daemon.runners["tick"]
        assert runner.restarts == 0 and runner.status == "online"
        assert supervisor.is_alive() and daemon.link._thread.is_alive()
        _pragma(daemon.outbox, "PRAGMA query_only = 0")  # writable again
        assert rec.wait_for(lambda r: daemon.outbox.held == 0, 30)
        last = daemon.outbox.last_seq()
        assert rec.wait_for(lambda r: {d["seq"] for d in r.json("/detection")} >= set(range(1, last + 1)), 30)
        assert runner.restarts == 0
    finally:
        _stop(daemon, supervisor, rec)
    counted = daemon.detections
    seqs = sorted({d["seq"] for d in rec.json("/detection")})
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) <= counted


def test_a_deleted_outbox_is_created_again_with_what_waits(tmp_path):
    import shutil

    state = tmp_path / "state"
    box = Outbox(state / "outbox.db")
    rows = [box.add_detection("t/detection", "n1", "p", i, {"i": i})[0] for i in range(4)]
    assert box.ack(rows[:1])
    shutil.rmtree(state)  # a cleanup removes the state directory under the running daemon
    box.add_detection("t/detection", "n1", "p", 4, {"i": 4})  # SQLite writes to the deleted file
    box.depth(), box.pending()  # the reader fails: no exception into the daemon's threads
    assert box.check_path() and (state / "outbox.db").is_file()
    assert not box.check_path()  # once
    assert [d["i"] for d in _stored_detections(box)] == [1, 2, 3, 4]
    assert box.add_detection("t/detection", "n1", "p", 5, {"i": 5})[1] == 6
    box.close()
    again = Outbox(state / "outbox.db")  # what a restart finds: nothing lost, seq goes on
    assert [d["seq"] for d in _stored_detections(again)] == [2, 3, 4, 5, 6]
    assert again.add_detection("t/detection", "n1", "p", 6, {"i": 6})[1] == 7
    again.close()


def test_daemon_survives_its_state_directory_being_deleted(tmp_path, monkeypatch):
    import shutil

    import akida_edge.daemon as daemon_module

    monkeypatch.setattr(daemon_module, "PATH_CHECK_S", 0.2, raising=False)
    daemon, supervisor, rec = _start(tmp_path)
    try:
        assert rec.wait_for(lambda r: len(r.json("/detection")) >= 5)
        shutil.rmtree(tmp_path / "state")
        assert rec.wait_for(lambda r: (tmp_path / "state" / "outbox.db").is_file(), 30)
        told = len(rec.json("/telemetry"))
        assert rec.wait_for(lambda r: len(r.json("/telemetry")) > told + 2, 30)  # the main loop goes on
        assert supervisor.is_alive() and daemon.link._thread.is_alive()
        last = daemon.outbox.last_seq()
        assert rec.wait_for(lambda r: {d["seq"] for d in r.json("/detection")} >= set(range(1, last + 1)), 30)
    finally:
        _stop(daemon, supervisor, rec)
    reopened = Outbox(tmp_path / "state" / "outbox.db")  # the next start goes on from the same seq
    assert reopened.last_seq() == daemon.outbox._seq >= last
    reopened.close()


def test_an_outbox_that_cannot_be_opened_at_start_runs_in_memory_then_moves_to_the_file(tmp_path):
    """SQLite cannot open its files (here its WAL path is taken by a directory: SQLITE_CANTOPEN, as
    a full disk gives SQLITE_IOERR at open): before, the daemon refused to start."""
    state = tmp_path / "state"
    box = Outbox(state / "outbox.db")
    for i in range(2):
        box.add_detection("t/detection", "n1", "p", i, {"i": i})
    box.close()
    (state / "outbox.db-wal").mkdir()
    box = Outbox(state / "outbox.db")
    assert box.in_memory and "outbox.db" in box.error
    assert [box.add_detection("t/detection", "n1", "p", i, {"i": i})[1] for i in (2, 3)] == [3, 4]
    assert not box.check_path() and box.in_memory  # still cannot be opened
    (state / "outbox.db-wal").rmdir()
    assert box.check_path() and not box.in_memory and box.error == ""
    assert [d["seq"] for d in _stored_detections(box)] == [1, 2, 3, 4]
    box.close()
    again = Outbox(state / "outbox.db")
    assert [d["i"] for d in _stored_detections(again)] == [0, 1, 2, 3] and again.last_seq() == 4
    again.close()


def _read_only(folder, on: bool) -> None:
    """Make `folder` refuse new files: mode 0500, or, for root (whom modes do not stop), the
    immutable attribute (skipped where the filesystem has none)."""
    import os
    import subprocess

    if os.geteuid() != 0:
        folder.chmod(0o500 if on else 0o700)
    elif subprocess.run(["chattr", "+i" if on else "-i", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root, and chattr +i does not work here")


def test_a_read_only_state_directory_at_start_runs_in_memory_then_moves_to_the_file(tmp_path):
    """A remounted-read-only or unwritable state directory refused even the lock file: the daemon
    would not start (`cannot create the state directory`), although the directory existed and
    docs/mqtt.md promised the in-memory outbox for a read-only filesystem."""
    state = tmp_path / "state"
    state.mkdir()
    _read_only(state, True)
    try:
        box = Outbox(state / "outbox.db")
        assert box.in_memory and "in memory" in box.error
        assert [box.add_detection("t/detection", "n1", "p", i, {"i": i})[1] for i in (0, 1)] == [1, 2]
        assert not box.check_path() and box.in_memory
    finally:
        _read_only(state, False)
    assert box.check_path() and not box.in_memory and box.error == ""
    box.close()
    again = Outbox(state / "outbox.db")
    assert [d["i"] for d in _stored_detections(again)] == [0, 1] and again.last_seq() == 2
    again.close()


def test_daemon_starts_and_publishes_with_an_outbox_that_cannot_be_opened(tmp_path, monkeypatch):
    import akida_edge.daemon as daemon_module

    monkeypatch.setattr(daemon_module, "PATH_CHECK_S", 0.2, raising=False)
    (tmp_path / "state" / "outbox.db-wal").mkdir(parents=True)  # the outbox cannot be opened
    daemon, supervisor, rec = _start(tmp_path)
    try:
        assert rec.wait_for(lambda r: len(r.json("/detection")) >= 5)  # published from memory
        assert rec.wait_for(lambda r: any("outbox.db" in t["outbox_error"] for t in r.json("/telemetry")))
        (tmp_path / "state" / "outbox.db-wal").rmdir()  # the disk is fine again
        assert rec.wait_for(lambda r: not daemon.outbox.in_memory, 30)
        seen = len(rec.json("/detection"))
        assert rec.wait_for(lambda r: len(r.json("/detection")) > seen + 5)
        last = daemon.outbox.last_seq()
        assert rec.wait_for(lambda r: {d["seq"] for d in r.json("/detection")} >= set(range(1, last + 1)), 30)
    finally:
        _stop(daemon, supervisor, rec)
    reopened = Outbox(tmp_path / "state" / "outbox.db")
    assert reopened.last_seq() == daemon.outbox._seq
    reopened.close()
