"""Every source type, end to end: driver -> front-end -> encoder (event view + ROC) -> model input
tensor -> `Model.forward` of a small seeded random model of the matching shape.

Real files (an MJPG video written with OpenCV, WAV and CSV recordings, EVT 2.0 / 3.0 files written
from the documented bit layouts), the synthetic machine, and fakes only at the hardware boundary
(sounddevice's stream, pyserial's port). Each case runs twice on fresh sources: the tensors must be
identical (determinism). A camera stamps frames with the wall clock; its frames are stamped here
at their nominal rate (chunk seq / rate) so that the run is repeatable.
"""

from __future__ import annotations

import sys
import types

import cv2
import numpy as np
import pytest

from akida_edge.drivers import SOURCE_TYPES, make_source
from akida_edge.drivers.wavfile import write_wav
from akida_edge.encoders.dvs import DvsEmulator
from akida_edge.encoders.event_windows import EventWindowParams, EventWindowState, event_windows_step
from akida_edge.encoders.feature_roc import audio_roc_step, vibration_roc_step
from akida_edge.encoders.roc import RocParams
from akida_edge.engine.layers import Convolutional, FullyConnected, InputConvolutional, InputData
from akida_edge.engine.model import Model, weight_range
from akida_edge.events import EVENT_DTYPE
from akida_edge.frontends.audio import KWS_PARAMS, audio_init, kws_input_tensor
from akida_edge.frontends.delta import DeltaParams
from akida_edge.frontends.vibration import VibrationParams, vibration_init
from akida_edge.frontends.video import GreyParams, GreyState, grey_step

pytestmark = pytest.mark.integration

ROC = RocParams(bits=4, keep_fraction=0.5)
SENSOR = (48, 64)  # (H, W) of the test video and event files
WINDOWS = EventWindowParams(SENSOR, out_shape=(12, 16), window_us=100_000, roc=ROC)
AUDIO_DELTA = DeltaParams(threshold=2.0)
VIB_DELTA = DeltaParams(threshold=1.0)


# --------------------------------------------------------------------------------- pipelines


def events_to_tensors(chunks) -> np.ndarray:
    """Event chunks (EVT) -> window tensors (n, 12, 16, 2)."""
    state, rows = EventWindowState(), []
    for events in chunks:
        t, _, state = event_windows_step(events, state, WINDOWS)
        rows.append(t)
    t, _, state = event_windows_step(np.zeros(0, EVENT_DTYPE), state, WINDOWS, flush=True)
    return np.concatenate(rows + [t])


def video_pipeline(source) -> dict[str, np.ndarray]:
    """BGR frames -> grey -> DVS emulator -> windows -> ROC (InputData); grey 12×16 (InputConvolutional)."""
    emu = DvsEmulator("clean", shape=SENSOR, seed=0)
    grey_state, small = GreyState(), GreyParams(width=16, height=12)
    ev_state, rows, greys = EventWindowState(), [], []
    with source:
        for chunk in source:
            t_us = int(round(chunk.seq * 1e6 / chunk.rate_hz))
            grey, grey_state = grey_step(chunk.data, t_us, grey_state, GreyParams())
            greys.append(grey_step(chunk.data, t_us, GreyState(), small)[0])
            tensors, _, ev_state = event_windows_step(emu.step(grey, t_us), ev_state, WINDOWS, t_now_us=t_us)
            rows.append(tensors)
    tensors, _, _ = event_windows_step(np.zeros(0, EVENT_DTYPE), ev_state, WINDOWS, flush=True)
    return {"events": np.concatenate(rows + [tensors]), "pixels": np.stack(greys)[..., None]}


def audio_pipeline(source) -> dict[str, np.ndarray]:
    """16 kHz blocks -> log-mel event view -> ROC per hop, one second as (49, 10, 2); and the
    DS-CNN (49, 10, 1) uint8 tensor of the same second (InputConvolutional)."""
    state, rows, samples = audio_init(KWS_PARAMS), [], []
    with source:
        for chunk in source:
            assert chunk.rate_hz == 16000 and chunk.kind == "audio"
            x = chunk.data[:, 0]
            _, dense, _, state = audio_roc_step(x, chunk.t_us, state, KWS_PARAMS, AUDIO_DELTA, ROC)
            rows.append(dense)
            samples.append(chunk.data[:, 0])
    dense = np.concatenate(rows)
    assert dense.shape[0] >= 49
    return {"events": dense[None, :49], "pixels": kws_input_tensor(np.concatenate(samples))[None]}


def vibration_pipeline(source) -> dict[str, np.ndarray]:
    """Accelerometer blocks -> band features -> event view -> ROC per window: (n, 1, 16, 2·axes)."""
    state, rows = None, []
    with source:
        for chunk in source:
            assert chunk.kind == "vibration"
            if state is None:
                params = VibrationParams(rate_hz=chunk.rate_hz, window_s=0.25, hop_s=0.25, n_bands=8,
                                         n_env_bands=8, env_max_hz=chunk.rate_hz / 10)
                state = vibration_init(chunk.data.shape[1])
            _, dense, _, state = vibration_roc_step(chunk.data, chunk.t_us, state, params, VIB_DELTA, ROC)
            rows.append(dense)
    return {"events": np.concatenate(rows)[:, None]}


# ------------------------------------------------------------------------------------ inputs


def bursts(rng, n, rate, axes):
    """Noise whose loudness changes every 0.1 s (so band energies cross thresholds)."""
    step = int(rate // 10)
    gain = np.repeat(rng.uniform(0.01, 0.4, n // step + 1), step)[:n]
    return (rng.normal(size=(n, axes)) * gain[:, None]).astype(np.float32)


def write_video(path, n=20, fps=20.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (SENSOR[1], SENSOR[0]))
    assert writer.isOpened()
    for i in range(n):
        frame = np.full((*SENSOR, 3), 40, np.uint8)
        frame[10:34, 2 * i:2 * i + 14] = (60, 200, 230)  # a bright box moving right
        writer.write(frame)
    writer.release()
    return path


def bar_events(rng, n=4000, span_us=600_000) -> np.ndarray:
    """A vertical bar sweeping right: ON at its leading edge, OFF at its trailing edge."""
    t = np.sort(rng.integers(0, span_us, n)) + 1_000
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = t
    lead = (t * SENSOR[1] // (span_us + 1_000)).astype(np.int64)
    on = rng.random(n) < 0.6
    ev["x"] = np.clip(np.where(on, lead, lead - 6) + rng.integers(-1, 2, n), 0, SENSOR[1] - 1)
    ev["y"] = rng.integers(0, SENSOR[0], n)
    ev["p"] = np.where(on, 1, -1)
    return ev


def encode_evt2(ev) -> bytes:
    """EVT 2.0 words: type[31:28] | ts[27:22] | x[21:11] | y[10:0]; TIME_HIGH (0x8) = t[33:6]."""
    words, high = [], None
    for e in ev:
        t = int(e["t"])
        if t >> 6 != high:
            high = t >> 6
            words.append((0x8 << 28) | high)
        kind = 1 if e["p"] > 0 else 0
        words.append((kind << 28) | ((t & 0x3F) << 22) | (int(e["x"]) << 11) | int(e["y"]))
    return np.asarray(words, "<u4").tobytes()


def encode_evt3(ev) -> bytes:
    """EVT 3.0 words: TIME_HIGH 0x8 / TIME_LOW 0x6, ADDR_Y 0x0, ADDR_X 0x2 (pol[11] | x), one per event."""
    words, high, low, y_cur = [], None, None, None
    for e in ev:
        t, y = int(e["t"]), int(e["y"])
        if (t >> 12) & 0xFFF != high:
            high = (t >> 12) & 0xFFF
            words.append((0x8 << 12) | high)
        if t & 0xFFF != low:
            low = t & 0xFFF
            words.append((0x6 << 12) | low)
        if y != y_cur:
            y_cur = y
            words.append(y)
        words.append((0x2 << 12) | ((1 if e["p"] > 0 else 0) << 11) | int(e["x"]))
    return np.asarray(words, "<u2").tobytes()


def write_evt(path, ev, version):
    body = encode_evt2(ev) if version == 2 else encode_evt3(ev)
    fmt = "EVT2" if version == 2 else "EVT3"
    header = f"% evt {version}.0\n% format {fmt};height={SENSOR[0]};width={SENSOR[1]}\n% end\n"
    path.write_bytes(header.encode() + body)
    return path


class FakeStream:
    """sounddevice.InputStream stand-in: `start()` delivers the prepared blocks via the callback."""

    blocks: list[np.ndarray] = []

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback):
        self.callback, self.active = callback, True

    def start(self):
        for block in FakeStream.blocks:
            self.callback(block, len(block), None, None)

    def stop(self):
        self.active = False

    def close(self):
        pass


def fake_sounddevice(rate_hz):
    sd = types.ModuleType("sounddevice")
    device = {"name": "Fake Mic", "max_input_channels": 1, "default_samplerate": float(rate_hz)}
    sd.query_devices = lambda dev=None, kind=None: [device] if kind is None and dev is None else device
    sd.InputStream = FakeStream
    return sd


class FakePort:
    """pyserial's Serial stand-in: `readline()` returns the prepared lines, then b'' (timeout)."""

    lines: list[bytes] = []

    def __init__(self, port, baudrate, timeout):
        self._lines = list(FakePort.lines)

    def readline(self):
        return self._lines.pop(0) if self._lines else b""

    def close(self):
        pass


# ------------------------------------------------------------------------------------- cases


def case_camera(tmp_path, rng, monkeypatch):
    path = write_video(tmp_path / "cam.avi")
    return lambda: video_pipeline(make_source("camera", device=str(path), realtime=False))


def case_video_file(tmp_path, rng, monkeypatch):
    path = write_video(tmp_path / "replay.avi")
    return lambda: video_pipeline(make_source("video_file", path=str(path)))


def case_synthetic_camera(tmp_path, rng, monkeypatch):
    return lambda: video_pipeline(make_source(
        "synthetic_camera", width=SENSOR[1], height=SENSOR[0], fps=30.0, move_s=1.0, still_s=0.5,
        object_px=12, realtime=False, duration_s=1.5, start_us=0, seed=3))


def case_audio_file(tmp_path, rng, monkeypatch):
    path = tmp_path / "speech.wav"
    write_wav(path, bursts(rng, 44100 + 4410, 44100, 2), 44100)  # 1.1 s, stereo, 44.1 kHz
    return lambda: audio_pipeline(make_source("audio_file", path=str(path), block_s=0.1))


def case_synthetic_speech(tmp_path, rng, monkeypatch):
    return lambda: audio_pipeline(make_source("synthetic_speech", words="yes stop", gap_s=0.3, seed=4,
                                              block_s=0.1))


def case_microphone(tmp_path, rng, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(48000))
    x = bursts(rng, 48000 + 4800, 48000, 1)
    blocks = [x[i:i + 4800] for i in range(0, x.shape[0], 4800)]

    def run():
        FakeStream.blocks = blocks
        src = make_source("microphone", device="fake", block_s=0.1, buffer_s=10.0)

        class Drain:  # read until the ring is empty, then stop
            def __enter__(self):
                src.open()
                return self

            def __exit__(self, *exc):
                assert src.health.overflows == 0
                src.close()

            def __iter__(self):
                while (chunk := src.read(timeout_s=0)) is not None:
                    yield chunk

        return audio_pipeline(Drain())

    return run


def case_vibration_file(tmp_path, rng, monkeypatch):
    wav, csv = tmp_path / "shaker.wav", tmp_path / "shaker.csv"
    write_wav(wav, 0.5 * bursts(rng, 8000 * 2, 8000, 3), 8000)
    x = bursts(rng, 4000 * 2, 4000, 2)
    rows = "\n".join(f"{i / 4000:.6f},{a:.6f},{b:.6f}" for i, (a, b) in enumerate(x))
    csv.write_text("time_s,x,y\n" + rows + "\n")
    return lambda: {
        "wav": vibration_pipeline(make_source("vibration_file", path=str(wav)))["events"],
        "csv": vibration_pipeline(make_source("vibration_file", path=str(csv)))["events"],
    }


def case_serial_vibration(tmp_path, rng, monkeypatch):
    fake = types.ModuleType("serial")
    fake.Serial = FakePort
    monkeypatch.setitem(sys.modules, "serial", fake)
    x = bursts(rng, 2000, 1000, 3)
    FakePort.lines = [f"{a:.5f},{b:.5f},{c:.5f}\n".encode() for a, b, c in x]

    def run():
        src = make_source("serial_vibration", port="/dev/ttyFAKE", rate_hz=1000.0, block_samples=100)

        class Blocks:
            def __enter__(self):
                src.open()
                return self

            def __exit__(self, *exc):
                src.close()

            def __iter__(self):
                for _ in range(len(FakePort.lines) // 100):
                    yield src.read(timeout_s=1.0)

        return vibration_pipeline(Blocks())

    return run


def case_synthetic_machine(tmp_path, rng, monkeypatch):
    return lambda: vibration_pipeline(make_source(
        "synthetic_machine", duration_s=2.0, block_s=0.1, fault="outer", severity=0.8, axes=3,
        speed_drift=0.2, seed=5))


def case_evt_file(tmp_path, rng, monkeypatch):
    ev = bar_events(rng)
    paths = {v: write_evt(tmp_path / f"bar{v}.raw", ev, v) for v in (2, 3)}

    def run():
        out = {}
        for v, path in paths.items():
            with make_source("evt_file", path=str(path), chunk_words=700) as src:
                out[f"evt{v}"] = events_to_tensors(c.data for c in src)
        out["expected"] = events_to_tensors([ev])  # the events as written, in one chunk
        return out

    return run


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


# ------------------------------------------------------------------------------------ models


def small_model(shape, rng, pixels=False) -> Model:
    """Input -> 3×3 conv (4 filters, 2-bit activations) -> FullyConnected(3) without activation."""
    first = (InputConvolutional(input_shape=shape, kernel_size=(3, 3), filters=4, act_bits=2)
             if pixels else InputData(input_shape=shape, input_bits=ROC.bits))
    layers = [first] if pixels else [first, Convolutional(kernel_size=(3, 3), filters=4, weights_bits=2,
                                                           act_bits=2)]
    model = Model(layers + [FullyConnected(units=3, weights_bits=2, activation=False)])
    last = model.layers[-1]
    for layer in model.layers:
        if "weights" not in layer.variables:
            continue
        lo, hi = weight_range(layer.spec.weights_bits)
        w = rng.integers(lo, hi + 1, layer.get_variable("weights").shape)
        layer.set_variable("weights", w if layer is last else np.abs(w))  # excitatory before the output
        n = layer.get_variable("threshold").shape
        layer.set_variable("threshold", np.zeros(n, np.int32))
        layer.set_variable("act_step", np.full(n, 64.0 if pixels else 2.0, np.float32))
    return model


def check_tensor(x: np.ndarray, bits: int) -> None:
    assert x.dtype == np.uint8 and x.ndim == 4
    assert int(x.max()) <= (1 << bits) - 1
    assert np.count_nonzero(x) >= 10, "too few events reached the tensor"


def run_model(x: np.ndarray, rng, pixels=False) -> None:
    model = small_model(x.shape[1:], rng, pixels)
    out = model.forward(x)
    assert out.shape == (x.shape[0], *model.output_shape) and out.dtype == np.int32
    hidden = model.forward(x, upto=len(model.layers) - 1)
    assert hidden.dtype == np.uint8 and hidden.any(), "the events did not excite the first layer"
    np.testing.assert_array_equal(model.forward(x), out)


def test_every_source_type_has_a_case():
    assert set(SOURCE_TYPES) == set(CASES)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_source_to_model(kind, tmp_path, rng, monkeypatch):
    run = CASES[kind](tmp_path, rng, monkeypatch)
    first, second = run(), run()
    assert first.keys() == second.keys()
    for name, x in first.items():
        np.testing.assert_array_equal(second[name], x, err_msg=f"{kind}/{name} is not deterministic")
        pixels = name == "pixels"
        if pixels:
            assert x.dtype == np.uint8 and x.shape[-1] == 1 and x.any()
        else:
            check_tensor(x, ROC.bits)
        run_model(x, np.random.default_rng(11), pixels)
    if kind == "evt_file":  # both formats decode to exactly the events written, in any chunking
        np.testing.assert_array_equal(first["evt2"], first["expected"])
        np.testing.assert_array_equal(first["evt3"], first["expected"])
    if kind in ("camera", "video_file"):
        on, off = first["events"][..., 0], first["events"][..., 1]
        assert on.any() and off.any()  # the box's leading and trailing edges
