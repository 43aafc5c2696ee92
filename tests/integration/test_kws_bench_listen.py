"""`bench kws`'s ``listen_cpu_pct``: one real-time pass of a recording through a fresh `Stream`."""

from __future__ import annotations

import time

import numpy as np
import pytest

from akida_edge.apps.kws.app import Spotter
from akida_edge.bench import kws as bench_kws
from akida_edge.drivers.wavfile import write_wav

pytestmark = pytest.mark.integration


def test_listen_cpu_feeds_the_file_in_real_time_and_gives_a_share_of_one_core(tmp_path):
    audio = np.random.default_rng(3).normal(0, 0.05, 8000).astype(np.float32)  # 0.5 s of noise
    path = tmp_path / "half.wav"
    write_wav(path, audio, 16000)
    spotter = Spotter(learned=False)
    t0 = time.perf_counter()
    share = bench_kws.listen_cpu(spotter, path)
    assert time.perf_counter() - t0 >= 0.4  # real time: blocks of 100 ms at their own pace
    assert 0.0 < share < 100.0
    # the bench's figure: the best of several passes, each of them reported
    fig = bench_kws.listen_figures(spotter, path, runs=2)
    assert len(fig["listen_cpu_pct_runs"]) == 2
    assert fig["listen_cpu_pct"] == min(fig["listen_cpu_pct_runs"]) > 0.0
