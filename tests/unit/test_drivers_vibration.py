"""Vibration replay (WAV, CSV) with good and broken files, and the serial source with a fake port."""

from __future__ import annotations

import struct
import sys
import types

import numpy as np
import pytest

from akida_edge.drivers.vibration import (
    SerialConfig,
    SerialVibrationSource,
    VibrationFileConfig,
    VibrationFileSource,
    load_vibration,
)
from akida_edge.drivers.wavfile import read_wav, write_wav
from akida_edge.errors import SourceError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("axes, bits", [(1, 16), (3, 16), (2, 32)])
def test_wav_replay_keeps_rate_axes_and_samples(tmp_path, rng, axes, bits):
    x = rng.uniform(-0.9, 0.9, size=(5000, axes)).astype(np.float32)
    path = tmp_path / "v.wav"
    write_wav(path, x, 25600, bits=bits)
    src = VibrationFileSource(VibrationFileConfig(str(path), block_s=0.05)).open()
    chunks = list(src)
    got = np.concatenate([c.data for c in chunks])
    assert src.rate_hz == 25600 and got.shape == x.shape
    tol = 0.5 / 32768 if bits == 16 else 0
    np.testing.assert_allclose(got, x, atol=tol)
    assert [c.t_us for c in chunks[:2]] == [0, round(1280 * 1e6 / 25600)]


def test_wav_24_bit_pcm(tmp_path, rng):
    v = rng.integers(-(1 << 23), 1 << 23, size=100)
    raw = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 24000, 3, 24)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(raw)) + raw
    (tmp_path / "a.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    x, info = read_wav(tmp_path / "a.wav")
    assert info.bits == 24 and info.rate_hz == 8000
    np.testing.assert_array_equal(x[:, 0], (v / float(1 << 23)).astype(np.float32))


@pytest.mark.parametrize("bits, block", [(0, 0), (0, 2), (16, 0)])
def test_wav_with_zero_bits_or_block_is_refused(tmp_path, bits, block):
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, block, bits)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 4) + bytes(4)
    path = tmp_path / "zero.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(SourceError, match=rf"zero\.wav has an inconsistent header \(1 channels, {bits} bits, "
                                          rf"block {block}\)"):
        read_wav(path)


@pytest.mark.parametrize("placeholder", [0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000])  # the last: espeak-ng
def test_streamed_wav_without_length_reads_to_the_end(tmp_path, rng, placeholder):
    x = rng.uniform(-0.5, 0.5, size=(300, 2)).astype(np.float32)
    write_wav(tmp_path / "s.wav", x, 8000, bits=32)
    raw = bytearray((tmp_path / "s.wav").read_bytes())
    at = raw.index(b"data") + 4
    raw[at : at + 4] = struct.pack("<I", placeholder)  # the length a streaming recorder leaves
    (tmp_path / "s.wav").write_bytes(bytes(raw))
    got, info = read_wav(tmp_path / "s.wav")
    np.testing.assert_array_equal(got, x)
    (tmp_path / "t.wav").write_bytes(bytes(raw[:-3]))
    with pytest.raises(SourceError, match="stray bytes"):
        read_wav(tmp_path / "t.wav")


def test_broken_wav_files(tmp_path, rng):
    good = tmp_path / "good.wav"
    write_wav(good, rng.uniform(-1, 1, size=(1000, 1)), 8000)
    data = good.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:-101])
    with pytest.raises(SourceError, match=r"cut\.wav is truncated"):
        load_vibration(tmp_path / "cut.wav")
    (tmp_path / "text.wav").write_text("not audio at all")
    with pytest.raises(SourceError, match="not a WAV file"):
        load_vibration(tmp_path / "text.wav")
    write_wav(tmp_path / "four.wav", np.zeros((10, 4)), 8000)
    with pytest.raises(SourceError, match="4 channels"):
        load_vibration(tmp_path / "four.wav")
    with pytest.raises(SourceError, match="does not exist"):
        load_vibration(tmp_path / "missing.wav")


def test_csv_with_time_column_gives_the_rate(tmp_path, rng):
    rate = 2000.0
    x = rng.normal(size=(300, 3))
    t = np.arange(300) / rate
    rows = [f"{ti:.6f},{a:.6f},{b:.6f},{c:.6f}" for ti, (a, b, c) in zip(t, x, strict=True)]
    lines = ["time_s,ax,ay,az", *rows]
    (tmp_path / "v.csv").write_text("\n".join(lines) + "\n")
    got, got_rate = load_vibration(tmp_path / "v.csv")
    assert got_rate == pytest.approx(rate, rel=1e-6)
    np.testing.assert_allclose(got, x, atol=1e-6)


def test_csv_without_time_column_needs_a_rate(tmp_path):
    (tmp_path / "v.csv").write_text("x,y\n0.1,0.2\n0.3,0.4\n")
    with pytest.raises(SourceError, match="no time column"):
        load_vibration(tmp_path / "v.csv")
    got, rate = load_vibration(tmp_path / "v.csv", rate_hz=100.0)
    assert rate == 100.0 and got.shape == (2, 2)


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("t,x\n0,1\n0.001,abc\n", r"v\.csv:3: column 'x' value 'abc' is not a number"),
        ("t,x\n0,1\n0.001,2,3\n", r"v\.csv:3: expected 2 fields"),
        ("0,1\n1,2\n", r"v\.csv:1: the first row must be a header"),
        ("t,x\n0,1\n0.001,2\n\n0.002,2\n0.0015,3\n0.003,1\n", r"v\.csv:6: column 't' does not increase"),
        ("t,a,b,c,d\n0,1,2,3,4\n", r"expected 1-3 axis columns"),
        ("t,x\n", r"has a header but no samples"),
        # session-14 audit: a spreadsheet's export in a locale that separates with ';' or tabs
        ("t;x\n0;1,5\n0,001;2\n", r"v\.csv:1: the columns are separated by semicolons, not commas; save it "
                                   r"as comma-separated CSV with '\.' as the decimal point"),
        ("t\tx\n0\t1\n", r"v\.csv:1: the columns are separated by tabs, not commas"),
    ],
)
def test_broken_csv_files_name_line_and_column(tmp_path, text, pattern):
    (tmp_path / "v.csv").write_text(text)
    with pytest.raises(SourceError, match=pattern) as info:
        load_vibration(tmp_path / "v.csv")
    assert "\n" not in str(info.value)


def test_csv_with_quoted_fields_reads_as_without(tmp_path, rng):
    """Session-14 audit: a header written '"t","x"' (writers that quote every field) was taken for
    one without a time column ("give the sample rate"), and a quoted value for no number."""
    x = rng.normal(size=200)
    rows = [f'"{i / 1000:.3f}","{v:.6f}"' for i, v in enumerate(x)]
    (tmp_path / "q.csv").write_text('"t", "x"\n' + "\n".join(rows) + "\n")
    (tmp_path / "p.csv").write_text("t,x\n" + "\n".join(r.replace('"', "") for r in rows) + "\n")
    got, rate = load_vibration(tmp_path / "q.csv")
    plain, plain_rate = load_vibration(tmp_path / "p.csv")
    assert rate == pytest.approx(1000.0) and rate == plain_rate
    np.testing.assert_array_equal(got, plain)


class FakePort:
    lines: list[bytes] = []

    def __init__(self, port, baudrate, timeout):
        self.port = port

    def readline(self):
        if not FakePort.lines:
            raise OSError("device unplugged")
        return FakePort.lines.pop(0)

    def close(self):
        pass


def test_serial_source_parses_lines_and_counts_bad_ones(monkeypatch):
    fake = types.ModuleType("serial")
    fake.Serial = FakePort
    monkeypatch.setitem(sys.modules, "serial", fake)
    FakePort.lines = [b"0.1,0.2,0.3\n", b"garbage\n", b"1,2,3\n", b"4,5\n", b"7,8,9\n"]
    src = SerialVibrationSource(SerialConfig("/dev/ttyFAKE", rate_hz=100.0, block_samples=3)).open()
    chunk = src.read()
    np.testing.assert_allclose(chunk.data, [[0.1, 0.2, 0.3], [1, 2, 3], [7, 8, 9]], rtol=1e-6)
    assert src.health.dropped == 2 and "unparsable" in src.health.last_error
    src.close()


def test_serial_without_pyserial_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(SourceError, match=r"pip install .akida-edge\[serial\]"):
        SerialVibrationSource(SerialConfig("/dev/ttyUSB0", rate_hz=100.0)).open()


def test_serial_port_lost_is_reopened_with_backoff(monkeypatch):
    from akida_edge.drivers.base import Backoff

    plan = ["ok", "fail", "fail", "ok"]  # open, then two failed reopen attempts, then back

    class Port(FakePort):
        def __init__(self, port, baudrate, timeout):
            if plan.pop(0) == "fail":
                raise OSError(f"could not open port {port}")
            if not plan:
                FakePort.lines = [b"2,2,2\n"]  # the device is back with data

    fake = types.ModuleType("serial")
    fake.Serial = Port
    monkeypatch.setitem(sys.modules, "serial", fake)
    now = [0.0]
    backoff = Backoff(0.5, 4.0, 2.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    FakePort.lines = [b"1,1,1\n"]
    src = SerialVibrationSource(SerialConfig("/dev/ttyFAKE", rate_hz=50.0, block_samples=2), backoff).open()
    chunk = src.read()
    np.testing.assert_array_equal(chunk.data, [[1, 1, 1], [2, 2, 2]])
    assert src.health.reconnects == 2 and src.health.state == "open"
    assert now[0] == 0.5 + 1.0


@pytest.mark.parametrize("loop", [False, True])
def test_empty_vibration_file_is_refused_on_open(tmp_path, loop):
    path = tmp_path / "none.wav"
    write_wav(path, np.zeros((0, 3), np.float32), 25600)
    src = VibrationFileSource(VibrationFileConfig(str(path), loop=loop))
    with pytest.raises(SourceError) as err:
        src.open()
    assert str(path) in str(err.value) and "no samples" in str(err.value) and "\n" not in str(err.value)
    assert src.health.state == "closed"


def test_looping_vibration_replay_wraps_and_keeps_media_time(tmp_path, rng):
    x = rng.uniform(-0.9, 0.9, size=(300, 2)).astype(np.float32)
    path = tmp_path / "loop.wav"
    write_wav(path, x, 1000, bits=32)
    src = VibrationFileSource(VibrationFileConfig(str(path), block_s=0.1, loop=True)).open()
    chunks = [src.read() for _ in range(7)]
    block = round(0.1 * 1000)
    assert all(c.data.shape == (block, 2) for c in chunks)
    got = np.concatenate([c.data for c in chunks])
    np.testing.assert_array_equal(got, np.concatenate([x, x, x])[: 7 * block])
    assert [c.t_us for c in chunks] == [round(i * block * 1e6 / 1000) for i in range(7)]


@pytest.mark.parametrize("column, scale, decimals", [("t", 1.0, 6), ("t_ms", 1e3, 4), ("t_ms", 1e3, 3)])
def test_rounded_time_column_gives_the_true_rate(tmp_path, column, scale, decimals):
    """Session-27 audit: 12 kHz written in whole microseconds has steps of 83 and 84 µs; the median
    step made that 12 048 Hz (t_ms to 4 decimals: 12 004.8 Hz), and a normal machine scored as an
    anomaly. The rate is now the mean step's."""
    rate, n = 12_000.0, 72_000
    t = np.arange(n) / rate * scale
    (tmp_path / "v.csv").write_text(f"{column},x\n" + "".join(f"{a:.{decimals}f},0.5\n" for a in t))
    _, got = load_vibration(tmp_path / "v.csv")
    assert got == pytest.approx(rate, rel=2e-5)


def test_given_rate_must_agree_with_the_time_column(tmp_path):
    t = np.arange(500) / 1000.0
    (tmp_path / "v.csv").write_text("t,x\n" + "".join(f"{a:.4f},1\n" for a in t))
    with pytest.raises(SourceError, match=r"v\.csv: its column 't' gives 1000 Hz but the sample rate given "
                                          r"is 3000 Hz; drop the given rate") as info:
        load_vibration(tmp_path / "v.csv", rate_hz=3000.0)
    assert "\n" not in str(info.value)
    assert load_vibration(tmp_path / "v.csv", rate_hz=1005.0)[1] == pytest.approx(1000.0)  # within 1 %
    # steps that are not uniform: the given rate is used (the error without it says to give one)
    jitter = t + np.where(np.arange(500) % 7 == 0, 0.0004, 0.0)
    (tmp_path / "j.csv").write_text("t,x\n" + "".join(f"{a:.4f},1\n" for a in jitter))
    with pytest.raises(SourceError, match="does not increase uniformly"):
        load_vibration(tmp_path / "j.csv")
    assert load_vibration(tmp_path / "j.csv", rate_hz=1000.0)[1] == 1000.0
