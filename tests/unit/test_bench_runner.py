"""The bench runner: suites are listed without importing them; a missing optional dependency is one line."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from akida_edge.bench import runner

pytestmark = pytest.mark.unit


def test_suites_are_named_after_their_files():
    import akida_edge.bench as pkg

    names = runner.suite_names()
    assert names and "runner" not in names and "timing" not in names
    for name in names:
        tree = ast.parse((Path(pkg.__path__[0]) / f"{name}.py").read_text(encoding="utf-8"))
        suite = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "SUITE" for t in node.targets)]
        assert suite == [name]


def test_building_the_cli_imports_no_suite():
    code = ("import json, sys\nfrom akida_edge.cli import build_parser\nbuild_parser()\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('akida_edge.bench.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["akida_edge.bench.runner"]
    assert not set(runner.suite_names()) & {m.rsplit(".", 1)[1] for m in json.loads(out)}


def test_missing_optional_dependency_is_one_line(monkeypatch, capsys):
    from akida_edge.bench import engine
    from akida_edge.cli import main

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the dev extras were not installed
    monkeypatch.setattr(engine, "run", lambda progress=None: engine.onnx_session(None))
    assert main(["bench", "engine"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith("akida-edge: error: benchmark suite engine")
    assert "needs onnx" in err[-1] and "bash scripts/setup.sh --dev" in err[-1]


def test_unknown_suite_lists_the_known_ones(capsys):
    from akida_edge.cli import main

    assert main(["bench", "nosuch"]) == 2
    assert ", ".join(runner.suite_names()) in capsys.readouterr().err


def test_the_machine_names_the_software_the_figures_come_from(monkeypatch):
    import numpy

    m = runner.machine()
    assert m["software"]["numpy"] == numpy.__version__ and m["cores"] >= 1
    monkeypatch.setattr(runner, "PACKAGES", ("numpy", "no-such-package-akida-edge"))
    monkeypatch.setattr(runner, "TOOLS", {"nothere": ["/nonexistent/akida-edge-tool", "--version"]})
    soft = runner.software()
    assert soft == {"numpy": numpy.__version__, "no-such-package-akida-edge": "missing", "nothere": "missing"}
    table = runner.format_table({"learn": {"x": 1.0}, "machine": {**m, "software": soft}})
    want = f"software: numpy {numpy.__version__}, no-such-package-akida-edge missing, nothere missing"
    assert table.splitlines()[-1] == want


def test_the_machine_names_the_cpu_family_and_its_simd(monkeypatch, tmp_path):
    """A virtual machine's model name may say only "AMD EPYC": the family/model and the SIMD flags
    tell an AVX2 machine from an AVX-512 one (session 23: the machine had changed unnoticed)."""
    info = tmp_path / "cpuinfo"
    block = ("processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
             "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512_vnni\n\n")
    info.write_text(block.format(n=0) + block.format(n=1).replace("26", "25"), encoding="utf-8")
    monkeypatch.setattr(runner, "CPUINFO", str(info))
    monkeypatch.setattr(runner, "software", lambda: {"numpy": "9"})
    m = runner.machine()
    assert m["cpu"] == "AMD EPYC" and m["cpu_family_model"] == "26/2"  # the first processor's
    assert m["simd"] == ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"]
    table = runner.format_table({"machine": m})
    assert "machine: AMD EPYC (family/model 26/2; avx2 fma avx512f avx512bw avx512_vnni), " in table
    info.write_text("model name\t: Some ARM\n", encoding="utf-8")
    m = runner.machine()
    assert m["cpu"] == "Some ARM" and "simd" not in m and "cpu_family_model" not in m
    monkeypatch.setattr(runner, "CPUINFO", str(tmp_path / "none"))
    assert runner.machine()["cpu"]  # no /proc/cpuinfo: the platform's name
