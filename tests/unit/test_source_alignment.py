"""One source of truth: the config loader accepts exactly the source keys the drivers accept."""

from __future__ import annotations

import dataclasses

import pytest

from akida_edge import drivers
from akida_edge.config import PIPELINE_SOURCE_KINDS, parse_config
from akida_edge.errors import ConfigError

pytestmark = pytest.mark.unit

SAMPLE = {str: "x", int: 1, float: 100.0, bool: True}
REQUIRED = {"path": "/nonexistent/recording", "port": "/dev/ttyUSB0", "rate_hz": 100.0}


def _pipeline_type(source_type: str) -> str:
    kind = drivers.source_kind(source_type)
    return next((p for p, kinds in PIPELINE_SOURCE_KINDS.items() if kind in kinds), "custom")


def _table(source_type: str) -> dict:
    """Every key of the driver with a value: its default when it has one, else a sample."""
    _, cfg_cls = drivers._classes(source_type)
    defaults = {f.name: f.default for f in dataclasses.fields(cfg_cls)}
    table = {}
    for name, s in drivers.source_settings(source_type).items():
        value = defaults.get(name, dataclasses.MISSING)
        if s.nested is not None or value is None:
            continue
        if value is dataclasses.MISSING:
            value = REQUIRED.get(name, SAMPLE[s.types[0]])
        table[name] = value
    return table


def _config(source: dict, ptype: str, **extra) -> dict:
    entry = {"name": "p", "type": ptype, "source": source, **extra}
    if ptype == "custom":
        entry["factory"] = "x:y"
    return {"pipelines": [entry]}


@pytest.mark.parametrize("source_type", sorted(drivers.SOURCE_TYPES))
def test_every_source_type_is_accepted_with_its_keys(source_type):
    table = _table(source_type)
    assert table or source_type in ("camera", "synthetic_camera", "microphone", "synthetic_machine")
    cfg = parse_config(_config({"type": source_type, **table}, _pipeline_type(source_type)))
    assert cfg.pipelines[0].source.type == source_type and cfg.pipelines[0].source.options == table
    # what validation accepted, make_source builds (without opening a device)
    source = drivers.make_source(source_type, **table)
    assert source.kind == drivers.source_kind(source_type)


@pytest.mark.parametrize("source_type", sorted(drivers.SOURCE_TYPES))
def test_unknown_and_mistyped_keys_refused_with_the_key_path(source_type):
    ptype = _pipeline_type(source_type)
    base = {"type": source_type, **_table(source_type)}
    with pytest.raises(ConfigError) as info:
        parse_config(_config({**base, "colour": 1}, ptype), "c.toml")
    assert "c.toml: unknown key pipelines[0].source.colour" in str(info.value)
    name, setting = next((n, s) for n, s in drivers.source_settings(source_type).items() if str not in s.types
                         and s.nested is None)
    with pytest.raises(ConfigError, match=rf"pipelines\[0\]\.source\.{name} = 'text' must be"):
        parse_config(_config({**base, name: "text"}, ptype), "c.toml")


def test_driver_bounds_reach_validate_config():
    with pytest.raises(ConfigError, match=r"c.toml: pipelines\[0\].source.severity must be in 0..1"):
        parse_config(_config({"type": "synthetic_machine", "severity": 2.0}, "anomaly"), "c.toml")
    with pytest.raises(ConfigError, match="unknown fault 'outer_race'"):
        parse_config(_config({"type": "synthetic_machine", "fault": "outer_race"}, "anomaly"), "c.toml")


def test_nested_table_becomes_the_driver_dataclass():
    bearing = {"n_balls": 8, "ball_diameter_mm": 6.0, "pitch_diameter_mm": 30.0}
    cfg = parse_config(_config({"type": "synthetic_machine", "bearing": bearing}, "anomaly"))
    machine = drivers.make_source("synthetic_machine", **cfg.pipelines[0].source.options)
    assert machine.config.bearing.n_balls == bearing["n_balls"]
    with pytest.raises(ConfigError, match=r"unknown key pipelines\[0\]\.source\.bearing\.balls"):
        parse_config(_config({"type": "synthetic_machine", "bearing": {"balls": 8}}, "anomaly"))


def test_source_kind_must_fit_the_pipeline():
    with pytest.raises(ConfigError, match=r"source\.type = 'synthetic_machine' gives vibration data"):
        parse_config(_config({"type": "synthetic_machine"}, "camera"))


def test_custom_sources_checked_loosely():
    cfg = parse_config(_config({"type": "ticker", "rate_hz": 5, "labels": ["a"]}, "custom"))
    assert cfg.pipelines[0].source.options == {"rate_hz": 5, "labels": ["a"]}
    with pytest.raises(ConfigError, match=r"pipelines\[0\]\.source\.rate_hz = -1 is out of range"):
        parse_config(_config({"type": "ticker", "rate_hz": -1}, "custom"))
    with pytest.raises(ConfigError, match="is not a known source"):
        parse_config(_config({"type": "ticker"}, "camera"))


def test_camera_options_checked_by_validation():
    src = {"type": "synthetic_camera"}
    with pytest.raises(ConfigError, match=r"unknown key pipelines\[0\]\.options\.widht"):
        parse_config(_config(src, "camera", options={"widht": 64}), "c.toml")
    with pytest.raises(ConfigError, match=r"pipelines\[0\]\.options\.dvs = 'fancy'"):
        parse_config(_config(src, "camera", options={"dvs": "fancy"}), "c.toml")


def test_docs_list_every_source_type_and_key():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if line.startswith("| `")}
    for source_type in drivers.SOURCE_TYPES:
        assert source_type in rows, f"docs/config.md has no row for source type {source_type!r}"
        missing = [k for k in drivers.source_settings(source_type) if f"`{k}`" not in rows[source_type]]
        assert not missing, f"docs/config.md: source {source_type!r} does not list {missing}"
