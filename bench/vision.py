"""Gesture benchmark: the shipped gesture model and the vision app (`akida-edge bench --json vision`).

Everything is rendered here, seeded (`apps/vision/dataset.py`, `scenes.py`), on one thread:

- ``accuracy`` — 9-class top-1 on held-out test scenes (`evaluate.accuracy_figures`; target
  ≥ 0.95), with ``float_accuracy`` when PyTorch is there;
- ``new_gesture_acc_5shot`` — the two `NOVEL` gestures (never trained on) learned on the device
  from `SHOTS` training-split clips each (`learn.LearnedGestures.learn_clips`, as `vision learn`:
  each clip's busiest window and its neighbours; base prototypes included), then
  `NOVEL_TEST` test-split clips of each classified by the whole decision (base classes and learned
  ones in one competition); top-1 (target ≥ 0.90). ``base_acc_after_learning`` — base test clips
  after learning (what learning costs the base classes);
- ``pipeline_cpu_pct`` — a VGA 640×480 camera at 30 frames/s: frames (rendered beforehand) →
  `FrameEvents` (grey, shrunk to the training scale, DVS emulator) → `GestureStream` (windows,
  the model on the virtual AKD1000, segmentation), as fast as possible; thread CPU time per frame
  × 30 frames/s × 100 = the share of one core at real time (target ≤ 25);
- ``latency_ms_p95`` — gesture end → detection: test scenes of each gesture (longer, so the
  stream goes on after the motion) streamed frame by frame; for every correct detection, the
  media time of the frame that fired it minus the motion's end, plus that frame's processing time
  (target ≤ 200). ``stream_recall`` — scenes whose gesture was detected with its label;
- ``still_scene_energy_ratio`` — the daemon's camera pipeline in gestures mode: estimated chip
  energy per second on a still synthetic scene over that on a busy one (gestures back to back,
  replayed from a video file): a still scene costs the static floor only.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import numpy as np

SUITE = "vision"
SHOTS = 5
NOVEL_TEST = 15
BASE_TEST = 3  # per base class, for base_acc_after_learning
LATENCY_PER_LABEL = 3
CPU_FRAMES = 90
VGA = (480, 640)


def _say(progress: IO[str] | None, text: str) -> None:
    if progress is not None:
        print(f"bench: vision: {text}", file=progress, flush=True)


def accuracy(progress: IO[str] | None) -> dict[str, Any]:
    try:
        from akida_edge.apps.vision.evaluate import accuracy_figures
    except ImportError:
        return {"accuracy": None}
    figures = accuracy_figures(progress=None)
    return {"accuracy": round(figures["accuracy"], 4),
            "float_accuracy": None if figures.get("float_accuracy") is None
            else round(figures["float_accuracy"], 4),
            "accuracy_clips": figures.get("clips"), "placeholder_model": figures.get("placeholder")}


def few_shot(recognizer: Any, state_dir: Path) -> dict[str, Any]:
    """Learn the NOVEL gestures from SHOTS clips each; classify held-out clips of them and of the base."""
    from akida_edge.apps.vision import dataset
    from akida_edge.apps.vision.labels import CLASSES, NOVEL
    from akida_edge.apps.vision.learn import LearnedGestures

    view = recognizer.view
    learned = LearnedGestures(recognizer.gm, state_dir)
    recognizer.learned = learned
    t0 = time.perf_counter()
    for label in NOVEL:  # as `vision learn` does: each clip's events, its busiest windows
        learned.learn_clips(label, [clip_events(label, "train", 3 * 10**6 + i) for i in range(SHOTS)])
    learn_s = time.perf_counter() - t0
    recognizer.classes_changed()
    x, names = dataset.make_clips(NOVEL, "test", NOVEL_TEST, seed=0, view=view)
    pred = np.asarray(recognizer.classes)[recognizer.probabilities(x).argmax(axis=1)]
    xb, base_names = dataset.make_clips(CLASSES, "test", BASE_TEST, seed=5, view=view)
    pred_b = np.asarray(recognizer.classes)[recognizer.probabilities(xb).argmax(axis=1)]
    return {"new_gesture_acc_5shot": round(float(np.mean(pred == np.asarray(names))), 4),
            "new_gesture_test_clips": len(names),
            "base_acc_after_learning": round(float(np.mean(pred_b == np.asarray(base_names))), 4),
            "base_taken_by_learned": round(float(np.mean(np.isin(pred_b, NOVEL))), 4),
            "learn_s_first": round(learn_s, 2)}


def clip_events(label: str, split: str, index: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The events of data-set clip `index` of `label` (rendered, through the DVS emulator)."""
    from akida_edge.apps.vision import dataset, scenes
    from akida_edge.apps.vision.representation import video_events

    clip = dataset.sample_clip(label, split, index)
    frames, fps = scenes.render(label, clip.scene)
    return video_events(frames, fps, dvs_preset=clip.dvs_preset, seed=clip.scene.seed)


def vga_frames(n: int) -> np.ndarray:
    """`n` VGA frames of gestures one after another (rendered at 640×480, 30 frames/s)."""
    from akida_edge.apps.vision import dataset, scenes
    from akida_edge.apps.vision.labels import GESTURES

    out, k = [], 0
    while sum(len(f) for f in out) < n:
        clip = dataset.sample_clip(GESTURES[k % len(GESTURES)], "test", 900 + k)
        params = dataclasses.replace(clip.scene, size=VGA, fps=30.0)
        out.append(scenes.render(clip.label, params)[0])
        k += 1
    return np.concatenate(out)[:n]


def pipeline_cpu(recognizer: Any, frames: np.ndarray, fps: float = 30.0) -> dict[str, Any]:
    from akida_edge.apps.vision.app import FrameEvents

    fe = FrameEvents()
    stream = None
    per_frame = []
    for i, f in enumerate(frames):
        c0 = time.thread_time()
        t_us = int(round(i * 1e6 / fps))
        events = fe.step(f, t_us)
        if stream is None:
            stream = recognizer.stream(fe.sensor_shape)
        stream.push(events, t_us)
        per_frame.append(time.thread_time() - c0)
    cpu_s = float(np.mean(per_frame[5:]))  # after the first frames (allocation, warm caches)
    return {"pipeline_cpu_pct": round(100.0 * cpu_s * fps, 2),
            "pipeline_frame_ms_mean": round(cpu_s * 1e3, 3),
            "pipeline_frames": len(frames), "pipeline_busy_windows": stream.busy_windows,
            "pipeline_windows": stream.windows}


def latency(recognizer: Any, progress: IO[str] | None) -> dict[str, Any]:
    from akida_edge.apps.vision import dataset, scenes
    from akida_edge.apps.vision.app import FrameEvents
    from akida_edge.apps.vision.labels import GESTURES

    lat, hits, total = [], 0, 0
    for label in GESTURES:
        for i in range(LATENCY_PER_LABEL):
            clip = dataset.sample_clip(label, "test", 500 + i, recognizer.view)
            p = dataclasses.replace(clip.scene, duration_s=clip.scene.start_s + clip.scene.gesture_s + 1.0)
            frames, fps = scenes.render(label, p)
            end_ms = (p.start_s + p.gesture_s) * 1000
            fe = FrameEvents(clip.dvs_preset, seed=p.seed)
            stream = None
            first = None
            for k, f in enumerate(frames):
                t_us = int(round(k * 1e6 / fps))
                t0 = time.perf_counter()
                events = fe.step(f, t_us)
                stream = stream or recognizer.stream(fe.sensor_shape)
                found = [g for g in stream.push(events, t_us) if g.label == label]
                if found and first is None:
                    first = t_us / 1000 - end_ms + (time.perf_counter() - t0) * 1e3
            total += 1
            if first is not None:
                hits += 1
                lat.append(first)
        _say(progress, f"latency {label}: {hits}/{total} detected so far")
    return {"latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
            "stream_recall": round(hits / max(total, 1), 4), "stream_scenes": total}


def _energy_per_s(table: dict) -> float:
    from akida_edge.config import parse_config
    from akida_edge.pipelines.base import Activity
    from akida_edge.pipelines.camera import build

    pipeline = build(parse_config({"pipelines": [table]}).pipelines[0])
    acts = [a for a in pipeline.run(threading.Event()) if isinstance(a, Activity)]
    windows = sum(a.inferences for a in acts)
    return sum(a.chip_energy_uj for a in acts) / (windows * pipeline.params.hop_ms / 1000.0)


def energy_ratio(tmp: Path, state: Path) -> dict[str, Any]:
    import cv2

    frames = vga_frames(150)
    path = tmp / "busy.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (VGA[1], VGA[0]))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    common = {"name": "cam", "type": "camera", "threshold": 0.6}
    options = {"mode": "gestures", "width": 160, "height": 120, "state_dir": str(state), "learned": False}
    busy = _energy_per_s({**common, "source": {"type": "video_file", "path": str(path)}, "options": options})
    still_src = {"type": "synthetic_camera", "realtime": False, "fps": 30.0, "move_s": 0.0, "still_s": 1.0,
                 "duration_s": 5.0, "width": 160, "height": 120}
    still = _energy_per_s({**common, "source": still_src, "options": options})
    return {"still_scene_energy_ratio": round(still / busy, 4), "still_chip_uj_per_s": round(still, 1),
            "busy_chip_uj_per_s": round(busy, 1)}


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    """The vision figures (one thread)."""
    from akida_edge.apps.vision.app import Recognizer

    figures: dict[str, Any] = {"threads": 1, "load_avg_1min": round(os.getloadavg()[0], 2)}
    t0 = time.perf_counter()
    figures.update(accuracy(progress))
    _say(progress, f"accuracy {figures['accuracy']}")
    with tempfile.TemporaryDirectory(prefix="vision-bench-") as tmp:
        tmp = Path(tmp)
        base = Recognizer(state_dir=tmp / "none", learned=False)
        figures.update(pipeline_cpu(base, vga_frames(CPU_FRAMES)))
        _say(progress, f"pipeline {figures['pipeline_cpu_pct']} % of a core")
        figures.update(latency(base, progress))
        figures.update(energy_ratio(tmp, tmp / "none"))
        _say(progress, f"still/busy energy {figures['still_scene_energy_ratio']}")
        figures.update(few_shot(Recognizer(state_dir=tmp / "learn", learned=False), tmp / "learn"))
        _say(progress, f"5-shot {figures['new_gesture_acc_5shot']}")
    figures["bench_s"] = round(time.perf_counter() - t0, 1)
    figures["targets"] = {"accuracy": ">= 0.95", "new_gesture_acc_5shot": ">= 0.90",
                          "pipeline_cpu_pct": "<= 25", "latency_ms_p95": "<= 200"}
    return figures
