"""Model files (`.aem`): one versioned file, no pickle, validated on load.

Layout: a ZIP archive (deflated, CRC-checked by `zipfile`) holding
- `header.json`: {"magic": "akida-edge-model", "format_version": 1, "akida_edge": version,
  "layers": [{"kind", "params"}], "variables": {layer: {var: member}}, "sha256": model_hash,
  "extra": {...}} — `extra` is free JSON the caller stores with the model (learned-state
  metadata, provenance) and gets back as `model.metadata`;
- one `.npy` member per variable, read with `allow_pickle=False`.

On load, layers are rebuilt through their constructors and variables through
`Layer.set_variable`, so a file can never carry what the API would refuse; the content hash is
recomputed and compared. Every failure is a one-line `ModelFileError` naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from akida_edge import __version__
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model
from akida_edge.errors import AkidaEdgeError, ModelFileError

MAGIC = "akida-edge-model"
FORMAT_VERSION = 1
SUFFIX = ".aem"
HEADER = "header.json"


def model_hash(model: Model) -> str:
    """sha256 (hex) of the model's content: layer kinds and parameters, then every variable's
    name, dtype, shape and bytes, in layer order. Independent of file layout and metadata."""
    h = hashlib.sha256()
    for layer in model.layers:
        h.update(json.dumps({"kind": layer.spec.kind, "params": layer.spec.params()},
                            sort_keys=True).encode())
        for name in sorted(layer.variables):
            arr = np.ascontiguousarray(layer.variables[name])
            h.update(f"{layer.name}/{name}:{arr.dtype.str}:{arr.shape}".encode())
            h.update(arr.tobytes())
    return h.hexdigest()


def save_model(model: Model, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> str:
    """Write `model` to `path` atomically (temporary file then rename); returns the path.

    `extra` (JSON-serializable) defaults to `model.metadata` when the model has one."""
    path = Path(path)
    if not model.layers:
        raise ModelFileError(f"{path}: cannot save a model without layers; add layers first")
    if extra is None:
        extra = model.metadata or {}
    header: dict[str, Any] = {
        "magic": MAGIC, "format_version": FORMAT_VERSION, "akida_edge": __version__,
        "layers": [{"kind": layer.spec.kind, "params": layer.spec.params()} for layer in model.layers],
        "variables": {}, "sha256": model_hash(model), "extra": extra,
    }
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the extra metadata is not JSON-serializable ({exc})") from None
    members: dict[str, bytes] = {}
    for i, layer in enumerate(model.layers):
        names = {}
        for name, arr in layer.variables.items():
            member = f"variables/{i}/{name}.npy"
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
            members[member] = buf.getvalue()
            names[name] = member
        header["variables"][layer.name] = names
    if model.learning is not None:  # edge learning resumes after save/load (MetaTF does the same)
        header["learning"] = model.learning.meta()
        for name, arr in model.learning.arrays().items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            members[f"learning/{name}.npy"] = buf.getvalue()
    header_bytes = json.dumps(header, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for member, data in ((HEADER, header_bytes), *members.items()):
                z.writestr(_member(member), data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(path)


def _member(name: str) -> zipfile.ZipInfo:
    """A zip member with a fixed date and mode, so one model always makes the same bytes (a retrained
    model can be compared with `cmp` or `sha256sum`; the clock does not enter the file)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _fail(path: Path, what: str, fix: str = "re-save or re-export the model") -> ModelFileError:
    return ModelFileError(f"{path}: {what}; {fix}")


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The checked header of a model file (magic and version), without loading variables."""
    path = Path(path)
    with _open(path) as z:
        return _header(path, z)


def _open(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file; check the path")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file; give the .aem file")
    try:
        return zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile:
        raise _fail(path, "not an akida-edge model file, or truncated (no valid archive)",
                    "give a file written by Model.save (.aem) or re-save it") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read it ({exc.strerror}); check its permissions") from None


def _header(path: Path, z: zipfile.ZipFile) -> dict[str, Any]:
    try:
        header = json.loads(z.read(HEADER))
    except KeyError:
        raise _fail(path, f"not an akida-edge model file (no {HEADER})",
                    "give a file written by Model.save (.aem)") from None
    except (zipfile.BadZipFile, zlib_error(), ValueError, EOFError):
        raise _fail(path, "the model header is corrupt") from None
    if not isinstance(header, dict) or header.get("magic") != MAGIC:
        raise _fail(path, "not an akida-edge model file (wrong magic)",
                    "give a file written by Model.save (.aem)")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _fail(path, f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(path, f"format version {version} is newer than this akida-edge reads "
                    f"({FORMAT_VERSION})", "upgrade akida-edge to load it")
    return header


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def load_model(path: str | os.PathLike) -> Model:
    """Read and validate a model file; `ModelFileError` (one line) on any problem."""
    path = Path(path)
    with _open(path) as z:
        header = _header(path, z)
        try:
            model = _build(path, z, header)
        except ModelFileError:
            raise
        except AkidaEdgeError as exc:
            raise _fail(path, f"invalid model content ({exc})") from None
        except (zipfile.BadZipFile, zlib_error(), EOFError, OSError, KeyError, TypeError,
                ValueError, AttributeError) as exc:  # AttributeError: a header entry of the wrong type
            raise _fail(path, f"corrupt or truncated content ({type(exc).__name__}: {exc})") from None
    digest = model_hash(model)
    if header.get("sha256") != digest:
        raise _fail(path, "content hash mismatch (the file was altered or damaged)")
    model.metadata = header.get("extra") or {}
    model.file_hash = digest
    if "learning" in header:
        with _open(path) as z:
            model.learning = _learning(path, z, header["learning"])
    return model


def _learning(path: Path, z: zipfile.ZipFile, meta: Any) -> Any:
    from akida_edge.engine.learning_state import ARRAY_DTYPES, LearningState

    try:
        arrays = {}
        for name in ARRAY_DTYPES:
            with z.open(f"learning/{name}.npy") as f:
                arrays[name] = np.load(io.BytesIO(f.read()), allow_pickle=False)
        return LearningState.from_parts(meta, arrays)
    except AkidaEdgeError as exc:
        raise _fail(path, f"invalid learning state ({exc})") from None
    except (zipfile.BadZipFile, zlib_error(), EOFError, OSError, KeyError, TypeError,
            ValueError, AttributeError) as exc:
        raise _fail(path, f"corrupt learning state ({type(exc).__name__}: {exc})") from None


def _build(path: Path, z: zipfile.ZipFile, header: dict[str, Any]) -> Model:
    model = Model()
    for entry in header["layers"]:
        kind = entry["kind"]
        if kind not in L.LAYER_TYPES:
            raise _fail(path, f"unknown layer kind {kind!r}", "upgrade akida-edge or re-export it")
        model.add(L.LAYER_TYPES[kind](**entry["params"]))
    variables = header["variables"]
    for layer in model.layers:
        stored = variables.get(layer.name, {})
        missing = set(layer.variables) - set(stored)
        if missing:
            raise _fail(path, f"layer {layer.name!r} lacks variable(s) {', '.join(sorted(missing))}")
        for name, member in stored.items():
            with z.open(member) as f:
                arr = np.load(io.BytesIO(f.read()), allow_pickle=False)
            layer.set_variable(name, arr)
    return model
