"""The vibration anomaly pipeline: learns normal on the device from a healthy stretch of the
synthetic machine, then reports the fault that develops as one episode (needs apps/anomaly)."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("akida_edge.apps.anomaly.detector", reason="the anomaly app is not installed")

from akida_edge.config import parse_config  # noqa: E402
from akida_edge.pipelines.anomaly import build  # noqa: E402
from akida_edge.pipelines.base import Activity, Detection  # noqa: E402

pytestmark = pytest.mark.integration
START_US = 1_700_000_000_000_000
LEARN_S, FAULT_S, END_S = 20.0, 26.0, 34.0


def _cfg(state_dir, seed: int):
    source = {"type": "synthetic_machine", "seed": seed, "fault": "outer", "severity": 0.5,
              "fault_after_s": FAULT_S, "duration_s": END_S, "start_us": START_US}
    table = {"name": "pump", "type": "anomaly", "source": source,
             "options": {"learn_s": LEARN_S, "state_dir": str(state_dir)}}
    return parse_config({"pipelines": [table]}).pipelines[0]


@pytest.mark.parametrize("seed", [2, 5])
def test_learns_normal_then_reports_the_fault_once(tmp_path, seed):
    from akida_edge.apps.anomaly import features

    p = build(_cfg(tmp_path, seed))
    assert p.describe()["normal"] == "learning"
    items = list(p.run(threading.Event()))
    dets = [i for i in items if isinstance(i, Detection)]
    scored = [i for i in items if isinstance(i, Activity) and i.inferences]
    # one episode, starting at the first window that holds faulty samples, not before
    assert [d.fields["phase"] for d in dets] == ["start"] and dets[0].kind == "anomaly"
    start_s = (dets[0].ts_ms * 1000 - START_US) / 1e6
    assert FAULT_S - features.PARAMS.window_s <= start_s <= FAULT_S + 2 * features.PARAMS.hop_s
    assert dets[0].score > dets[0].fields["threshold"]
    # scoring covers the windows after learning, each with estimated power and the HA state
    assert len(scored) >= (END_S - LEARN_S) / features.PARAMS.hop_s - 3
    assert all(a.synops > 0 and a.chip_power_mw > 0 and a.state["anomaly"] in ("ON", "OFF") for a in scored)
    assert scored[-1].state["anomaly"] == "ON"
    # the learned normal was saved: a second build loads it and scores from the first window
    again = build(_cfg(tmp_path, seed))
    assert again.describe()["normal"] == "loaded"
    assert again.detector.threshold == pytest.approx(dets[0].fields["threshold"], abs=1e-4)


class _SilentSource:
    """A source that gives nothing for a while (a serial port reconnecting), then ends."""

    def __init__(self, empty_reads: int) -> None:
        self.left = empty_reads
        self.ended = False

    def open(self):
        return self

    def read(self, timeout_s=None):
        self.left -= 1
        self.ended = self.left < 0
        return None

    def close(self) -> None:
        pass


@pytest.mark.parametrize("relearn", [True, False])
def test_yields_idle_activity_while_the_source_is_silent(tmp_path, monkeypatch, relearn):
    import akida_edge.pipelines.anomaly as anomaly
    import akida_edge.pipelines.compose as compose

    cfg = _cfg(tmp_path, 2)
    p = build(cfg)
    p.loaded = not relearn  # learning phase, or scoring phase (the detector then needs no normal)
    monkeypatch.setattr(compose, "IDLE_YIELD_S", 0.0)  # the shared source loop
    monkeypatch.setattr(anomaly, "make_source", lambda *a, **k: _SilentSource(3))
    items = list(p.run(threading.Event()))
    assert len(items) == 3 and all(isinstance(i, Activity) and i.inferences == 0 for i in items)


def test_a_normal_of_another_model_is_kept_and_learned_again(tmp_path, caplog):
    from akida_edge.state import StateStore

    def cfg():
        source = {"type": "synthetic_machine", "seed": 3, "duration_s": 7.0, "start_us": START_US}
        table = {"name": "fan", "type": "anomaly", "source": source,
                 "options": {"learn_s": 5.0, "state_dir": str(tmp_path)}}
        return parse_config({"pipelines": [table]}).pipelines[0]

    # learns this machine's normal and saves it (learn_s 5, the smallest, is 9 hops: the pipeline
    # used to stop there, one window short of a fit, and learned nothing)
    list(build(cfg()).run(threading.Event()))
    store = StateStore(tmp_path)
    entry = store.load("anomaly")
    entry.model_hash = "f" * 64  # as if it had been learned on an earlier model
    store.save(entry)
    for kept in tmp_path.glob("anomaly.*.learned"):  # the save kept the real one aside: a device
        kept.unlink()                                 # upgraded from the earlier model has none
    foreign = store.path("anomaly").read_bytes()
    with caplog.at_level("WARNING", logger="akida_edge.pipelines.anomaly"):
        p = build(cfg())  # before: IncompatibleStateError at every retry, the pipeline never ran
    assert p.describe()["normal"] == "learning"
    assert "not on the current model" in caplog.text
    assert "learning normal again from the first 5 s" in caplog.text
    items = list(p.run(threading.Event()))
    assert any(isinstance(i, Activity) and i.state and i.state.get("learning") for i in items)
    assert build(cfg()).describe()["normal"] == "loaded"  # learned again and saved
    assert store.kept_path("anomaly", "f" * 64).read_bytes() == foreign  # the old normal is kept
