"""Camera through OpenCV (`cv2.VideoCapture`): a device index, a video file, or an RTSP/HTTP URL.

* A missing device, unopenable URL or unreadable file raises a one-line `SourceError` at `open()`.
* Target frame rate: with `fps` set, frames are kept on a 1/fps schedule (monotonic clock) and
  the others dropped (counted in ``health.dropped``).
* A file plays like a camera: paced at its own frame rate (`realtime`, the default), or as fast
  as it is read with ``realtime=False``.
* When a live source stops delivering frames (camera unplugged, stream dropped), the capture is
  released and reopened with exponential backoff (`drivers.base.Backoff`), the state is
  ``reconnecting`` and ``health.reconnects`` counts the failed attempts; `read()` then returns
  None when its timeout passes, and never raises. A file that ends is ``ended`` (or starts again
  with `loop`).

Frames are BGR uint8 (H, W, 3) with the capture time (epoch µs) as `t_us`: the wall clock at the
first frame, then the monotonic clock's elapsed time, so frame times never go back and keep real
intervals (the DVS emulator, the motion window and hold time and the gesture windows run on them).
A wall clock that steps forward by more than `CLOCK_STEP_US` (NTP's first sync on a box without a
real-time clock) is followed at once; one that steps back is logged once and not followed (frame
times stay that far ahead of the new clock until it catches up or the pipeline restarts), since
frame times going back froze the motion state and held an episode open for the length of the step.
Replays paced in media time are `drivers.video_file`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.drivers.base import Backoff, Chunk, Pacer, Source, check_range, reconnect
from akida_edge.errors import SourceError
from akida_edge.frontends.video import rate_gate

log = logging.getLogger(__name__)

CLOCK_STEP_US = 1_000_000  # wall clock vs. frame timeline beyond this: a step of the wall clock


@dataclass(frozen=True)
class CameraConfig:
    device: int | str = 0  # index, file path, or rtsp:// / http(s):// URL
    fps: float | None = None  # target rate; None: every frame
    width: int | None = None  # requested capture size (devices only)
    height: int | None = None
    loop: bool = False  # files: start again at the end
    realtime: bool = True  # files: deliver at the file's frame rate, as a camera would
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.device, int) and not 0 <= self.device <= 255:
            raise ValueError(f"device = {self.device!r} is out of range; use a camera index in [0, 255], "
                             "a file path or a URL")
        check_range("fps", self.fps, 0.0, 1000.0, optional=True, lo_open=True)
        check_range("width", self.width, 8, 16384, optional=True)
        check_range("height", self.height, 8, 16384, optional=True)
        check_range("backoff_initial_s", self.backoff_initial_s, 0.0, 3600.0, lo_open=True)
        check_range("backoff_max_s", self.backoff_max_s, self.backoff_initial_s, 86400.0)



def parse_device(device: int | str) -> int | str:
    """`"0"` → 0 (an index), anything else stays a path or URL."""
    if isinstance(device, str) and device.strip().isdigit():
        return int(device.strip())
    return device


def is_file(device: int | str) -> bool:
    return isinstance(device, str) and "://" not in device


def open_capture(device: int | str):
    """A `cv2.VideoCapture` that is open, or a `SourceError` saying what is missing."""
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:
        pass
    if is_file(device) and not Path(device).exists():
        raise SourceError(f"video file {device} does not exist")
    if isinstance(device, str) and "://" in device:
        # network streams: bounded open and read times, so a dead stream becomes a reconnect
        # instead of a read blocked for FFmpeg's default 30 s
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
        cap = cv2.VideoCapture(device, cv2.CAP_ANY, params)
    else:
        cap = cv2.VideoCapture(device)
    if not cap.isOpened():
        cap.release()
        if isinstance(device, int):
            present = sorted(p.name for p in Path("/dev").glob("video*")) if os.name == "posix" else []
            raise SourceError(
                f"cannot open camera {device}; video devices present: {', '.join(present) or 'none'}"
            )
        what = "video file" if is_file(device) else "stream"
        raise SourceError(f"cannot open {what} {device} (unsupported format, unreachable or refused)")
    return cap


class CameraSource(Source):
    """Frames from a camera, file or network stream; reconnects when a live source stops."""

    kind = "video"

    def __init__(
        self,
        config: CameraConfig = CameraConfig(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        opener: Callable[[int | str], object] = open_capture,
    ) -> None:
        super().__init__()
        self.config = config
        self.device = parse_device(config.device)
        self.backoff = Backoff(config.backoff_initial_s, config.backoff_max_s, 2.0, clock, sleep)
        self._clock = clock
        self._pacer = Pacer(config.realtime and is_file(self.device), clock, sleep)
        self._frames = 0
        self._opener = opener
        self._cap = None
        self._next_due_us: float | None = None
        self._anchor_us: int | None = None  # epoch µs minus monotonic µs of the frame timeline
        self._behind_us = 0  # how far the wall clock stepped back (logged once per step)

    def _stamp_us(self) -> int:
        """The capture time of a frame read now (module docstring: wall clock at the first frame,
        monotonic since; forward steps of the wall clock followed, backward ones not)."""
        wall = time.time_ns() // 1000
        mono = time.monotonic_ns() // 1000
        if self._anchor_us is None or wall - (self._anchor_us + mono) > CLOCK_STEP_US:
            self._anchor_us, self._behind_us = wall - mono, 0
        ahead = self._anchor_us + mono - wall
        if ahead > CLOCK_STEP_US and ahead > 2 * self._behind_us:
            self._behind_us = ahead
            log.warning("camera %s: the wall clock stepped back by %.1f s; frame and detection times keep "
                        "their own timeline, that far ahead of the clock, until it catches up (or the "
                        "pipeline restarts)", self.device, ahead / 1e6)
        return self._anchor_us + mono

    def _connect(self) -> bool:
        cap = self._opener(self.device)
        if self.config.width and not is_file(self.device):
            import cv2

            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height or 0)
        self._cap = cap
        return True

    def open(self) -> CameraSource:
        self._connect()
        fps = self._cap.get(5)  # cv2.CAP_PROP_FPS
        self.rate_hz = float(fps) if fps and np.isfinite(fps) and fps < 1000 else 0.0
        self._frames = 0
        self._pacer.wait(0.0)
        self.health.state = "open"
        return self

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def read(self, timeout_s: float | None = 5.0) -> Chunk | None:
        while True:
            if self.health.state == "reconnecting":
                if not reconnect(self._connect, self.backoff, self.health, timeout_s):
                    return None
            if self.health.state != "open":
                return None
            try:
                ok, frame = self._cap.read()
            except Exception as exc:  # cv2.error from a broken stream: a lost frame, not a crash
                self.health.last_error = f"reading {self.device}: {exc}".splitlines()[0]
                ok, frame = False, None
            if not ok or frame is None:
                if is_file(self.device):
                    if self.config.loop and self._cap.set(1, 0):  # CAP_PROP_POS_FRAMES
                        ok, frame = self._cap.read()
                    if not ok or frame is None:
                        self.health.state = "ended"
                        self._release()
                        return None
                else:
                    self.health.last_error = f"no frame from {self.device}; reconnecting"
                    self._release()
                    self.health.state = "reconnecting"
                    continue
            if self.rate_hz:
                self._pacer.wait(self._frames / self.rate_hz)
            self._frames += 1
            if self.config.fps and not self._due(int(self._clock() * 1e6)):
                self.health.dropped += 1
                continue
            return self._chunk(self._stamp_us(), frame, self.config.fps or self.rate_hz)

    def _due(self, now_us: int) -> bool:
        """On the 1/fps schedule? Early arrivals by up to half a source frame interval count as
        on time (`frontends.video.rate_gate`)."""
        period = 1e6 / self.config.fps
        slack = min(period / 2, 0.5e6 / self.rate_hz) if self.rate_hz else None
        keep, self._next_due_us = rate_gate(now_us, self._next_due_us, period, slack)
        return keep

    def close(self) -> None:
        self._release()
        super().close()
