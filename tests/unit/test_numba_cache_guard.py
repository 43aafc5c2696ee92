"""`numba_config.drop_stale_cache`: numba's disk cache is dropped when a package's sources change."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from akida_edge.numba_config import KERNEL_PACKAGES, STAMP, drop_stale_cache, sources_digest

pytestmark = pytest.mark.unit


def _package(root: Path, helper_value: int) -> Path:
    """A package `kpkg` whose kernel `main.f` calls the kernel `helper.h` of another module."""
    pkg = root / "kpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text(textwrap.dedent(f"""
        import numba

        @numba.njit(cache=True)
        def h():
            return {helper_value}
    """))
    (pkg / "main.py").write_text(textwrap.dedent("""
        import numba
        from kpkg.helper import h

        @numba.njit(cache=True)
        def f():
            return h() + 0
    """))
    return pkg


def test_stamp_written_kept_and_renewed_on_an_edit(tmp_path: Path) -> None:
    pkg = _package(tmp_path, 1)
    cache = pkg / "__pycache__"
    cache.mkdir()
    for name in ("main.f-5.py311.nbi", "main.f-5.py311.nbc", "main.cpython-311.pyc"):
        (cache / name).write_bytes(b"x")
    assert drop_stale_cache(pkg / "main.py") is True  # no stamp yet: the cache's origin is unknown
    assert sorted(p.name for p in cache.iterdir()) == sorted(["main.cpython-311.pyc", STAMP])
    assert (cache / STAMP).read_text().strip() == sources_digest(pkg)
    (cache / "main.f-5.py311.nbi").write_bytes(b"x")
    assert drop_stale_cache(pkg) is False  # sources unchanged: the cache stays
    assert (cache / "main.f-5.py311.nbi").exists()
    _package(tmp_path, 2)
    assert drop_stale_cache(pkg) is True
    assert not (cache / "main.f-5.py311.nbi").exists()
    assert (cache / "main.cpython-311.pyc").exists()  # only numba's files go


def test_an_unusable_cache_folder_is_left_alone(tmp_path: Path) -> None:
    pkg = _package(tmp_path, 1)
    (pkg / "__pycache__").write_text("not a folder")
    assert drop_stale_cache(pkg) is False
    assert (pkg / "__pycache__").read_text() == "not a folder"


def test_the_kernel_packages_exist() -> None:
    import akida_edge.numba_config as nc

    root = Path(nc.__file__).parent
    for name in KERNEL_PACKAGES:
        assert any("numba_config import kernel" in p.read_text() for p in (root / name).glob("*.py")), name


@pytest.mark.slow
def test_numba_would_keep_a_stale_callee_and_the_guard_prevents_it(tmp_path: Path) -> None:
    """The reason for the guard, on real numba: `main.f` is cached with `helper.h` linked in."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"PYTHONPATH": str(tmp_path)}
    run = "import kpkg.main as m; print(m.f())"
    guarded = (f"from akida_edge.numba_config import drop_stale_cache; "
               f"drop_stale_cache({str(tmp_path / 'kpkg')!r}); {run}")

    def result(code: str) -> int:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=120, check=True)
        return int(out.stdout.strip())

    pkg = _package(tmp_path, 1)
    assert result(run) == 1
    _package(tmp_path, 2)  # main.py unchanged, so numba trusts its cached f
    assert result(run) == 1, "numba no longer keeps a stale callee: the guard may be unnecessary"
    _package(tmp_path, 3)
    assert result(guarded) == 3
    assert (pkg / "__pycache__" / STAMP).exists()
