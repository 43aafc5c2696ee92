"""The camera and video-file drivers on a real MJPG .avi written with OpenCV, a missing device,
and reconnection with a fake clock when a live source stops delivering frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from akida_edge.drivers.camera import CameraConfig, CameraSource
from akida_edge.drivers.video_file import VideoFileConfig, VideoFileSource

from akida_edge.errors import SourceError
from akida_edge.frontends.video import GreyParams, GreyState, grey_step

pytestmark = pytest.mark.integration

W, H, N, FPS = 64, 48, 20, 20.0


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "moving.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    for i in range(N):
        frame = np.full((H, W, 3), 40, np.uint8)
        frame[10:30, 2 * i : 2 * i + 12] = 220  # a bright square moving right
        writer.write(frame)
    writer.release()
    return path


def test_camera_driver_reads_every_frame_of_a_file(video):
    src = CameraSource(CameraConfig(device=str(video), realtime=False)).open()
    chunks = list(src)
    assert len(chunks) == N and src.health.state == "ended"
    assert all(c.data.shape == (H, W, 3) and c.data.dtype == np.uint8 for c in chunks)
    assert src.rate_hz == pytest.approx(FPS)
    # the square moves right: its left edge (first bright column) is at 2·i
    for i, c in enumerate(chunks):
        assert abs(int(np.argmax(c.data[20, :, 1] > 128)) - 2 * i) <= 1


def test_camera_on_a_file_is_paced_and_decimated(video):
    now = [0.0]
    src = CameraSource(
        CameraConfig(device=str(video), fps=10.0),
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    ).open()
    chunks = list(src)
    assert len(chunks) == N // 2 and src.health.dropped == N // 2
    assert now[0] == pytest.approx((N - 1) / FPS)  # the last frame is due at (N - 1) / fps


def test_video_file_media_times_and_decimation(video):
    src = VideoFileSource(VideoFileConfig(str(video), fps=10.0, start_us=1_000_000)).open()
    chunks = list(src)
    assert [c.t_us for c in chunks] == [1_000_000 + round(i * 1e6 / FPS) for i in range(0, N, 2)]
    assert src.health.dropped == N // 2
    grey, state = grey_step(chunks[0].data, chunks[0].t_us, GreyState(), GreyParams(width=32, height=24))
    assert grey.shape == (24, 32)


def test_video_file_loops(video):
    src = VideoFileSource(VideoFileConfig(str(video), loop=True)).open()
    times = [src.read().t_us for _ in range(N + 3)]
    assert times == [round(i * 1e6 / FPS) for i in range(N + 3)]


def test_missing_device_and_file_are_one_line_errors(tmp_path):
    with pytest.raises(SourceError, match="cannot open camera 97") as info:
        CameraSource(CameraConfig(device="97")).open()
    assert "\n" not in str(info.value)
    with pytest.raises(SourceError, match="does not exist"):
        CameraSource(CameraConfig(device=str(tmp_path / "none.avi"))).open()
    (tmp_path / "junk.avi").write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="cannot open video file"):
        VideoFileSource(VideoFileConfig(str(tmp_path / "junk.avi"))).open()


class FlakyCapture:
    """A live capture that delivers `frames` frames, then nothing (an unplugged camera)."""

    def __init__(self, frames):
        self.frames = frames

    def read(self):
        if self.frames == 0:
            return False, None
        self.frames -= 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def get(self, prop):
        return 30.0

    def release(self):
        pass


def test_live_source_reconnects_with_backoff_and_never_raises():
    now = [0.0]
    plan = iter(
        [
            FlakyCapture(2),
            OSError("gone"),
            SourceError("cannot open camera 0"),
            OSError("gone"),
            FlakyCapture(1),
        ]
    )

    def opener(device):
        item = next(plan)
        if isinstance(item, Exception):
            raise item
        return item

    cam = CameraSource(
        CameraConfig(device=0, backoff_initial_s=1.0, backoff_max_s=8.0),
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        opener=opener,
    ).open()
    assert cam.read() is not None and cam.read() is not None
    assert cam.read(timeout_s=2.5) is None  # stopped: reconnecting, gave up for now
    assert cam.health.state == "reconnecting" and cam.health.reconnects >= 1
    chunk = cam.read(timeout_s=60.0)
    assert chunk is not None and cam.health.state == "open"
    assert cam.health.reconnects == 3
    assert now[0] == pytest.approx(1.0 + 2.0 + 4.0)  # waits between the four attempts
