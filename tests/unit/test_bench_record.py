"""The recorded figures (bench/record.py): a run compared with the record, the record written by
scripts/record_bench.py, and one-line errors for a file that is not a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from akida_edge.bench import record, runner
from akida_edge.errors import AkidaEdgeError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MACHINE = {"cpu": "AMD EPYC", "cores": 2, "python": "3.11.7", "cpu_family_model": "26/2",
           "simd": ["avx2", "avx512f"], "software": {"numpy": "2.4.6", "onnxruntime": "1.32.0"}}


def _run(**figures):
    return {"kws": figures, "machine": MACHINE}


def test_flatten_keeps_numbers_and_names_nested_ones():
    flat = record.flatten({"accuracy": 0.88, "by_snr": {"clean": 0.9, "0": 0.7}, "voice": "joe",
                           "ok": True, "n": 300, "none": None, "suite_seconds": 12.0})
    assert flat == {"accuracy": 0.88, "by_snr.clean": 0.9, "by_snr.0": 0.7, "n": 300.0}


def test_compare_counts_equal_figures_and_lists_the_moved_ones():
    recorded = record.load_data(_run(accuracy=0.88, ms=0.5, gone=1, by={"a": 0.25}), "x")
    now = {"kws": {"accuracy": 0.88004, "ms": 0.32, "new": 2, "by": {"a": 0.25}, "suite_seconds": 9},
           "vision": {"accuracy": 1.0},
           "machine": {**MACHINE, "cpu_family_model": "25/1",
                       "software": {"numpy": "2.3.0", "torch": "2.13.0"}}}
    cmp = record.compare(now, recorded)
    assert cmp["not_recorded"] == ["vision"]
    kws = cmp["kws"]
    assert kws["equal"] == 2  # accuracy equal to 4 significant digits, by.a
    assert kws["differ"] == {"ms": [0.5, 0.32]}
    assert kws["only_recorded"] == ["gone"] and kws["only_now"] == ["new"]
    assert kws["setup"] == {"cpu_family_model": ["26/2", "25/1"], "numpy": ["2.4.6", "2.3.0"],
                            "onnxruntime": ["1.32.0", "not recorded"], "torch": ["not recorded", "2.13.0"]}
    text = record.format_comparison(cmp, "the record")
    assert "[kws] 2 figures equal the record, 1 differ" in text
    assert "0.5 -> 0.32 (-0.18, x0.64)" in text
    assert "numpy 2.3.0 (recorded 2.4.6)" in text and "no recorded figures for: vision" in text


def test_the_same_run_equals_its_record():
    run = _run(accuracy=0.88, by={"a": 1, "b": 0.5})
    cmp = record.compare(run, record.merge({}, record.load_data(run, "run"), "2026-11-29"))
    assert cmp == {"kws": {"date": "2026-11-29", "equal": 3, "differ": {}, "only_recorded": [],
                           "only_now": [], "setup": {}}}


@pytest.mark.parametrize("text, says", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a benchmark record"),
    ('{"machine": {}}', "no suite's figures"),
    ('{"suites": {"kws": {"date": "x"}}}', "'figures'"),
])
def test_a_file_that_is_not_a_run_is_one_line_naming_it(tmp_path, text, says):
    path = tmp_path / "run.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AkidaEdgeError) as err:
        record.load(path)
    assert str(path) in str(err.value) and says in str(err.value) and "\n" not in str(err.value)


def test_a_missing_file_says_what_to_give(tmp_path):
    with pytest.raises(AkidaEdgeError, match="no such file .*bench --json"):
        record.load(tmp_path / "nope.json")


def test_cli_refuses_a_bad_compare_file_before_running_any_suite(monkeypatch, capsys, tmp_path):
    from akida_edge.cli import main

    monkeypatch.setattr(runner, "run_suites", lambda *a, **k: pytest.fail("the suites ran"))
    assert main(["bench", "--baseline", str(tmp_path / "nope.json"), "engine"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("akida-edge: error:") and "nope.json" in err[0]


def test_cli_compares_a_run_with_an_earlier_one(monkeypatch, capsys, tmp_path):
    from akida_edge.cli import main

    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps(_run(accuracy=0.9, ms=1.0)), encoding="utf-8")
    monkeypatch.setattr(runner, "run_suites", lambda names, progress=None: _run(accuracy=0.9, ms=2.0))
    assert main(["bench", "--baseline", str(earlier), "kws"]) == 0
    out = capsys.readouterr().out
    assert f"compared with {earlier}:" in out and "[kws] 1 figures equal the record, 1 differ" in out
    assert main(["bench", "--json", "--baseline", str(earlier), "kws"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["compared"]["kws"]["differ"] == {"ms": [1.0, 2.0]} and data["kws"]["ms"] == 2.0


def test_the_shipped_record_loads_and_names_its_machine():
    suites = record.load()
    assert set(suites) == set(runner.suite_names()), "every suite has recorded figures"
    for name, entry in suites.items():
        assert entry["date"] and entry["figures"], name
        assert {"cpu_family_model", "simd", "software"} <= set(entry["machine"]), name


def _script(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "scripts/record_bench.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_record_bench_merges_runs_suite_by_suite(tmp_path):
    rec = tmp_path / "recorded.json"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"kws": {"accuracy": 0.8}, "learn": {"x": 1}, "machine": MACHINE}),
                 encoding="utf-8")
    b.write_text(json.dumps({"kws": {"accuracy": 0.9}, "machine": MACHINE}), encoding="utf-8")
    done = _script(a, b, "--date", "2026-11-29", "--record", rec)
    assert done.returncode == 0, done.stderr
    suites = json.loads(rec.read_text(encoding="utf-8"))["suites"]
    assert suites["kws"]["figures"] == {"accuracy": 0.9} and suites["learn"]["figures"] == {"x": 1}
    assert suites["kws"]["date"] == "2026-11-29" and suites["kws"]["machine"] == MACHINE
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("bad", ["date", "file"])
def test_record_bench_errors_are_one_line_and_keep_the_record(tmp_path, bad):
    rec = tmp_path / "recorded.json"
    rec.write_text(json.dumps({"suites": {"kws": {"figures": {"a": 1}, "date": "d", "machine": {}}}}),
                   encoding="utf-8")
    before = rec.read_text(encoding="utf-8")
    run = tmp_path / "run.json"
    run.write_text("{}" if bad == "date" else "garbage", encoding="utf-8")
    args = [run, "--record", rec] + (["--date", "29/11/2026"] if bad == "date" else [])
    done = _script(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert ("29/11/2026" if bad == "date" else str(run)) in done.stderr
    assert rec.read_text(encoding="utf-8") == before


def test_cli_compare_takes_the_suites_after_it(monkeypatch, capsys):
    """`bench --compare engine` runs the engine suite and compares it with the record (the flag
    takes no value: a suite name after it is a suite)."""
    from akida_edge.cli import main

    ran = []
    recorded = record.load()

    def fake(names, progress=None):
        ran.append(names)
        return {"engine": dict(recorded["engine"]["figures"]), "machine": recorded["engine"]["machine"]}

    monkeypatch.setattr(runner, "run_suites", fake)
    assert main(["bench", "--compare", "engine"]) == 0
    out = capsys.readouterr().out
    assert ran == [["engine"]]
    n = len(record.flatten(recorded["engine"]["figures"]))
    assert f"[engine] {n} figures equal the record of {recorded['engine']['date']}, 0 differ" in out
