"""`apps/kws/report.accuracy_by_snr`: top-1 per noise level over the speech clips."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.apps.kws.report import accuracy_by_snr

pytestmark = pytest.mark.unit


def test_accuracy_per_snr_level_skips_silence(rng):
    levels = np.array([np.nan, 20.0, 0.0])
    n = 600
    y = rng.integers(0, 12, n)  # class 11: silence
    snr = levels[rng.integers(0, 3, n)]
    pred = np.where(rng.random(n) < 0.7, y, (y + 1) % 12)
    got = accuracy_by_snr(pred, y, snr, silence=11)
    assert list(got) == ["clean", "20", "0"]
    for key, level in zip(got, levels, strict=True):
        at = (y != 11) & ((snr == level) | (np.isnan(snr) & np.isnan(level)))
        assert got[key] == pytest.approx(np.mean(pred[at] == y[at]))
    pred_silence_wrong = np.where(y == 11, 0, pred)  # silence clips do not count
    assert accuracy_by_snr(pred_silence_wrong, y, snr, silence=11) == got
