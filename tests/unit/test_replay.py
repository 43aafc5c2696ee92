"""The replay log kept with a learned state (`akida_edge.replay`): it round-trips the learn calls
in order, caps a label's items, forgets, and refuses what it cannot replay."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from akida_edge.replay import ReplayLog

pytestmark = pytest.mark.unit

PREFIX = "log/"
EMPTY = np.zeros((0, 4), np.float32)


def item(rng: np.random.Generator, length: int) -> tuple[np.ndarray, int]:
    return rng.normal(size=(length, 4)).astype(np.float32), int(rng.integers(0, 5))


def same(a, b) -> bool:
    return np.array_equal(a[0], b[0]) and a[1] == b[1]


def filled(rng: np.random.Generator, per_label: int = 10) -> ReplayLog:
    log = ReplayLog("settings-1", per_label)
    log.add("banana", [item(rng, 7) for _ in range(3)])
    log.add("yes", [item(rng, 5) for _ in range(2)])
    log.add("banana", [item(rng, 9)])
    return log


def test_the_state_layout_round_trips_the_learn_calls_in_order(rng):
    log = filled(rng)
    again = ReplayLog.from_state(PREFIX, *log.to_state(PREFIX, EMPTY), per_label=10)
    assert [w for w, _ in again.calls()] == ["banana", "yes", "banana"]
    assert [len(c) for _, c in again.calls()] == [3, 2, 1]
    for (_, a), (_, b) in zip(log.calls(), again.calls(), strict=True):
        assert all(same(x, y) for x, y in zip(a, b, strict=True))
    assert again.source == "settings-1" and again.count("banana") == 4
    assert again.why_not_replayable("settings-1") is None


def test_an_empty_log_stores_and_a_state_without_one_reads_as_empty(rng):
    extra, arrays = ReplayLog("s", 5).to_state(PREFIX, EMPTY)
    assert arrays[PREFIX + "data"].shape == (0, 4)
    assert ReplayLog.from_state(PREFIX, extra, arrays, per_label=5).calls() == []
    bare = ReplayLog.from_state(PREFIX, {}, {}, per_label=5)
    assert bare.source == "" and "keeps no clips" in bare.why_not_replayable("s")


def test_forgetting_a_label_drops_its_items_and_its_learn_calls(rng):
    log = filled(rng)
    log.unkept = ["banana", "yes"]
    yes = log.calls()[1][1]
    log.forget("banana")
    assert log.call_labels == ["yes"] and log.count("banana") == 0 and log.unkept == ["yes"]
    assert len(log.calls()) == 1 and all(same(a, b) for a, b in zip(log.calls()[0][1], yes, strict=True))
    again = ReplayLog.from_state(PREFIX, *log.to_state(PREFIX, EMPTY), per_label=10)
    assert again.call_labels == ["yes"] and again.unkept == ["yes"]


def test_over_the_cap_the_oldest_items_go_and_are_counted(rng, caplog):
    log = filled(rng, per_label=4)  # banana 4, yes 2
    newest = [item(rng, 6) for _ in range(3)]
    with caplog.at_level(logging.WARNING, logger="akida_edge.replay"):
        log.add("banana", newest)
    assert log.count("banana") == 4 and log.count("yes") == 2 and log.dropped == {"banana": 3}
    assert "3 oldest were dropped" in caplog.text
    # what is left of banana: the last item of its second call, then the new call's three
    assert [w for w, _ in log.calls()] == ["yes", "banana", "banana"]
    assert same(log.calls()[2][1][0], newest[0]) and not same(log.calls()[1][1][0], newest[0])
    assert ReplayLog.from_state(PREFIX, *log.to_state(PREFIX, EMPTY), per_label=4).dropped == {"banana": 3}


def test_other_settings_or_inconsistent_arrays_are_refused(rng):
    extra, arrays = filled(rng).to_state(PREFIX, EMPTY)
    log = ReplayLog.from_state(PREFIX, extra, arrays, per_label=10)
    assert "other input settings (settings-1)" in log.why_not_replayable("settings-2")
    with pytest.raises(ValueError, match="inconsistent"):
        short = dict(arrays, **{PREFIX + "length": arrays[PREFIX + "length"][:-1]})
        ReplayLog.from_state(PREFIX, extra, short, per_label=10)
    with pytest.raises(ValueError, match="inconsistent"):
        ReplayLog.from_state(PREFIX, dict(extra, **{PREFIX + "labels": ["banana"]}), arrays, per_label=10)
    with pytest.raises(ValueError, match="lack the array"):
        ReplayLog.from_state(PREFIX, extra, {k: v for k, v in arrays.items() if k != PREFIX + "mark"},
                             per_label=10)
    with pytest.raises(ValueError, match="shape this app cuts"):
        ReplayLog.from_state(PREFIX, extra, arrays, per_label=10, valid=lambda it: len(it[0]) > 5)
