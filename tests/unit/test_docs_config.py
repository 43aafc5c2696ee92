"""docs/config.md states what the config validator (`akida_edge/config.py`, the driver registry, the
pipelines' `Options`) accepts: the same keys both ways, the same defaults, bounds and choices.

The tables are read literally (`tests/docs_text.py`): a default cell that is a literal (a number,
true/false, a quoted or code string, `[]`, `{}`) is compared with the field's default; prose
defaults ("hostname", "every frame", "required") are not, except that "required" must mean a field
without a default. A range `lo–hi` in a key's type column is the field's bounds.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from typing import Any

import docs_text as D
import pytest

from akida_edge import config as C
from akida_edge import drivers

pytestmark = pytest.mark.unit

DOC = "docs/config.md"
SECTIONS = {"[device]": C.DeviceConfig, "[mqtt]": C.MqttConfig, "[state]": C.StateConfig,
            "[telemetry]": C.TelemetryConfig, "[[pipelines]]": C.PipelineConfig}
NUMBER = r"-?\d+(?:\.\d+)?(?:e\d+)?"
SKIP = object()  # a default the doc gives in words
#: Keys whose dataclass field has a placeholder default but which `parse_config` requires.
REQUIRED_BY_LOADER = {"source"}


def literal(text: str) -> Any:
    """The value a default cell states, or SKIP when it states it in words."""
    text = text.strip()
    code = re.fullmatch(r"`([^`]*)`", text)
    inner = code.group(1) if code else text
    if inner in ("true", "false"):
        return inner == "true"
    if re.fullmatch(NUMBER, inner):
        return float(inner)
    if re.fullmatch(r'"[^"]*"', inner):
        return inner[1:-1]
    if inner in ("[]", "{}"):
        return json.loads(inner)
    if code and not re.search(r"[<$ ]", inner):  # a code word: a string default
        return inner
    return SKIP


def same(doc_value: Any, default: Any) -> bool:
    if isinstance(doc_value, float) and not isinstance(default, bool) and isinstance(default, int | float):
        return doc_value == float(default)
    return doc_value == default and type(doc_value) is type(default)


def per_key(cell: str, n: int) -> list[str]:
    """A cell describing `n` keys at once (`host`, `port` | string, 0–65535): one part per key."""
    parts = [p.strip() for p in re.split(r",\s+(?![^(]*\))", cell)]
    return parts if len(parts) == n else [cell] * n


def rows(heading: str, index: int = 0) -> list[tuple[D.Line, list[str]]]:
    return D.tables(D.section(DOC, heading))[index]


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


@pytest.mark.parametrize("section", list(SECTIONS))
def test_section_keys_defaults_bounds_and_choices(section):
    cls = SECTIONS[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    documented, bad, compared = {}, [], 0
    for ln, cells in rows(f"## `{section}`"):
        keys = D.backticked(cells[0])
        for key, kind, default in zip(keys, per_key(cells[1], len(keys)), per_key(cells[2], len(keys)),
                                      strict=True):
            documented[key] = ln
            f = fields.get(key)
            if f is None:
                bad.append(f"{ln.where}: `{key}` is not a key of {section} (the validator refuses it)")
                continue
            meta = f.metadata
            rng = re.fullmatch(rf"({NUMBER})–({NUMBER})", kind.split(", ")[-1].strip())
            if meta.get("lo") is not None and not rng:
                bad.append(f"{ln.where}: `{key}` gives no range; the validator takes "
                           f"{meta['lo']:g}–{meta['hi']:g}")
            elif rng and (float(rng.group(1)), float(rng.group(2))) != (meta.get("lo"), meta.get("hi")):
                bad.append(f"{ln.where}: `{key}` range {rng.group(0)}; the validator takes "
                           f"{meta.get('lo')}–{meta.get('hi')}")
            choices = meta.get("choices")
            if choices:
                stated = {c.strip('"') for c in D.backticked(kind)}
                if stated != set(choices):
                    bad.append(f"{ln.where}: `{key}` choices {sorted(stated)}; the validator takes "
                               f"{sorted(choices)}")
            value = literal(default.split(" (")[0])
            expected = _field_default(f)
            if default.strip() == "required":
                if expected is not dataclasses.MISSING and key not in REQUIRED_BY_LOADER:
                    bad.append(f"{ln.where}: `{key}` is said required; it defaults to {expected!r}")
            elif value is not SKIP:
                compared += 1
                if not same(value, expected):
                    bad.append(f"{ln.where}: `{key}` default {default!r}; the code's is {expected!r}")
    extra = sorted(set(fields) - set(documented))
    bad += [f"{DOC}: {section} `{k}` is accepted by the validator but not documented" for k in extra]
    assert compared >= 1
    assert not bad, "\n".join(bad)


def test_source_is_required_by_the_loader():
    for key in REQUIRED_BY_LOADER:
        with pytest.raises(C.ConfigError, match=rf"pipelines\[0\]\.{key} is missing"):
            C.parse_config({"pipelines": [{"name": "p", "type": "kws"}]})


def test_pipeline_threshold_defaults_per_type():
    """The `threshold` row's default names the per-type defaults the loader applies."""
    entry = {"name": "p", "source": {"type": "synthetic_camera"}}
    loaded = C.parse_config({"pipelines": [
        {**entry, "type": "camera"},
        {**entry, "name": "g", "type": "camera", "options": {"mode": "gestures"}},
        {"name": "k", "type": "kws", "source": {"type": "microphone"}},
    ]}).pipelines
    cell = next(c for _, c in rows("## `[[pipelines]]`") if D.backticked(c[0]) == ["threshold"])[2]
    assert cell.startswith(f"{loaded[0].threshold:g} ")
    assert f"kws: {loaded[2].threshold:g}" in cell
    assert f"gestures mode {loaded[1].threshold:g}" in cell


def _source_defaults(source_type: str) -> dict[str, Any]:
    cls, cfg_cls = drivers._classes(source_type)
    out = {f.name: _field_default(f) for f in dataclasses.fields(cfg_cls) if f.init}
    sig = inspect.signature(cls.__init__).parameters
    out.update({k: sig[k].default for k in drivers.SOURCE_ARGS.get(source_type, {})})
    return out


def test_source_keys_and_defaults():
    """Every source row: its keys are the driver's settings (both ways), `(required)` ones have no
    default, literal defaults are the driver's."""
    bad, compared = [], 0
    for ln, cells in rows("### Sources", 0):
        source_type = D.backticked(cells[0])[0]
        settings = drivers.source_settings(source_type)
        defaults = _source_defaults(source_type)
        stated = {}
        for m in re.finditer(r"((?:`\w+`,\s*)*`\w+`) \(((?:[^()]|\([^()]*\))*)\)", cells[2]):
            stated.update(dict.fromkeys(D.backticked(m.group(1)), m.group(2)))
        nested = {f.name for s in settings.values() if s.nested for f in dataclasses.fields(s.nested)}
        listed = [k for k in stated if k in settings]
        for key in sorted(set(settings) - set(stated)):
            bad.append(f"{ln.where}: {source_type} does not give `{key}` (its default)")
        for key in sorted(set(D.backticked(cells[2])) - set(settings) - set(stated) - nested):
            if re.fullmatch(r"[a-z_]+_[a-z]+", key):  # looks like a key, but the driver has none
                bad.append(f"{ln.where}: {source_type} has no key `{key}`")
        for key in listed:
            text = stated[key].strip()
            if text.startswith("required"):
                if not settings[key].required:
                    bad.append(f"{ln.where}: {source_type}.{key} is said required; it defaults to "
                               f"{defaults[key]!r}")
                continue
            first = re.match(r'"[^"]*"', text)
            value = literal(first.group(0) if first else re.split(r"[,:;]", text)[0])
            if value is SKIP:
                continue
            compared += 1
            if not same(value, defaults[key]):
                bad.append(f"{ln.where}: {source_type}.{key} default ({text}); the driver's is "
                           f"{defaults[key]!r}")
    assert compared >= 40
    assert not bad, "\n".join(bad)


def test_source_constructor_arguments_are_named():
    """The prose lists `synthetic_machine`'s constructor arguments (`drivers.SOURCE_ARGS`)."""
    text = " ".join(D.read(DOC).split())
    m = re.search(r"`synthetic_machine`, the constructor arguments ([^)]*)\)", text)
    assert m, "docs/config.md no longer names synthetic_machine's constructor arguments"
    assert set(D.backticked(m.group(1))) == set(drivers.SOURCE_ARGS["synthetic_machine"])


def _options_rows() -> dict[str, list[tuple[D.Line, list[str]]]]:
    camera = D.tables(D.section(DOC, "### Camera pipelines"))
    return {"camera motion": camera[0], "camera gestures": camera[1],
            "anomaly": rows("### Anomaly pipelines"), "kws": rows("### Keyword pipelines")}


def _check_bounds(cls: type, key: str, meaning: str, where: str) -> list[str]:
    """A `(lo–hi)` in a row's meaning: lo and hi are accepted, just outside refused."""
    m = re.search(rf"\(({NUMBER})–({NUMBER})", meaning)
    if not m:
        return []
    is_int = dataclasses.fields(cls)[[f.name for f in dataclasses.fields(cls)].index(key)].type == "int"
    lo, hi = (int(float(x)) if is_int else float(x) for x in m.groups())
    step = 1 if is_int else 1e-3
    out = []
    for value, ok in ((lo, True), (hi, True), (lo - step, False), (hi + step, False)):
        try:
            cls(**{key: value})
            accepted = True
        except ValueError:
            accepted = False
        if accepted != ok:
            out.append(f"{where}: `{key}` = {value} is {'refused' if ok else 'accepted'} by the code; "
                       f"the doc says {m.group(1)}–{m.group(2)}")
    return out


def test_pipeline_options_tables():
    """Each pipeline type's `options` table: the `Options` fields both ways, the defaults, the stated
    ranges; the camera's motion-only and gesture-only keys are those `camera.MODE_KEYS` enforces."""
    from akida_edge.pipelines import anomaly, camera, kws

    tables = _options_rows()
    classes = {"camera motion": camera.Options, "camera gestures": camera.Options,
               "anomaly": anomaly.Options, "kws": kws.Options}
    bad, compared, seen = [], 0, {}
    for name, table in tables.items():
        cls = classes[name]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for ln, cells in table:
            keys = D.backticked(cells[0])
            for key, default in zip(keys, per_key(cells[1], len(keys)), strict=True):
                seen.setdefault(cls, set()).add(key)
                if key not in fields:
                    bad.append(f"{ln.where}: `{key}` is not a {name} option (the validator refuses it)")
                    continue
                value = literal(default)
                if value is not SKIP:
                    compared += 1
                    if not same(value, _field_default(fields[key])):
                        bad.append(f"{ln.where}: {name} `{key}` default {default}; the code's is "
                                   f"{_field_default(fields[key])!r}")
                bad += _check_bounds(cls, key, cells[-1], ln.where)
    for cls, keys in seen.items():
        missing = sorted({f.name for f in dataclasses.fields(cls)} - keys)
        bad += [f"{DOC}: {cls.__module__}.Options `{k}` is accepted but not documented" for k in missing]
    gesture_only = {k for ln, c in tables["camera gestures"] for k in D.backticked(c[0])}
    if not set(camera.MODE_KEYS["gestures"]) <= gesture_only:
        bad.append(f"{DOC}: gesture-only keys {sorted(gesture_only)}; the code's "
                   f"{camera.MODE_KEYS['gestures']}")
    text = " ".join(D.read(DOC).split())
    m = re.search(r"; ((?:`\w+`(?:, | and )?)+) are motion-only", text)
    if not m or set(D.backticked(m.group(1))) != set(camera.MODE_KEYS["motion"]):
        bad.append(f"{DOC}: the motion-only keys named are not camera.MODE_KEYS['motion'] "
                   f"{camera.MODE_KEYS['motion']}")
    assert compared >= 15
    assert not bad, "\n".join(bad)


def test_key_only_for_some_types():
    """The 'only' notes of the `[[pipelines]]` table are `config.PIPELINE_KEY_TYPES`."""
    bad = []
    for ln, cells in rows("## `[[pipelines]]`"):
        key = D.backticked(cells[0])[0]
        m = re.match(r"((?:`\w+`(?:, )?)+) only", cells[3])
        if key in C.PIPELINE_KEY_TYPES:
            stated = set(D.backticked(m.group(1))) if m else set()
            if stated != set(C.PIPELINE_KEY_TYPES[key]):
                bad.append(f"{ln.where}: `{key}` is for {sorted(stated) or 'every type'}; the validator "
                           f"allows {sorted(C.PIPELINE_KEY_TYPES[key])}")
        elif m:
            bad.append(f"{ln.where}: `{key}` is said to be only for some types; the validator allows all")
    assert not bad, "\n".join(bad)


def test_the_error_messages_quoted_are_the_validators(tmp_path, monkeypatch, capsys):
    """The two errors docs/config.md quotes are, word for word, what `validate-config` prints."""
    from akida_edge.cli import main

    text = D.read(DOC)
    shown = re.search(r"\n    (akida-edge: error: config\.toml: .*)\n", text).group(1)
    key, value = re.search(r"config\.toml: ([\w.]+) = (\S+) ", shown).groups()
    section, name = key.split(".")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(f"[{section}]\n{name} = {value}\n", encoding="utf-8")
    assert main(["validate-config", "config.toml"]) != 0
    assert capsys.readouterr().err.strip() == shown
    quoted = re.search(r"\(`(pipelines\[0\]\.(\w+) does nothing in a (\w+) pipeline [^`]*)`\)",
                       " ".join(text.split()))
    message, key, kind = quoted.groups()
    entry = {"name": "p", "type": kind, "source": {"type": "microphone"}, key: 500}
    with pytest.raises(C.ConfigError) as err:
        C.parse_config({"pipelines": [entry]}, "config.toml")
    assert message in str(err.value)


def test_production_example_is_valid(tmp_path):
    """The "Production example" passes the validator (its files stood in by real temporary files)."""
    import tomllib

    lines = D.code_block_lines(DOC, ("toml",))
    data = tomllib.loads("\n".join(ln.text for ln in lines))
    for key in ("password_file", "tls_ca", "tls_cert", "tls_key"):
        if key in data.get("mqtt", {}):
            (tmp_path / key).write_text("x\n")
            data["mqtt"][key] = str(tmp_path / key)
    config = C.parse_config(data, f"{DOC} (production example)")
    assert config.mqtt.broker == data["mqtt"]["broker"]


def test_reserved_pipeline_names_are_documented():
    cell = next(c for _, c in rows("## `[[pipelines]]`") if D.backticked(c[0]) == ["name"])[3]
    assert set(C.RESERVED_PIPELINE_NAMES) <= set(D.backticked(cell)), cell


def test_motion_state_keys():
    """The retained state of a motion camera has the keys docs/config.md lists (`MotionDecoder`)."""
    import numpy as np

    from akida_edge.pipelines.camera import MotionDecoder
    from akida_edge.pipelines.compose import Encoded

    text = " ".join(D.read(DOC).split())
    sentence = text.split("The retained `<name>/state` carries", 1)[1].split(", every", 1)[0]
    listed = {k for k in D.backticked(sentence) if k not in ("ON", "OFF")}
    decoder = MotionDecoder(threshold=1.0, pixels=4, window_ms=100.0, release_ratio=0.5, hold_ms=0.0,
                            state_interval_s=1.0)
    busy = np.zeros((2, 2, 1), np.uint8)
    busy[1, 0, 0] = 2
    _, state = decoder(Encoded(0, 40, None, {"ranked_places": 40}), busy, 0)
    assert set(state) == listed


def test_source_gives_column_and_pipeline_sources():
    """The source table's "gives" column is each driver's kind, and the pipeline types read those
    kinds (`config.PIPELINE_SOURCE_KINDS`), e.g. 16 kHz audio from the sources the kws section names."""
    for ln, cells in rows("### Sources", 0):
        source_type = D.backticked(cells[0])[0]
        assert cells[1] == drivers.source_kind(source_type), ln.where
    text = " ".join(D.read(DOC).split())
    named = set(D.backticked(text.split("16 kHz audio (", 1)[1].split(")", 1)[0]))
    audio = {t for t in drivers.SOURCE_TYPES if drivers.source_kind(t) in C.PIPELINE_SOURCE_KINDS["kws"]}
    assert named == audio
    reads = ", ".join(f"`{t}` {' or '.join(kinds)}" for t, kinds in C.PIPELINE_SOURCE_KINDS.items())
    assert f"The source must give what the pipeline reads: {reads}." in text
