"""Audio file replay (any rate/channels to 16 kHz mono) and the microphone via a fake sounddevice."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from akida_edge.drivers.audio_file import AudioFileConfig, AudioFileSource, load_audio
from akida_edge.drivers.base import Backoff, Pacer
from akida_edge.drivers.microphone import MicrophoneConfig, MicrophoneSource
from akida_edge.drivers.wavfile import write_wav
from akida_edge.errors import SourceError
from akida_edge.frontends.resample import resample

pytestmark = pytest.mark.unit


def test_stereo_44k_file_is_mixed_down_and_resampled(tmp_path, rng):
    x = rng.uniform(-0.5, 0.5, size=(44100, 2)).astype(np.float32)
    write_wav(tmp_path / "s.wav", x, 44100, bits=32)
    y = load_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(y, resample(x.mean(axis=1), 44100, 16000), atol=1e-6)
    src = AudioFileSource(AudioFileConfig(str(tmp_path / "s.wav"), block_s=0.25)).open()
    chunks = list(src)
    assert [c.data.shape for c in chunks] == [(4000, 1)] * 4
    assert all(c.rate_hz == 16000 and c.kind == "audio" for c in chunks)
    assert [c.t_us for c in chunks] == [0, 250_000, 500_000, 750_000]


def test_realtime_replay_is_paced(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(16000), 16000)
    now = [0.0]
    pacer = Pacer(True, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    src = AudioFileSource(
        AudioFileConfig(str(tmp_path / "a.wav"), block_s=0.1, realtime=True), pacer=pacer
    ).open()
    n = len(list(src))
    assert n == 10 and now[0] == pytest.approx(1.0)


def test_missing_audio_file():
    with pytest.raises(SourceError, match="cannot read WAV file"):
        AudioFileSource(AudioFileConfig("/nonexistent/x.wav")).open()


class FakeStream:
    last: FakeStream | None = None
    opened = 0
    fail_next = 0
    prefill = None

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback):
        self.samplerate, self.channels, self.blocksize, self.callback = (
            samplerate,
            channels,
            blocksize,
            callback,
        )
        self.started = self.closed = False
        self.active = True
        FakeStream.last = self
        FakeStream.opened += 1

    def start(self):
        if FakeStream.fail_next:
            FakeStream.fail_next -= 1
            raise RuntimeError("PortAudioError: device unavailable")
        self.started = True
        if FakeStream.prefill is not None:
            self.callback(FakeStream.prefill, len(FakeStream.prefill), None, None)

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


def _fake_sounddevice(default_rate=48000.0):
    sd = types.ModuleType("sounddevice")
    devices = [
        {"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0},
        {"name": "USB Mic", "max_input_channels": 2, "default_samplerate": default_rate},
    ]

    def query_devices(device=None, kind=None):
        if device is None and kind is None:
            return devices
        if device is None:
            return devices[1]
        for i, d in enumerate(devices):
            if (device == i or (isinstance(device, str) and device.lower() in d["name"].lower())) and d[
                "max_input_channels"
            ]:
                return d
        raise ValueError(f"No input device matching {device!r}")

    sd.query_devices = query_devices
    sd.InputStream = FakeStream
    return sd


def test_microphone_resamples_and_mixes_down(monkeypatch, rng):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(48000.0))
    src = MicrophoneSource(MicrophoneConfig(device="usb", channels=2, block_s=0.1)).open()
    stream = FakeStream.last
    assert stream.started and stream.samplerate == 48000 and stream.blocksize == 4800
    x = rng.uniform(-0.5, 0.5, size=(48000, 2)).astype(np.float32)
    for i in range(0, 48000, 4800):
        stream.callback(x[i : i + 4800], 4800, None, None)
    out = []
    while (chunk := src.read(timeout_s=0)) is not None:
        out.append(chunk.data[:, 0])
    got = np.concatenate(out)
    expected = resample(x.mean(axis=1), 48000, 16000)
    np.testing.assert_allclose(got, expected[: got.size], atol=1e-5)
    assert got.size > 15000 and src.health.overflows == 0
    src.close()
    assert stream.closed


def test_microphone_ring_overflow_is_counted(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(16000.0))
    src = MicrophoneSource(MicrophoneConfig(device="1", block_s=0.1, buffer_s=0.5)).open()
    assert src.config.device == 1  # a digit string from a config file is an index
    stream = FakeStream.last
    for _ in range(8):  # 8 blocks into a ring of 5, nobody reading
        stream.callback(
            np.zeros((1600, 1), np.float32), 1600, None, types.SimpleNamespace(input_overflow=False)
        )
    assert src.health.overflows == 3
    chunk = src.read(timeout_s=0)
    assert chunk.data.shape == (5 * 1600, 1)


def test_missing_device_lists_the_inputs(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice())
    with pytest.raises(SourceError, match=r"no input device 'webcam'; input devices: 1: USB Mic$") as info:
        MicrophoneSource(MicrophoneConfig(device="webcam")).open()
    assert "Speakers" not in str(info.value)


def test_missing_portaudio_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(SourceError, match="needs PortAudio"):
        MicrophoneSource().open()


def test_stopped_stream_is_reopened_with_backoff(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(16000.0))
    now = [0.0]
    backoff = Backoff(1.0, 8.0, 2.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    src = MicrophoneSource(MicrophoneConfig(device=1, block_s=0.1), backoff=backoff).open()
    first = FakeStream.last
    first.active = False  # unplugged
    FakeStream.fail_next = 2  # the first two reopen attempts fail
    assert src.read(timeout_s=0.0) is None
    assert src.health.state == "reconnecting" and "device unavailable" in src.health.last_error
    monkeypatch.setattr(FakeStream, "prefill", np.ones((1600, 1), np.float32))
    chunk = src.read(timeout_s=10.0)
    assert chunk is not None and chunk.data.shape == (1600, 1)
    assert src.health.state == "open" and FakeStream.last is not first
    assert src.health.reconnects == 2 and now[0] == pytest.approx(1.0 + 2.0)


def test_real_portaudio_names_a_missing_device():
    """Through the real sounddevice/PortAudio boundary (no fake): a device that is not there."""
    pytest.importorskip("sounddevice")
    with pytest.raises(SourceError, match=r"^no input device 'no-such-mic-\w+'; input devices: ") as info:
        MicrophoneSource(MicrophoneConfig(device="no-such-mic-akida")).open()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("loop", [False, True])
def test_empty_audio_file_is_refused_on_open(tmp_path, loop):
    path = tmp_path / "silent_none.wav"
    write_wav(path, np.zeros((0, 1), np.float32), 44100)
    src = AudioFileSource(AudioFileConfig(str(path), loop=loop))
    with pytest.raises(SourceError) as err:
        src.open()
    assert str(path) in str(err.value) and "no samples" in str(err.value) and "\n" not in str(err.value)
    assert src.health.state == "closed"
