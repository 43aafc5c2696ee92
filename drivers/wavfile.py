"""A strict WAV reader: PCM 8/16/24/32-bit and IEEE float 32/64, plain or WAVE_FORMAT_EXTENSIBLE.

Python's `wave` module reads PCM only; recorders and DAQ software also write float WAV, so the
RIFF chunks are parsed here (Microsoft/IBM "Multimedia Programming Interface and Data
Specifications 1.0", 1991; WAVE_FORMAT_EXTENSIBLE, Microsoft KSDATAFORMAT docs). Samples come
back as float32 (n, channels) in full scale ±1 with the rate from the header. A file that is
missing, not RIFF/WAVE, of an unsupported encoding, truncated, or a float file holding NaN or
infinite samples raises a one-line `SourceError` naming the file; a data chunk shorter than its
declared size is an error, never a silently shortened signal.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.errors import SourceError

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
#: data lengths a streaming writer leaves in place of the real one: 0xFFFFFFFF (ffmpeg, sox),
#: 0x7FFFFFFF, and 0x7FFFF000 (espeak-ng --stdout; `espeak-ng --stdout hello > hello.wav`)
_STREAMED = (0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000)


@dataclass(frozen=True)
class WavInfo:
    rate_hz: int
    channels: int
    bits: int
    encoding: str  # "pcm" or "float"
    frames: int


def read_wav(path: str | Path) -> tuple[np.ndarray, WavInfo]:
    """Samples (n, channels) float32 in ±1 and the header of a WAV file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read WAV file {path}: {exc.strerror or exc}") from None
    return parse_wav(raw, str(path))


def parse_wav(raw: bytes, path: str = "WAV data") -> tuple[np.ndarray, WavInfo]:
    """`read_wav` of bytes in memory (an upload); `path` names them in errors."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise SourceError(f"{path} is not a WAV file (no RIFF/WAVE header)")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        body = raw[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            if size in _STREAMED and len(body) < size:
                # written by a recorder that never came back to fill in the length (streamed
                # WAV): the data runs to the end of the file; whole frames are checked below
                body = raw[pos + 8 :]
            elif len(body) < size:
                raise SourceError(
                    f"{path} is truncated: data chunk declares {size} bytes but {len(body)} are present"
                )
            data = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise SourceError(f"{path} has no valid 'fmt ' chunk")
    if data is None:
        raise SourceError(f"{path} has no 'data' chunk (truncated or not audio)")
    tag, channels, rate, _, block, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if tag not in (_PCM, _FLOAT):  # a compressed encoding (ADPCM, mu-law, GSM...): its block is no frame
        raise _unsupported(path, tag, bits)
    if channels < 1 or rate < 1 or bits < 1 or block == 0 or block != channels * ((bits + 7) // 8):
        raise SourceError(
            f"{path} has an inconsistent header ({channels} channels, {bits} bits, block {block})"
        )
    if len(data) % block:
        raise SourceError(f"{path} is truncated: {len(data) % block} stray bytes after the last whole frame")
    n = len(data) // block
    if tag == _PCM and bits in (8, 16, 24, 32):
        if bits == 8:
            x = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
        elif bits == 24:
            b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            x = v.astype(np.float32) / float(1 << 23)
        else:
            x = np.frombuffer(data, f"<i{bits // 8}").astype(np.float32) / float(1 << (bits - 1))
        encoding = "pcm"
    elif tag == _FLOAT and bits in (32, 64):
        x = np.frombuffer(data, f"<f{bits // 8}").astype(np.float32)
        bad = ~np.isfinite(x)  # NaN or infinite (float64 beyond float32's range too)
        if bad.any():
            raise SourceError(
                f"{path} holds {int(bad.sum())} samples that are not numbers (NaN or infinite; the first "
                f"in frame {int(np.flatnonzero(bad)[0]) // channels}): a corrupt recording; export it again"
            )
        encoding = "float"
    else:
        raise _unsupported(path, tag, bits)
    return x.reshape(n, channels), WavInfo(int(rate), int(channels), int(bits), encoding, n)


def _unsupported(path: str, tag: int, bits: int) -> SourceError:
    return SourceError(f"{path}: unsupported WAV encoding (format tag {tag}, {bits} bits); "
                       "use PCM 8/16/24/32-bit or float 32/64-bit (e.g. sox IN.wav -b 16 OUT.wav)")


def write_wav(path: str | Path, x: np.ndarray, rate_hz: int, bits: int = 16) -> None:
    """Write (n,) or (n, channels) samples in ±1 as PCM 16-bit or float 32-bit (`bits=32`)."""
    x2 = np.asarray(x, np.float32)
    x2 = x2[:, None] if x2.ndim == 1 else x2
    if bits == 16:
        payload = np.clip(np.round(x2 * 32768.0), -32768, 32767).astype("<i2").tobytes()
        tag, width = _PCM, 2
    elif bits == 32:
        payload = x2.astype("<f4").tobytes()
        tag, width = _FLOAT, 4
    else:
        raise ValueError(f"write_wav supports bits 16 (PCM) or 32 (float), got {bits}")
    ch = x2.shape[1]
    fmt = struct.pack("<HHIIHH", tag, ch, int(rate_hz), int(rate_hz) * ch * width, ch * width, 8 * width)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(payload))
        + payload
    )
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
