"""Encoder benchmarks: the DVS emulator and rank order coding, each against its NumPy twin.

Figures (`akida-edge bench --json encoder`), each measured on one core in the same run as the
vectorised NumPy version; ``*_numpy_ratio`` = NumPy time / numba time:

- ``dvs_vga_fps`` (target >= 1000): 640x480 grey frames at 1 kHz of a static textured background
  with textured objects moving across it (``dvs_vga_changed_pct`` of the pixels change per frame),
  the v2e "clean" preset;
- ``dvs_720p_fps`` (target >= 400): the same scene at 1280x720;
- ``dvs_busy_mevents_per_s`` (target >= 100): VGA frames where every pixel changes every frame
  (the scene's brightness alternates by a factor 2: ~2.5 events per pixel per frame);
- ``roc_mevents_per_s`` (target >= 50): ranking one window of DVS events (three busy VGA frames,
  ~1.7 M events over all 614 400 ON/OFF places) by events per place, keeping the first 10 %,
  4-bit modulation values, ranked-event output; input events per second.
- ``audio_rtf``, ``vibration_rtf`` (target >= 500, seconds of signal per second of compute): the
  `frontends` suite's measurement (`bench/frontends.py`, one implementation) run through the whole
  encoder path: log-mel (40 bands) or vibration features (3 axes at 12 kHz), the delta event view
  (1 dB threshold) and ROC per hop / window (`encoders.feature_roc`, 4 bits, first half kept).
  The `frontends` suite keeps the front-end-only figures. Wall clock, best of 5 runs (``*_cpu``:
  thread CPU time); the ``*_naive_ratio`` baseline is the frame-by-frame NumPy front-end without
  event view.

Times are wall clock, best of several repeats (DVS: best block of consecutive frames), one thread;
each ``*_cpu`` twin is the same figure from the thread's CPU time (what one core gives when the
machine is shared; equal to the wall figure on an idle machine).

Scenes are synthesised with NumPy and OpenCV from fixed seeds; frames are made before timing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import IO, Any

import cv2
import numpy as np

from akida_edge.bench import frontends
from akida_edge.encoders.dvs import DvsParams, dvs_step, init_state
from akida_edge.encoders.dvs_numpy import dvs_step_numpy
from akida_edge.encoders.roc import RocParams, rank_events, rank_events_numpy

SUITE = "encoder"
FRAME_DT_US = 1000  # 1 kHz frames: the emulator's cost does not depend on the interval


def moving_scene(shape: tuple[int, int], n_frames: int, seed: int = 7) -> np.ndarray:
    """uint8 (n, H, W): blurred-noise background, textured discs and boxes moving 2-6 px/frame."""
    h, w = shape
    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.uniform(40, 200, (h, w)).astype(np.float32), (0, 0), 6)
    bg = cv2.normalize(bg, None, 50, 180, cv2.NORM_MINMAX)
    n_obj = 5
    size = rng.uniform(0.035, 0.06, n_obj) * h
    pos = np.stack([rng.uniform(0.2, 0.8, n_obj) * w, rng.uniform(0.2, 0.8, n_obj) * h], 1)
    vel = rng.uniform(2, 6, (n_obj, 2)) * rng.choice([-1, 1], (n_obj, 2)) * (h / 480)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2)
    frames = np.empty((n_frames, h, w), np.uint8)
    for f in range(n_frames):
        img = bg.copy()
        for o in range(n_obj):
            x, y = pos[o] + vel[o] * f
            mask = np.zeros((h, w), np.uint8)
            r = int(size[o])
            if o % 2:
                cv2.circle(mask, (int(x), int(y)), r, 1, -1)
            else:
                cv2.rectangle(mask, (int(x) - r, int(y) - r), (int(x) + r, int(y) + r), 1, -1)
            shifted = np.roll(tex, (int(vel[o][1] * f), int(vel[o][0] * f)), (0, 1))
            img[mask > 0] = 0.5 * shifted[mask > 0] + 20 * o
        frames[f] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


def busy_scene(shape: tuple[int, int], seed: int = 8) -> np.ndarray:
    """uint8 (2, H, W): a texture in [40, 120] DN and the same at twice the brightness."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(40, 120, shape).astype(np.float32)
    return np.stack([a, 2 * a]).astype(np.uint8)


def _stream(frames: np.ndarray) -> np.ndarray:
    """Frame order of an endless ping-pong over the stack (consecutive frames always adjacent)."""
    n = len(frames)
    return np.concatenate([np.arange(n), np.arange(n - 2, 0, -1)]) if n > 2 else np.arange(n)


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall and best thread-CPU seconds of `repeat` calls of fn."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.thread_time() - c0)
    return wall, cpu


def _dvs_rate(
    step: Callable, frames: np.ndarray, n_steps: int, params: DvsParams, block: int = 10
) -> tuple[float, float, int, float]:
    """(wall s/frame, CPU s/frame, events/frame, % pixels changed) of an endless stream of frames.

    The stream runs n_steps frames after a warm-up; the time is that of the best block of `block`
    consecutive frames, so other load on a shared machine counts as little as possible.
    """
    state = init_state(params, frames.shape[1:], seed=1)
    order = _stream(frames)
    step(frames[order[0]], 0, state, params)
    step(frames[order[1 % len(order)]], FRAME_DT_US, state, params)  # compile / warm caches
    clock = {"t": 2 * FRAME_DT_US, "i": 2, "events": 0}

    def one_block() -> None:
        for _ in range(block):
            ev, _ = step(frames[order[clock["i"] % len(order)]], clock["t"], state, params)
            clock["events"] += ev.size
            clock["t"] += FRAME_DT_US
            clock["i"] += 1

    wall, cpu = _best(one_block, max(1, n_steps // block))
    changed = sum(np.count_nonzero(frames[i] != frames[i - 1]) for i in range(1, len(frames)))
    pct = 100.0 * changed / ((len(frames) - 1) * frames[0].size)
    return wall / block, cpu / block, clock["events"] // (clock["i"] - 2), pct


def _dvs_figures(progress: IO[str] | None) -> dict[str, Any]:
    params = DvsParams.preset("clean")
    out: dict[str, Any] = {}
    for name, shape, n_fast, n_np in (("vga", (480, 640), 600, 40), ("720p", (720, 1280), 300, 20)):
        frames = moving_scene(shape, 24)
        wall, cpu, ev, pct = _dvs_rate(dvs_step, frames, n_fast, params)
        wall_np, _, _, _ = _dvs_rate(dvs_step_numpy, frames, n_np, params, block=5)
        out[f"dvs_{name}_fps"] = round(1.0 / wall, 1)
        out[f"dvs_{name}_fps_cpu"] = round(1.0 / cpu, 1)
        out[f"dvs_{name}_numpy_ratio"] = round(wall_np / wall, 2)
        out[f"dvs_{name}_changed_pct"] = round(pct, 2)
        out[f"dvs_{name}_events_per_frame"] = ev
        if progress:
            print(f"bench: encoder dvs {name}: {1 / wall:.0f} fps", file=progress, flush=True)
    busy = busy_scene((480, 640))
    wall, cpu, ev, _ = _dvs_rate(dvs_step, busy, 60, params, block=4)
    wall_np, _, _, _ = _dvs_rate(dvs_step_numpy, busy, 6, params, block=2)
    out["dvs_busy_mevents_per_s"] = round(ev / wall / 1e6, 1)
    out["dvs_busy_mevents_per_s_cpu"] = round(ev / cpu / 1e6, 1)
    out["dvs_busy_numpy_ratio"] = round(wall_np / wall, 2)
    out["dvs_busy_events_per_frame"] = ev
    return out


def _roc_figures(progress: IO[str] | None) -> dict[str, Any]:
    shape = (480, 640)
    params = DvsParams.preset("clean")
    busy = busy_scene(shape)
    state = init_state(params, shape, seed=2)
    events = np.concatenate([dvs_step(busy[i % 2], i * 33_333, state, params)[0] for i in range(3)])
    roc = RocParams(bits=4, mode="modulation", mod=0.9, keep_fraction=0.1)
    grid = (shape[0], shape[1], 2)
    rank_events(events, grid, roc)  # compile
    wall, cpu = _best(lambda: rank_events(events, grid, roc), 7)
    wall_np, _ = _best(lambda: rank_events_numpy(events, grid, roc), 2)
    if progress:
        print(f"bench: encoder roc: {events.size / wall / 1e6:.0f} Mev/s", file=progress, flush=True)
    return {
        "roc_mevents_per_s": round(events.size / wall / 1e6, 1),
        "roc_mevents_per_s_cpu": round(events.size / cpu / 1e6, 1),
        "roc_numpy_ratio": round(wall_np / wall, 2),
        "roc_window_events": int(events.size),
    }


def _feature_figures(progress: IO[str] | None) -> dict[str, Any]:
    """Audio and vibration through front-end, event view and ROC (the `frontends` suite's code)."""
    audio_rtf, audio_naive = frontends._audio(20.0, roc=True)
    vib_rtf, vib_naive = frontends._vibration(20.0, 12000.0, True, roc=True)
    audio_cpu, _ = frontends._audio(20.0, roc=True, clock=time.thread_time)
    vib_cpu, _ = frontends._vibration(20.0, 12000.0, False, roc=True, clock=time.thread_time)
    if progress:
        print(f"bench: encoder audio {audio_rtf:.0f}x, vibration {vib_rtf:.0f}x real time", file=progress,
              flush=True)
    return {
        "audio_rtf": round(audio_rtf, 1),
        "audio_naive_ratio": round(audio_rtf / audio_naive, 2),
        "vibration_rtf": round(vib_rtf, 1),
        "vibration_naive_ratio": round(vib_rtf / vib_naive, 2),
        "audio_rtf_cpu": round(audio_cpu, 1),
        "vibration_rtf_cpu": round(vib_cpu, 1),
    }


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    """All encoder figures (one core: numba kernels here are serial)."""
    figures: dict[str, Any] = {"threads": 1, "load_avg_1min": round(os.getloadavg()[0], 2)}
    figures.update(_dvs_figures(progress))
    figures.update(_roc_figures(progress))
    figures.update(_feature_figures(progress))
    return figures
