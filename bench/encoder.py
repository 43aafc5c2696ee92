"""Encoder benchmarks: the DVS emulator and rank order coding, each against its NumPy twin.

Figures (`akida-edge bench --json encoder`), each measured on one core in the same run as the
vectorised NumPy version; ``*_numpy_ratio`` = NumPy time / numba time:

- ``dvs_vga_fps`` (target >= 1000): 640x480 grey frames at 1 kHz of a static textured background
  with textured objects moving across it (``dvs_vga_changed_pct`` of the pixels change per frame),
  the v2e "clean" preset;
- ``dvs_720p_fps`` (target >= 400): the same scene at 1280x720;
- ``dvs_busy_mevents_per_s`` (target >= 100): VGA frames where every pixel changes every frame
  (the scene's brightness alternates by a factor 2, about 3 events per pixel per frame);
- ``roc_mevents_per_s`` (target >= 50): ranking one window of DVS events by events per pixel,
  keeping the first 10 %, 4-bit values, ranked-event output; input events per second.

Scenes are synthesised with NumPy and OpenCV from fixed seeds; frames are made before timing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import IO, Any

import cv2
import numpy as np
from akida_edge.bench.timing import best_seconds

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


def _dvs_rate(
    step: Callable, frames: np.ndarray, n_steps: int, params: DvsParams
) -> tuple[float, int, float]:
    """(seconds per frame, events per frame, % pixels changed) over n_steps frames (after warm-up)."""
    state = init_state(params, frames.shape[1:], seed=1)
    order = _stream(frames)
    step(frames[order[0]], 0, state, params)
    step(frames[order[1 % len(order)]], FRAME_DT_US, state, params)  # compile / warm caches
    t = 2 * FRAME_DT_US
    n_events = 0
    changed = 0
    t_start = time.perf_counter()
    for i in range(n_steps):
        ev, state = step(frames[order[(i + 2) % len(order)]], t, state, params)
        n_events += ev.size
        t += FRAME_DT_US
    seconds = (time.perf_counter() - t_start) / n_steps
    for i in range(1, len(frames)):
        changed += np.count_nonzero(frames[i] != frames[i - 1])
    pct = 100.0 * changed / ((len(frames) - 1) * frames[0].size)
    return seconds, n_events // n_steps, pct


def _dvs_figures(progress: IO[str] | None) -> dict[str, Any]:
    params = DvsParams.preset("clean")
    out: dict[str, Any] = {}
    for name, shape, n_fast, n_np in (("vga", (480, 640), 600, 40), ("720p", (720, 1280), 300, 20)):
        frames = moving_scene(shape, 24)
        s_fast, ev, pct = _dvs_rate(dvs_step, frames, n_fast, params)
        s_np, _, _ = _dvs_rate(dvs_step_numpy, frames, n_np, params)
        out[f"dvs_{name}_fps"] = round(1.0 / s_fast, 1)
        out[f"dvs_{name}_numpy_ratio"] = round(s_np / s_fast, 2)
        out[f"dvs_{name}_changed_pct"] = round(pct, 2)
        out[f"dvs_{name}_events_per_frame"] = ev
        if progress:
            print(f"bench: encoder dvs {name}: {1 / s_fast:.0f} fps", file=progress, flush=True)
    busy = busy_scene((480, 640))
    s_fast, ev, _ = _dvs_rate(dvs_step, busy, 60, params)
    s_np, _, _ = _dvs_rate(dvs_step_numpy, busy, 6, params)
    out["dvs_busy_mevents_per_s"] = round(ev / s_fast / 1e6, 1)
    out["dvs_busy_numpy_ratio"] = round(s_np / s_fast, 2)
    out["dvs_busy_events_per_frame"] = ev
    return out


def _roc_figures(progress: IO[str] | None) -> dict[str, Any]:
    shape = (480, 640)
    frames = moving_scene(shape, 12, seed=9)
    params = DvsParams.preset("clean")
    state = init_state(params, shape, seed=2)
    parts = [dvs_step(f, i * 33333, state, params)[0] for i, f in enumerate(frames)]
    events = np.concatenate(parts)  # one ~0.4 s window of the moving scene
    roc = RocParams(bits=4, mode="modulation", mod=0.9, keep_fraction=0.1)
    grid = (shape[0], shape[1], 2)
    rank_events(events, grid, roc)  # compile
    s_fast = best_seconds(lambda: rank_events(events, grid, roc), repeat=7)
    s_np = best_seconds(lambda: rank_events_numpy(events, grid, roc), repeat=3)
    if progress:
        print(f"bench: encoder roc: {events.size / s_fast / 1e6:.0f} Mev/s", file=progress, flush=True)
    return {
        "roc_mevents_per_s": round(events.size / s_fast / 1e6, 1),
        "roc_numpy_ratio": round(s_np / s_fast, 2),
        "roc_window_events": int(events.size),
    }


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    """All encoder figures (one core: numba kernels here are serial)."""
    figures: dict[str, Any] = {"threads": 1, "load_avg_1min": round(os.getloadavg()[0], 2)}
    figures.update(_dvs_figures(progress))
    figures.update(_roc_figures(progress))
    # Audio and vibration front-ends: the lead adds `audio_rtf` / `vibration_rtf` (seconds of signal
    # per second of compute, one core, target >= 500) here, from akida_edge.frontends.
    return figures
