"""Replay of a video file in media time: paced in real time or as fast as possible.

Frame i is at media time i / fps (the container's frame rate; 25 when it gives none) from
`start_us`, so a replay is reproducible. `fps` decimates to a target rate by
media time (frames closer than 1/fps to the last kept one are dropped and counted); `realtime`
sleeps so frames come out at their media times; `loop` starts again at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from akida_edge.drivers.base import Chunk, Pacer, Source
from akida_edge.drivers.camera import open_capture


@dataclass(frozen=True)
class VideoFileConfig:
    path: str
    fps: float | None = None
    realtime: bool = False
    loop: bool = False
    start_us: int = 0


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
        self._offset_us = 0  # media time of earlier passes (loop)
        self._last_media_us: int | None = None
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
            if (
                self.config.fps
                and self._last_media_us is not None
                and media_us - self._last_media_us < 1e6 / self.config.fps - 1
            ):
                self.health.dropped += 1
                continue
            self._last_media_us = media_us
            self.pacer.wait(media_us / 1e6)
            return self._chunk(self.config.start_us + media_us, frame, self.config.fps or self.rate_hz)
        return None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        super().close()
