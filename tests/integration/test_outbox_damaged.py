"""A damaged `outbox.db` (a power cut, a failing SD card, a copy cut short) found at the start or
while running: moved aside, and a new outbox goes on with what could be read of it."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from akida_edge.mqtt.outbox import KIND_DETECTION, Outbox
from akida_edge.mqtt.outbox_repair import ROW_GAP

pytestmark = pytest.mark.integration

TOPIC = "akida/n1/p/detection"


def _fill(path: Path, n: int, text: str = "") -> None:
    box = Outbox(path)
    for i in range(n):
        box.add_detection(TOPIC, "n1", "p", 1_000 + i, {"i": i, "text": text})
    box.close()  # the last connection checkpoints the WAL into the file


def _pages(path: Path, table: str, kind: str) -> list[int]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? "
                                         "ORDER BY pageno", (table, kind))]
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        db.close()


def _spoil_page(path: Path, page: int) -> None:
    data = bytearray(path.read_bytes())
    size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    data[(page - 1) * size:page * size] = b"\xa5" * size
    path.write_bytes(bytes(data))


def _seqs(box: Outbox) -> list[int]:
    return [json.loads(m.payload)["seq"] for m in box.pending(0, 100_000) if m.kind == KIND_DETECTION]


def test_damaged_while_running_is_moved_aside_and_new_detections_are_stored(tmp_path, caplog):
    path = tmp_path / "outbox.db"
    _fill(path, 30)
    _spoil_page(path, *_pages(path, "sqlite_sequence", "leaf"))  # every insert updates it
    box = Outbox(path)  # opens: the damage shows at the first write
    with caplog.at_level(logging.ERROR, logger="akida_edge.outbox"):
        assert box.add_detection(TOPIC, "n1", "p", 5_000, {"i": 30})[0] == 0  # refused: held in RAM
        box.add_detection(TOPIC, "n1", "p", 5_001, {"i": 31})
        assert box.check_path()  # the daemon calls it every few seconds
        assert box.store_held() == 0  # held ones stored in the new file, in order
    assert _seqs(box) == list(range(1, 33))  # the 30 waiting kept, and the seq counter continued
    # rows after the salvaged ones are numbered beyond any that may be in flight (a late ack of a
    # lost row deletes by row id)
    assert [m.row for m in box.pending(0, 100)][30:] == [30 + ROW_GAP + 1, 30 + ROW_GAP + 2]
    assert box.add_detection(TOPIC, "n1", "p", 5_002, {"i": 32})[1] == 33
    box.close()
    aside = list(tmp_path.glob("outbox.db.damaged-*"))
    assert len(aside) == 1 and aside[0].stat().st_size > 0  # kept for inspection
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 2 and "damaged" in errors[0] and "free space" not in errors[0]
    assert aside[0].name in errors[1] and "30 waiting" in errors[1]


def test_a_file_that_is_no_database_at_start_is_moved_aside_not_a_refusal_to_start(tmp_path, caplog):
    path = tmp_path / "outbox.db"
    _fill(path, 5)
    path.write_bytes(b"\0" * 100 + path.read_bytes()[100:])  # header gone (SQLITE_NOTADB)
    with caplog.at_level(logging.ERROR, logger="akida_edge.outbox"):
        box = Outbox(path)  # raised StateError: the daemon would not start until someone came
    assert box.error == "" and not box.in_memory
    assert box.add_detection(TOPIC, "n1", "p", 0, {})[1] == 1  # nothing readable: seq starts again
    box.close()
    assert len(list(tmp_path.glob("outbox.db.damaged-*"))) == 1
    assert any("seq counter is unreadable" in r.getMessage() for r in caplog.records)


def test_rows_on_both_sides_of_a_damaged_page_are_kept(tmp_path):
    path = tmp_path / "outbox.db"
    _fill(path, 200, text="x" * 400)  # ~0.5 kB each: many leaf pages
    leaves = _pages(path, "outbox", "leaf")
    _spoil_page(path, leaves[len(leaves) // 2])
    box = Outbox(path)  # opens, and takes writes (at the table's end): the damage shows at a read
    assert box.pending(0, 1000) == []  # the link's read at connect: refused (was: the backlog never went out)
    assert box.check_path()
    box.add_detection(TOPIC, "n1", "p", 0, {})
    seqs = _seqs(box)
    box.close()
    lost = set(range(1, 201)) - set(seqs)
    assert 0 < len(lost) < 30  # one page's rows
    assert min(lost) > 1 and max(lost) < 200  # rows before and after the damaged page are kept
    assert seqs[-1] == 201  # the new detection, after the counter read from the damaged file
