"""Home Assistant MQTT device discovery (reference edge-daemon-mqtt.md §2).

One retained device-discovery message on `homeassistant/device/<prefix>_<node>/config` with the
device (`dev`), the required origin (`o`), availability on the node's `status` topic and one
component per entity: an `event` per keyword pipeline (reads the detection JSON directly: it has
`event_type`), a `binary_sensor` and a score `sensor` per anomaly pipeline (from the retained
`<pipeline>/state`), an `event` for camera motion or gestures, and diagnostic sensors for estimated chip
power, latency and the outbox depth from `telemetry`. An `event` entity's `event_types` are the
pipeline's configured `labels`, else the labels the running pipeline describes (base classes and
the words or gestures learned on this device; Home Assistant ignores an event whose type is not
listed), else the model's base labels. The daemon re-sends it whenever Home Assistant's birth
message (`homeassistant/status` = `online`) arrives and whenever a pipeline's labels change
(built, `learn`, `forget`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from akida_edge import __version__
from akida_edge.apps.kws.labels import KEYWORDS
from akida_edge.apps.vision.labels import GESTURES
from akida_edge.config import Config
from akida_edge.mqtt import payloads
from akida_edge.mqtt.topics import Topics

KWS_EVENT_TYPES = list(KEYWORDS)


def _sensor(uid: str, name: str, topic: str, key: str, unit: str | None, device_class: str | None,
            diagnostic: bool = True) -> dict[str, Any]:
    c: dict[str, Any] = {"p": "sensor", "unique_id": uid, "name": name, "state_topic": topic,
                         "value_template": "{{ value_json." + key + " }}", "state_class": "measurement"}
    if unit:
        c["unit_of_measurement"] = unit
    if device_class:
        c["device_class"] = device_class
    if diagnostic:
        c["entity_category"] = "diagnostic"
    return c


def event_types(labels: Sequence[str]) -> list[str]:
    """The labels a pipeline can publish as detections: not empty, not a `_reserved_` class
    (`_unknown_`, `_silence_`, `_background_` are never published)."""
    return [label for label in labels if label and not label.startswith("_")]


def device_config(cfg: Config, topics: Topics, described: Mapping[str, Sequence[str]] | None = None) -> bytes:
    """The device-discovery payload for this node; `described` maps a running pipeline's name to
    the labels it describes (`describe()["labels"]`, learned ones included)."""
    described = described or {}
    dev_id = f"{topics.prefix}_{topics.node}"
    cmps: dict[str, Any] = {}
    for p in cfg.pipelines:
        if not p.enabled:
            continue
        uid = f"{dev_id}_{p.name}"
        if p.type in ("kws", "camera", "custom"):
            types = list(p.labels) or event_types(described.get(p.name, ())) or (
                KWS_EVENT_TYPES if p.type == "kws" else
                list(GESTURES) if p.options.get("mode") == "gestures" else ["motion"])
            # available while the node AND the pipeline are online: an `availability` list of its
            # own (Home Assistant copies the device's shared `availability` into a component that
            # has none, and refuses a component with both it and `availability_topic`)
            cmps[f"{p.name}_event"] = {"p": "event", "unique_id": f"{uid}_event", "name": p.name,
                                       "state_topic": str(topics.detection(p.name)),
                                       "event_types": types,
                                       "availability": [{"topic": str(topics.status)},
                                                        {"topic": str(topics.pipeline_status(p.name))}],
                                       "availability_mode": "all"}
        elif p.type == "anomaly":
            state = str(topics.state(p.name))
            cmps[f"{p.name}_anomaly"] = {"p": "binary_sensor", "unique_id": f"{uid}_anomaly",
                                         "name": f"{p.name} anomaly", "device_class": "problem",
                                         "state_topic": state, "value_template": "{{ value_json.anomaly }}",
                                         "payload_on": "ON", "payload_off": "OFF",
                                         "json_attributes_topic": state}
            cmps[f"{p.name}_score"] = _sensor(f"{uid}_score", f"{p.name} anomaly score", state,
                                              "score", None, None, diagnostic=False)
    tel = str(topics.telemetry)
    cmps["chip_power"] = _sensor(f"{dev_id}_chip_power_mw", "Chip power (estimated)", tel,
                                 "chip_power_mw", "mW", "power")
    cmps["latency_p95"] = _sensor(f"{dev_id}_latency_ms_p95", "Inference latency p95", tel,
                                  "inference_ms_p95", "ms", "duration")
    cmps["outbox"] = _sensor(f"{dev_id}_outbox_pending", "Outbox pending", tel, "outbox_pending", None, None)
    body = {
        "dev": {"ids": [dev_id], "name": cfg.device.name or f"akida-edge {topics.node}",
                "mf": "akida-edge", "mdl": "virtual AKD1000", "sw": __version__},
        "o": {"name": "akida-edge", "sw": __version__},
        "availability": [{"topic": str(topics.status)}],
        "qos": 1,
        "cmps": cmps,
    }
    return payloads.dumps(body)
