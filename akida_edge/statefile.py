"""The learned-state file format: one checksummed, versioned container, written atomically.

A file holds one or more *entries* (one per app/model: ``kws``, ``anomaly``...). A state file in
the store holds one entry; an export bundle holds several, so a fleet shares what one device
learned as ONE file. No pickle: JSON metadata and raw little-endian arrays.

Layout (all integers little-endian)::

    b"AKIDA-EDGE-STATE\\n"            17 bytes, the magic
    header_len                        uint32
    header                            UTF-8 JSON: format_version, kind, entries (below)
    payload                           the arrays' bytes, C order, at the offsets the header gives
    sha256                            32 bytes over everything before it

An entry is ``{"name", "model_hash", "revision", "saved_at", "device", "extra", "learning",
"arrays": [{"name", "dtype", "shape", "offset", "nbytes"}]}``; ``learning`` is
`LearningState.meta()` (or null) and its arrays are named ``learning/<array>``; an app's own
arrays are ``extra/<name>``. Every read checks the magic, the checksum, the format version, every
array's bounds, dtype and shape, and the learning state's invariants, and raises `StateError`
naming the file and what is wrong.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import struct
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from akida_edge.engine.learning_state import LearningState
from akida_edge.errors import LearningError, StateError

MAGIC = b"AKIDA-EDGE-STATE\n"
FORMAT_VERSION = 1
_DIGEST = 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MAX_HEADER = 64 * 2**20


@dataclass
class StateEntry:
    """What one app/model learned on a device, with what it was learned on."""

    name: str
    model_hash: str
    learning: LearningState | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-able app data (labels, calibration)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # the app's own arrays
    revision: int = 0
    saved_at: str = ""
    device: str = ""
    warnings: list[str] = field(default_factory=list)  # problems met while loading (not stored)


class IncompatibleStateError(StateError):
    """The stored state was learned on another model version (it is kept, not used)."""


class CorruptStateError(StateError):
    """The stored state is damaged and no good backup is left: nothing of it can be used. The next
    save starts a new state and keeps the damaged file as ``<name>.corrupt`` (`state.StateStore`)."""


class NewerStateError(IncompatibleStateError):
    """The file was written by a newer akida-edge (a later format version): not corrupt, and never
    to be replaced by an older backup or overwritten by this version (that would lose it). It is
    kept, not used, as a state of another model is: the apps go on without it."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StateError(f"state name {name!r} must be 1-64 letters, digits, '_' or '-' (e.g. 'kws')")
    return name


def encode(entries: Iterable[StateEntry], kind: str = "state") -> bytes:
    """The bytes of a file holding `entries`."""
    header_entries, chunks, offset = [], [], 0
    for entry in entries:
        check_name(entry.name)
        arrays = dict(entry.learning.arrays()) if entry.learning is not None else {}
        arrays = {f"learning/{k}": v for k, v in arrays.items()}
        for key, value in entry.arrays.items():
            arrays[f"extra/{key}"] = np.asarray(value)
        specs = []
        for key, arr in arrays.items():
            if arr.dtype.kind not in "biuf":
                raise StateError(f"state {entry.name!r}: array {key!r} has dtype {arr.dtype}; only "
                                 "numbers can be stored")
            data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
            specs.append({"name": key, "dtype": arr.dtype.newbyteorder("<").str,
                          "shape": list(arr.shape), "offset": offset, "nbytes": len(data)})
            chunks.append(data)
            offset += len(data)
        header_entries.append({
            "name": entry.name, "model_hash": entry.model_hash, "revision": int(entry.revision),
            "saved_at": entry.saved_at, "device": entry.device, "extra": entry.extra,
            "learning": entry.learning.meta() if entry.learning is not None else None,
            "arrays": specs})
    try:
        header = json.dumps({"format": "akida-edge-state", "format_version": FORMAT_VERSION,
                             "kind": kind, "entries": header_entries}, sort_keys=True).encode()
    except (TypeError, ValueError) as exc:
        raise StateError(f"state metadata must be JSON-able: {exc}") from None
    body = MAGIC + struct.pack("<I", len(header)) + header + b"".join(chunks)
    return body + hashlib.sha256(body).digest()


def decode(data: bytes, source: str = "<bytes>") -> tuple[str, list[StateEntry]]:
    """(kind, entries) of a file's bytes; `StateError` naming `source` when anything is wrong."""
    def bad(why: str) -> StateError:
        return StateError(f"learned state {source} is unusable: {why}")

    if not data.startswith(MAGIC):
        raise bad("not an akida-edge state file (wrong magic)")
    if len(data) < len(MAGIC) + 4 + _DIGEST:
        raise bad(f"truncated ({len(data)} bytes)")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise bad("checksum mismatch (the file is corrupt or was cut short)")
    (header_len,) = struct.unpack_from("<I", body, len(MAGIC))
    start = len(MAGIC) + 4
    if header_len > min(_MAX_HEADER, len(body) - start):
        raise bad("header length out of range")
    try:
        header = json.loads(body[start:start + header_len].decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"header is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != "akida-edge-state":
        raise bad("header is not an akida-edge state header")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"format version {version!r} is not a version number")
    if version > FORMAT_VERSION:
        raise NewerStateError(f"learned state {source} was written by a newer akida-edge (format "
                              f"version {version}; this one reads {FORMAT_VERSION}); upgrade akida-edge")
    payload = memoryview(body)[start + header_len:]
    entries = header.get("entries")
    if not isinstance(entries, list):
        raise bad("header has no entry list")
    return str(header.get("kind", "state")), [_decode_entry(e, payload, bad) for e in entries]


def _decode_entry(raw: Any, payload: memoryview, bad: Callable[[str], StateError]) -> StateEntry:
    if not isinstance(raw, dict):
        raise bad("an entry is not a mapping")
    try:
        name = check_name(raw.get("name"))
    except StateError as exc:
        raise bad(str(exc)) from None
    arrays: dict[str, np.ndarray] = {}
    for spec in raw.get("arrays") or []:
        try:
            dtype = np.dtype(spec["dtype"])
            shape = tuple(int(v) for v in spec["shape"])
            off, nbytes = int(spec["offset"]), int(spec["nbytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"entry {name!r}: malformed array description ({exc})") from None
        if dtype.kind not in "biuf" or min(shape, default=0) < 0 or off < 0 \
                or off + nbytes > len(payload) or int(np.prod(shape)) * dtype.itemsize != nbytes:
            raise bad(f"entry {name!r}: array {spec.get('name')!r} does not fit the payload")
        arr = np.frombuffer(payload[off:off + nbytes], dtype=dtype).reshape(shape)
        arrays[str(spec["name"])] = arr.astype(dtype.newbyteorder("="))
    learning = None
    if raw.get("learning") is not None:
        parts = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("learning/")}
        try:
            learning = LearningState.from_parts(raw["learning"], parts)
        except LearningError as exc:
            raise bad(f"entry {name!r}: {exc}") from None
    extra = raw.get("extra") or {}
    if not isinstance(extra, dict) or not isinstance(raw.get("model_hash"), str):
        raise bad(f"entry {name!r}: malformed extra data or model hash")
    return StateEntry(name=name, model_hash=raw["model_hash"], learning=learning, extra=extra,
                      arrays={k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("extra/")},
                      revision=int(raw.get("revision", 0)), saved_at=str(raw.get("saved_at", "")),
                      device=str(raw.get("device", "")))


def read(path: str | os.PathLike) -> tuple[str, list[StateEntry]]:
    """(kind, entries) of the file at `path` (`StateError` if missing, unreadable or corrupt)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read learned state {path}: {exc.strerror or exc}") from None
    return decode(data, str(path))


def atomic_write(path: str | os.PathLike, data: bytes,
                 before_rename: Callable[[], None] | None = None, what: str = "learned state") -> Path:
    """Write `data` to `path` so that `path` is always either the old or the new complete file.

    A temporary file in the same directory is written and fsynced, `before_rename` runs (the
    store keeps the previous file as a backup there), then the temporary file replaces `path`
    and the directory is fsynced. On any error the temporary file is removed and `path` is left
    untouched; a crash leaves at most a stray ``.*.tmp`` file, which readers ignore. An `OSError`
    (the path is a directory, a parent is a file, read-only, full disk...) becomes a `StateError`
    naming the path (as `what`: "learned state", "config file"...) and the fix.
    """
    path = Path(path)
    try:
        return _atomic_write(path, data, before_rename)
    except OSError as exc:
        raise StateError(_write_problem(path, exc, what)) from exc


def _write_problem(path: Path, exc: OSError, what: str = "learned state") -> str:
    """One line saying why `path` (a `what`) cannot be written and what would fix it."""
    reason = exc.strerror or str(exc)
    head = f"cannot write {what} {path}: {reason}"
    other = "another state directory (--state) or file path" if what == "learned state" else "another path"
    if os.path.isdir(path):
        return f"{head}; {path} is a directory, give a file path instead"
    for parent in path.parents:
        if os.path.lexists(parent):
            if not os.path.isdir(parent):
                return f"{head}; {parent} is a file, not a directory: choose {other}"
            break
    if exc.errno == errno.ENOSPC:
        return f"{head}; free disk space on {path.parent}"
    return f"{head}; make {path.parent} a writable directory or choose {other}"


def _atomic_write(path: Path, data: bytes, before_rename: Callable[[], None] | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_all(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path


def _write_all(fh: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[fh.write(view):]


def fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename in it survives a power cut (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def preserve_copy(src: Path, dst: Path) -> None:
    """Make `dst` an exact durable copy of `src`, atomically (hard link if possible, else copy)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        try:
            os.unlink(tmp)
            os.link(src, tmp)
        except OSError:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                _write_all(fout, fin.read())
                fout.flush()
                os.fsync(fout.fileno())
        os.replace(tmp, dst)
        if os.path.lexists(tmp):
            # `dst` was already a hard link of `src` (a backup restored by linking): POSIX rename of
            # one link onto another of the same file does nothing and leaves `tmp`
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(dst.parent)
