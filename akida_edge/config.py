"""The daemon configuration: `config.toml` read with `tomllib` into typed, frozen models.

One frozen dataclass per section (`[device]`, `[mqtt]`, `[state]`, `[telemetry]`, `[[pipelines]]`
and each pipeline's `source` table). Source tables are checked against the driver registry
(`akida_edge.drivers.check_settings`: the keys, types and bounds of each driver's own config
dataclass), so this loader accepts exactly what `make_source` accepts; a pipeline module's
`check_options` checks its `options` table. Every field declares its type and, for numbers, its bounds in
the dataclass field metadata; `load_config` refuses unknown keys, wrong types and out-of-range
values with a `ConfigError` naming the file, the key path (`pipelines[1].source.rate_hz`) and the
fix. Secrets never live in the file: the MQTT password comes from `password_file`, from
`$CREDENTIALS_DIRECTORY/mqtt_password` (systemd `LoadCredential=`) or from the environment variable
`AKIDA_EDGE_MQTT_PASSWORD`, and is read only when the client connects (`MqttConfig.password`).
The reference for every key is `docs/config.md`.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akida_edge.errors import ConfigError
from akida_edge.mqtt.topics import DEFAULT_PREFIX, LEVEL_RE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

NAME_RE = LEVEL_RE  # device ids, pipeline names and the prefix are topic levels
PASSWORD_ENV = "AKIDA_EDGE_MQTT_PASSWORD"
#: Topic levels the daemon uses under `<prefix>/<id>/` (`mqtt/topics.py`): no pipeline may be named so.
RESERVED_PIPELINE_NAMES = ("request", "response", "status", "info", "telemetry")


def _f(default: Any = dataclasses.MISSING, *, lo: float | None = None, hi: float | None = None,
       choices: tuple | None = None, name: bool = False, path: bool = False) -> Any:
    """A dataclass field with its validation rules in `metadata` (bounds are inclusive)."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "name": name, "path": path}
    if isinstance(default, dict | list):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _read_secret(path: Path, what: str) -> str:
    """A password file's text (UTF-8, stripped); `ConfigError` naming `what` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {str(path)!r} ({exc.strerror}); "
                          "fix the path or its permissions") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: {str(path)!r} is not UTF-8 text; write the password as plain "
                          "UTF-8 text") from None


@dataclass(frozen=True)
class DeviceConfig:
    """`[device]`: `id` is this node's name in every topic (`<prefix>/<id>/...`)."""

    id: str = _f("", name=True)
    name: str = _f("")


@dataclass(frozen=True)
class MqttConfig:
    """`[mqtt]`: where detections and telemetry go (`broker = "embedded"` needs no broker)."""

    broker: str = _f("embedded", choices=("embedded", "external"))
    host: str = _f("127.0.0.1")
    port: int = _f(1883, lo=0, hi=65535)
    prefix: str = _f(DEFAULT_PREFIX, name=True)
    protocol: str = _f("5", choices=("5", "3.1.1"))
    client_id: str = _f("")
    username: str = _f("")
    password_file: str = _f("", path=True)
    tls_ca: str = _f("", path=True)
    tls_cert: str = _f("", path=True)
    tls_key: str = _f("", path=True)
    tls_insecure: bool = _f(False)
    keepalive_s: int = _f(30, lo=5, hi=3600)
    reconnect_min_s: float = _f(1.0, lo=0.05, hi=60.0)
    reconnect_max_s: float = _f(60.0, lo=0.1, hi=3600.0)
    max_inflight: int = _f(20, lo=1, hi=65535)
    discovery: bool = _f(True)
    discovery_prefix: str = _f("homeassistant", name=True)

    def password(self) -> str | None:
        """The broker password, read now from the file, the credential directory or the env.

        Never stored on the object and never logged. Returns None when no password is configured.
        """
        if self.password_file:
            return _read_secret(Path(self.password_file), "mqtt.password_file")
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds and (Path(creds) / "mqtt_password").is_file():
            # empty: a broker without a password (the systemd unit needs the file to exist)
            secret = _read_secret(Path(creds) / "mqtt_password", "$CREDENTIALS_DIRECTORY/mqtt_password")
            if secret:
                return secret
        return os.environ.get(PASSWORD_ENV) or None


@dataclass(frozen=True)
class StateConfig:
    """`[state]`: where the outbox and learned state live (`$STATE_DIRECTORY` under systemd)."""

    dir: str = _f("", path=True)
    outbox_max_mb: float = _f(256.0, lo=1.0, hi=1_000_000.0)
    telemetry_max_rows: int = _f(10_000, lo=10, hi=10_000_000)
    telemetry_max_age_s: float = _f(3600.0, lo=1.0, hi=30 * 86400.0)


@dataclass(frozen=True)
class TelemetryConfig:
    """`[telemetry]`: how often the flat telemetry JSON is published."""

    interval_s: float = _f(10.0, lo=0.1, hi=86400.0)
    enabled: bool = _f(True)


#: What each built-in pipeline type reads (`Source.kind` of the drivers in `akida_edge.drivers`).
PIPELINE_SOURCE_KINDS: dict[str, tuple[str, ...]] = {
    "kws": ("audio",), "anomaly": ("vibration",), "camera": ("video",),
}


#: `[[pipelines]]` keys only some pipeline types read, and those types (a `custom` factory gets the
#: whole entry, so it may read any of them). A key set on another type is refused: it would do nothing.
PIPELINE_KEY_TYPES: dict[str, tuple[str, ...]] = {
    "threshold": ("kws", "camera", "custom"),  # anomaly: the calibrated threshold (set_threshold at run time)
    "model": ("kws", "anomaly", "camera", "custom"),  # camera: the gesture model (gestures mode only)
    "debounce_ms": ("camera", "custom"),  # the hold time of a motion episode
    "factory": ("custom",),
}


@dataclass(frozen=True)
class SourceConfig:
    """A pipeline's `source` table: `type` picks the driver; the other keys are its options."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineConfig:
    """One `[[pipelines]]` entry."""

    name: str = _f(name=True)
    type: str = _f(choices=("kws", "anomaly", "camera", "custom"))
    source: SourceConfig = _f(None)
    enabled: bool = _f(True)
    threshold: float = _f(0.5, lo=0.0, hi=1.0e6)
    model: str = _f("", path=True)
    factory: str = _f("")
    debounce_ms: float = _f(500.0, lo=0.0, hi=3_600_000.0)
    labels: list = _f([])
    retry_min_s: float = _f(1.0, lo=0.01, hi=600.0)
    retry_max_s: float = _f(60.0, lo=0.01, hi=86400.0)
    options: dict = _f({})


@dataclass(frozen=True)
class Config:
    """The whole file; `path` is where it came from (for messages and SIGHUP reloads)."""

    path: str
    device: DeviceConfig
    mqtt: MqttConfig
    state: StateConfig
    telemetry: TelemetryConfig
    pipelines: tuple[PipelineConfig, ...]

    def state_dir(self) -> Path:
        """The state directory (outbox and learned state): `[state] dir` (a relative path is taken
        from the config file's folder), else `$STATE_DIRECTORY` (systemd), else the learned-state
        default of `akida_edge.state.resolve_state_dir` (`$AKIDA_EDGE_STATE_DIR`, else
        `~/.local/share/akida-edge/state`): one default for the daemon and the CLI."""
        if self.state.dir:
            return self.resolve_path(self.state.dir)
        env = os.environ.get("STATE_DIRECTORY")
        if env:
            return Path(env.split(":")[0])
        from akida_edge.state import resolve_state_dir

        return resolve_state_dir()

    def resolve_path(self, value: str) -> Path:
        """`value` with `~` expanded; relative to the config file's folder (the CWD without a file)."""
        return _resolve(value, self.path)


def _resolve(value: str, config_path: str) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute() or config_path.startswith("<"):
        return path
    return Path(config_path).resolve().parent / path


#: Pipeline types whose `options.state_dir` holds learned state (default: `Config.state_dir()`).
LEARNING_PIPELINES = ("kws", "anomaly", "camera")  # camera: learned gestures (gestures mode)


def _type_name(t: Any) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join({int: "an integer", float: "a number", str: "a string", bool: "true/false",
                        list: "an array", dict: "a table"}.get(x, x.__name__) for x in ts)


def _check_value(file: str, key: str, value: Any, expected: Any, meta: dict) -> Any:
    ok_types = expected if isinstance(expected, tuple) else (expected,)
    if float in ok_types and int not in ok_types:
        ok_types = (*ok_types, int)
    if isinstance(value, bool) and bool not in ok_types:
        ok = False
    else:
        ok = isinstance(value, ok_types)
    if not ok:
        raise ConfigError(f"{file}: {key} = {value!r} must be {_type_name(expected)}")
    if float in ok_types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{file}: {key} = {value!r} is out of range; use a value in [{lo}, {hi}]")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{file}: {key} = {value!r} is not allowed; use one of "
                          + ", ".join(repr(c) for c in choices))
    if meta.get("name") and value and not NAME_RE.match(value):
        raise ConfigError(f"{file}: {key} = {value!r} must be 1-64 characters of letters, digits, "
                          "'_' or '-' (it becomes an MQTT topic level)")
    return value


_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}


def _build(cls: type, table: Any, file: str, where: str, skip: tuple[str, ...] = ()) -> Any:
    """Instantiate the frozen dataclass `cls` from a TOML table, checking every key."""
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: {where} must be a table, got {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    unknown = sorted(set(table) - set(fields) - set(skip))
    if unknown:
        raise ConfigError(f"{file}: unknown key {where}.{unknown[0]}; allowed keys: "
                          + ", ".join(sorted(fields)))
    values = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{file}: {key} is missing; add it (see docs/config.md)")
            continue
        expected = _TYPES.get(f.type, str) if isinstance(f.type, str) else f.type
        values[name] = _check_value(file, key, table[name], expected, dict(f.metadata))
    return cls(**values)


def _source(table: Any, file: str, where: str, pipeline_type: str) -> SourceConfig:
    """Check a `source` table against the driver registry (`akida_edge.drivers`): the keys, their
    types and the driver config's own bounds are the ones `make_source` accepts. A custom pipeline
    may name a source type of its own (its factory reads the table); its values must then be TOML
    scalars (numbers finite and >= 0) or arrays of strings."""
    from akida_edge import drivers

    if not isinstance(table, dict):
        raise ConfigError(f"{file}: {where} must be a table with a 'type' key, e.g. "
                          f"{where} = {{ type = \"synthetic_camera\" }}")
    kind = table.get("type")
    options = {k: v for k, v in table.items() if k != "type"}
    if kind not in drivers.SOURCE_TYPES:
        if pipeline_type == "custom" and isinstance(kind, str) and NAME_RE.match(kind):
            for key, value in options.items():
                ok = isinstance(value, str | int | float | bool) or (
                    isinstance(value, list) and all(isinstance(v, str) and 0 < len(v) <= 64 for v in value))
                if not ok:
                    raise ConfigError(f"{file}: {where}.{key} = {value!r}: a custom source takes numbers, "
                                      "strings, true/false or arrays of strings")
                if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value < 1e18:
                    raise ConfigError(f"{file}: {where}.{key} = {value!r} is out of range; numbers of a "
                                      "custom source must be finite and >= 0")
            return SourceConfig(type=kind, options=options)
        raise ConfigError(f"{file}: {where}.type = {kind!r} is not a known source; use one of "
                          + ", ".join(sorted(drivers.SOURCE_TYPES)))
    try:
        drivers.check_settings(kind, options, where)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    allowed = PIPELINE_SOURCE_KINDS.get(pipeline_type)
    got = drivers.source_kind(kind)
    if allowed is not None and got not in allowed:
        fits = sorted(t for t in drivers.SOURCE_TYPES if drivers.source_kind(t) in allowed)
        raise ConfigError(f"{file}: {where}.type = {kind!r} gives {got} data but a {pipeline_type} pipeline "
                          f"reads {' or '.join(allowed)}; use one of " + ", ".join(fits))
    return SourceConfig(type=kind, options=options)


def _pipeline_options(p: PipelineConfig, table: dict, file: str, where: str) -> PipelineConfig:
    """A built-in pipeline module that declares `Options` (a frozen dataclass) gets its `options`
    table checked here, so `validate-config` refuses what `build(cfg)` would. A module may also
    declare `DEFAULT_THRESHOLD` (used when the entry sets no `threshold`) and
    `check_threshold(value) -> str | None` (the reason a threshold is refused); a module whose
    threshold depends on its options (the camera's modes) declares `threshold_rule(options_table)
    -> (default or None, check_threshold or None)` instead."""
    if p.type == "custom":
        return p
    import importlib

    try:
        module = importlib.import_module(f"akida_edge.pipelines.{p.type}")
    except ImportError:
        return p  # reported by the daemon as unavailable
    rule = getattr(module, "threshold_rule", None)
    if rule is not None:
        default, check_threshold = rule(p.options)
    else:
        default = getattr(module, "DEFAULT_THRESHOLD", None)
        check_threshold = getattr(module, "check_threshold", None)
    if default is not None and "threshold" not in table:
        p = dataclasses.replace(p, threshold=float(default))
    problem = check_threshold(p.threshold) if check_threshold is not None else None
    if problem:
        raise ConfigError(f"{file}: {where}.threshold = {p.threshold!r}: {problem}")
    check = getattr(module, "check_options", None)
    if check is None:
        return p
    try:
        check(p.options, f"{where}.options")
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    return p


def parse_config(data: dict, file: str = "<config>") -> Config:
    """Validate an already-parsed TOML document (see `load_config`)."""
    sections = {"device", "mqtt", "state", "telemetry", "pipelines"}
    unknown = sorted(set(data) - sections)
    if unknown:
        raise ConfigError(f"{file}: unknown section [{unknown[0]}]; allowed: " + ", ".join(sorted(sections)))
    device = _build(DeviceConfig, data.get("device", {}), file, "device")
    if not device.id:
        host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64] or "edge"
        device = dataclasses.replace(device, id=host)
    mqtt = _build(MqttConfig, data.get("mqtt", {}), file, "mqtt")
    if not mqtt.host.strip() or mqtt.host != mqtt.host.strip():
        raise ConfigError(f"{file}: mqtt.host = {mqtt.host!r} is not an address; set the broker's host name "
                          "or IP (the embedded broker listens there: \"127.0.0.1\" for this machine only, "
                          "\"0.0.0.0\" for every interface)")
    if mqtt.reconnect_max_s < mqtt.reconnect_min_s:
        raise ConfigError(f"{file}: mqtt.reconnect_max_s = {mqtt.reconnect_max_s} is below "
                          f"mqtt.reconnect_min_s = {mqtt.reconnect_min_s}; raise it")
    if bool(mqtt.tls_cert) != bool(mqtt.tls_key):
        raise ConfigError(f"{file}: mqtt.tls_cert and mqtt.tls_key go together; set both or neither")
    if mqtt.password_file and not mqtt.username:
        raise ConfigError(f"{file}: mqtt.password_file is set but mqtt.username is empty; set the username")
    for key in ("password_file", "tls_ca", "tls_cert", "tls_key"):
        value = getattr(mqtt, key)
        if value and not Path(value).expanduser().is_file():
            raise ConfigError(f"{file}: mqtt.{key} = {value!r}: no such file; fix the path or remove the key")
    if mqtt.broker == "external" and mqtt.port == 0:
        raise ConfigError(f"{file}: mqtt.port = 0 only makes sense for the embedded broker; "
                          "set the external broker's port")
    pipes_raw = data.get("pipelines", [])
    if not isinstance(pipes_raw, list):
        raise ConfigError(f"{file}: pipelines must be an array of tables ([[pipelines]])")
    pipelines = []
    for i, table in enumerate(pipes_raw):
        where = f"pipelines[{i}]"
        p = _build(PipelineConfig, table, file, where, skip=("source",))
        if not p.name:
            raise ConfigError(f"{file}: {where}.name is empty; name the pipeline (letters, digits, '_' "
                              "or '-': it becomes an MQTT topic level)")
        for key, users in PIPELINE_KEY_TYPES.items():
            if key in table and p.type not in users:
                raise ConfigError(f"{file}: {where}.{key} does nothing in a {p.type} pipeline (used by "
                                  f"{', '.join(users)} pipelines); remove it")
        if p.name.lower() in RESERVED_PIPELINE_NAMES:
            raise ConfigError(f"{file}: {where}.name = {p.name!r} is a reserved topic level; use another "
                              f"name (not {', '.join(RESERVED_PIPELINE_NAMES)})")
        if "source" not in table:
            example = {"kws": "microphone", "anomaly": "synthetic_machine",
                       "camera": "synthetic_camera"}.get(p.type, "synthetic_machine")
            raise ConfigError(f"{file}: {where}.source is missing; add e.g. "
                              f"source = {{ type = \"{example}\" }}")
        p = dataclasses.replace(p, source=_source(table["source"], file, f"{where}.source", p.type))
        p = _pipeline_options(p, table, file, where)
        if p.type == "camera" and "model" in table and p.options.get("mode", "motion") == "motion":
            raise ConfigError(f"{file}: {where}.model does nothing in motion mode (a fixed motion map); "
                              "remove it, or set options.mode = \"gestures\"")
        given = table.get("options", {})
        if p.type == "camera" and isinstance(given, dict) and "state_dir" in given \
                and p.options.get("mode", "motion") == "motion":  # (the loader fills it in for every camera)
            raise ConfigError(f"{file}: {where}.options.state_dir does nothing in motion mode (nothing is "
                              "learned); remove it, or set options.mode = \"gestures\"")
        if p.type == "camera" and "debounce_ms" in table and p.options.get("mode") == "gestures":
            raise ConfigError(f"{file}: {where}.debounce_ms does nothing in gestures mode (one detection "
                              "per gesture; the options' refractory_ms spaces them); remove it")
        if p.type == "custom" and ":" not in p.factory:
            raise ConfigError(f"{file}: {where}.factory = {p.factory!r}: a custom pipeline needs "
                              "factory = \"package.module:function\"")
        if not all(isinstance(v, str) and 0 < len(v) <= 64 for v in p.labels):
            raise ConfigError(f"{file}: {where}.labels must be an array of strings of 1-64 characters")
        only = _only_label(p)
        if only and set(p.labels) - {only}:
            raise ConfigError(f"{file}: {where}.labels = {p.labels!r}: this pipeline's detections are all "
                              f"labelled {only!r}, so any other label publishes none; use labels = "
                              f"[\"{only}\"] or remove the key")
        if p.retry_max_s < p.retry_min_s:
            raise ConfigError(f"{file}: {where}.retry_max_s is below retry_min_s; raise it")
        pipelines.append(p)
    names = [p.name for p in pipelines]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{file}: pipeline name {dup[0]!r} is used twice; pipeline names must be unique")
    config = Config(path=file, device=device, mqtt=mqtt,
                    state=_build(StateConfig, data.get("state", {}), file, "state"),
                    telemetry=_build(TelemetryConfig, data.get("telemetry", {}), file, "telemetry"),
                    pipelines=tuple(pipelines))
    return dataclasses.replace(config, pipelines=tuple(_with_state_dir(p, config) for p in pipelines))


def _only_label(p: PipelineConfig) -> str:
    """The one label every detection of `p` carries (anomaly; a camera in motion mode), or ""."""
    if p.type == "anomaly":
        return "anomaly"
    if p.type == "camera" and p.options.get("mode", "motion") == "motion":
        return "motion"
    return ""


def _with_state_dir(p: PipelineConfig, config: Config) -> PipelineConfig:
    """A learning pipeline keeps its learned state in `options.state_dir` resolved against the
    config file's folder, by default in the daemon's state directory (`Config.state_dir()`)."""
    if p.type not in LEARNING_PIPELINES:
        return p
    value = p.options.get("state_dir") or ""
    resolved = config.resolve_path(value) if value else config.state_dir()
    return dataclasses.replace(p, options={**p.options, "state_dir": str(resolved)})


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate a `config.toml`; raise `ConfigError` (file, key path, fix) on any problem."""
    file = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        # a byte order mark (Windows Notepad's UTF-8): TOML has none, tomllib refuses it at line 1
        data = tomllib.loads(raw.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no such file; check the path, or copy the shipped config.toml") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML") from exc
    return parse_config(data, file)


#: The packaged default (`akida_edge/default_config.toml`): the checkout's `config.toml` with the state
#: directory left to the user default, so that a wheel install runs with no file of its own.
DEFAULT_CONFIG_RESOURCE = "default_config.toml"
#: The file `akida-edge run` and `warm` look for in the working directory when no `--config` is given.
LOCAL_CONFIG = "config.toml"


def default_config_text() -> str:
    """The packaged default configuration, as text (`akida-edge init-config` writes it out)."""
    from importlib.resources import files

    return files("akida_edge").joinpath(DEFAULT_CONFIG_RESOURCE).read_text(encoding="utf-8")


def resolve_config(path: str | os.PathLike | None) -> Config:
    """The daemon's configuration: `path` if given; else `./config.toml` if there is one; else the
    packaged default (`<packaged default config>`: relative paths from the working directory, the
    state in the user default of `Config.state_dir`)."""
    if path is not None:
        return load_config(path)
    if os.path.exists(LOCAL_CONFIG):
        return load_config(LOCAL_CONFIG)
    return parse_config(tomllib.loads(default_config_text()), "<packaged default config>")
