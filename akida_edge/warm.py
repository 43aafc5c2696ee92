"""Compile the numba kernels of the shipped apps once, at set-up, so that a first start is fast.

    python -m akida_edge.warm [--config FILE]

numba compiles a kernel on its first call and keeps the machine code on disk (`numba_config`:
``cache=True``); a first start of the daemon would otherwise spend ~2 minutes on two cores
compiling before its pipelines come online. This builds every pipeline of the config the way the
daemon does (`daemon.build_pipeline`: models loaded, kernels warmed; sources are only opened when
a pipeline runs), runs what its run reaches and its build does not on seeded noise (a pipeline's
`warm_run`: front-ends, the anomaly pipeline's learning of normal, and a first `learn` command of
each pipeline that learns — a kws word, a gesture — in a temporary state directory, so that a
device's first `learn` over MQTT loads its kernels instead of compiling them in the daemon) and
builds the keyword spotter of `akida-edge kws` (`apps.kws.app.Spotter`), then exits.
`scripts/setup.sh` runs it; running it again is quick (the cache is loaded, not rebuilt: 3–4 s on
the shipped config, of which ~1.5 s render the gesture learning's base prototypes).

A run that gets to its end leaves `MARK` beside numba's cache of the engine: the daemon reads it
(`cache_is_warm`) to tell a cold cache cheaply, without importing a kernel (which would compile
it). On a cold cache the daemon runs this module in a child process (`ChildCompile`) and builds
its pipelines from the cache once the child is done: the memory LLVM takes to compile stays with
the process that compiled until it exits (measured on the shipped config, 2 cores: a daemon that
compiled the kernels itself kept ~570 MB, one that loaded them from the cache ~240 MB; before
session 13, on a config without an anomaly pipeline, whose learning of normal reaches the same
learning kernels, a first `learn` compiled them in the daemon: 3–4 s and ~70 MB kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

from akida_edge.errors import AkidaEdgeError
from akida_edge.numba_config import WARM_COMMAND

log = logging.getLogger("akida_edge.warm")

#: written beside numba's cache of `akida_edge.engine` when a warm ran to its end: the `cache_key`s
#: (sources, numba, Python) it was made for
MARK = "akida_edge-warm.json"
MAX_KEYS = 8  # keys kept in `MARK` (two installs sharing a NUMBA_CACHE_DIR, say)


def cache_dir() -> Path:
    """Where numba keeps the compiled kernels of `akida_edge.engine`: its `__pycache__`, or under
    `NUMBA_CACHE_DIR` when that is set (numba's own rule, `_CacheLocator`)."""
    from numba.core import config
    from numba.core.caching import _CacheLocator

    from akida_edge import numba_config

    engine = Path(numba_config.__file__).with_name("engine")
    if config.CACHE_DIR:
        return Path(config.CACHE_DIR) / _CacheLocator.get_suitable_cache_subpath(str(engine / "__init__.py"))
    return engine / "__pycache__"


def cache_key() -> str:
    """What the cached kernels were compiled from and with: the kernel packages' sources
    (`numba_config.sources_digest`), numba, Python and the machine."""
    import numba

    from akida_edge import numba_config

    root = Path(numba_config.__file__).parent
    parts = [numba.__version__, sys.version, platform.machine()]
    parts += [numba_config.sources_digest(root / p) for p in numba_config.KERNEL_PACKAGES]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _marked() -> list[str]:
    try:
        keys = json.loads((cache_dir() / MARK).read_text(encoding="utf-8"))["keys"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def cache_is_warm() -> bool:
    """A warm ran to its end for these sources with this numba and Python (`MARK`), and numba's
    index files are still there. Cheap: reads the kernel packages' sources and one small file,
    imports no kernel. False also where `MARK` cannot be kept (a read-only cache: numba then
    keeps its own elsewhere), so the daemon compiles in a child there every start."""
    try:
        return cache_key() in _marked() and any(cache_dir().glob("*.nbi"))
    except Exception as exc:  # noqa: BLE001 - numba's cache locator is not public API: never stop a start
        log.info("cannot tell whether the kernel cache is warm (%s: %s); taking it for cold",
                 type(exc).__name__, exc)
        return False


def mark_warm() -> bool:
    """Write `MARK` for `cache_key()`; False when the cache directory cannot be written."""
    key = cache_key()
    keys = [key] + [k for k in _marked() if k != key][:MAX_KEYS - 1]
    path = cache_dir() / MARK
    tmp = path.with_name(f"{MARK}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"keys": keys}) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return False
    return True


#: the child's program: `main` with the daemon's own `sys.path` (`python -m` would put the working
#: directory first, and a checkout there would be run instead of the daemon's installation)
CHILD_CODE = ("import json, sys; sys.path[:] = json.loads(sys.argv.pop(1)); "
              "from akida_edge.warm import main; sys.exit(main())")


def child_command(config_path: str | None) -> list[str]:
    """The command `ChildCompile` runs: this module's `main`, on the daemon's config, built-in
    pipelines only."""
    path = [os.path.abspath(p) if p == "" else p for p in sys.path]  # "": this process's directory
    return [sys.executable, "-c", CHILD_CODE, json.dumps(path), "--builtin-only",
            *(["--config", config_path] if config_path is not None else [])]


class ChildCompile:
    """`python -m akida_edge.warm` in a child process, for a daemon whose kernel cache is cold
    (module docstring); its progress lines go to the daemon's log. `wait` returns when it is done
    (or the caller is stopped); when it failed, the daemon's pipelines compile in the daemon as
    before, and a warning says so."""

    def __init__(self, config_path: str | None) -> None:
        self.command = child_command(config_path)
        self.done = threading.Event()
        self.ok = False
        self._stopping = False
        self._proc: subprocess.Popen | None = None
        # raced: a stop before this thread had started the child found no child to end, and the child
        # then started, compiling for minutes after the daemon stopped: start and stop exclude each other
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="kernel-compile", daemon=True)

    def start(self) -> ChildCompile:
        log.warning("the kernel cache is cold (a first start after an install or an update): compiling the "
                    f"kernels in a child process (`{WARM_COMMAND}`; minutes), so that this "
                    "daemon does not keep the compiler's memory; the pipelines load them from the cache "
                    "when it is done")
        self._thread.start()
        return self

    def _run(self) -> None:
        t0, code, last = time.monotonic(), None, ""
        try:
            with self._lock:
                if self._stopping:  # stopped before it began: no child at all
                    self.done.set()
                    return
                self._proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                              errors="replace")
            for line in self._proc.stderr:
                if line.strip():
                    last = line.strip()
                    log.info("%s", last)
            code = self._proc.wait()
        except OSError as exc:
            last = str(exc)
        self.ok = code == 0
        if self.ok:
            log.info("kernels compiled in a child process in %.0f s", time.monotonic() - t0)
        elif not self._stopping:
            log.warning("compiling the kernels in a child process failed (%s); the pipelines compile them "
                        "in this process instead (it keeps the compiler's memory, a few hundred MB, until "
                        "a restart)", f"exit {code}: {last[-200:]}" if code is not None else last)
        self.done.set()

    def wait(self, stop_event: threading.Event) -> None:
        """Until the child is done or `stop_event` is set."""
        while not self.done.wait(0.2) and not stop_event.is_set():
            pass

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the child (the daemon stops while it compiles); what it compiled stays cached."""
        with self._lock:
            self._stopping = True
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._thread.join(timeout_s)


def warm(config_path: str | None, progress=sys.stderr, builtin_only: bool = False) -> float:
    """Build the pipelines of `config_path` (None: as `akida-edge run` picks its config; with
    `builtin_only`, not its `custom` ones) and the keyword spotter; the seconds it took."""
    from akida_edge.config import resolve_config
    from akida_edge.daemon import PipelineUnavailable, build_pipeline

    t0 = time.monotonic()
    for p in resolve_config(config_path).pipelines:
        if builtin_only and p.type == "custom":
            continue
        t = time.monotonic()
        try:
            pipeline = build_pipeline(p)
        except PipelineUnavailable as exc:  # an app that is not installed: nothing to compile
            print(f"akida-edge warm: {exc}", file=progress, flush=True)
            continue
        warm_run = getattr(pipeline, "warm_run", None)
        if warm_run is not None:  # the kernels its run reaches and its build does not
            warm_run()
        print(f"akida-edge warm: pipeline {p.name} ({p.type}) ready in {time.monotonic() - t:.1f} s",
              file=progress, flush=True)
    t = time.monotonic()
    try:
        from akida_edge.apps.kws.app import Spotter

        Spotter(learned=False)
        print(f"akida-edge warm: keyword spotter ready in {time.monotonic() - t:.1f} s", file=progress,
              flush=True)
    except ImportError:
        pass
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.warm", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=None, help="the config whose pipelines to build (default: as "
                    "`akida-edge run`: ./config.toml if there is one, else the packaged default)")
    ap.add_argument("--builtin-only", action="store_true", help="leave out the config's custom pipelines "
                    "(the daemon's child compile: their factories are the user's code)")
    args = ap.parse_args(argv)
    print("akida-edge warm: loading the numba kernels from the cache, or compiling them (a first time "
          "after an install or an update: a few minutes)", file=sys.stderr, flush=True)
    try:
        took = warm(args.config, builtin_only=args.builtin_only)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return 1
    if not mark_warm():
        print(f"akida-edge warm: {cache_dir() / MARK} cannot be written: a daemon will take its cache for "
              "cold and compile in a child process at each start", file=sys.stderr, flush=True)
    print(f"akida-edge warm: done in {took:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
