"""Versioned JSON payloads (DESIGN.md §4; reference edge-daemon-mqtt.md §9).

Every JSON payload carries `schema` (`akida_edge.<kind>/<version>`) and `ts`, the *capture* time
in epoch milliseconds UTC (dashboards otherwise use receive time, and outbox replays arrive late).
Detections also carry `id` (a UUIDv7: unique, time-ordered; the idempotency key for at-least-once
delivery), `seq` (per node, persisted by the outbox, never repeated, no holes) and `replayed`
(true when the message is sent after a broker outage or a restart). Telemetry is flat, with units
in the key names.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

SCHEMA_DETECTION = "akida_edge.detection/1"
SCHEMA_TELEMETRY = "akida_edge.telemetry/1"
SCHEMA_INFO = "akida_edge.info/1"
SCHEMA_STATE = "akida_edge.state/1"
SCHEMA_RESPONSE = "akida_edge.response/1"

#: The suffix every stored detection payload ends with; replays swap it for `REPLAYED_TAIL`.
LIVE_TAIL = b', "replayed": false}'
REPLAYED_TAIL = b', "replayed": true}'


def uuid7(now_ms: int | None = None) -> str:
    """A UUID version 7 (RFC 9562 §5.7): 48-bit Unix ms timestamp, version, 74 random bits."""
    ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_ms() -> int:
    return int(time.time() * 1000)


_PLAIN = (str, int, bool, type(None))


def _clean(value: Any) -> Any:
    """JSON-safe value: NaN/inf become null, NumPy scalars become Python numbers."""
    if type(value) in _PLAIN:
        return value
    if type(value) is float:
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(_clean(obj), separators=(", ", ": "), allow_nan=False).encode("utf-8")


def detection_payload(*, msg_id: str, seq: int, node: str, pipeline: str, ts_ms: int,
                      fields: dict[str, Any]) -> bytes:
    """The stored form of a detection; it ends with `LIVE_TAIL` (`"replayed": false}`)."""
    body = {"schema": SCHEMA_DETECTION, "id": msg_id, "seq": int(seq), "ts": int(ts_ms),
            "node": node, "pipeline": pipeline}
    for k, v in fields.items():
        if k not in body and k != "replayed":
            body[k] = v
    text = dumps(body)
    return text[:-1] + LIVE_TAIL


def mark_replayed(payload: bytes) -> bytes:
    """The same detection with `"replayed": true` (payloads stored by `detection_payload`)."""
    if payload.endswith(LIVE_TAIL):
        return payload[: -len(LIVE_TAIL)] + REPLAYED_TAIL
    return payload


def telemetry_payload(node: str, ts_ms: int, interval_s: float, figures: dict[str, Any]) -> bytes:
    body = {"schema": SCHEMA_TELEMETRY, "ts": int(ts_ms), "node": node, "interval_s": interval_s}
    body.update(figures)
    return dumps(body)


def info_payload(node: str, version: str, pipelines: list[dict[str, Any]], started_ms: int,
                 config_sha256: str, chip: dict[str, Any]) -> bytes:
    return dumps({"schema": SCHEMA_INFO, "ts": now_ms(), "node": node, "version": version,
                  "chip": chip, "pipelines": pipelines, "started_ts": started_ms,
                  "config_sha256": config_sha256})


def state_payload(node: str, pipeline: str, state: dict[str, Any]) -> bytes:
    body = {"schema": SCHEMA_STATE, "ts": now_ms(), "node": node, "pipeline": pipeline}
    body.update(state)
    return dumps(body)


def response_payload(transaction: Any, status: str, data: Any = None, error: str | None = None) -> bytes:
    body: dict[str, Any] = {"schema": SCHEMA_RESPONSE, "ts": now_ms(), "transaction": transaction,
                            "status": status}
    if error is not None:
        body["error"] = error
    else:
        body["data"] = data
    return dumps(body)
