"""akida_edge.drivers: one module per sensor source (DESIGN.md §1–2, STYLE.md §9).

Every driver implements `drivers.base.Source` (open/read/close, health, reconnect) and declares
its configuration as a frozen dataclass. `SOURCE_TYPES` maps the `type` a configuration file
names to (module, source class, config class); `make_source(type, **settings)` builds one, with
unknown types and settings reported as one-line `ConfigError`s. Modules are imported on demand,
so a driver's hardware library is only needed by those who use it.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from akida_edge.errors import ConfigError

SOURCE_TYPES: dict[str, tuple[str, str, str]] = {
    "camera": ("camera", "CameraSource", "CameraConfig"),
    "video_file": ("video_file", "VideoFileSource", "VideoFileConfig"),
    "microphone": ("microphone", "MicrophoneSource", "MicrophoneConfig"),
    "audio_file": ("audio_file", "AudioFileSource", "AudioFileConfig"),
    "vibration_file": ("vibration", "VibrationFileSource", "VibrationFileConfig"),
    "serial_vibration": ("vibration", "SerialVibrationSource", "SerialConfig"),
    "synthetic_machine": ("synthetic_machine", "SyntheticMachineSource", "MachineConfig"),
    "evt_file": ("evt", "EvtFileSource", "EvtConfig"),
}


def make_source(type_name: str, **settings: Any):
    """A source of `type_name` configured from `settings` (the config section's keys).

    For `synthetic_machine` the keys `block_s`, `duration_s` and `realtime` go to the source and
    the rest to its `MachineConfig`.
    """
    if type_name not in SOURCE_TYPES:
        raise ConfigError(
            f"unknown source type {type_name!r}; choose one of {', '.join(sorted(SOURCE_TYPES))}"
        )
    module_name, cls_name, cfg_name = SOURCE_TYPES[type_name]
    module = importlib.import_module(f"akida_edge.drivers.{module_name}")
    cls, cfg_cls = getattr(module, cls_name), getattr(module, cfg_name)
    source_keys = {"block_s", "duration_s", "realtime"} if type_name == "synthetic_machine" else set()
    cfg_settings = {k: v for k, v in settings.items() if k not in source_keys}
    known = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = sorted(set(cfg_settings) - known)
    if unknown:
        raise ConfigError(
            f"unknown setting {', '.join(unknown)} for source type {type_name!r}; "
            f"known: {', '.join(sorted(known | source_keys))}"
        )
    try:
        config = cfg_cls(**cfg_settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"source type {type_name!r}: {exc}") from None
    return cls(config, **{k: settings[k] for k in source_keys if k in settings})
