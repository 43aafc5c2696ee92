"""`numba_config.kernel`: a kernel compiled at import (explicit signatures, not in numba's cache) says
so once, since that compile is otherwise a silent minute before a first `akida-edge run` (or any
command) prints anything; a kernel loaded from the cache says nothing."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap

import pytest

from akida_edge import numba_config

pytestmark = pytest.mark.unit

SOURCE = textwrap.dedent("""
    from akida_edge.numba_config import kernel

    @kernel("int64(int64)")
    def twice(x):
        return 2 * x

    @kernel("int64(int64)")
    def thrice(x):
        return 3 * x
""")


def _notices(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "akida_edge.numba"]


def test_compiling_at_import_is_announced_once_and_a_cache_load_is_silent(tmp_path, monkeypatch, caplog):
    (tmp_path / "nc_kernels.py").write_text(SOURCE)  # a new file: nothing of it is cached yet
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(numba_config._notice, "shown", False)
    monkeypatch.delitem(sys.modules, "nc_kernels", raising=False)
    with caplog.at_level(logging.WARNING, logger="akida_edge.numba"):
        module = importlib.import_module("nc_kernels")
    assert module.twice(21) == 42 and module.thrice(2) == 6
    assert _notices(caplog) == [numba_config.COMPILE_NOTICE]  # two compiles, one notice
    # the command as this installation runs it (session-27 audit: a bare `python` is not on Debian's
    # PATH, and the system python3 has no akida_edge)
    assert f"`{sys.executable} -m akida_edge.warm`" in numba_config.COMPILE_NOTICE

    caplog.clear()
    monkeypatch.setitem(numba_config._notice, "shown", False)
    del sys.modules["nc_kernels"]
    with caplog.at_level(logging.WARNING, logger="akida_edge.numba"):
        again = importlib.import_module("nc_kernels")  # the same file: loaded from the cache
    assert sum(again.twice.stats.cache_hits.values()) == 1
    assert again.twice(4) == 8 and not _notices(caplog)
