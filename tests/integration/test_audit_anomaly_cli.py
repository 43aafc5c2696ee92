"""The anomaly CLI with recordings a user has at hand (session-10 audit): a CSV without a time column
was refused with "give the sample rate", which `anomaly fit` and `score` had no option for (and
`watch --rate-hz` was for serial ports only); a directory was called a file that "does not exist"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from akida_edge.apps.anomaly import features, machines
from akida_edge.apps.anomaly.detector import AnomalyDetector
from akida_edge.cli import main

pytestmark = pytest.mark.integration

MACHINE = machines.random_machine(machines.HELD_OUT_SEED0 + 4242)


def _csv(path, samples: np.ndarray, rate_hz: float | None) -> None:
    """`samples` (n,) as a CSV: with a `time_s` column when `rate_hz` is given, else the axis alone."""
    if rate_hz is None:
        path.write_text("accel_g\n" + "\n".join(f"{v:.6f}" for v in samples) + "\n")
    else:
        t = np.arange(len(samples)) / rate_hz
        rows = (f"{a:.7f},{v:.6f}" for a, v in zip(t, samples, strict=True))
        path.write_text("time_s,accel_g\n" + "\n".join(rows) + "\n")


def test_a_csv_without_time_column_is_read_with_rate_hz_as_one_with_it(tmp_path, capsys):
    x = np.asarray(machines.render(MACHINE, 12.0, 0.0), np.float64).reshape(-1) / 8.0  # one axis
    bare, timed = tmp_path / "bare.csv", tmp_path / "timed.csv"
    _csv(bare, x, None)
    _csv(timed, x, MACHINE.rate_hz)
    state = str(tmp_path / "state")
    assert main(["anomaly", "fit", str(bare), "--state", state]) == 2
    err = capsys.readouterr().err
    assert f"{bare} has no time column" in err and "--rate-hz" in err
    assert main(["anomaly", "fit", str(bare), "--rate-hz", str(MACHINE.rate_hz), "--state", state,
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["windows"] == len(features.windows(x.astype(np.float32)[:, None], MACHINE.rate_hz)) > 10
    assert main(["anomaly", "score", str(bare), "--rate-hz", str(MACHINE.rate_hz), "--state", state,
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["windows"] == report["windows"] and row["is_anomaly"] is False  # its own normal
    # the same samples with a time column need no rate (the rate the column gives)
    assert main(["anomaly", "score", str(timed), "--state", state, "--json"]) == 0
    assert abs(json.loads(capsys.readouterr().out)["windows"] - row["windows"]) <= 1


@pytest.mark.parametrize("rate", ["0", "-5", "nan", "inf", "fast"])
def test_rate_hz_that_is_not_a_rate_is_refused_naming_it(tmp_path, capsys, rate):
    with pytest.raises(SystemExit) as exit_:
        main(["anomaly", "score", str(tmp_path / "x.csv"), "--rate-hz", rate, "--state", str(tmp_path)])
    assert exit_.value.code == 2
    assert f"--rate-hz: {rate!r} is not a sample rate" in capsys.readouterr().err


def test_a_directory_is_named_as_a_directory(tmp_path, capsys):
    assert main(["anomaly", "fit", str(tmp_path), "--state", str(tmp_path / "state")]) == 2
    err = capsys.readouterr().err
    assert f"vibration file {tmp_path} is a directory; give a WAV or CSV recording" in err
    assert "does not exist" not in err


@pytest.mark.parametrize("neurons", ["0", "-1", "many", "2.5"])
def test_neurons_that_are_not_a_count_are_refused_naming_the_option(tmp_path, capsys, neurons):
    """Session-14 audit: `--neurons 0` said "neurons=0 must be >= 1", not naming the option."""
    with pytest.raises(SystemExit) as exit_:
        main(["anomaly", "fit", str(tmp_path / "x.wav"), "--neurons", neurons, "--state", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"--neurons: {neurons!r} is not a number of neurons; give a whole number >= 1" in err


@pytest.mark.parametrize(("options", "named"), [
    (["--axes", "0"], "--source serial: --axes 0 is out of range; use a value in [1, 16]"),
    (["--rate-hz", "500000"],
     "--source serial: --rate-hz 500000.0 is out of range; use a value in [1, 100000]"),
])
def test_serial_options_beyond_the_drivers_range_are_one_line(tmp_path, capsys, options, named):
    """Session-14 audit: `watch --source serial --axes 0` ended in a traceback (the driver config's
    ValueError)."""
    det = AnomalyDetector()
    x = np.asarray(machines.render(MACHINE, 12.0, 0.0), np.float32).reshape(-1, 1)
    det.fit(features.windows(x, MACHINE.rate_hz))
    from akida_edge.state import StateStore

    det.save(StateStore(tmp_path))
    args = ["anomaly", "watch", "--source", "serial", "--port", "/dev/null", "--rate-hz", "100", *options]
    assert main([*args, "--state", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"akida-edge: error: {named}"]


LEAST_S = (AnomalyDetector.MIN_WINDOWS - 1) * features.PARAMS.hop_s + features.PARAMS.window_s


@pytest.mark.parametrize(("options", "named"), [
    (["--learn-s", "5"], f"--learn-s 5: give 0 (use the saved normal) or {LEAST_S:g}..86400 s"),
    (["--learn-s", "-3"], "--learn-s -3: give 0"),
    (["--learn-s", "nan"], "--learn-s nan: give 0"),
    (["--learn-s", "10", "--duration-s", "-1"], "--duration-s -1: give seconds > 0"),
    (["--learn-s", "10", "--duration-s", "8"], "--duration-s 8 ends before --learn-s 10 is learned"),
    (["--learn-s", "10", "--fault-after-s", "-2", "--duration-s", "20"],
     "--fault-after-s -2: give seconds >= 0"),
])
def test_watch_options_that_cannot_work_are_refused_before_watching(tmp_path, capsys, options, named):
    """Before: --learn-s 5 watched 5 s then failed (9 windows, a fit needs 10); a negative one asked
    for a fit; a duration shorter than the learning failed after it."""
    assert main(["anomaly", "watch", "--state", str(tmp_path), *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]


def test_watch_learns_from_the_least_learn_s_it_accepts(tmp_path, capsys):
    assert main(["anomaly", "watch", "--state", str(tmp_path), "--learn-s", f"{LEAST_S:g}",
                 "--duration-s", f"{LEAST_S + 1:g}", "--json"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["event"] == "learned" and first["windows"] == AnomalyDetector.MIN_WINDOWS


@pytest.mark.parametrize("seconds", [0.0, 0.6])
def test_score_of_a_recording_shorter_than_a_window_is_an_error_not_normal(tmp_path, capsys, seconds):
    """Session-14 audit: a WAV with 0 frames, or shorter than one 1-s window, was scored "normal
    score n/a (max None ...)" with exit 0 (`is_anomaly: false` with --json), a verdict on nothing,
    while `fit` and `watch --source file` refuse such a file; the good file beside it is still scored."""
    from akida_edge.drivers.wavfile import write_wav

    x = np.asarray(machines.render(MACHINE, 12.0, 0.0), np.float32).reshape(-1) / 8.0
    good, short = tmp_path / "good.wav", tmp_path / "short.wav"
    write_wav(good, x, MACHINE.rate_hz)
    write_wav(short, x[:int(seconds * MACHINE.rate_hz)], MACHINE.rate_hz)
    state = str(tmp_path / "state")
    assert main(["anomaly", "fit", str(good), "--state", state]) == 0
    capsys.readouterr()
    assert main(["anomaly", "score", str(short), str(good), "--json", "--state", state]) == 1
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"file": str(short), "error": f"{short} is shorter than one "
                       f"{features.PARAMS.window_s:g} s window; give a recording of at least that long"}
    assert rows[1]["file"] == str(good) and rows[1]["windows"] > 10 and rows[1]["is_anomaly"] is False
    assert err.strip().splitlines() == [f"akida-edge: error: {rows[0]['error']}"]


def test_a_time_column_in_whole_microseconds_scores_as_the_samples_do(tmp_path, capsys):
    """Session-27 audit: timestamps rounded to 1 µs made the median step 1 µs off the true one (0.6 %
    off the rate at 12 kHz), and the same normal samples scored as an anomaly with a time column."""
    x = np.asarray(machines.render(MACHINE, 12.0, 0.0), np.float64).reshape(-1) / 8.0
    bare, timed = tmp_path / "bare.csv", tmp_path / "timed.csv"
    _csv(bare, x, None)
    t = np.arange(len(x)) / MACHINE.rate_hz
    timed.write_text("t,accel_g\n" + "".join(f"{a:.6f},{v:.6f}\n" for a, v in zip(t, x, strict=True)))
    state = str(tmp_path / "state")
    assert main(["anomaly", "fit", str(bare), "--rate-hz", str(MACHINE.rate_hz), "--state", state]) == 0
    capsys.readouterr()
    scores = []
    for f, extra in ((bare, ["--rate-hz", str(MACHINE.rate_hz)]), (timed, [])):
        assert main(["anomaly", "score", str(f), *extra, "--state", state, "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out))
    assert scores[1]["is_anomaly"] is False
    assert scores[1]["anomaly_score"] == pytest.approx(scores[0]["anomaly_score"], abs=0.02)
    # a rate that contradicts the column is refused, naming both
    wrong_rate = str(3 * MACHINE.rate_hz)
    assert main(["anomaly", "score", str(timed), "--rate-hz", wrong_rate, "--state", state]) == 1
    err = capsys.readouterr().err
    assert f"{timed}: its column 't' gives" in err and "drop the given rate" in err
