"""The anomaly app end to end on the shipped backbone: learning normal, scores, CLI, state, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from akida_edge.apps.anomaly import features, machines
from akida_edge.apps.anomaly.detector import AnomalyDetector
from akida_edge.cli import main
from akida_edge.drivers.wavfile import write_wav
from akida_edge.errors import InputDataError
from akida_edge.state import StateStore

pytestmark = pytest.mark.integration

MACHINE = machines.random_machine(machines.HELD_OUT_SEED0 + 4242)  # never seen in training
FIT_S, TEST_S = 60.0, 10.0


def _render(fault: str = "none", severity: float = 0.0, start_s: float = 0.0, seconds: float = TEST_S):
    cfg = machines.with_fault(MACHINE, fault, severity, seed=MACHINE.seed + (0 if fault == "none" else 17))
    return machines.render(cfg, seconds, start_s)


@pytest.fixture(scope="module")
def fitted() -> AnomalyDetector:
    det = AnomalyDetector()
    det.fit(features.windows(_render(seconds=FIT_S), MACHINE.rate_hz))
    return det


def test_faults_score_above_held_out_normal(fitted):
    normal = fitted.score(features.windows(_render(start_s=FIT_S), MACHINE.rate_hz))
    # the threshold is derived from held-out normal windows of the fit: few new normal windows pass it
    assert np.mean(normal > fitted.threshold) <= 0.1
    for fault in machines.FAULT_TYPES:
        s = fitted.score(features.windows(_render(fault, 0.5, start_s=FIT_S), MACHINE.rate_hz))
        assert np.median(s) > fitted.threshold, fault
        assert np.median(s) > np.quantile(normal, 0.95), fault


def test_state_reload_gives_the_same_scores(fitted, tmp_path):
    store = StateStore(tmp_path / "state")
    fitted.save(store)
    values = features.windows(_render("ball", 0.3, start_s=FIT_S), MACHINE.rate_hz)
    again = AnomalyDetector()  # a restart: a fresh detector from the same backbone
    assert again.load(store)
    np.testing.assert_array_equal(again.score(values), fitted.score(values))
    assert again.threshold == fitted.threshold
    assert not AnomalyDetector().load(StateStore(tmp_path / "empty"))


def _write_csv(path, x: np.ndarray, rate_hz: float) -> None:
    t = np.arange(len(x)) / rate_hz
    rows = "\n".join(f"{a:.9f},{b:.6f}" for a, b in zip(t, x[:, 0], strict=True))
    path.write_text("time_s,accel_g\n" + rows + "\n")


def test_cli_fit_score_round_trip_with_wav_csv_and_bad_files(tmp_path, capsys):
    state = str(tmp_path / "state")
    normal_wav = tmp_path / "normal.wav"
    peak = 8.0  # WAV samples are in [-1, 1): scale g by a fixed factor (scores are scale-aware)
    write_wav(normal_wav, _render(seconds=FIT_S) / peak, int(MACHINE.rate_hz), bits=16)
    assert main(["anomaly", "score", str(normal_wav), "--state", state]) == 2
    assert "anomaly fit" in capsys.readouterr().err

    assert main(["anomaly", "fit", str(normal_wav), "--state", state, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["windows"] == len(features.windows(_render(seconds=FIT_S), MACHINE.rate_hz))

    held_out = tmp_path / "held_out.wav"
    write_wav(held_out, _render(start_s=FIT_S) / peak, int(MACHINE.rate_hz), bits=16)
    faulty = tmp_path / "inner.csv"
    _write_csv(faulty, _render("inner", 0.5, start_s=FIT_S) / peak, MACHINE.rate_hz)
    broken = tmp_path / "broken.csv"
    broken.write_text("time_s,accel_g\n0.0,1.0\n0.1,oops\n")
    missing = tmp_path / "missing.wav"
    code = main(["anomaly", "score", str(held_out), str(broken), str(faulty), str(missing),
                 "--state", state, "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    rows = {r["file"]: r for r in map(json.loads, out.splitlines())}
    assert set(rows) == {str(held_out), str(broken), str(faulty), str(missing)}
    assert "error" in rows[str(broken)] and "oops" in rows[str(broken)]["error"]
    assert "error" in rows[str(missing)]
    assert len(err.strip().splitlines()) == 2  # one line per bad file
    assert rows[str(held_out)]["is_anomaly"] is False
    assert rows[str(faulty)]["is_anomaly"] is True
    assert rows[str(faulty)]["anomaly_score"] > rows[str(held_out)]["anomaly_score"]
    ep = rows[str(faulty)]["episodes"][0]
    assert ep["start_s"] >= 0 and ep["end_s"] > ep["start_s"]

    # a restart of the CLI reads the same state: same scores
    assert main(["anomaly", "score", str(faulty), "--state", state, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == rows[str(faulty)]


def test_watch_learns_then_reports_an_episode(tmp_path, capsys):
    code = main(["anomaly", "watch", "--source", "synthetic", "--learn-s", "15", "--fault", "outer",
                 "--severity", "0.5", "--fault-after-s", "5", "--duration-s", "30", "--json",
                 "--state", str(tmp_path / "state")])
    assert code == 0
    out = capsys.readouterr()
    events = [json.loads(line) for line in out.out.splitlines()]
    assert events[0]["event"] == "learned"
    # the silent learning phase is announced first, on stderr (stdout stays JSON)
    assert "learning normal from the first 15 s of the synthetic source" in out.err
    starts = [e for e in events if e["event"] == "episode_start"]
    assert starts, "the injected fault opened no episode"
    # the fault begins 5 s into watching; the first window overlapping it starts 0.5 s earlier
    assert starts[0]["start_s"] >= 15 + 5 - features.PARAMS.window_s
    assert StateStore(tmp_path / "state").load("anomaly") is not None


def test_train_small_smoke(tmp_path):
    from akida_edge.apps.anomaly import train
    from akida_edge.engine.modelfile import load_model

    out = tmp_path / "b.aem"
    assert train.main(["--small", "--out", str(out)]) == 0
    model = load_model(str(out))
    assert model.metadata["encoder"]["type"] == "deviation"
    assert len(model.metadata["encoder"]["step_floor"]) == features.N_FEATURES
    assert model.layers[-1].act_bits == 1  # ends at the binary feature layer
    assert model.input_shape == (1, 1, features.N_FEATURES)


def test_detector_refuses_what_it_cannot_score(fitted, tmp_path):
    from akida_edge.errors import InputDataError, StateError
    from akida_edge.state import IncompatibleStateError

    values = features.windows(_render(seconds=4.0), MACHINE.rate_hz)
    with pytest.raises(StateError, match="anomaly fit"):
        AnomalyDetector().score(values)
    with pytest.raises(InputDataError, match="axes"):
        fitted.score(np.concatenate([values, values], axis=1))  # two axes, learned on one
    with pytest.raises(InputDataError, match="at least"):
        AnomalyDetector().fit(values[:3])
    store = StateStore(tmp_path / "state")
    fitted.save(store)
    other = AnomalyDetector()
    other.encoder = {**other.encoder, "step_sigma": 2.0}  # a backbone file with other encoder settings
    with pytest.raises(IncompatibleStateError, match="encoder"):
        other.load(store)
    assert other.model.learning is None  # nothing half-installed


def test_a_recording_too_large_at_the_analysis_rate_is_refused_naming_the_split(tmp_path, capsys,
                                                                                 monkeypatch, rng):
    """A slow logger's long file was upsampled to 12 kHz whole (a day at 1 Hz: 4 GB per axis) and
    could exhaust memory; now one line per file with the length to split it into."""
    monkeypatch.setattr(features, "MAX_ANALYSIS_BYTES", 48_000 * 60)  # 60 s of one axis at 12 kHz
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _write_csv(small, rng.normal(size=(500, 1)), 10.0)  # 50 s at 10 Hz
    _write_csv(large, rng.normal(size=(700, 1)), 10.0)  # 70 s at 10 Hz
    assert features.load_windows(small)[1] == pytest.approx(10.0)
    with pytest.raises(InputDataError, match=r"large.csv: 70 s of 1-axis vibration .* at most 60 s"):
        features.load_windows(large)
    assert main(["anomaly", "fit", str(small), str(large), "--state", str(tmp_path / "st")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len([e for e in err if "large.csv" in e and "split it" in e]) == 1  # the other file is fitted
    assert "Traceback" not in "\n".join(err) and StateStore(tmp_path / "st").load("anomaly") is not None


def test_watch_keeps_the_saved_normal_when_the_file_ends_before_learning_does(tmp_path, capsys):
    """Session-27 audit: `watch --source file` on a 6 s recording with `--learn-s 10` learned from
    the 5.5 s there were, replaced the saved normal and exited 0."""
    state = str(tmp_path / "state")
    healthy = tmp_path / "healthy.csv"
    _write_csv(healthy, _render("none", 0.0, start_s=0.0)[: int(6 * MACHINE.rate_hz)], MACHINE.rate_hz)
    assert main(["anomaly", "fit", str(healthy), "--state", state]) == 0
    saved = (tmp_path / "state" / "anomaly.learned").read_bytes()
    capsys.readouterr()
    assert main(["anomaly", "watch", "--source", "file", "--file", str(healthy), "--learn-s", "10",
                 "--state", state]) == 2
    err = capsys.readouterr().err
    assert "file source ended after 6 s of the 10 s to learn; the saved normal is kept" in err
    assert (tmp_path / "state" / "anomaly.learned").read_bytes() == saved
