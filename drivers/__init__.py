"""akida_edge.drivers: one module per sensor source (DESIGN.md §1–2, STYLE.md §9).

Every driver implements `drivers.base.Source` (open/read/close, health, reconnect) and declares
its configuration as a frozen dataclass. `SOURCE_TYPES` maps the `type` a configuration file
names to (module, source class, config class); it is the one source of truth for what a
`source = { type = ..., ... }` table may hold: `source_settings(type)` lists the keys with their
types (the config dataclass's fields, plus the few constructor arguments in `SOURCE_ARGS`),
`check_settings(type, settings)` validates a table (types, then the dataclass's own bounds) and
`make_source(type, **settings)` builds the source. The daemon's configuration loader uses the same
functions, so `validate-config` accepts exactly what `make_source` accepts. Modules are imported
on demand, so a driver's hardware library is only needed by those who use it.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from dataclasses import dataclass
from typing import Any

from akida_edge.errors import ConfigError

SOURCE_TYPES: dict[str, tuple[str, str, str]] = {
    "camera": ("camera", "CameraSource", "CameraConfig"),
    "video_file": ("video_file", "VideoFileSource", "VideoFileConfig"),
    "synthetic_camera": ("synthetic_camera", "SyntheticCameraSource", "SyntheticCameraConfig"),
    "microphone": ("microphone", "MicrophoneSource", "MicrophoneConfig"),
    "audio_file": ("audio_file", "AudioFileSource", "AudioFileConfig"),
    "synthetic_speech": ("synthetic_speech", "SyntheticSpeechSource", "SyntheticSpeechConfig"),
    "vibration_file": ("vibration", "VibrationFileSource", "VibrationFileConfig"),
    "serial_vibration": ("vibration", "SerialVibrationSource", "SerialConfig"),
    "synthetic_machine": ("synthetic_machine", "SyntheticMachineSource", "MachineConfig"),
    "evt_file": ("evt", "EvtFileSource", "EvtConfig"),
}

#: Settings that go to a source's constructor instead of its config dataclass.
SOURCE_ARGS: dict[str, dict[str, Any]] = {
    "synthetic_machine": {"block_s": float, "duration_s": float, "realtime": bool, "fault_after_s": float,
                          "start_us": int},
}

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true/false", dict: "a table"}


@dataclass(frozen=True)
class Setting:
    """One key of a source table: the TOML value types it takes, whether it is required, and the
    dataclass a table value becomes (nested settings such as a bearing geometry)."""

    name: str
    types: tuple[type, ...]
    required: bool = False
    nested: type | None = None

    def describe(self) -> str:
        shown = [t for t in self.types if not (t is int and float in self.types)]
        return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in shown)


def _types_of(hint: Any) -> tuple[tuple[type, ...], type | None]:
    """TOML value types a field's type hint accepts (float also takes int), and its dataclass."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    args = typing.get_args(hint) if union else (hint,)
    out: list[type] = []
    nested = None
    for a in args:
        if a is type(None):
            continue
        if dataclasses.is_dataclass(a):
            nested = a
            out.append(dict)
        elif a is float:
            out += [float, int]
        elif a in (int, str, bool):
            out.append(a)
        elif a is typing.Any:
            out += [str, int, float, bool]
        else:  # e.g. Path: given as a string
            out.append(str)
    return tuple(dict.fromkeys(out)), nested


def _dataclass_settings(cls: type) -> dict[str, Setting]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        kinds, nested = _types_of(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out[f.name] = Setting(f.name, kinds, required, nested)
    return out


def _classes(type_name: str) -> tuple[type, type]:
    if type_name not in SOURCE_TYPES:
        raise ConfigError(
            f"unknown source type {type_name!r}; choose one of {', '.join(sorted(SOURCE_TYPES))}"
        )
    module_name, cls_name, cfg_name = SOURCE_TYPES[type_name]
    module = importlib.import_module(f"akida_edge.drivers.{module_name}")
    return getattr(module, cls_name), getattr(module, cfg_name)


def source_kind(type_name: str) -> str:
    """What a source of `type_name` yields: ``"video"``, ``"audio"``, ``"vibration"`` or ``"events"``."""
    return _classes(type_name)[0].kind


def source_settings(type_name: str) -> dict[str, Setting]:
    """Every key a `type_name` source table may hold (besides `type`), with its types."""
    _, cfg_cls = _classes(type_name)
    out = _dataclass_settings(cfg_cls)
    for name, kind in SOURCE_ARGS.get(type_name, {}).items():
        out[name] = Setting(name, _types_of(kind)[0])
    return out


def _check_value(setting: Setting, value: Any, where: str) -> Any:
    ok = isinstance(value, setting.types) and not (isinstance(value, bool) and bool not in setting.types)
    if not ok:
        raise ConfigError(f"{where}.{setting.name} = {value!r} must be {setting.describe()}")
    if isinstance(value, float) and value != value:
        raise ConfigError(f"{where}.{setting.name} = nan is not a number; give a finite value")
    if setting.nested is not None and isinstance(value, dict):
        return _build(setting.nested, _dataclass_settings(setting.nested), value, f"{where}.{setting.name}")
    if float in setting.types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _build(cls: type, settings: dict[str, Setting], table: dict[str, Any], where: str) -> Any:
    unknown = sorted(set(table) - set(settings))
    if unknown:
        raise ConfigError(f"unknown key {where}.{unknown[0]}; allowed keys: {', '.join(sorted(settings))}")
    missing = [s.name for s in settings.values() if s.required and s.name not in table]
    if missing:
        raise ConfigError(f"{where}.{missing[0]} is missing; add it")
    values = {k: _check_value(settings[k], v, where) for k, v in table.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise _refused(exc, settings, where) from None


def _refused(exc: Exception, settings: dict[str, Any], where: str) -> ConfigError:
    """A driver's refusal as a one-line `ConfigError`, naming the key path when the message starts
    with the key ("fps = 0 ...; use ..." or "fps must lie in ...")."""
    text = str(exc).replace("\n", " ")
    key = text.split(" = ", 1)[0]
    if key in settings:  # "field = value ...; use ...": name the key path
        return ConfigError(f"{where}.{text}")
    if text.split(" ", 1)[0] in settings:  # "field must ...": name the key path too
        return ConfigError(f"{where}.{text}; fix the value")
    return ConfigError(f"{where}: {text}; fix the value")


def check_dataclass(cls: type, table: Any, where: str) -> Any:
    """Build the frozen dataclass `cls` from a TOML table with the same checks as a source table
    (pipelines use it for their `options`)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {table!r}")
    return _build(cls, _dataclass_settings(cls), table, where)


def check_settings(type_name: str, settings: dict[str, Any],
                   where: str = "source") -> tuple[Any, dict[str, Any]]:
    """Validate a source table: (the driver's config object, the constructor arguments).

    Unknown keys, wrong types and values the driver's config refuses raise one-line `ConfigError`s
    naming `where.key`."""
    _, cfg_cls = _classes(type_name)
    all_settings = source_settings(type_name)
    args = SOURCE_ARGS.get(type_name, {})
    cfg_table = {k: v for k, v in settings.items() if k not in args}
    arg_table = {k: v for k, v in settings.items() if k in args}
    unknown = sorted(set(settings) - set(all_settings))
    if unknown:
        raise ConfigError(f"unknown key {where}.{unknown[0]} for a {type_name!r} source; allowed keys: "
                          f"{', '.join(sorted(all_settings))}")
    config = _build(cfg_cls, _dataclass_settings(cfg_cls), cfg_table, where)
    kwargs = {k: _check_value(all_settings[k], v, where) for k, v in arg_table.items()}
    if kwargs:  # the constructor checks its own arguments (opening the source is what costs)
        cls, _ = _classes(type_name)
        try:
            cls(config, **kwargs)
        except (TypeError, ValueError) as exc:
            raise _refused(exc, all_settings, where) from None
    return config, kwargs


def make_source(type_name: str, **settings: Any):
    """A source of `type_name` configured from `settings` (the config section's keys).

    For `synthetic_machine` the keys `block_s`, `duration_s`, `realtime`, `fault_after_s` and
    `start_us` go to the source and the rest to its `MachineConfig` (`SOURCE_ARGS`).
    """
    cls, _ = _classes(type_name)
    known = source_settings(type_name)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ConfigError(f"unknown setting {', '.join(unknown)} for source type {type_name!r}; "
                          f"known: {', '.join(sorted(known))}")
    config, kwargs = check_settings(type_name, settings, where=f"{type_name} source")
    return cls(config, **kwargs)
