"""Video front-end: grey frames at a target rate, resized, for the event-camera emulator.

`grey_step(frame, t_us, state, params)` converts a BGR (or grey) uint8 frame to grey
(ITU-R BT.601 luma, OpenCV's `COLOR_BGR2GRAY`), resizes it with area averaging when a size is
set, and keeps it only when at least 1/fps has passed since the last kept frame (media or
capture time `t_us`), so a 30 fps camera feeds a 10 fps pipeline evenly. Returns None for a
dropped frame. The emulator (`akida_edge.encoders.dvs`) takes the grey frames and their times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GreyParams:
    fps: float | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if (self.width is None) != (self.height is None):
            raise ValueError("give both width and height for resizing, or neither")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"target fps must be > 0, got {self.fps}")


@dataclass(frozen=True)
class GreyState:
    last_t_us: int | None = None
    dropped: int = 0


def to_grey(frame: np.ndarray, params: GreyParams) -> np.ndarray:
    """Grey uint8 (H, W) of a BGR (H, W, 3), BGRA or grey frame, resized if asked."""
    import cv2

    if frame.ndim == 3 and frame.shape[2] == 3:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    elif frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        grey = frame.reshape(frame.shape[0], frame.shape[1])
    else:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) frame, got shape {frame.shape}")
    if grey.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {grey.dtype}")
    if params.width and (grey.shape[1], grey.shape[0]) != (params.width, params.height):
        grey = cv2.resize(grey, (params.width, params.height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey)


def grey_step(
    frame: np.ndarray, t_us: int, state: GreyState, params: GreyParams
) -> tuple[np.ndarray | None, GreyState]:
    """The grey frame, or None when the target rate drops it; and the new state."""
    if params.fps and state.last_t_us is not None and t_us - state.last_t_us < 1e6 / params.fps - 1:
        return None, GreyState(state.last_t_us, state.dropped + 1)
    return to_grey(frame, params), GreyState(int(t_us), state.dropped)
