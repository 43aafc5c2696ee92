"""The one place that configures numba for akida-edge (STYLE.md §4).

Policy:

- every kernel is compiled with `cache=True` (compiled machine code is kept on disk next to the
  module, so a second process starts fast) and `nogil=True` (so a thread pool can run kernels on
  several cores at once: that is how batches use both cores);
- `fastmath` is off: the engine's results must be bit-exact. (The float32 dense stages hold
  integers whose partial sums stay below 2^24, exact in any order, so reassociation would be
  harmless there; keeping fastmath off keeps that argument the only one needed). The one
  exception is explicit, not a flag: the dense products (`engine/kernels_gemm.py`) and the
  register-kept activation call `llvm.fma.v8f32` on integers whose products and partial sums are
  below 2^24, where a fused multiply-add rounds nothing and equals the separate multiply and add;
- `parallel=True` is NOT used: combined with `cache=True` it ties the cached code to a thread
  count. Batches use the cores through a thread pool over contiguous batch parts instead
  (`engine/execute.py`), each part running single-threaded `nogil` kernels; `prange` was not
  benchmarked against it;
- `error_model="numpy"`: divisions follow IEEE/NumPy (no Python zero-division check). The
  check's branch stops LLVM from vectorising any loop that divides (the output stage went from
  ~20 to ~6 µs per 8000 values); every divisor in the kernels is a positive stride, pool size or
  16·act_step, which the layer descriptions and `set_variable` already guarantee;
- settings reach kernels as arguments, never as module globals (numba freezes globals at
  compile time);
- loading a model warms its kernels once (`execute.warm`); the hot float32 kernels of the
  engine (`engine/kernels_f32.py`, `output_stage.to_int32`) carry explicit signatures, so they
  are compiled or loaded from the cache at import and never stall a first call;
- numba's cache is checked against the *defining* file only: a kernel that inlines helpers from
  another module (`inline="always"`, e.g. `output_stage.stage_f32` inside `kernels_f32.py`), or
  calls kernels of other modules (their code is linked into its cached library: the one-call
  program `engine/program.run_program` calls nearly every engine kernel), would keep its old
  machine code after an edit of that other module until its own file changed. So importing this
  module (every kernel module does, before defining its kernels) runs `drop_stale_cache` on each
  package with kernels (`KERNEL_PACKAGES`): it keeps a digest of the package's
  sources (and of this file, whose options the kernels are compiled with) beside the cache and
  deletes the package's `__pycache__/*.nbi|*.nbc` when the digest differs (an editable install
  after an edit, or a package upgraded in place). Fresh installs are not affected; a cache numba
  keeps elsewhere (`NUMBA_CACHE_DIR`, or a user cache when `__pycache__` is read-only) is not
  checked: delete it after editing a kernel there;
- `engine/program.run_program` takes ~9 s to compile (once per install: cached after).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import shlex
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numba

KERNEL_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "boundscheck": False,
                                  "error_model": "numpy"}


#: the warm command as this installation runs it (a bare `python` is not on Debian's PATH, and the
#: system one does not see a virtual environment's packages)
WARM_COMMAND = f"{shlex.quote(sys.executable or 'python3')} -m akida_edge.warm"
COMPILE_NOTICE = ("compiling the numba kernels (a first start after an install or an update; about 2 "
                  f"minutes on two cores, cached afterwards; `{WARM_COMMAND}` does it ahead)")
_notice = {"shown": False}  # once per process


def kernel(*signatures: Any, **overrides: Any) -> Callable:
    """`numba.njit` with the project policy; `overrides` may only tighten it (e.g. `inline`).

    With `signatures` numba compiles (or loads from the cache) when the decorator is applied, at the
    import of the kernel's module; a compile there is otherwise silent for a minute or more, so the
    first kernel not found in the cache logs `COMPILE_NOTICE` (a warning: shown even where logging
    is not configured)."""
    bad = {k for k in overrides if k in ("fastmath", "parallel", "cache")}
    if bad:
        raise ValueError(f"numba policy: {sorted(bad)} may not be overridden per kernel")
    options = {**KERNEL_OPTIONS, **overrides}
    if not signatures:
        return numba.njit(**options)
    jit = numba.njit(list(signatures) if len(signatures) > 1 else signatures[0], **options)

    def compile_now(fn: Callable) -> Any:
        compiled = jit(fn)
        if not _notice["shown"] and sum(compiled.stats.cache_misses.values()):
            _notice["shown"] = True
            logging.getLogger("akida_edge.numba").warning(COMPILE_NOTICE)
        return compiled

    return compile_now


STAMP = "akida_edge-sources.sha256"  # the digest file `drop_stale_cache` keeps in `__pycache__`


def sources_digest(package: Path) -> str:
    """SHA-256 over the names and bytes of a package's own ``*.py`` files and of this module."""
    digest = hashlib.sha256()
    for src in [*sorted(package.glob("*.py")), Path(__file__)]:
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_stale_cache(package: str | Path) -> bool:
    """Delete numba's cached machine code of `package` (a package directory or a file in it) when
    its sources changed since the cache was made; True when it did.

    numba checks a cached kernel against its own file's time stamp only, so a kernel that inlines
    or calls kernels of another module of the package would keep their old code (module
    docstring). Best effort: a cache it cannot read or delete (read-only install) is left as is;
    two processes racing here at worst both delete the cache, which numba then rebuilds.
    """
    pkg = Path(package)
    pkg = pkg.parent if pkg.is_file() else pkg
    cache = pkg / "__pycache__"
    try:
        new = sources_digest(pkg)
        stamp = cache / STAMP
        if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == new:
            return False
        for old in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            old.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        tmp = cache / f"{STAMP}.{os.getpid()}.tmp"
        tmp.write_text(new + "\n", encoding="ascii")
        os.replace(tmp, stamp)
    except OSError:
        return False
    return True


def batch_workers() -> int:
    """Threads a batch is split over: the usable cores, or `AKIDA_EDGE_THREADS` when set (≥ 1)."""
    env = os.environ.get("AKIDA_EDGE_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


# --- BLAS threads ---------------------------------------------------------------------------
# The dense stages (float32 matrix products, exact below 2^24) run in NumPy's OpenBLAS. When the
# engine already spreads a batch over the cores, OpenBLAS threads on top would oversubscribe them
# (and its idle threads spin), so the executor asks for one BLAS thread while its pool runs.

_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved: int | None = None


def _openblas() -> Any:
    """NumPy's OpenBLAS as a ctypes library with (get, set) thread functions, or None."""
    global _OPENBLAS
    if _OPENBLAS is not False:
        return _OPENBLAS
    _OPENBLAS = None
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower()})
        for path in paths:
            lib = ctypes.CDLL(path)
            for prefix in ("scipy_openblas_", "openblas_"):
                for suffix in ("64_", ""):
                    get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        _OPENBLAS = (get, put)
                        return _OPENBLAS
    except OSError:
        pass
    return _OPENBLAS


_OPENBLAS: Any = False


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Limit NumPy's OpenBLAS to `n` threads inside the block (no-op where it cannot be found).

    Process-wide while any caller is inside; the setting in force before the first caller is
    restored when the last one leaves.
    """
    global _blas_users, _blas_saved
    lib = _openblas()
    if lib is None:
        yield
        return
    get, put = lib
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved = int(get())
        _blas_users += 1
        put(int(n))
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_saved is not None:
                put(_blas_saved)


KERNEL_PACKAGES = ("engine", "encoders", "frontends")  # akida_edge's packages with numba kernels
for _package in KERNEL_PACKAGES:
    drop_stale_cache(Path(__file__).with_name(_package))
