"""Per-device learned state: what each app learned on this device, kept across restarts.

A *state directory* holds one file per app/model (``kws.learned``, ``anomaly.learned``) in the
format of `statefile.py` (versioned, checksummed, no pickle). Files in the directory::

    kws.learned               the current state
    kws.learned.bak           the previous good state of the same model (one generation)
    kws.<hash12>.learned      a state kept for another model version (never deleted)
    kws.learned.corrupt       a corrupt file moved aside (kept for inspection)

Rules:

- *Atomic*: a save writes a temporary file in the same directory, fsyncs it, keeps the current
  file as ``.bak`` (same model) or as ``<name>.<hash12>.learned`` (other model), renames the
  temporary file over the current one and fsyncs the directory. A crash at any point leaves the
  old or the new state complete.
- *Tied to the model*: every entry carries the hash of the backbone it was learned on
  (`learning_state.backbone_hash`). `load` with another hash does not use it, does not delete
  it and does not overwrite it: it looks for a kept state of the current model, else raises
  `IncompatibleStateError` saying where the old state is kept.
- *Corruption*: a corrupt current file is moved to ``.corrupt``; the ``.bak`` is restored and
  used, and the problem is logged and listed in `StateEntry.warnings`; with no good backup
  `load` raises `CorruptStateError` (the apps then go on without the learned classes, saying so),
  and the next save keeps the damaged file as ``.corrupt`` before writing the new state.
- *Newer versions*: a file written by a newer akida-edge (a later format version, e.g. after a
  downgrade) is not corrupt: it is neither used, nor replaced by its backup, nor overwritten;
  loads and saves raise `statefile.NewerStateError` (an `IncompatibleStateError`: the apps go on
  without it) asking for an upgrade, and the file is kept as it is for the newer version.
- *Fleet sharing*: `export` writes chosen states as ONE file; `import_file` installs them (each
  existing state is kept as ``.bak`` first).
- *Interrupted saves*: a save killed mid-write (SIGKILL, a power cut) leaves the old state whole and
  a ``.<name>.*.tmp`` file as large as the state; the next save of that name removes it.

The directory is, in order: an explicit path (``--state DIR``), the environment variable
``AKIDA_EDGE_STATE_DIR``, the configuration's value, else ``$XDG_DATA_HOME/akida-edge/state``
(``~/.local/share/akida-edge/state``; ``%LOCALAPPDATA%\\akida-edge\\state`` on Windows).
Concurrent writers (the daemon's pipelines, its MQTT commands and a CLI command at once) are
serialized by an advisory lock (``flock``) on ``<dir>/.lock`` around every save and load; where
the directory cannot be written (a read-only state, a system without ``fcntl``) loads go unlocked
and a state that needed restoring from its backup is used without writing the repair.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from akida_edge import statefile
from akida_edge.errors import StateError
from akida_edge.statefile import CorruptStateError, IncompatibleStateError, NewerStateError, StateEntry

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer per directory is assumed there
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

ENV_VAR = "AKIDA_EDGE_STATE_DIR"
SUFFIX = ".learned"

__all__ = ["ENV_VAR", "CorruptStateError", "IncompatibleStateError", "StateEntry", "StateStore",
           "default_state_dir", "resolve_state_dir"]


def default_state_dir() -> Path:
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "akida-edge" / "state"
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "akida-edge" / "state"


def resolve_state_dir(explicit: str | os.PathLike | None = None,
                      configured: str | os.PathLike | None = None) -> Path:
    """The state directory: `explicit` (``--state``), else $AKIDA_EDGE_STATE_DIR, else
    `configured` (config file), else `default_state_dir()`."""
    for value in (explicit, os.environ.get(ENV_VAR), configured):
        if value:
            return Path(value).expanduser()
    return default_state_dir()


class StateStore:
    """The learned states of one device, one file per app/model name (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = resolve_state_dir(directory)

    def path(self, name: str) -> Path:
        return self.directory / f"{statefile.check_name(name)}{SUFFIX}"

    def backup_path(self, name: str) -> Path:
        return self.path(name).with_name(f"{name}{SUFFIX}.bak")

    def kept_path(self, name: str, model_hash: str) -> Path:
        return self.directory / f"{statefile.check_name(name)}.{model_hash[:12]}{SUFFIX}"

    @contextmanager
    def _locked(self, create: bool) -> Iterator[None]:
        """Hold the directory's advisory lock (module docstring); `create` makes the directory.

        Without a writable directory (or `fcntl`) the block runs unlocked: nothing can write there."""
        fd = None
        if fcntl is not None:
            try:
                if create:
                    self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # closing releases the lock

    def _repair(self, src: Path, dst: Path, warnings: list[str]) -> None:
        """Copy `src` over `dst` (restoring or moving aside); a read-only directory only warns."""
        try:
            statefile.preserve_copy(src, dst)
        except OSError as exc:
            warnings.append(f"could not write {dst.name} in {self.directory} ({exc.strerror or exc}); "
                            "the state is used as it is, unrepaired")

    def _check_directory(self) -> None:
        """A `StateError` when the state directory's path is a file (e.g. an exported state given
        as ``--state``): read as an empty directory it would show nothing learned."""
        if self.directory.exists() and not self.directory.is_dir():
            raise StateError(f"{self.directory} is a file, not a state directory; give the folder that "
                             f"holds the learned state (--state DIR, ${ENV_VAR} or [state] dir)")

    def names(self) -> list[str]:
        """Names that have a current state file."""
        self._check_directory()
        if not self.directory.is_dir():
            return []
        return sorted(p.name[:-len(SUFFIX)] for p in self.directory.glob(f"*{SUFFIX}")
                      if "." not in p.name[:-len(SUFFIX)])

    def kept_paths(self) -> list[Path]:
        """The states kept for other model versions (``<name>.<hash12>.learned``; never deleted)."""
        self._check_directory()
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob(f"*.*{SUFFIX}")
                      if p.name.count(".") == 2 and not p.name.startswith("."))

    # --- save ---
    def save(self, entry: StateEntry) -> Path:
        """Write `entry` atomically as the current state of `entry.name` (see the rules above)."""
        with self._locked(create=True):
            return self._save(entry)

    def _save(self, entry: StateEntry) -> Path:
        path = self.path(entry.name)
        self._remove_stray_temporaries(entry.name)
        try:
            previous, problem = self._read_one(path)
        except NewerStateError as exc:  # a downgrade: what the newer version learned is kept
            raise NewerStateError(f"{exc}; it is not overwritten (or move it aside to start a new "
                                  "state with this version)") from None
        entry.revision = (previous.revision + 1
                          if previous is not None and previous.model_hash == entry.model_hash else 1)
        entry.saved_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        entry.device = entry.device or socket.gethostname()
        data = statefile.encode([entry])

        def keep_previous() -> None:
            if previous is not None and previous.model_hash == entry.model_hash:
                statefile.preserve_copy(path, self.backup_path(entry.name))
            elif previous is not None:
                kept = self.kept_path(entry.name, previous.model_hash)
                statefile.preserve_copy(path, kept)
                log.warning("learned state %s was learned on another model (%s...); kept as %s",
                            path, previous.model_hash[:12], kept)
            elif problem is not None and path.exists():
                statefile.preserve_copy(path, path.with_name(path.name + ".corrupt"))
                log.warning("%s; moved aside to %s.corrupt", problem, path.name)

        return statefile.atomic_write(path, data, before_rename=keep_previous)

    def _remove_stray_temporaries(self, name: str) -> None:
        """Delete the ``.<name>.*.tmp`` files a save or backup killed mid-write left (SIGKILL, a power
        cut: `statefile.atomic_write` leaves at most one, as large as the state); under the
        directory's lock no other save of `name` is running, so each one found is stray."""
        removed = 0
        for tmp in self.directory.glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
                removed += 1
            except OSError:
                pass  # a read-only directory: the save that follows says so
        if removed:
            log.info("learned state %s: removed %d temporary file(s) left by an interrupted save",
                     self.path(name), removed)

    # --- load ---
    def load(self, name: str, model_hash: str | None = None) -> StateEntry | None:
        """The state of `name` for the model `model_hash` (None: any), or None if there is none.

        Falls back to the backup when the current file is corrupt (restoring it, and listing the
        problem in `warnings`), and to a kept state of this model when the current one belongs to
        another model. Raises `StateError` when nothing usable is left of an existing state.
        """
        with self._locked(create=False):
            return self._load(name, model_hash)

    def _load(self, name: str, model_hash: str | None) -> StateEntry | None:
        self._check_directory()
        path, bak = self.path(name), self.backup_path(name)
        entry, problem = self._read_one(path)
        warnings: list[str] = []
        if problem is not None:
            warnings.append(problem)
            backup, bak_problem = self._read_one(bak)
            if backup is None:
                if bak_problem:
                    raise CorruptStateError(f"{problem}; its backup is unusable too ({bak_problem}); "
                                            f"re-learn, or import an exported state")
                raise CorruptStateError(f"{problem}; there is no backup; re-learn or import an exported "
                                        "state")
            if path.exists():
                self._repair(path, path.with_name(path.name + ".corrupt"), warnings)
            self._repair(bak, path, warnings)
            warnings.append(f"using the previous good state {bak.name} (revision {backup.revision}); "
                            f"the corrupt file is kept as {path.name}.corrupt")
            entry = backup
        elif entry is None and bak.exists():  # the current file was removed: use the backup
            entry, bak_problem = self._read_one(bak)
            if entry is None:
                raise CorruptStateError(f"learned state {path} is missing and its backup is unusable "
                                        f"({bak_problem}); re-learn, or import an exported state")
            self._repair(bak, path, warnings)
            warnings.append(f"{path.name} was missing; restored the previous state {bak.name} "
                            f"(revision {entry.revision})")
        if entry is None:
            return None
        if model_hash is not None and entry.model_hash != model_hash:
            kept, _ = self._read_one(self.kept_path(name, model_hash))
            if kept is not None and kept.model_hash == model_hash:
                warnings.append(f"{path.name} belongs to another model ({entry.model_hash[:12]}...); "
                                f"using the state kept for this model")
                entry = kept
            else:
                raise IncompatibleStateError(
                    f"learned state {path} was learned on model {entry.model_hash[:12]}..., not on the "
                    f"current model {model_hash[:12]}...; it is kept unused (the next save moves it to "
                    f"{self.kept_path(name, entry.model_hash).name}); re-learn, or import a state "
                    "learned on this model")
        entry.warnings = warnings
        for w in warnings:
            log.warning("%s", w)
        return entry

    def _read_one(self, path: Path) -> tuple[StateEntry | None, str | None]:
        """(entry, None), (None, None) when missing, (None, problem) when unusable; raises
        `NewerStateError` for a file of a newer akida-edge (not to be replaced or overwritten)."""
        if not path.exists():
            return None, None
        try:
            _, entries = statefile.read(path)
        except NewerStateError:
            raise
        except StateError as exc:
            return None, str(exc)
        if len(entries) != 1:
            return None, f"learned state {path} holds {len(entries)} entries, expected one"
        return entries[0], None

    # --- with a model ---
    def save_model(self, name: str, model: Any, extra: dict[str, Any] | None = None,
                   arrays: dict[str, Any] | None = None) -> Path:
        """Save what `model` learned (its `LearningState`) under `name`, tied to its backbone."""
        from akida_edge.engine.learning import require_state
        from akida_edge.engine.learning_state import backbone_hash

        entry = StateEntry(name=name, model_hash=backbone_hash(model),
                           learning=require_state(model).copy(), extra=dict(extra or {}),
                           arrays=dict(arrays or {}))
        return self.save(entry)

    def load_into(self, name: str, model: Any) -> StateEntry | None:
        """Install the state of `name` learned on this model's backbone; None if there is none.

        Raises `IncompatibleStateError` when only a state of another model exists (kept), and
        `StateError` when the state is corrupt without a usable backup.
        """
        from akida_edge.engine.learning import attach
        from akida_edge.engine.learning_state import backbone_hash
        from akida_edge.errors import LearningError

        entry = self.load(name, backbone_hash(model))
        if entry is None:
            return None
        if entry.learning is None:
            raise StateError(f"learned state {self.path(name)} holds no learning-layer state")
        try:
            attach(model, entry.learning.copy())
        except LearningError as exc:
            raise IncompatibleStateError(f"learned state {self.path(name)} does not fit the model: "
                                         f"{exc}") from None
        return entry

    # --- fleet sharing ---
    def export(self, target: str | os.PathLike, names: Iterable[str] | None = None) -> Path:
        """Write the current states of `names` (default: all) as ONE file at `target`."""
        chosen = list(names) if names is not None else self.names()
        if not chosen:
            raise StateError(f"there is no learned state in {self.directory} to export")
        entries = []
        for name in chosen:
            entry = self.load(name)
            if entry is None:
                raise StateError(f"no learned state named {name!r} in {self.directory}; "
                                 f"it has {', '.join(self.names()) or 'none'}")
            entries.append(entry)
        return statefile.atomic_write(target, statefile.encode(entries, kind="export"))

    def import_file(self, source: str | os.PathLike, names: Iterable[str] | None = None) -> list[str]:
        """Install the states in the exported file `source` (default: all of them); returns names."""
        _, entries = statefile.read(source)
        wanted = set(names) if names is not None else None
        if wanted is not None:
            missing = wanted - {e.name for e in entries}
            if missing:
                raise StateError(f"{source} holds no state named {', '.join(sorted(missing))}; it has "
                                 f"{', '.join(e.name for e in entries)}")
        done = []
        for entry in entries:
            if wanted is None or entry.name in wanted:
                self.save(entry)
                done.append(entry.name)
        return done
