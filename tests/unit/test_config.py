"""The configuration loader: strict keys, bounds, one-line errors naming file and key, secrets."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from akida_edge.config import MqttConfig, load_config, parse_config
from akida_edge.errors import ConfigError

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


def test_validate_config_cli(tmp_path):
    good = subprocess.run([sys.executable, "-m", "akida_edge", "validate-config", str(ROOT / "config.toml")],
                          capture_output=True, text=True)
    assert good.returncode == 0 and "OK" in good.stdout
    bad = _write(tmp_path, BASE.replace("port = 8883", "port = -1"))
    out = subprocess.run([sys.executable, "-m", "akida_edge", "validate-config", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and "mqtt.port" in out.stderr and "Traceback" not in out.stderr
