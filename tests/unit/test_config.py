"""The configuration loader: strict keys, bounds, one-line errors naming file and key, secrets."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from akida_edge.config import PIPELINE_KEY_TYPES, MqttConfig, load_config, parse_config
from akida_edge.daemon import Daemon
from akida_edge.errors import ConfigError
from akida_edge.pipelines.base import Detection

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]

BASE = """
[device]
id = "n1"
[mqtt]
broker = "external"
host = "broker.local"
port = 8883
[[pipelines]]
name = "pump"
type = "anomaly"
source = { type = "synthetic_machine", rate_hz = 16000 }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid():
    cfg = load_config(ROOT / "config.toml")
    assert cfg.mqtt.broker == "embedded"
    assert cfg.pipelines and all(p.source.type for p in cfg.pipelines)


def test_values_are_typed_and_frozen(tmp_path):
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.mqtt.port == 8883 and isinstance(cfg.mqtt.keepalive_s, int)
    assert cfg.pipelines[0].source.options == {"rate_hz": 16000}
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mqtt.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("edit, key", [
    (("[mqtt]", "[mqtt]\nportt = 1"), "mqtt.portt"),
    (("[mqtt]", "[mqtt]\ntls_ca = \"/nonexistent/ca.pem\""), "mqtt.tls_ca"),
    (("port = 8883", "port = 70000"), "mqtt.port"),
    (("port = 8883", "port = \"x\""), "mqtt.port"),
    (("port = 8883", "port = true"), "mqtt.port"),
    (("id = \"n1\"", "id = \"a/b\""), "device.id"),
    (("rate_hz = 16000", "rate_hz = 16000, colour = 1"), "pipelines[0].source.colour"),
    (("type = \"synthetic_machine\"", "type = \"warp\""), "pipelines[0].source.type"),
    (("type = \"anomaly\"", "type = \"radar\""), "pipelines[0].type"),
    (("rate_hz = 16000", "rate_hz = \"fast\""), "pipelines[0].source.rate_hz"),
    (("rate_hz = 16000", "rate_hz = 16000, severity = 2"), "severity"),
    (("type = \"anomaly\"", "type = \"anomaly\"\nlabels = [1]"), "pipelines[0].labels"),
    (("[device]", "[devise]"), "devise"),
    # session-27 audit: an empty host made the embedded broker listen on every interface
    (("host = \"broker.local\"", "host = \"\""), "mqtt.host"),
    (("host = \"broker.local\"", "host = \" broker.local\""), "mqtt.host"),
])
def test_errors_name_file_and_key(tmp_path, edit, key):
    path = _write(tmp_path, BASE.replace(*edit, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg and key in msg and "\n" not in msg


def test_duplicate_pipeline_names_refused(tmp_path):
    text = BASE + BASE[BASE.index("[[pipelines]]"):]
    with pytest.raises(ConfigError, match="used twice"):
        load_config(_write(tmp_path, text))


def test_non_utf8_config_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    raw = BASE.encode() + "# caf\u00e9\n".encode("latin-1")
    path.write_bytes(raw)
    with pytest.raises(ConfigError, match=rf"{path}: not UTF-8 text \(byte {raw.index(0xE9)}\)"):
        load_config(path)


def test_a_config_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    """Session-14 audit: a config.toml saved by Windows Notepad (UTF-8 with a byte order mark) was
    "not valid TOML: Invalid statement (at line 1, column 1)", with nothing to see at line 1."""
    plain = load_config(_write(tmp_path, BASE))
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.replace("\n", "\r\n").encode())
    assert dataclasses.replace(load_config(path), path=plain.path) == plain


def test_float_bound_and_int_promotion():
    cfg = parse_config({"telemetry": {"interval_s": 2}})
    assert cfg.telemetry.interval_s == 2.0 and isinstance(cfg.telemetry.interval_s, float)
    lo = MqttConfig.__dataclass_fields__["keepalive_s"].metadata["lo"]
    with pytest.raises(ConfigError, match="mqtt.keepalive_s"):
        parse_config({"mqtt": {"keepalive_s": lo - 1}})


def test_secret_read_from_file_and_env_never_in_repr(tmp_path, monkeypatch):
    secret = "s3cr3t-" + tmp_path.name
    pw = tmp_path / "pw"
    pw.write_text(secret + "\n", encoding="utf-8")
    cfg = parse_config({"mqtt": {"username": "edge", "password_file": str(pw)}})
    assert cfg.mqtt.password() == secret
    assert secret not in repr(cfg)
    monkeypatch.setenv("AKIDA_EDGE_MQTT_PASSWORD", secret[::-1])
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert parse_config({}).mqtt.password() == secret[::-1]
    with pytest.raises(ConfigError, match="password_file"):
        parse_config({"mqtt": {"username": "u", "password_file": str(tmp_path / "none")}}).mqtt.password()
    latin1 = tmp_path / "latin1"
    latin1.write_bytes("pässwörd".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        parse_config({"mqtt": {"username": "u", "password_file": str(latin1)}}).mqtt.password()


def test_systemd_credential_gives_the_password_and_an_empty_one_means_none(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.delenv("AKIDA_EDGE_MQTT_PASSWORD", raising=False)
    assert parse_config({}).mqtt.password() is None  # no credential file at all
    (creds / "mqtt_password").write_text("\n", encoding="utf-8")  # the unit's empty placeholder
    assert parse_config({}).mqtt.password() is None
    (creds / "mqtt_password").write_text("pw-" + tmp_path.name + "\n", encoding="utf-8")
    assert parse_config({}).mqtt.password() == "pw-" + tmp_path.name


def test_validate_config_cli(tmp_path):
    good = subprocess.run([sys.executable, "-m", "akida_edge", "validate-config", str(ROOT / "config.toml")],
                          capture_output=True, text=True)
    assert good.returncode == 0 and "OK" in good.stdout
    bad = _write(tmp_path, BASE.replace("port = 8883", "port = -1"))
    out = subprocess.run([sys.executable, "-m", "akida_edge", "validate-config", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and "mqtt.port" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("name", ["request", "response", "status", "info", "telemetry"])
def test_reserved_pipeline_names_refused(tmp_path, name):
    with pytest.raises(ConfigError, match=rf"pipelines\[0\]\.name = '{name}' is a reserved"):
        load_config(_write(tmp_path, BASE.replace('name = "pump"', f'name = "{name}"')))


KWS = """
[[pipelines]]
name = "kw"
type = "kws"
source = { type = "microphone" }
"""


@pytest.mark.parametrize("value", ["0", "1.5"])
def test_kws_threshold_outside_unit_interval_refused(tmp_path, value):
    text = KWS.replace('type = "kws"', f'type = "kws"\nthreshold = {value}')
    with pytest.raises(ConfigError, match=r"pipelines\[0\]\.threshold = .*\(0, 1\]"):
        load_config(_write(tmp_path, text))


GESTURES = """
[[pipelines]]
name = "cam"
type = "camera"
source = { type = "synthetic_camera" }
options = { mode = "gestures" }
"""


def test_gesture_camera_threshold_is_checked_and_defaulted_by_validate_config(tmp_path):
    from akida_edge.apps.vision.segment import SegmentParams

    assert load_config(_write(tmp_path, GESTURES)).pipelines[0].threshold == SegmentParams().threshold
    with pytest.raises(ConfigError, match=r"pipelines\[0\]\.threshold = 2\.0.*\(0, 1\]"):
        load_config(_write(tmp_path, GESTURES.replace('type = "camera"', 'type = "camera"\nthreshold = 2.0')))
    motion = GESTURES.replace('options = { mode = "gestures" }', "threshold = 2.0")
    assert load_config(_write(tmp_path, motion)).pipelines[0].threshold == 2.0  # events/pixel/s


def test_kws_defaults_are_the_apps_operating_point(tmp_path):
    from akida_edge.apps.kws.app import DetectParams
    from akida_edge.pipelines.kws import check_options

    cfg = load_config(_write(tmp_path, KWS))
    assert cfg.pipelines[0].threshold == DetectParams().threshold
    opts = check_options(cfg.pipelines[0].options, "options")
    assert (opts.hop_ms, opts.smooth, opts.refractory_ms) == (
        DetectParams().hop_ms, DetectParams().smooth, DetectParams().refractory_ms)
    explicit = load_config(_write(tmp_path, KWS.replace('type = "kws"', 'type = "kws"\nthreshold = 0.6')))
    assert explicit.pipelines[0].threshold == 0.6


def test_relative_state_dirs_follow_the_config_file_and_pipelines_default_to_it(tmp_path, monkeypatch):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the CWD (systemd: /) must not matter
    folder = tmp_path / "etc"
    folder.mkdir()
    text = BASE + '[state]\ndir = "var/state"\n' + KWS.replace('"microphone" }', '"microphone" }\n'
                                                                'options = { state_dir = "words" }')
    cfg = load_config(_write(folder, text))
    assert cfg.state_dir() == folder.resolve() / "var" / "state"
    pump, kw = cfg.pipelines
    assert Path(pump.options["state_dir"]) == cfg.state_dir()  # learned normal next to the outbox
    assert Path(kw.options["state_dir"]) == folder.resolve() / "words"


def test_default_state_dir_is_the_learned_state_default(tmp_path, monkeypatch):
    from akida_edge import state

    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv(state.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.state_dir() == state.resolve_state_dir()
    assert Path(cfg.pipelines[0].options["state_dir"]) == cfg.state_dir()


def _pipeline(kind: str, source: str) -> str:
    head = '[[pipelines]]\nname = "p"\n'
    if kind == "custom":
        return head + f'type = "custom"\nfactory = "m:f"\nsource = {{ {source} }}\n'
    return head + f'type = "{kind}"\nsource = {{ {source} }}\n'


#: One bad value per driver config (its `__post_init__` bounds): (pipeline type, source table, key).
DRIVER_BAD = [
    ("kws", 'type = "audio_file", path = "a.wav", block_s = 0', "block_s"),
    ("anomaly", 'type = "vibration_file", path = "v.csv", rate_hz = -1', "rate_hz"),
    ("camera", 'type = "video_file", path = "v.mp4", fps = 0', "fps"),
    ("anomaly", 'type = "serial_vibration", port = "/dev/ttyUSB0", rate_hz = 3200, axes = 0', "axes"),
    ("custom", 'type = "evt_file", path = "e.raw", chunk_words = 0', "chunk_words"),
    ("camera", 'type = "camera", backoff_initial_s = -1', "backoff_initial_s"),
    ("kws", 'type = "microphone", block_s = 0', "block_s"),
]


@pytest.mark.parametrize("kind, source, key", DRIVER_BAD)
def test_driver_bounds_refused_with_the_key_path(tmp_path, kind, source, key):
    path = _write(tmp_path, _pipeline(kind, source))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert f"pipelines[0].source.{key} = " in msg and "use a value in" in msg and "\n" not in msg
    good = source.rsplit(",", 1)[0]  # the same table without the bad key: the driver's default is valid
    assert load_config(_write(tmp_path, _pipeline(kind, good))).pipelines[0].source.type in good


def test_validate_config_refuses_a_driver_bound(tmp_path):
    bad = _write(tmp_path, _pipeline("kws", 'type = "audio_file", path = "a.wav", rate_hz = -1'))
    out = subprocess.run([sys.executable, "-m", "akida_edge", "validate-config", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "pipelines[0].source.rate_hz = -1 is out of range" in out.stderr


#: A valid entry per built-in type (a source each type reads), to add one key to.
TYPE_SOURCE = {"kws": 'type = "audio_file", path = "a.wav"', "anomaly": 'type = "synthetic_machine"',
               "camera": 'type = "synthetic_camera"', "custom": 'type = "synthetic_machine"'}
KEY_VALUE = {"threshold": "0.5", "model": '"m.fbz"', "debounce_ms": "100", "factory": '"m:f"'}


@pytest.mark.parametrize("kind", sorted(TYPE_SOURCE))
@pytest.mark.parametrize("key", sorted(PIPELINE_KEY_TYPES))
def test_keys_a_pipeline_type_does_not_use_are_refused(tmp_path, kind, key):
    text = _pipeline(kind, TYPE_SOURCE[kind])
    if not (kind == "custom" and key == "factory"):
        text += f"{key} = {KEY_VALUE[key]}\n"
    if kind == "camera" and key == "model":  # the gesture model (motion mode refuses it: its own test)
        text += 'options = { mode = "gestures" }\n'
    path = _write(tmp_path, text)
    if kind in PIPELINE_KEY_TYPES[key]:
        assert load_config(path).pipelines[0].type == kind
        return
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert f"pipelines[0].{key} does nothing in a {kind} pipeline" in msg and "\n" not in msg
    assert all(t in msg for t in PIPELINE_KEY_TYPES[key])


@pytest.mark.parametrize("labels", [[], ["yes"], ["yes", "no"]])
def test_labels_filter_what_the_daemon_publishes(labels):
    cfg = parse_config({"pipelines": [{"name": "kws", "type": "kws", "labels": labels,
                                       "source": {"type": "audio_file", "path": "a.wav"}}]}).pipelines[0]
    published = []
    daemon = SimpleNamespace(
        outbox=SimpleNamespace(add_detection=lambda topic, node, name, ts, fields: published.append(fields)),
        topics=SimpleNamespace(detection=lambda name: f"akida/n1/{name}/detection", node="n1"),
        link=SimpleNamespace(wake=lambda: None), detections=0)
    runner = SimpleNamespace(cfg=cfg, threshold=cfg.threshold, meter=SimpleNamespace(detections=0))
    said = ["yes", "no", "stop", "yes"]
    for i, word in enumerate(said):
        Daemon.record_detection(daemon, runner, Detection(word, 0.9, i))
    expected = [w for w in said if not labels or w in labels]
    assert [f["label"] for f in published] == expected
    assert daemon.detections == runner.meter.detections == len(expected)


@pytest.mark.parametrize("kind", ["kws", "anomaly", "camera"])
def test_a_missing_source_is_named_with_an_example_that_works(tmp_path, kind):
    """Session-27 audit: the hint said `type = "synthetic"`, which only a custom pipeline takes."""
    path = _write(tmp_path, f'[[pipelines]]\nname = "p"\ntype = "{kind}"\n')
    with pytest.raises(ConfigError, match=r"pipelines\[0\]\.source is missing; add e\.g\. source = ") as info:
        load_config(path)
    example = str(info.value).split("add e.g. ", 1)[1]
    assert load_config(_write(tmp_path, f'[[pipelines]]\nname = "p"\ntype = "{kind}"\n{example}\n')).pipelines


#: Refusals a driver words itself ("fps must lie in ...") and constructor arguments (`SOURCE_ARGS`):
#: (pipeline type, source table, the message's start after "pipelines[0].source.").
DRIVER_OWN_WORDS = [
    ("camera", 'type = "synthetic_camera", fps = 0', "fps must lie in 0.1..1000"),
    ("anomaly", 'type = "synthetic_machine", severity = 2', "severity must be in 0..1"),
    ("anomaly", 'type = "synthetic_machine", fault_after_s = -1.0', "fault_after_s must be >= 0"),
]


@pytest.mark.parametrize("kind, source, start", DRIVER_OWN_WORDS)
def test_driver_refusals_in_its_own_words_name_the_key_path(tmp_path, kind, source, start):
    """Session-27 audit: `fault_after_s = -1` (a constructor argument, only type-checked) passed
    validate-config and failed the pipeline at run; "fps must lie in ..." was reported against
    `pipelines[0].source`, not its key."""
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, _pipeline(kind, source)))
    assert f"pipelines[0].source.{start}" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("extra, key", [
    ('debounce_ms = 100\noptions = { mode = "gestures" }\n', "debounce_ms does nothing in gestures"),
    ('options = { state_dir = "learned" }\n', "options.state_dir does nothing in motion"),
])
def test_camera_keys_of_the_other_mode_are_refused(tmp_path, extra, key):
    """Session-27 audit: both were accepted and did nothing."""
    with pytest.raises(ConfigError, match=key):
        load_config(_write(tmp_path, _pipeline("camera", TYPE_SOURCE["camera"]) + extra))
    # in their own mode they load
    fixed = extra.replace('"gestures"', '"motion"') if "debounce" in extra else \
        extra.replace("{ state_dir", '{ mode = "gestures", state_dir')
    assert load_config(_write(tmp_path, _pipeline("camera", TYPE_SOURCE["camera"]) + fixed)).pipelines
