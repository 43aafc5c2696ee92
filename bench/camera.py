"""Camera pipeline benchmark: the whole motion path per frame (`akida-edge bench --json camera`).

Figures: frames of the synthetic scene (160×120, the shipped config's scene, moving all the time)
pushed through `pipelines.camera` as fast as possible — grey front-end, DVS emulator, ROC, the
motion map on the virtual AKD1000, the decoder:

- ``camera_fps``: frames per second (wall) and ``camera_fps_cpu`` (thread CPU time);
- ``camera_frame_ms_p50`` / ``_p95``: per-frame processing time (the pipeline's own latency);
- ``camera_events_per_frame``: DVS events per frame on that scene;
- ``camera_chip_mw_moving`` / ``camera_chip_mw_still``: the *estimated* chip power at 30 frames/s
  while the object moves and for a still scene (the static floor).
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO, Any

import numpy as np

SUITE = "camera"
FRAMES = 300


def _pipeline(move_s: float, still_s: float, frames: int):
    from akida_edge.config import parse_config
    from akida_edge.pipelines.camera import build

    source = {"type": "synthetic_camera", "realtime": False, "fps": 30.0, "move_s": move_s,
              "still_s": still_s, "duration_s": frames / 30.0, "seed": 3}
    cfg = parse_config({"pipelines": [{"name": "cam", "type": "camera", "threshold": 0.2, "source": source}]})
    return build(cfg.pipelines[0])


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    """The camera figures (one thread)."""
    from akida_edge.pipelines.base import Activity

    figures: dict[str, Any] = {"threads": 1, "load_avg_1min": round(os.getloadavg()[0], 2)}
    moving = _pipeline(1000.0, 0.0, FRAMES)
    t0, c0 = time.perf_counter(), time.thread_time()
    acts = [a for a in moving.run(threading.Event()) if isinstance(a, Activity)]
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    lat = np.array([a.latency_ms[0] for a in acts])
    figures.update({
        "camera_fps": round(len(acts) / wall, 1), "camera_fps_cpu": round(len(acts) / max(cpu, 1e-9), 1),
        "camera_frame_ms_p50": round(float(np.percentile(lat, 50)), 3),
        "camera_frame_ms_p95": round(float(np.percentile(lat, 95)), 3),
        "camera_events_per_frame": round(float(np.mean([a.events for a in acts[1:]])), 1),
        "camera_chip_mw_moving": round(float(np.mean([a.chip_power_mw for a in acts[5:]])), 4),
    })
    if progress is not None:
        print(f"camera: {figures['camera_fps']} frames/s", file=progress, flush=True)
    still = _pipeline(0.0, 1.0, 30)
    acts = [a for a in still.run(threading.Event()) if isinstance(a, Activity)]
    figures["camera_chip_mw_still"] = round(float(np.mean([a.chip_power_mw for a in acts])), 4)
    return figures
