"""Learned state on a disk that refuses writes (ENOSPC at the write itself): what was learned is
used, the failure is surfaced, and it is saved once the disk takes writes again."""

from __future__ import annotations

import errno
import threading

import pytest

pytest.importorskip("akida_edge.apps.anomaly.detector", reason="the anomaly app is not installed")

from akida_edge import statefile  # noqa: E402
from akida_edge.config import parse_config  # noqa: E402
from akida_edge.pipelines.base import Activity, Detection  # noqa: E402

pytestmark = pytest.mark.integration
START_US = 1_700_000_000_000_000


def _no_space(path, data, before_rename=None):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def _anomaly_cfg(state_dir):
    source = {"type": "synthetic_machine", "seed": 2, "fault": "outer", "severity": 0.5,
              "fault_after_s": 26.0, "duration_s": 34.0, "start_us": START_US}
    table = {"name": "pump", "type": "anomaly", "source": source,
             "options": {"learn_s": 20.0, "state_dir": str(state_dir)}}
    return parse_config({"pipelines": [table]}).pipelines[0]


def test_anomaly_normal_that_cannot_be_saved_is_used_and_saved_when_space_returns(tmp_path, monkeypatch,
                                                                                   caplog):
    import akida_edge.pipelines.anomaly as anomaly

    p = anomaly.build(_anomaly_cfg(tmp_path / "state"))
    monkeypatch.setattr(statefile, "_atomic_write", _no_space)  # the disk is full
    monkeypatch.setattr(anomaly, "SAVE_RETRY_S", 0.0, raising=False)
    items, freed = [], False
    with caplog.at_level("ERROR", logger="akida_edge.pipelines.anomaly"):
        for item in p.run(threading.Event()):
            items.append(item)
            if not freed and isinstance(item, Activity) and item.inferences:  # scoring without a save
                assert p.describe()["normal"] == "learned, not saved"
                monkeypatch.undo()  # space returns
                monkeypatch.setattr(anomaly, "SAVE_RETRY_S", 0.0, raising=False)
                freed = True
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "No space left on device" in errors[0]
    assert str(tmp_path / "state" / "anomaly") in errors[0]  # names the file
    assert freed and p.describe()["normal"] == "loaded"
    # the fault is still reported, and the normal is on disk: the next start loads it
    assert [i.fields["phase"] for i in items if isinstance(i, Detection)] == ["start"]
    assert anomaly.build(_anomaly_cfg(tmp_path / "state")).describe()["normal"] == "loaded"
