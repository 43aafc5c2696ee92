"""`akida-edge validate-config FILE`: check a configuration file without running anything.
`akida-edge init-config FILE [--force]`: write the packaged default configuration to edit."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from akida_edge.config import Config, default_config_text, load_config
from akida_edge.errors import ConfigError
from akida_edge.statefile import atomic_write


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("validate-config", help="check a config.toml and print a summary")
    p.add_argument("file", metavar="FILE", help="the config.toml to check")
    p.set_defaults(func=_run)
    p = subparsers.add_parser("init-config", help="write the packaged default config.toml to edit")
    p.add_argument("file", metavar="FILE", help="where to write it (e.g. config.toml)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=_init)


#: source types whose `path` names a file that must exist (a camera's `device` or a video may be a URL)
FILE_SOURCES = ("audio_file", "vibration_file", "evt_file")
#: source types opened by `validate-config` besides the files: what they need is on this machine
#: (synthetic speech: the espeak-ng program and its `voice`)
OPENED_SOURCES = (*FILE_SOURCES, "synthetic_speech")


def check_files(cfg: Config, file: str) -> None:
    """A `ConfigError` naming the first enabled pipeline's `model` or source `path` that is not a
    file, a model its pipeline cannot use, a recording its source cannot read, a synthetic voice
    this machine does not have, a learned-state directory that is a file or a custom factory whose
    module is not installed: `run` would start that pipeline only to fail it, again at every retry.
    Paths are taken as the pipelines take them (relative ones from the working directory)."""
    for i, p in enumerate(cfg.pipelines):
        if not p.enabled:
            continue
        named = [(f"pipelines[{i}].model", p.model)] if p.model else []
        if p.source.type in FILE_SOURCES and p.source.options.get("path"):
            named.append((f"pipelines[{i}].source.path", p.source.options["path"]))
        for key, value in named:
            path = Path(value).expanduser()
            if not path.is_file():
                what = "is a directory" if path.is_dir() else "does not exist"
                where = "" if path.is_absolute() else f" (relative to the working directory {os.getcwd()})"
                raise ConfigError(f"{file}: {key} = {value!r} {what}{where}; give the path of the file")
        if p.model:
            _check_model(Path(p.model).expanduser(), f"{file}: pipelines[{i}].model")
            _check_pipeline_model(p, f"{file}: pipelines[{i}].model")
        if p.source.type in OPENED_SOURCES:
            _check_opens(p.source.type, p.source.options, f"{file}: pipelines[{i}].source")
        state_dir = p.options.get("state_dir")
        if state_dir and Path(state_dir).exists() and not Path(state_dir).is_dir():
            raise ConfigError(f"{file}: pipelines[{i}].options.state_dir: {state_dir} is a file, not a "
                              "directory; point the key at a directory (or remove it: the daemon's state)")
        if p.type == "custom":
            _check_factory(p.factory, f"{file}: pipelines[{i}].factory")


def _check_model(path: Path, where: str) -> None:
    """A `ConfigError` when `path` is not a model file (a truncated copy, another file's name)."""
    from akida_edge.engine.modelfile import load_model
    from akida_edge.errors import AkidaEdgeError

    try:
        load_model(path)
    except AkidaEdgeError as exc:
        raise ConfigError(f"{where}: {str(exc).splitlines()[0]}") from None


def _check_pipeline_model(p: Any, where: str) -> None:
    """A `ConfigError` when the pipeline type cannot use the model (a gesture model given to a kws
    pipeline): the type's module says so in `check_model(cfg)`, if it declares one."""
    import importlib

    from akida_edge.errors import AkidaEdgeError

    try:
        module = importlib.import_module(f"akida_edge.pipelines.{p.type}")
    except ImportError:
        return
    check = getattr(module, "check_model", None)
    if check is None:
        return
    try:
        check(p)
    except AkidaEdgeError as exc:
        raise ConfigError(f"{where}: {str(exc).splitlines()[0]}") from None


def _check_factory(factory: str, where: str) -> None:
    """A `ConfigError` when a custom pipeline's `package.module:function` names no installed module
    (the module itself is not imported here: it is the user's code, run by `run`)."""
    import importlib.util

    module = factory.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(f"{where} = {factory!r}: no module {module!r} can be imported here; install it "
                          "or fix the name (package.module:function)")


def _check_opens(type_name: str, settings: dict, where: str) -> None:
    """A `ConfigError` when a replay source's file is not what its driver reads (a .txt named .wav, a
    CSV separated by semicolons, a truncated recording): its pipeline would fail at every retry.
    The source is opened and closed as `run` opens it (a recording is read once)."""
    from akida_edge.drivers import make_source
    from akida_edge.errors import AkidaEdgeError

    try:
        make_source(type_name, **settings).open().close()
    except (AkidaEdgeError, OSError) as exc:
        raise ConfigError(f"{where}: {str(exc).splitlines()[0]}") from None


def _run(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    check_files(cfg, args.file)
    m = cfg.mqtt
    where = "embedded broker" if m.broker == "embedded" else f"{m.host}:{m.port}"
    tls = ", TLS" if m.tls_ca or m.tls_cert else ""
    auth = f", user {m.username!r}" if m.username else ""
    print(f"{args.file}: OK")
    print(f"  device {cfg.device.id}; MQTT v{m.protocol} via {where}{tls}{auth}; prefix {m.prefix!r}")
    print(f"  state in {cfg.state_dir()}; telemetry every {cfg.telemetry.interval_s:g} s")
    for p in cfg.pipelines:
        state = "" if p.enabled else " (disabled)"
        print(f"  pipeline {p.name}: {p.type} from {p.source.type}{state}")
    if not any(p.enabled for p in cfg.pipelines):  # valid, but `run` would detect nothing
        print("  no pipeline is enabled: `run` would publish status and telemetry only; add [[pipelines]] "
              "entries (docs/config.md)")
    return 0


def _init(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name, e.g. {path / 'config.toml'}")
    if path.exists() and not args.force:
        raise ConfigError(f"{path}: exists; choose another name, or add --force to replace it")
    atomic_write(path, default_config_text().encode("utf-8"), what="config file")  # names path and fix
    os.chmod(path, 0o644)  # read by a service's own user; no secret inside (they live in their own files)
    print(f"{path}: written (the packaged default; every key is in docs/config.md; "
          f"check it with `akida-edge validate-config {os.fspath(path)}`)")
    return 0
