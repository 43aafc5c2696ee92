"""Home Assistant device discovery: each component's availability as Home Assistant reads it.

Home Assistant's device discovery copies the device body's shared options (`availability`,
`availability_topic`, `availability_mode`, ... `state_topic`) into every component that does not
set the option itself, then validates the component, in which `availability` and
`availability_topic` are mutually exclusive (homeassistant/components/mqtt/discovery.py,
`_merge_common_device_options`; the MQTT integrations' docs: "Must not be used together with
availability_topic"). Session-27 audit: the `event` components set `availability_topic` and
inherited the device's `availability`, so Home Assistant would refuse every keyword and camera
event entity."""

from __future__ import annotations

import json

import pytest

from akida_edge.config import parse_config
from akida_edge.mqtt.discovery import device_config
from akida_edge.mqtt.topics import Topics

pytestmark = pytest.mark.unit

SHARED_OPTIONS = ("availability", "availability_mode", "availability_template", "availability_topic",
                  "command_topic", "payload_available", "payload_not_available", "state_topic")
CONFIG = {"device": {"id": "edge"}, "pipelines": [
    {"name": "kws", "type": "kws", "source": {"type": "microphone"}},
    {"name": "cam", "type": "camera", "source": {"type": "synthetic_camera"}},
    {"name": "pump", "type": "anomaly", "source": {"type": "synthetic_machine"}},
]}


def _as_home_assistant_sees_them() -> dict[str, dict]:
    body = json.loads(device_config(parse_config(CONFIG), Topics("akida", "edge")))
    out = {}
    for cid, comp in body["cmps"].items():
        merged = dict(comp)
        for option in SHARED_OPTIONS:
            if option in body and option not in merged:
                merged[option] = body[option]
        out[cid] = merged
    return out


def test_no_component_has_both_forms_of_availability():
    comps = _as_home_assistant_sees_them()
    assert len(comps) >= 6
    for cid, comp in comps.items():
        assert not ("availability" in comp and "availability_topic" in comp), cid
        assert comp["availability"], cid


def test_a_pipelines_event_entity_follows_the_node_and_the_pipeline():
    comps = _as_home_assistant_sees_them()
    for name in ("kws", "cam"):
        event = comps[f"{name}_event"]
        topics = [a["topic"] for a in event["availability"]]
        assert topics == ["akida/edge/status", f"akida/edge/{name}/status"]
        assert event["availability_mode"] == "all"
    # the other entities follow the node (the device's shared availability)
    assert [a["topic"] for a in comps["pump_anomaly"]["availability"]] == ["akida/edge/status"]
