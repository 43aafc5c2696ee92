"""Shared helpers of the learned-state tests: a state file as another akida-edge version writes it."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from akida_edge import statefile


def as_newer_format(path: Path) -> bytes:
    """Rewrite the state file at `path` as a newer akida-edge would (format version + 1, checksum
    valid); its new bytes."""
    data = path.read_bytes()[:-32]
    start = len(statefile.MAGIC) + 4
    (n,) = struct.unpack_from("<I", data, len(statefile.MAGIC))
    header = json.loads(data[start:start + n])
    header["format_version"] = statefile.FORMAT_VERSION + 1
    raw = json.dumps(header).encode()
    body = statefile.MAGIC + struct.pack("<I", len(raw)) + raw + data[start + n:]
    path.write_bytes(body + hashlib.sha256(body).digest())
    return path.read_bytes()
