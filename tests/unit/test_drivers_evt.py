"""Prophesee EVT 2.0 / 3.0 readers on files written here from the documented bit layouts."""

from __future__ import annotations

import numpy as np
import pytest
from akida_edge.drivers.evt import EvtConfig, EvtFileSource, read_evt

from akida_edge.errors import SourceError
from akida_edge.events import EVENT_DTYPE

pytestmark = pytest.mark.unit


def _events(rng, n, t0, span_us, width=640, height=480):
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = t0 + np.sort(rng.integers(0, span_us, n))
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["p"] = rng.choice([-1, 1], n)
    ev = np.unique(ev)  # sorted by t, x, y, c, p; no duplicates
    return ev[np.lexsort((ev["x"], ev["p"], ev["y"], ev["t"]))]


def encode_evt2(ev):
    """EVT 2.0: type[31:28] | ts[27:22] | x[21:11] | y[10:0]; TIME_HIGH 0x8 carries t[33:6]."""
    words, high = [], None
    for e in ev:
        t = int(e["t"])
        if t >> 6 != high:
            high = t >> 6
            words.append((0x8 << 28) | (high & 0x0FFFFFFF))
        kind = 1 if e["p"] > 0 else 0
        words.append((kind << 28) | ((t & 0x3F) << 22) | (int(e["x"]) << 11) | int(e["y"]))
    return np.asarray(words, "<u4").tobytes()


def encode_evt3(ev):
    """EVT 3.0: TIME_HIGH 0x8 / TIME_LOW 0x6 (12 bits each), ADDR_Y 0x0, then per run of events
    sharing t, y and polarity either ADDR_X 0x2 (one event) or VECT_BASE_X 0x3 + VECT_12 0x4 /
    VECT_8 0x5 masks."""
    words, high, low, y_cur = [], None, None, None
    i = 0
    while i < ev.size:
        t, y, p = int(ev["t"][i]), int(ev["y"][i]), int(ev["p"][i])
        j = i
        while j < ev.size and (int(ev["t"][j]), int(ev["y"][j]), int(ev["p"][j])) == (t, y, p):
            j += 1
        xs = sorted(int(v) for v in ev["x"][i:j])
        if (t >> 12) & 0xFFF != high:
            high = (t >> 12) & 0xFFF
            words.append((0x8 << 12) | high)
        if t & 0xFFF != low:
            low = t & 0xFFF
            words.append((0x6 << 12) | low)
        if y != y_cur:
            y_cur = y
            words.append(y)
        pol = 1 if p > 0 else 0
        if len(xs) == 1:
            words.append((0x2 << 12) | (pol << 11) | xs[0])
        else:
            base = xs[0]
            words.append((0x3 << 12) | (pol << 11) | base)
            rest = xs
            while rest:
                width = 8 if rest[-1] - base < 8 else 12
                mask = sum(1 << (x - base) for x in rest if x - base < width)
                words.append(((0x5 if width == 8 else 0x4) << 12) | mask)
                rest = [x for x in rest if x - base >= width]
                base += width
        i = j
    return np.asarray(words, "<u2").tobytes()


def _write(path, header, body):
    path.write_bytes("".join(f"{h}\n" for h in header).encode() + body)
    return path


def _clustered(rng, t0):
    """Events in runs along x (so EVT 3.0 uses its vectors), plus scattered ones."""
    parts = [_events(rng, 400, t0, 60_000)]
    for _ in range(30):
        run = np.zeros(int(rng.integers(2, 30)), EVENT_DTYPE)
        run["t"] = t0 + int(rng.integers(0, 60_000))
        run["y"] = int(rng.integers(0, 480))
        run["x"] = int(rng.integers(0, 600)) + np.sort(rng.choice(40, run.size, replace=False))
        run["p"] = rng.choice([-1, 1])
        parts.append(run)
    ev = np.unique(np.concatenate(parts))
    return ev[np.lexsort((ev["x"], ev["p"], ev["y"], ev["t"]))]


@pytest.mark.parametrize("chunk_words", [1 << 20, 7])
def test_evt3_round_trip_with_vectors_and_time_wrap(tmp_path, rng, chunk_words):
    ev = _clustered(rng, (1 << 24) - 30_000)  # crosses the 24-bit time base wrap
    path = _write(
        tmp_path / "a.raw", ["% evt 3.0", "% format EVT3;height=480;width=640", "% end"], encode_evt3(ev)
    )
    src = EvtFileSource(EvtConfig(str(path), chunk_words=chunk_words)).open()
    got = np.concatenate([c.data for c in src])
    assert src.header.format == "evt3" and (src.header.width, src.header.height) == (640, 480)
    got = got[np.lexsort((got["x"], got["p"], got["y"], got["t"]))]
    np.testing.assert_array_equal(got, ev)


@pytest.mark.parametrize("t0", [0, (1 << 34) - 20_000])
def test_evt2_round_trip(tmp_path, rng, t0):
    ev = _events(rng, 1000, t0, 50_000)
    path = _write(tmp_path / "b.raw", ["% evt 2.0", "% geometry 640x480"], encode_evt2(ev))
    got, header = read_evt(path)
    assert header.format == "evt2"
    np.testing.assert_array_equal(got, ev)
    chunked = np.concatenate([c.data for c in EvtFileSource(EvtConfig(str(path), chunk_words=13)).open()])
    np.testing.assert_array_equal(chunked, ev)


def test_events_before_the_first_time_high_are_counted_not_guessed(tmp_path):
    cd = (1 << 28) | (5 << 11) | 6
    body = np.asarray([cd, (0x8 << 28) | 10, cd], "<u4").tobytes()
    src = EvtFileSource(EvtConfig(str(_write(tmp_path / "c.raw", ["% evt 2.0"], body)))).open()
    got = np.concatenate([c.data for c in src])
    assert got.size == 1 and got["t"][0] == 10 << 6 and src.skipped == 1


def test_truncated_file_is_rejected_before_reading(tmp_path, rng):
    body = encode_evt2(_events(rng, 50, 0, 1000))
    path = _write(tmp_path / "d.raw", ["% evt 2.0"], body[:-3])
    with pytest.raises(SourceError, match=r"d\.raw is truncated"):
        EvtFileSource(EvtConfig(str(path))).open()


def test_wrong_or_missing_format(tmp_path, rng):
    body = encode_evt3(_events(rng, 50, 0, 1000))
    with pytest.raises(SourceError, match="no '% evt 2.0'"):
        read_evt(_write(tmp_path / "e.raw", [], body))
    with pytest.raises(SourceError, match="declares EVT3"):
        read_evt(_write(tmp_path / "f.raw", ["% evt 3.0"], body), fmt="evt2")
    ev, header = read_evt(_write(tmp_path / "g.raw", [], body), fmt="evt3")
    assert header.format == "evt3" and ev.size == 50


def test_event_outside_the_sensor_means_wrong_format(tmp_path, rng):
    ev = _events(rng, 20, 0, 1000, width=640, height=480)
    path = _write(tmp_path / "h.raw", ["% evt 2.0", "% format EVT2;height=32;width=32"], encode_evt2(ev))
    with pytest.raises(SourceError, match=r"outside the 32x32 sensor; not EVT2 data") as info:
        read_evt(path)
    assert "\n" not in str(info.value)
