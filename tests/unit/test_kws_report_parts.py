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


def test_the_report_names_the_kokoro_voices_the_metrics_record():
    from akida_edge.apps.kws import kokoro
    from akida_edge.apps.kws.report import _kokoro_text

    english, accented = list(kokoro.TRAIN_VOICES), list(kokoro.ACCENTED_TRAIN)
    base = {"kokoro_train_clips": 10, "kokoro_test_clips": 2, "kokoro_word_clips": 4}
    both = _kokoro_text({**base, "kokoro_train_voices": english + accented,
                         "kokoro_word_accented": True})
    assert (f"said by {len(english) + len(accented)} Kokoro-82M training voices (`kokoroset.py`, built with "
            f"`--accented`: the {len(english)} English ones and {len(accented)} accented ones)") in both
    assert "said by the same voices (`wordset.py --kokoro --accented`)" in both
    # English keyword clips, accented words: each named as recorded
    mixed = _kokoro_text({**base, "kokoro_train_voices": english,
                          "kokoro_word_accented": True})
    n_all, n_en = len(english) + len(accented), len(english)
    assert f"by {n_en} Kokoro-82M training voices (`kokoroset.py`: the {n_en} English ones)" in mixed
    assert f"said by the {n_all} Kokoro voices (`wordset.py --kokoro --accented`)" in mixed
    # metrics from before the fields: both voice lists are named, no count claimed
    old = _kokoro_text(base)
    assert "the 22 English ones, and 14 accented ones in a set built with `--accented`" in old
    assert _kokoro_text({"kokoro_train_clips": 0}) == ""
