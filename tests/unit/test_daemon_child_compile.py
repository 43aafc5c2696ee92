"""A cold first start compiles the kernels in a child process (`warm.ChildCompile`), so the
daemon does not keep the compiler's memory (measured: ~570 MB after compiling itself, ~240 MB
after loading the cache); its pipelines are built once the child is done, and a child that fails
leaves them to compile in the daemon, as before, with a warning. Here the child is a small fake
script and the build a fake; the cache's mark (`warm.MARK`) is tested on a temporary cache."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

import akida_edge.daemon as daemon_module
from akida_edge import warm
from akida_edge.config import load_config
from akida_edge.mqtt.testbroker import free_port
from akida_edge.pipelines.base import Activity

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


class _Idle:
    """A built pipeline that reports progress until stopped."""

    def run(self, stop_event):
        while not stop_event.wait(0.05):
            yield Activity()


def _config(tmp_path) -> Path:
    """An embedded broker on a free port and one built-in pipeline."""
    path = tmp_path / "config.toml"
    path.write_text(f'[mqtt]\nport = {free_port()}\ndiscovery = false\n'
                    f'[state]\ndir = "{tmp_path / "state"}"\n'
                    '[[pipelines]]\nname = "pump"\ntype = "anomaly"\n'
                    'source = { type = "synthetic_machine" }\n')
    return path


def _start(tmp_path, monkeypatch, child_code: int, child_s: float = 0.3, online: bool = True):
    """A daemon on a cold cache whose child takes `child_s`, writes `compiled` and exits
    `child_code`; the build records whether the child had finished."""
    done = tmp_path / "compiled"
    script = (f"import sys, time; print('akida-edge warm: fake compile', file=sys.stderr); "
              f"time.sleep({child_s}); open({str(done)!r}, 'w').close(); sys.exit({child_code})")
    monkeypatch.setattr(warm, "cache_is_warm", lambda: False)
    monkeypatch.setattr(warm, "child_command", lambda path: [sys.executable, "-c", script, str(path)])
    built_after_child = []

    def build(cfg):
        built_after_child.append(done.exists())
        return _Idle()

    monkeypatch.setattr(daemon_module, "build_pipeline", build)
    daemon = daemon_module.Daemon(load_config(_config(tmp_path)))
    daemon.start()
    deadline = time.monotonic() + 20
    while online and daemon.runners["pump"].status != "online" and time.monotonic() < deadline:
        time.sleep(0.05)
    return daemon, built_after_child


def test_a_cold_start_compiles_in_a_child_and_the_pipelines_come_online_after_it(tmp_path, monkeypatch,
                                                                                caplog):
    with caplog.at_level(logging.INFO):
        daemon, built_after_child = _start(tmp_path, monkeypatch, 0)
        try:
            assert daemon.runners["pump"].status == "online"
            assert built_after_child == [True]  # built from the cache the child left
            assert daemon.compile_child is not None and daemon.compile_child.ok
        finally:
            daemon.shutdown()
    said = [r.getMessage() for r in caplog.records]
    assert any("kernel cache is cold" in m and "child process" in m for m in said)
    assert "akida-edge warm: fake compile" in said  # the child's progress, in the daemon's log
    assert not [m for m in said if "failed" in m]


def test_a_child_that_fails_leaves_the_compile_to_the_daemon_and_says_so(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO):
        daemon, built_after_child = _start(tmp_path, monkeypatch, 3)
        try:
            assert daemon.runners["pump"].status == "online"
            assert built_after_child == [True]  # after the child ended, in this process
            assert not daemon.compile_child.ok
        finally:
            daemon.shutdown()
    (warning,) = [r.getMessage() for r in caplog.records if "child process failed" in r.getMessage()]
    assert "exit 3" in warning and "in this process instead" in warning


def test_a_stop_while_the_child_compiles_ends_it_and_builds_nothing(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO):
        daemon, built_after_child = _start(tmp_path, monkeypatch, 0, child_s=60.0, online=False)
        try:
            # raced: a fixed 0.5 s for the child to be started and the runner to be waiting for it;
            # a loaded machine had started neither: wait for both (the child runs 60 s)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (daemon.compile_child._proc is None
                                                   or daemon.runners["pump"].building_since is None):
                time.sleep(0.02)
            assert daemon.compile_child._proc is not None  # the child compiles
            assert daemon.runners["pump"].building_since is not None  # waiting: within the build grace
        finally:
            daemon.shutdown()
    assert daemon.compile_child._proc.poll() is not None  # the child was ended
    assert built_after_child == [] and not daemon.runners["pump"].thread.is_alive()
    assert not [r for r in caplog.records if "failed" in r.getMessage()]


def test_a_stop_before_the_child_is_started_starts_none(tmp_path, monkeypatch):
    """The daemon stopped before the compile thread had started its child (a loaded machine):
    `stop` found no child to end, and the child started after it, compiling for minutes after
    the daemon was gone."""
    import threading

    started = []
    monkeypatch.setattr(warm.subprocess, "Popen", lambda *a, **k: started.append(a) or pytest.fail("started"))
    child = warm.ChildCompile(None)
    gate = threading.Event()
    run = child._thread._target
    child._thread = threading.Thread(target=lambda: (gate.wait(10), run()), daemon=True)
    child.start()  # its thread is held at the gate: the child not started yet
    stopper = threading.Thread(target=child.stop)
    stopper.start()
    deadline = time.monotonic() + 10
    while not child._stopping and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    stopper.join(20)
    assert not stopper.is_alive() and child.done.is_set()
    assert started == [] and child._proc is None and not child.ok


def test_a_warm_cache_starts_no_child(tmp_path, monkeypatch):
    monkeypatch.setattr(warm, "cache_is_warm", lambda: True)
    monkeypatch.setattr(warm, "child_command", lambda path: pytest.fail("a child on a warm cache"))
    monkeypatch.setattr(daemon_module, "build_pipeline", lambda cfg: _Idle())
    daemon = daemon_module.Daemon(load_config(_config(tmp_path)))
    daemon.start()
    try:
        assert daemon.compile_child is None
    finally:
        daemon.shutdown()


def test_the_mark_says_warm_only_for_the_sources_it_was_made_for(tmp_path, monkeypatch):
    from numba.core import config as numba_config

    monkeypatch.setattr(numba_config, "CACHE_DIR", str(tmp_path))
    assert tmp_path in warm.cache_dir().parents
    assert not warm.cache_is_warm()  # an empty cache
    warm.cache_dir().mkdir(parents=True)
    assert warm.mark_warm() and not warm.cache_is_warm()  # a mark, but no index file of numba's
    (warm.cache_dir() / "kernels_f32.stage-10.py311.nbi").write_bytes(b"")
    assert warm.cache_is_warm()
    monkeypatch.setattr(warm, "cache_key", lambda: "sources edited since")
    assert not warm.cache_is_warm()


def test_a_cache_that_cannot_be_located_is_taken_for_cold_not_an_error(monkeypatch, caplog):
    """`cache_dir` leans on numba's cache locator, which is not public API: if a numba release
    changes it, a start compiles in a child (slower) instead of failing."""
    def moved():
        raise AttributeError("type object '_CacheLocator' has no attribute 'get_suitable_cache_subpath'")

    monkeypatch.setattr(warm, "cache_dir", moved)
    with caplog.at_level(logging.INFO, logger="akida_edge.warm"):
        assert warm.cache_is_warm() is False
    assert "taking it for cold" in caplog.text and "_CacheLocator" in caplog.text


def test_loading_the_shipped_config_compiles_no_kernel():
    """The daemon reads its config before it can start a child; a kernel module imported then
    (pipelines/camera.py and kws.py did) compiles in the daemon on a cold cache."""
    code = ("import sys; from akida_edge.config import load_config; load_config('config.toml'); "
            "print(sorted(m for m in sys.modules if 'kernel' in m or m.rsplit('.', 1)[-1] in "
            "('_dvs_sort', '_hash', 'roc', 'feature_roc', 'execute', 'program')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_child_runs_the_daemons_installation_not_a_checkout_in_its_directory(tmp_path):
    """`python -m akida_edge.warm` put the working directory first: a daemon started where another
    checkout lies (its home, a source tree) had that one compile, and fail on its arguments."""
    (tmp_path / "akida_edge").mkdir()
    (tmp_path / "akida_edge" / "__init__.py").write_text("")
    (tmp_path / "akida_edge" / "warm.py").write_text("raise SystemExit(99)\n")
    command = warm.child_command(str(tmp_path / "missing.toml"))
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "missing.toml: no such file" in out.stderr
