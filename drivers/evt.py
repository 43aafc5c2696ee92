"""Readers for Prophesee event-camera recordings: EVT 2.0 and EVT 3.0 `.raw` files.

A `.raw` file is ASCII header lines that start with ``%`` (``% evt 3.0``, ``% format
EVT3;height=720;width=1280``, ``% geometry 1280x720``, ..., optionally ``% end``), then
little-endian binary words (docs.prophesee.ai, "EVT 2.0 Format" and "EVT 3.0 Format"; OpenEB):

EVT 2.0, 32-bit words: type[31:28] | ts[27:22] | x[21:11] | y[10:0]; types CD_OFF 0x0, CD_ON 0x1,
EVT_TIME_HIGH 0x8 (bits [27:0] are timestamp bits [33:6]), EXT_TRIGGER 0xA, IMU 0xD, OTHERS 0xE,
CONTINUED 0xF. A CD event's time is ``(time_high << 6) | ts`` µs.

EVT 3.0, 16-bit words, type[15:12], stateful: EVT_ADDR_Y 0x0 (y[10:0]), EVT_ADDR_X 0x2 (pol[11],
x[10:0]: one event), VECT_BASE_X 0x3 (pol[11], x[10:0]), VECT_12 0x4 (valid[11:0]: events at
base_x + i, then base_x += 12), VECT_8 0x5 (valid[7:0], base_x += 8), EVT_TIME_LOW 0x6 and
EVT_TIME_HIGH 0x8 (the low and high 12 bits of a 24-bit µs time base), CONTINUED_4 0x7,
EXT_TRIGGER 0xA, OTHERS 0xE, CONTINUED_12 0xF.

Timestamps are unwrapped when the time-high field steps backwards (EVT 3.0 every 2^24 µs ≈ 16.8 s;
EVT 2.0 every 2^34 µs). Events before the first time-high word have no time and are skipped
(counted in `skipped`). The decoders are numba kernels over the whole chunk: EVT 3.0 counts its
events first, then fills exactly that many (vectors make the count unknown in advance).

Bad input is a one-line `SourceError`. At `open()`, before any event is returned: no ``%``
header naming the format (and none given), or a body that is not a whole number of words
(truncated). While reading: an event outside the sensor size the header declares (wrong
format) fails the chunk that holds it, and the source (state ``failed``); `read_evt` reads the
whole file first, so it returns all events or none. Events come out as
`akida_edge.events.EVENT_DTYPE` with p = +1 (ON) / −1 (OFF) and c = 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import types as nt

from akida_edge.drivers.base import Chunk, Source, check_range
from akida_edge.errors import SourceError
from akida_edge.events import EVENT_DTYPE
from akida_edge.numba_config import kernel

WORD_BYTES = {"evt2": 4, "evt3": 2}


@dataclass(frozen=True)
class EvtHeader:
    format: str  # "evt2" or "evt3"
    width: int
    height: int
    header_bytes: int
    lines: tuple[str, ...]


def _format_name(text: str) -> str | None:
    t = text.lower().replace(" ", "")
    if t.startswith("evt3") or t.startswith("evt3.0"):
        return "evt3"
    if t.startswith("evt2.0") or t == "evt2" or t.startswith("evt2;"):
        return "evt2"
    return None


def read_header(path: Path, fmt: str | None = None) -> EvtHeader:
    """Parse the ``%`` header of a `.raw` file; `fmt` ("evt2"/"evt3") overrides or supplies it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise SourceError(f"cannot read event file {path}: {exc.strerror or exc}") from None
    pos, lines = 0, []
    while pos < len(head) and head[pos : pos + 1] == b"%":
        end = head.find(b"\n", pos)
        if end < 0:
            raise SourceError(f"{path}: header line at byte {pos} never ends (truncated or not a .raw file)")
        line = head[pos:end].decode("ascii", "replace").rstrip("\r")
        lines.append(line)
        pos = end + 1
        if line.strip() == "% end":
            break
    found, width, height = None, 2048, 2048
    for line in lines:
        body = line[1:].strip()
        key, _, value = body.partition(" ")
        key = key.lower()
        if key == "evt":
            found = _format_name("evt" + value) or found
        elif key == "format":
            parts = value.split(";")
            found = _format_name(parts[0]) or found
            for part in parts[1:]:
                k, _, v = part.partition("=")
                if k.strip() == "width" and v.strip().isdigit():
                    width = int(v)
                elif k.strip() == "height" and v.strip().isdigit():
                    height = int(v)
        elif key == "geometry":
            m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", value)
            if m:
                width, height = int(m.group(1)), int(m.group(2))
    if fmt is not None:
        fmt = fmt.lower().replace(".", "").replace(" ", "").replace("evt20", "evt2").replace("evt30", "evt3")
        if fmt not in WORD_BYTES:
            raise SourceError(f"unknown event format {fmt!r}; use evt2 or evt3")
        if found is not None and found != fmt:
            raise SourceError(f"{path} declares {found.upper()} in its header, not {fmt.upper()}")
        found = fmt
    if found is None:
        raise SourceError(
            f"{path}: no '% evt 2.0' / '% evt 3.0' / '% format EVT..' header line; not a Prophesee .raw "
            "file, or give the format explicitly"
        )
    return EvtHeader(found, width, height, pos, tuple(lines))


# state: 0 time_high, 1 time_low (evt3), 2 have_time_high, 3 loop offset µs, 4 y, 5 base_x, 6 pol,
#        7 skipped, 8 other words, 9 reserved words
_STATE = 10

# Explicit signatures: the types are fixed by the formats, so the decoders compile (or load from
# the cache) when this module is imported, not inside the first read. Words may be read-only
# (np.frombuffer of the file's bytes); a writable array converts to that type.
_WORDS32 = nt.Array(nt.uint32, 1, "C", readonly=True)
_WORDS16 = nt.Array(nt.uint16, 1, "C", readonly=True)
_OUT = (nt.int64[::1], nt.int64[::1], nt.uint16[::1], nt.uint16[::1], nt.int8[::1])


@kernel(nt.int64(_WORDS32, *_OUT, nt.int64, nt.int64))
def _decode_evt2(words, state, t, x, y, p, width, height):
    n = 0
    for i in range(words.size):
        w = np.int64(words[i])
        kind = (w >> 28) & 0xF
        if kind == 0x8:
            th = w & 0x0FFFFFFF
            if state[2] == 1 and th < state[0]:
                state[3] += np.int64(1) << 34
            state[0] = th
            state[2] = 1
        elif kind <= 1:
            if state[2] == 0:
                state[7] += 1
                continue
            xx = (w >> 11) & 0x7FF
            yy = w & 0x7FF
            if xx >= width or yy >= height:
                return -(i + 1)
            t[n] = state[3] + ((state[0] << 6) | ((w >> 22) & 0x3F))
            x[n] = xx
            y[n] = yy
            p[n] = 1 if kind == 1 else -1
            n += 1
        elif kind == 0xA or kind == 0xD or kind == 0xE or kind == 0xF:
            state[8] += 1
        else:
            state[9] += 1
    return n


@kernel(nt.int64(_WORDS16, *_OUT, nt.int64, nt.int64, nt.boolean))
def _decode_evt3(words, state, t, x, y, p, width, height, fill):
    """Decode 16-bit words; with fill=False only count events (state is not kept)."""
    n = 0
    for i in range(words.size):
        w = np.int64(words[i])
        kind = (w >> 12) & 0xF
        if kind == 0x0:
            state[4] = w & 0x7FF
        elif kind == 0x2 or kind == 0x4 or kind == 0x5:
            if kind == 0x2:
                bits, nbits, x0, pol = np.int64(1), 1, w & 0x7FF, (w >> 11) & 1
            elif kind == 0x4:
                bits, nbits, x0, pol = w & 0xFFF, 12, state[5], state[6]
                state[5] += 12
            else:
                bits, nbits, x0, pol = w & 0xFF, 8, state[5], state[6]
                state[5] += 8
            for b in range(nbits):
                if (bits >> b) & 1:
                    if state[2] == 0:
                        state[7] += 1
                        continue
                    xx = x0 + b
                    if xx >= width or state[4] >= height:
                        return -(i + 1)
                    if fill:
                        t[n] = state[3] + ((state[0] << 12) | state[1])
                        x[n] = xx
                        y[n] = state[4]
                        p[n] = 1 if pol == 1 else -1
                    n += 1
        elif kind == 0x3:
            state[5] = w & 0x7FF
            state[6] = (w >> 11) & 1
        elif kind == 0x6:
            state[1] = w & 0xFFF
        elif kind == 0x8:
            th = w & 0xFFF
            if state[2] == 1 and th < state[0]:
                state[3] += np.int64(1) << 24
            state[0] = th
            state[2] = 1
        elif kind == 0x7 or kind == 0xA or kind == 0xE or kind == 0xF:
            state[8] += 1
        else:
            state[9] += 1
    return n


def decode(words: np.ndarray, fmt: str, state: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int]:
    """Events of a chunk of words; `state` (int64[10]) carries across chunks. Returns (events,
    index of the first out-of-range word or -1)."""
    if fmt == "evt2":
        n_max = words.size
    else:
        n_max = _decode_evt3(
            words,
            state.copy(),
            np.empty(0, np.int64),
            np.empty(0, np.uint16),
            np.empty(0, np.uint16),
            np.empty(0, np.int8),
            width,
            height,
            False,
        )
        if n_max < 0:
            return np.zeros(0, EVENT_DTYPE), -n_max - 1
    t = np.empty(n_max, np.int64)
    x = np.empty(n_max, np.uint16)
    y = np.empty(n_max, np.uint16)
    p = np.empty(n_max, np.int8)
    if fmt == "evt2":
        n = _decode_evt2(words, state, t, x, y, p, width, height)
    else:
        n = _decode_evt3(words, state, t, x, y, p, width, height, True)
    if n < 0:
        return np.zeros(0, EVENT_DTYPE), -n - 1
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = t[:n], x[:n], y[:n], p[:n]
    return ev, -1


@dataclass(frozen=True)
class EvtConfig:
    path: str
    format: str | None = None  # "evt2" / "evt3"; None: from the header
    chunk_words: int = 1 << 18  # EVT 3.0 vectors: at most 12 events per word

    def __post_init__(self) -> None:
        if self.format is not None and self.format.lower().replace(".", "").replace(" ", "") not in (
                "evt2", "evt20", "evt3", "evt30"):
            raise ValueError(f"format = {self.format!r} is not an event format; use \"evt2\" or \"evt3\" "
                             "(or leave it out: from the header)")
        check_range("chunk_words", self.chunk_words, 1, 1 << 26)



class EvtFileSource(Source):
    """Chunks of `EVENT_DTYPE` events from a Prophesee EVT 2.0 / 3.0 `.raw` file."""

    kind = "events"

    def __init__(self, config: EvtConfig) -> None:
        super().__init__()
        self.config = config
        self._fh = None

    def open(self) -> EvtFileSource:
        path = Path(self.config.path)
        self.header = read_header(path, self.config.format)
        size = path.stat().st_size - self.header.header_bytes
        word = WORD_BYTES[self.header.format]
        if size % word:
            raise SourceError(
                f"{path} is truncated: {size} data bytes is not a whole number of "
                f"{self.header.format.upper()} {8 * word}-bit words"
            )
        self._fh = open(path, "rb")
        self._fh.seek(self.header.header_bytes)
        self._offset = self.header.header_bytes
        self.state = np.zeros(_STATE, np.int64)
        self.width, self.height = self.header.width, self.header.height
        self.health.state = "open"
        return self

    @property
    def skipped(self) -> int:
        return int(self.state[7])

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        if self.health.state != "open":
            return None
        word = WORD_BYTES[self.header.format]
        raw = self._fh.read(self.config.chunk_words * word)
        if not raw:
            self.health.state = "ended"
            self._fh.close()
            return None
        words = np.frombuffer(raw, "<u4" if word == 4 else "<u2")
        events, bad = decode(words, self.header.format, self.state, self.width, self.height)
        if bad >= 0:
            self.health.state = "failed"
            self.health.last_error = (
                f"{self.config.path}: word at byte {self._offset + bad * word} decodes to an event outside "
                f"the {self.width}x{self.height} sensor; not {self.header.format.upper()} data"
            )
            self._fh.close()
            raise SourceError(self.health.last_error)
        self._offset += len(raw)
        t0 = int(events["t"][0]) if events.size else (self.health.last_t_us or 0)
        return self._chunk(t0, events, 0.0)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        super().close()


def read_evt(path: str | Path, fmt: str | None = None) -> tuple[np.ndarray, EvtHeader]:
    """All events of a `.raw` file (validated completely before returning)."""
    src = EvtFileSource(EvtConfig(str(path), fmt)).open()
    parts = [c.data for c in src]
    return (np.concatenate(parts) if parts else np.zeros(0, EVENT_DTYPE)), src.header
