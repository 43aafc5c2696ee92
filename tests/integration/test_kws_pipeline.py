"""The keyword pipeline: a synthetic scene (espeak-ng speech with keywords at known times) written
to a WAV and replayed through `pipelines.kws` (needs apps/kws and espeak-ng)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from stepping_clock import stepping

pytest.importorskip("akida_edge.apps.kws.scenes", reason="the kws app is not installed")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed", allow_module_level=True)

import akida_edge.apps.kws.model as kws_model  # noqa: E402
from akida_edge.apps.kws.scenes import make_scene  # noqa: E402
from akida_edge.config import parse_config  # noqa: E402
from akida_edge.drivers.wavfile import write_wav  # noqa: E402
from akida_edge.engine.modelfile import load_model  # noqa: E402
from akida_edge.engine.power import CHIP_STATIC_MW  # noqa: E402
from akida_edge.pipelines.base import Activity, Detection  # noqa: E402
from akida_edge.pipelines.kws import build  # noqa: E402

pytestmark = pytest.mark.integration
START_US = 1_700_000_000_000_000


def test_wav_replay_detects_the_keywords_at_their_times(tmp_path):
    scene = make_scene(np.random.default_rng(1), "en-us", ["yes", "stop", "go"], filler_utterances=1,
                       snr_db=30.0)
    write_wav(tmp_path / "scene.wav", scene.audio[:, None], 16000)
    table = {"name": "kws", "type": "kws", "threshold": 0.7,
             "source": {"type": "audio_file", "path": str(tmp_path / "scene.wav"), "start_us": START_US},
             "options": {"state_dir": str(tmp_path / "state"), "hop_ms": 100.0}}
    p = build(parse_config({"pipelines": [table]}).pipelines[0])
    assert "yes" in p.describe()["labels"] and p.describe()["nps"] > 0
    shipped = Path(kws_model.__file__).parent / "kws.aem"  # its content hash, as `model summary` prints it
    digest = p.describe()["model_sha256"]
    assert digest == load_model(shipped).file_hash and len(digest) == 64
    items = list(p.run(threading.Event()))
    dets = [i for i in items if isinstance(i, Detection)]
    acts = [i for i in items if isinstance(i, Activity)]
    hits = 0
    for word, on_ms, off_ms in scene.keywords:  # the app's scoring rule: ±500 ms around the word
        t_ms = [d.ts_ms - START_US / 1000 for d in dets if d.label == word]
        hits += any(on_ms - 500 <= t <= off_ms + 500 for t in t_ms)
    # The bar comes from the shipped model's measured accuracy: the interim model (metrics.json,
    # 0.78 held-out accuracy, short of the 0.97 target; apps/kws/model/REPORT.md) is expected to
    # recognise round(sum of its per-class accuracies) of the scene's keywords: 2 of yes/stop/go
    # today (0.88 + 0.75 + 0.75), all 3 once a retrained model meets the target.
    metrics = json.loads((Path(kws_model.__file__).parent / "metrics.json").read_text())
    need = round(sum(metrics["per_class"][word] for word, _, _ in scene.keywords))
    assert 1 <= need <= len(scene.keywords)
    assert hits >= need and all(d.kind == "keyword" and d.score >= 0.7 for d in dets)
    # one classified window per hop once the first second is buffered; each with activity and power
    duration_ms = 1000 * scene.audio.size / 16000
    assert abs(sum(a.inferences for a in acts) - (duration_ms - 1000) / 100) <= 2
    busy = [a for a in acts if a.inferences]
    assert busy and all(a.synops > 0 and a.chip_power_mw >= 30.0 for a in busy)
    # the static floor's share: CHIP_STATIC_MW for the hop each window stands for (µJ = mW · ms)
    assert all(a.chip_static_uj == pytest.approx(CHIP_STATIC_MW * 100.0 * a.inferences) for a in busy)
    assert all(0 < a.chip_static_uj < a.chip_energy_uj for a in busy)
    p.set_threshold(0.99)
    assert p.params.threshold == 0.99


def test_the_shipped_configs_synthetic_speech_is_heard_word_for_word(tmp_path):
    from akida_edge.drivers.synthetic_speech import SyntheticSpeechConfig, script

    source = {"type": "synthetic_speech", "seed": 5, "gap_s": 1.5, "start_us": START_US}
    table = {"name": "kws", "type": "kws", "source": source,
             "options": {"state_dir": str(tmp_path / "state")}}
    p = build(parse_config({"pipelines": [table]}).pipelines[0])
    dets = [i for i in p.run(threading.Event()) if isinstance(i, Detection)]
    said = script(SyntheticSpeechConfig(seed=5, gap_s=1.5)).words  # the same pass the source served
    metrics = json.loads((Path(kws_model.__file__).parent / "metrics.json").read_text())
    need = round(sum(metrics["per_class"][w] for w, _, _ in said))  # as above: the model's own recall
    hits = sum(any(d.label == w and on * 1000 - 500 <= d.ts_ms - START_US / 1000 <= off * 1000 + 500
                   for d in dets) for w, on, off in said)
    assert len(said) == 10 and hits >= need
    assert len(dets) <= len(said) + 1  # at most one detection that is not one of the words


def test_keyword_times_follow_a_live_clock_that_steps(tmp_path, monkeypatch):
    """A live source's chunks carry the wall clock; when it steps (NTP's first sync on a box
    without a real-time clock), keywords said after the step carry the new time, not the clock
    of the first chunk."""
    import akida_edge.pipelines.kws as kws_pipeline

    step_us = 3_600_000_000
    scene = make_scene(np.random.default_rng(1), "en-us", ["yes", "stop", "go", "left"], filler_utterances=1,
                       snr_db=30.0)
    (_, _, first_off_ms), (_, second_on_ms, _) = scene.keywords[:2]
    step_at_us = START_US + round((first_off_ms + second_on_ms) / 2 * 1000)  # between two keywords
    write_wav(tmp_path / "scene.wav", scene.audio[:, None], 16000)

    stepping(kws_pipeline, monkeypatch, step_at_us, step_us)  # chunk stamps jump at `step_at_us`
    table = {"name": "kws", "type": "kws", "threshold": 0.7,
             "source": {"type": "audio_file", "path": str(tmp_path / "scene.wav"), "start_us": START_US},
             "options": {"state_dir": str(tmp_path / "state"), "hop_ms": 100.0}}
    dets = [i for i in build(parse_config({"pipelines": [table]}).pipelines[0]).run(threading.Event())
            if isinstance(i, Detection)]
    after = [(w, on, off) for w, on, off in scene.keywords if on * 1000 + START_US > step_at_us]
    hits_after = sum(any(d.label == w and on - 500 <= (d.ts_ms - (START_US + step_us) / 1000) <= off + 500
                         for d in dets) for w, on, off in after)
    assert len(after) == 3 and hits_after >= 1  # with the first chunk's clock: none on the new time
    duration_ms = 1000 * scene.audio.size / 16000
    for d in dets:  # every detection lies inside the recording on one of the two clocks
        t_ms = d.ts_ms - START_US / 1000
        assert -500 <= t_ms <= duration_ms + 500 or -500 <= t_ms - step_us / 1000 <= duration_ms + 500
