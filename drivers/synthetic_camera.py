"""A synthetic camera scene: a textured object moving over a textured background, seeded.

The scene is a pure function of the frame index, so a replay is reproducible and does not depend
on how it is read. Frame i is at media time i / `fps` from the start. Motion comes in episodes: the
object moves for `move_s`, then rests for `still_s`, and so on (``still_s = 0``: it never stops;
``move_s = 0``: a still scene). While it moves, its centre runs along a Lissajous path

    x(τ) = c_x + a_x·sin(2π·f·τ),   y(τ) = c_y + a_y·sin(2π·f·τ·3/2 + π/2)

in "moving time" τ (the time spent moving so far), with f chosen so that the mean speed along x
is `speed_px_s` (|dx/dτ| averages 4·a_x·f); at rest it keeps its last position. The background
and the object's texture are seeded low-frequency noise (bilinear upsampling of a coarse random
grid), so edges everywhere on the object produce events while it moves, and a still scene produces
none (no sensor noise unless `noise_dn` > 0, seeded per frame).

Frames are BGR uint8 (H, W, 3), a grey scene with a slight colour tint; chunk times are epoch µs
(wall clock at `open()` plus media time) unless `start_us` is given.

``scene = "gestures"`` replaces the object by the vision app's rendered hand
(`akida_edge.apps.vision.scenes.render`, the scenes the gesture model was trained on): period k
(of `move_s` + `still_s`) shows gesture ``GESTURES[(seed + k) % 8]`` lasting `move_s`, centred in
the period, on a background seeded by `seed` (the same in every period); each gesture starts where
the previous one ended (`GestureScene`). ``move_s = 0`` gives a still scene (the hand at rest).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from akida_edge.drivers.base import Chunk, Pacer, Source, check_range


@dataclass(frozen=True)
class SyntheticCameraConfig:
    """The scene: size, rate, motion schedule, object, seed (see the module docstring)."""

    width: int = 160
    height: int = 120
    fps: float = 30.0
    seed: int = 0
    move_s: float = 2.0  # length of a motion episode (0: a still scene)
    still_s: float = 3.0  # rest between episodes (0: moves all the time)
    speed_px_s: float = 60.0  # mean horizontal speed while moving
    object_px: int = 24  # side of the square object
    noise_dn: float = 0.0  # sensor noise (Gaussian, digital numbers), 0 = none
    realtime: bool = True  # pace frames at `fps` as a camera would
    duration_s: float | None = None  # end after this much media time (None: endless)
    start_us: int | None = None  # time of frame 0 (None: the wall clock at open)
    scene: str = "object"  # "object" (the Lissajous object) or "gestures" (apps.vision.scenes)

    def __post_init__(self) -> None:
        if self.scene not in ("object", "gestures"):
            raise ValueError(f"scene = {self.scene!r}: use 'object' or 'gestures'")
        if self.scene == "gestures" and self.move_s > 2.0:
            raise ValueError(f"move_s = {self.move_s}: a gesture lasts at most 2 s")
        if not (8 <= self.width <= 4096 and 8 <= self.height <= 4096):
            raise ValueError(f"width and height must lie in 8..4096, got {self.width}x{self.height}")
        if not 0.1 <= self.fps <= 1000:
            raise ValueError(f"fps must lie in 0.1..1000, got {self.fps}")
        if self.move_s < 0 or self.still_s < 0 or self.move_s + self.still_s <= 0:
            raise ValueError(f"move_s and still_s must be >= 0 and not both 0, got {self.move_s}, "
                             f"{self.still_s}")
        if not 0 <= self.speed_px_s <= 10_000:
            raise ValueError(f"speed_px_s must lie in 0..10000, got {self.speed_px_s}")
        if not 2 <= self.object_px <= min(self.width, self.height) // 2:
            raise ValueError(f"object_px must lie in 2..{min(self.width, self.height) // 2} for a "
                             f"{self.width}x{self.height} scene, got {self.object_px}")
        check_range("seed", self.seed, 0, 2**32 - 1)
        if not 0 <= self.noise_dn <= 64:
            raise ValueError(f"noise_dn must lie in 0..64, got {self.noise_dn}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"duration_s must be > 0 (or absent: endless), got {self.duration_s}")


def _texture(rng: np.random.Generator, height: int, width: int, cell_px: int, lo: int, hi: int) -> np.ndarray:
    """Low-frequency noise in [lo, hi] DN: a coarse random grid upsampled bilinearly."""
    import cv2

    gh, gw = max(2, height // cell_px + 1), max(2, width // cell_px + 1)
    grid = rng.uniform(lo, hi, size=(gh, gw)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR)


class SyntheticScene:
    """Renders frame i of a `SyntheticCameraConfig` (grey float32 and BGR uint8)."""

    def __init__(self, config: SyntheticCameraConfig) -> None:
        self.config = c = config
        rng = np.random.default_rng(c.seed)
        self.background = _texture(rng, c.height, c.width, 12, 40, 200)
        self.sprite = _texture(rng, c.object_px, c.object_px, 4, 0, 255)
        margin = c.object_px / 2 + 1
        self.amp_px = (c.width / 2 - margin, c.height / 2 - margin)
        self.freq_hz = c.speed_px_s / (4 * self.amp_px[0]) if c.speed_px_s > 0 else 0.0
        self.tint = np.array([0.95, 1.0, 1.05], np.float32)  # B, G, R

    def moving(self, i: int) -> bool:
        """Did the object move between frame i − 1 and frame i?"""
        return i > 0 and self.moving_time_s(i) > self.moving_time_s(i - 1)

    def moving_time_s(self, i: int) -> float:
        """τ: the time spent moving up to frame i."""
        c = self.config
        period = c.move_s + c.still_s
        t = i / c.fps
        full, rest = divmod(t, period)
        return full * c.move_s + min(rest, c.move_s)

    def position(self, i: int) -> tuple[float, float]:
        """Centre (x, y) of the object in frame i, pixels."""
        c = self.config
        tau = self.moving_time_s(i)
        w = 2 * math.pi * self.freq_hz * tau
        return (c.width / 2 + self.amp_px[0] * math.sin(w),
                c.height / 2 + self.amp_px[1] * math.sin(1.5 * w + math.pi / 2))

    def grey(self, i: int) -> np.ndarray:
        """Frame i as grey float32 (H, W) in DN."""
        c = self.config
        frame = self.background.copy()
        x, y = self.position(i)
        x0, y0 = int(round(x - c.object_px / 2)), int(round(y - c.object_px / 2))
        frame[y0:y0 + c.object_px, x0:x0 + c.object_px] = self.sprite
        if c.noise_dn > 0:
            noise = np.random.default_rng((c.seed, i)).normal(0.0, c.noise_dn, frame.shape)
            frame += noise.astype(np.float32)
        return frame

    def bgr(self, i: int) -> np.ndarray:
        """Frame i as BGR uint8 (H, W, 3)."""
        grey = self.grey(i)
        return np.clip(np.rint(grey[:, :, None] * self.tint), 0, 255).astype(np.uint8)


class GestureScene:
    """Renders frame i of a ``scene = "gestures"`` configuration (module docstring), one period of
    frames at a time.

    Consecutive gestures are chained, so the hand never jumps (a jump is motion too, and would be
    seen as a gesture): period k's path is placed (`centre`) to start where period k − 1 ended;
    circles make whole turns; a swipe's length is chosen so that it ends `EXTENT`/4 from the
    middle of the frame on its side (at least 0.35 of the side long), which pulls the hand back
    towards the middle every cycle; the
    order of `GESTURES` puts `recede` (which starts large) right after `approach`."""

    EXTENT = 0.5

    def __init__(self, config: SyntheticCameraConfig) -> None:
        from akida_edge.apps.vision.labels import BACKGROUND, GESTURES
        from akida_edge.apps.vision.scenes import SceneParams

        self.config = c = config
        self.period = max(1, int(round((c.move_s + c.still_s) * c.fps)))
        self.labels = GESTURES if c.move_s > 0 else (BACKGROUND,)
        self.base = SceneParams(size=(c.height, c.width), fps=c.fps, duration_s=(self.period - 1) / c.fps,
                                bg_seed=c.seed, seed=c.seed, start_s=c.still_s / 2, gesture_s=c.move_s,
                                noise_dn=c.noise_dn, extent=self.EXTENT, turns=1.0)
        self._last: tuple[int, Any] | None = None  # (period, its SceneParams)
        self._k, self._frames = -1, None

    def label(self, k: int) -> str:
        """The gesture of period k."""
        return self.labels[(self.config.seed + k) % len(self.labels)]

    def params(self, k: int):
        """The `SceneParams` of period k (chained from period 0). Only the last one is kept (a daemon
        runs the scene for months: a list of every period's grew by ~240 kB an hour); an earlier k
        is chained again from period 0."""
        if self._last is None or k < self._last[0]:
            self._last = (0, self.base)
        j, p = self._last
        while j < k:
            j, p = j + 1, self._chained(j + 1, p)
        self._last = (j, p)
        return p

    def _chained(self, j: int, prev: Any) -> Any:
        """Period j's `SceneParams`, placed to start where period j − 1's (`prev`) ended."""
        import dataclasses

        from akida_edge.apps.vision.scenes import SWIPES, pose

        h, w = self.base.size
        side = min(h, w)
        label, p = self.label(j), self.base
        x_end, y_end, _, _ = pose(self.label(j - 1), prev, prev.duration_s)
        if label in SWIPES:  # end EXTENT/4 from the middle, on the swipe's side
            d = SWIPES[label]
            start, mid = (x_end, w / 2) if d[0] else (y_end, h / 2)
            sign = d[0] or d[1]
            extent = min(max(sign * (mid - start) / side + self.EXTENT / 4, 0.35), 0.7)
            p = dataclasses.replace(p, extent=extent)
        ox, oy, _, _ = pose(label, dataclasses.replace(p, centre=(0.0, 0.0)), 0.0)
        centre = ((x_end - ox) / w, (y_end - oy) / h)
        if all(0.1 <= v <= 0.9 for v in centre):  # else start again from the middle
            p = dataclasses.replace(p, centre=centre)
        return p

    def grey(self, i: int) -> np.ndarray:
        from akida_edge.apps.vision.scenes import render

        k, j = divmod(i, self.period)
        if k != self._k:
            self._frames, _ = render(self.label(k), self.params(k))
            self._k = k
        return self._frames[min(j, len(self._frames) - 1)]

    def bgr(self, i: int) -> np.ndarray:
        return np.repeat(self.grey(i)[:, :, None], 3, axis=2)


def make_scene(config: SyntheticCameraConfig) -> SyntheticScene | GestureScene:
    """The scene `config` describes: a `GestureScene` for ``scene = "gestures"``, else a
    `SyntheticScene` (the moving object)."""
    return GestureScene(config) if config.scene == "gestures" else SyntheticScene(config)


class SyntheticCameraSource(Source):
    """Frames of a `SyntheticScene`, paced at `fps` (`realtime`) or as fast as they are read."""

    kind = "video"

    def __init__(self, config: SyntheticCameraConfig = SyntheticCameraConfig(),
                 pacer: Pacer | None = None) -> None:
        super().__init__()
        self.config = config
        self.pacer = pacer or Pacer(config.realtime)
        self.rate_hz = float(config.fps)
        self._i = 0

    def open(self) -> SyntheticCameraSource:
        self.scene = make_scene(self.config)
        self._i = 0
        c = self.config
        self._t0_us = int(time.time() * 1e6) if c.start_us is None else int(c.start_us)
        self._last = None if c.duration_s is None else int(math.floor(c.duration_s * c.fps))
        self.pacer.wait(0.0)
        self.health.state = "open"
        return self

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        if self.health.state != "open":
            return None
        if self._last is not None and self._i >= self._last:
            self.health.state = "ended"
            return None
        i = self._i
        self.pacer.wait(i / self.config.fps)
        frame = self.scene.bgr(i)
        self._i += 1
        return self._chunk(self._t0_us + round(i * 1e6 / self.config.fps), frame, self.config.fps)


def write_video(path: str, config: SyntheticCameraConfig, seconds: float, fourcc: str = "MJPG") -> int:
    """Write `seconds` of the scene (either kind, `make_scene`) to a video file with OpenCV
    (Motion-JPEG AVI by default), for `video_file` replays without a camera; returns the number of
    frames written."""
    import cv2

    scene = make_scene(config)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), config.fps,
                             (config.width, config.height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path} with codec {fourcc!r}; try a .avi file with MJPG")
    n = int(round(seconds * config.fps))
    try:
        for i in range(n):
            writer.write(scene.bgr(i))
    finally:
        writer.release()
    return n
