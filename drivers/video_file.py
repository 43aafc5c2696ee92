"""Replay of a video file in media time: paced in real time or as fast as possible.

Frame i is at media time i / fps (the container's frame rate; 25 when it gives none) from
`start_us`, so a replay is reproducible. `fps` decimates to a target rate by
media time (frames are kept on a 1/fps schedule, `frontends.video.rate_gate`; the others are
dropped and counted: 25 → 10 fps keeps 4 of every 10); `realtime`
sleeps so frames come out at their media times; `loop` starts again at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.drivers.base import Chunk, Pacer, Source, check_range
from akida_edge.drivers.camera import open_capture
from akida_edge.frontends.video import rate_gate

#: Containers whose header stores the number of frames (AVI's, MP4's sample table); for others
#: (Matroska, WebM...) OpenCV estimates it from the duration, which a variable frame rate throws off.
COUNTED_SUFFIXES = (".avi", ".mp4", ".m4v", ".mov")


@dataclass(frozen=True)
class VideoFileConfig:
    path: str
    fps: float | None = None
    realtime: bool = False
    loop: bool = False
    start_us: int = 0

    def __post_init__(self) -> None:
        check_range("fps", self.fps, 0.0, 1000.0, optional=True, lo_open=True)
        check_range("start_us", self.start_us, 0, 2**62)



class VideoFileSource(Source):
    """BGR frames (H, W, 3) uint8 of a video file with media timestamps."""

    kind = "video"

    def __init__(self, config: VideoFileConfig, pacer: Pacer | None = None) -> None:
        super().__init__()
        self.config = config
        self.pacer = pacer or Pacer(config.realtime)
        self._cap = None

    def open(self) -> VideoFileSource:
        self._cap = open_capture(str(self.config.path))
        fps = self._cap.get(5)  # cv2.CAP_PROP_FPS
        self.rate_hz = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else 25.0
        self._index = 0  # frames read in this pass
        self.frames_read = 0  # frames decoded, all passes (those the `fps` gate drops included)
        declared = self._cap.get(7)  # cv2.CAP_PROP_FRAME_COUNT
        self.declared_frames = (int(declared) if Path(self.config.path).suffix.lower() in COUNTED_SUFFIXES
                                and np.isfinite(declared) and 0 < declared < 2**31 else None)
        self._offset_us = 0  # media time of earlier passes (loop)
        self._next_due_us: float | None = None
        self.health.state = "open"
        return self

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        while self.health.state == "open":
            ok, frame = self._cap.read()
            if not ok or frame is None:
                if self.config.loop and self._index > 0 and self._cap.set(1, 0):  # CAP_PROP_POS_FRAMES
                    self._offset_us += int(round(self._index * 1e6 / self.rate_hz))
                    self._index = 0
                    continue
                self.health.state = "ended"
                self._cap.release()
                return None
            media_us = self._offset_us + int(round(self._index * 1e6 / self.rate_hz))
            self._index += 1
            self.frames_read += 1
            if self.config.fps:
                slack = min(0.5e6 / self.config.fps, 0.5e6 / self.rate_hz - 1)
                keep, self._next_due_us = rate_gate(media_us, self._next_due_us, 1e6 / self.config.fps, slack)
                if not keep:
                    self.health.dropped += 1
                    continue
            self.pacer.wait(media_us / 1e6)
            return self._chunk(self.config.start_us + media_us, frame, self.config.fps or self.rate_hz)
        return None

    def shortfall(self) -> str | None:
        """After one whole pass (no `loop`): why the file gave fewer frames than its container
        declares (a copy or a download cut short, which OpenCV reads up to the cut without a word),
        or None. Only containers that store the count are held to it, and a few frames' difference
        (an edit list, a dropped frame) is allowed."""
        declared = getattr(self, "declared_frames", None)
        if declared is None or self.config.loop or declared - self.frames_read <= max(2, 0.05 * declared):
            return None
        return f"its header declares {declared} frames, {self.frames_read} could be read"

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        super().close()
