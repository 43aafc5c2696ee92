"""`akida-edge vision watch`: gestures on a live camera, printed as they happen.

Frames from `drivers.camera.CameraSource` (a device index, a stream URL or a video file, paced
like a camera) → `app.FrameEvents` (the DVS emulator) → `app.GestureStream`. Times are seconds
from the first frame. ``--preview`` opens an OpenCV window with the event view (the newest model
input: its time slices summed, brighter = more recent activity) and the last gesture; it needs a
display and an OpenCV build with GUI support (the project installs ``opencv-python-headless``),
else one line says so before the camera is opened.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import IO, Any

import numpy as np

from akida_edge.errors import ConfigError

WINDOW = "akida-edge vision"
PREVIEW_PX = 384


def check_preview() -> None:
    """Raise a one-line `ConfigError` unless an OpenCV window can be shown here."""
    import cv2

    if os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError("--preview needs a display (DISPLAY or WAYLAND_DISPLAY is not set); run "
                          "without --preview, or on a desktop session")
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
    except cv2.error:
        raise ConfigError("--preview needs OpenCV with GUI support (this one is headless); "
                          "pip install opencv-python, or run without --preview") from None


def event_view(x: np.ndarray, last: str, px: int = PREVIEW_PX) -> np.ndarray:
    """A BGR picture of one model input (H, W, bins): slice k weighted k + 1, then the caption."""
    import cv2

    h, w, bins = x.shape
    acc = (x.astype(np.float32) * np.arange(1, bins + 1, dtype=np.float32)).sum(axis=2)
    top = float(acc.max())
    grey = np.zeros((h, w), np.uint8) if top == 0 else np.uint8(np.clip(255 * acc / top, 0, 255))
    img = cv2.cvtColor(cv2.resize(grey, (px, px), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
    cv2.putText(img, last, (8, px - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 200, 255), 2)
    return img


def run(source: Any, recognizer: Any, params: Any, out: IO[str], as_json: bool = False,
        duration_s: float | None = None, preview: bool = False,
        stop: threading.Event | None = None) -> int:
    """Read `source` (open) until it ends, `duration_s` passes or `stop` is set; print gestures to
    `out`. Returns the number of gestures."""
    from akida_edge.apps.vision.app import FrameEvents
    from akida_edge.commands.vision import gesture_line
    from akida_edge.pipelines.compose import read_chunks

    frames = FrameEvents()
    stream = None
    t0_us: int | None = None
    t_end = None if duration_s is None else time.monotonic() + duration_s
    stop = stop or threading.Event()
    last, found = "", 0
    for chunk in read_chunks(source, stop):
        if t_end is not None and time.monotonic() >= t_end:
            break
        if chunk is None:
            continue
        if t0_us is None:
            t0_us = chunk.t_us
        events = frames.step(chunk.data, chunk.t_us - t0_us)
        if stream is None:
            stream = recognizer.stream(frames.sensor_shape, params)
        for g in stream.push(events, chunk.t_us - t0_us):
            found += 1
            last = f"{g.label} ({g.score:.2f})"
            print(gesture_line("camera", g, as_json), file=out, flush=True)
        if preview and len(stream.last_inputs):
            import cv2

            cv2.imshow(WINDOW, event_view(stream.last_inputs[-1], last))
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                break
    else:  # the source ended (a video file ran out): its last windows still count
        for g in stream.flush() if stream is not None and not stop.is_set() else []:
            found += 1
            print(gesture_line("camera", g, as_json), file=out, flush=True)
    return found


def watch(args: argparse.Namespace) -> int:
    """The `vision watch` command (`akida_edge.commands.vision`)."""
    from akida_edge.apps.vision.app import Recognizer
    from akida_edge.commands.vision import _params
    from akida_edge.drivers.camera import CameraConfig, CameraSource, parse_device

    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration {args.duration}: give a positive number of seconds")
    if args.preview:
        check_preview()
    recognizer = Recognizer(args.model, args.state)
    params = _params(args, recognizer)
    source = CameraSource(CameraConfig(device=parse_device(args.camera))).open()
    print(f"watching camera {args.camera} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        run(source, recognizer, params, sys.stdout, args.json, args.duration, args.preview)
    finally:
        source.close()
        if args.preview:
            import cv2

            cv2.destroyAllWindows()
    return 0
