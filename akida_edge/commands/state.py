"""`akida-edge state list|export|import`: the device's learned state (see `akida_edge/state.py`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from akida_edge import replay, statefile
from akida_edge import state as S
from akida_edge.commands._args import STATE_HELP
from akida_edge.errors import StateError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("state", help="list, export and import what this device has learned")
    sub = p.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state", metavar="DIR", help=STATE_HELP)
    ls = sub.add_parser("list", parents=[common], help="the learned states in the state directory")
    ls.add_argument("--json", action="store_true", help="one JSON object per state")
    ls.set_defaults(func=_list)
    ex = sub.add_parser("export", parents=[common], help="write learned states as ONE file")
    ex.add_argument("file", help="the file to write")
    ex.add_argument("names", nargs="*", metavar="NAME", help="states to export (default: all)")
    ex.add_argument("--force", action="store_true", help="replace an existing file")
    ex.set_defaults(func=_export)
    im = sub.add_parser("import", parents=[common], help="install the states of an exported file "
                        "(each replaced state is kept as .bak)")
    im.add_argument("file", help="a file written by 'state export'")
    im.add_argument("names", nargs="*", metavar="NAME", help="states to import (default: all)")
    im.set_defaults(func=_import)


def describe(entry: statefile.StateEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"name": entry.name, "revision": entry.revision, "saved_at": entry.saved_at,
                           "device": entry.device, "model_hash": entry.model_hash[:12]}
    if entry.learning is not None:
        st = entry.learning
        out.update(rule=st.rule, classes=st.num_classes, neurons=st.units,
                   neurons_learned=int(st.learned.sum()), samples_seen=st.samples_seen)
    if replay.PREFIX + "length" in entry.arrays:  # what a newer model would learn again from
        out["inputs_kept"] = int(len(entry.arrays[replay.PREFIX + "length"]))  # kws: clips; vision: windows
    if entry.warnings:
        out["warnings"] = entry.warnings
    return out


def _list(args: argparse.Namespace) -> int:
    store = S.StateStore(args.state)
    rows = []
    for name in store.names():  # read-only: a corrupt file is reported here, repaired by load
        try:
            _, entries = statefile.read(store.path(name))
            rows.extend(describe(e) for e in entries)
        except StateError as exc:
            rows.append({"name": name, "error": str(exc)})
    for path in store.kept_paths():  # learned on another model version: kept, used by that model
        try:
            _, entries = statefile.read(path)
            rows.extend({**describe(e), "kept": path.name} for e in entries)
        except StateError as exc:
            rows.append({"name": path.name, "kept": path.name, "error": str(exc)})
    status = 1 if any("error" in row for row in rows) else 0  # a state that cannot be used, as a bad file
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return status
    if not rows:
        print(f"no learned state in {store.directory}")
    for row in rows:
        if "error" in row:
            print(f"{row['name']}: {row['error']}")
            continue
        classes = "unlabelled" if row.get("classes") is None else f"{row['classes']} classes"
        learned = (f"{row['neurons_learned']}/{row['neurons']} neurons learned, {classes}"
                   if "neurons" in row else "no learning layer")
        inputs = (f", {row['inputs_kept']} learning inputs kept for a newer model" if "inputs_kept" in row
                  else "")
        kept = (f" (kept as {row['kept']} for that model; not the current state)" if "kept" in row else "")
        print(f"{row['name']}: revision {row['revision']}, {learned}{inputs}, saved {row['saved_at']} on "
              f"{row['device']}, model {row['model_hash']}{kept}")
    return status


def _export(args: argparse.Namespace) -> int:
    target = Path(args.file)
    if target.is_file() and not args.force:  # e.g. another device's export, copied here to import
        raise StateError(f"{target}: exists; choose another name, or add --force to replace it")
    store = S.StateStore(args.state)
    if target.resolve().parent == Path(store.directory).resolve():
        # the store's own files (kws.learned, their .bak, .learned.* of other models) would be replaced
        raise StateError(f"{target}: is in the state directory {store.directory}; export to a file "
                         "outside it")
    path = store.export(args.file, args.names or None)
    _, entries = statefile.read(path)
    print(f"exported {', '.join(e.name for e in entries)} to {path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    store = S.StateStore(args.state)
    names = store.import_file(args.file, args.names or None)
    print(f"imported {', '.join(names)} into {store.directory}")
    return 0
