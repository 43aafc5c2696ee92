"""What the dashboard shows, built from MQTT messages: devices, detections, charts' history.

`DashboardState.apply(topic, payload)` folds one message in and returns the events the browsers
need (plain JSON-able dicts); `snapshot()` is the whole picture for a page that just loaded
(`/api/state`). Everything is bounded: detections (newest `max_detections`), chart history
(`history_points` per series, `MAX_SERIES` series per chart), devices and pipelines (a rogue
publisher cannot grow memory), and payloads (`MAX_PAYLOAD_BYTES`). Delivery is at least once, so
detections are de-duplicated by their `id` (outbox replays may repeat one).

Thread safety: one lock; `apply` and `snapshot` hold it only for dict work (no I/O).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from akida_edge.dashboard.topics import ParsedTopic, parse

SCHEMA_SNAPSHOT = "akida_edge.dashboard/1"
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_DEVICES = 256
MAX_PIPELINES = 64
#: chart series kept per kind (telemetry: one per node; anomaly score: one per pipeline). Without
#: it the per-series bound let MAX_DEVICES × MAX_PIPELINES anomaly series grow to ~1.7 GB inside the
#: daemon (`run --dashboard`, a rogue publisher; session-27 audit); at this bound, ~13 MB per kind.
MAX_SERIES = 128
MAX_TEXT = 200
#: Telemetry keys kept for the power and latency charts (units in the names).
CHART_KEYS = ("chip_power_mw", "host_power_w", "inference_ms_p50", "inference_ms_p95", "inferences_per_s")
#: Detection fields passed to the page (others are dropped to bound memory).
DETECTION_KEYS = ("id", "seq", "ts", "kind", "label", "score", "anomaly_score", "threshold", "replayed",
                  "latency_ms", "energy_uj", "t_start_ms", "t_end_ms")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _number(value: Any) -> float | int | None:
    """A finite JSON number or None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    return obj if isinstance(obj, dict) else None


def _flat(obj: dict[str, Any]) -> dict[str, Any]:
    """Top-level primitive fields only (numbers, strings cut to `MAX_TEXT`, bools, null)."""
    out: dict[str, Any] = {}
    for k, v in list(obj.items())[:64]:
        if isinstance(v, bool) or v is None:
            out[k] = v
        elif isinstance(v, (int, float)):
            out[k] = _number(v)
        elif isinstance(v, str):
            out[k] = v[:MAX_TEXT]
    return out


class DashboardState:
    """The dashboard's model of the fleet, fed one MQTT message at a time.

    Parameters
    ----------
    prefix : topic prefix the daemons publish under.
    max_detections : detections kept (newest first).
    history_points : points kept per chart series (telemetry per node, anomaly score per pipeline).
    """

    def __init__(self, prefix: str, max_detections: int = 200, history_points: int = 360) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._devices: dict[str, dict[str, Any]] = {}
        self._detections: deque[dict[str, Any]] = deque(maxlen=max_detections)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_max = max(4 * max_detections, 1024)
        self._history_points = history_points
        self._telemetry: dict[str, deque[dict[str, Any]]] = {}
        self._anomaly: dict[str, deque[dict[str, Any]]] = {}
        self._broker: dict[str, Any] = {"connected": False, "error": None, "since_ms": _now_ms()}
        self.counters = {"messages": 0, "ignored": 0, "malformed": 0, "duplicates": 0}

    # -- input ----------------------------------------------------------------------------------------
    def set_broker(self, connected: bool, error: str | None = None) -> list[dict[str, Any]]:
        """Record the broker link; returns a `broker` event when it changed."""
        with self._lock:
            if self._broker["connected"] == connected and self._broker["error"] == error:
                return []
            self._broker = {"connected": connected, "error": error, "since_ms": _now_ms()}
            return [{"type": "broker", "broker": dict(self._broker)}]

    def apply(self, topic: str, payload: bytes, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Fold one message in; returns the events to send to the browsers (maybe none)."""
        received = _now_ms() if now_ms is None else now_ms
        parsed = parse(self.prefix, topic)
        with self._lock:
            self.counters["messages"] += 1
            if parsed is None:
                self.counters["ignored"] += 1
                return []
            if len(payload) > MAX_PAYLOAD_BYTES:
                self.counters["malformed"] += 1
                return []
            if parsed.node not in self._devices and len(self._devices) >= MAX_DEVICES:
                self.counters["ignored"] += 1
                return []
            events = self._apply(parsed, payload, received)
            if events is None:
                self.counters["malformed"] += 1
                return []
            return events

    def _apply(self, t: ParsedTopic, payload: bytes, received: int) -> list[dict[str, Any]] | None:
        if t.kind in ("status", "pipeline"):
            try:
                text = payload.decode("utf-8").strip()
            except UnicodeDecodeError:
                return None
            if not text or len(text) > MAX_TEXT:
                return None
            dev = self._device(t.node, received)
            if t.kind == "status":
                dev["status"] = text
                dev["status_ms"] = received
            else:
                pipe = self._pipeline(dev, t.pipeline)
                if pipe is None:
                    return []
                pipe["status"] = text
            return [self._device_event(dev)]
        obj = _json_object(payload)
        if obj is None:
            return None
        dev = self._device(t.node, received)
        if t.kind == "info":
            return self._apply_info(dev, obj)
        if t.kind == "telemetry":
            return self._apply_telemetry(dev, obj, received)
        if t.kind == "state":
            return self._apply_state(dev, t.pipeline, obj, received)
        return self._apply_detection(dev, t.pipeline, obj, received)

    def _apply_info(self, dev: dict[str, Any], obj: dict[str, Any]) -> list[dict[str, Any]]:
        chip = obj.get("chip")
        info = _flat(obj)
        if isinstance(chip, dict):
            info["chip"] = " ".join(str(chip[k])[:MAX_TEXT] for k in ("name", "type") if chip.get(k))
        dev["info"] = info
        pipes = obj.get("pipelines")
        for p in pipes if isinstance(pipes, list) else []:
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                pipe = self._pipeline(dev, p["name"])
                if pipe is not None:
                    pipe["type"] = _text(p.get("type"))
                    pipe["source"] = _text(p.get("source"))
                    if p.get("enabled") is False and pipe.get("status") is None:
                        pipe["status"] = "disabled"
        return [self._device_event(dev)]

    def _apply_telemetry(self, dev: dict[str, Any], obj: dict[str, Any],
                         received: int) -> list[dict[str, Any]]:
        flat = _flat(obj)
        ts = _number(flat.get("ts")) or received
        dev["telemetry"] = flat
        point = {"ts": ts, **{k: _number(flat.get(k)) for k in CHART_KEYS}}
        self._history(self._telemetry, dev["node"], point)
        return [{"type": "telemetry", "node": dev["node"], "telemetry": flat, "point": point}]

    def _apply_state(self, dev: dict[str, Any], name: str | None, obj: dict[str, Any],
                     received: int) -> list[dict[str, Any]]:
        pipe = self._pipeline(dev, name)
        if pipe is None:
            return []
        flat = _flat(obj)
        pipe["state"] = flat
        events = [self._device_event(dev)]
        score = _number(flat.get("anomaly_score"))
        if score is None and ("anomaly" in flat or pipe.get("type") == "anomaly"):
            score = _number(flat.get("score"))
        if score is not None:
            events += self._anomaly_point(dev["node"], name, _number(flat.get("ts")) or received, score,
                                          _number(flat.get("threshold")))
        return events

    def _apply_detection(self, dev: dict[str, Any], name: str | None, obj: dict[str, Any],
                         received: int) -> list[dict[str, Any]]:
        det_id = _text(obj.get("id"))
        if det_id is not None:
            if det_id in self._seen:
                self.counters["duplicates"] += 1
                return []
            self._seen[det_id] = None
            while len(self._seen) > self._seen_max:
                self._seen.popitem(last=False)
        det: dict[str, Any] = {}
        for k in DETECTION_KEYS:
            v = obj.get(k)
            det[k] = v if isinstance(v, bool) else (_text(v) if isinstance(v, str) else _number(v))
        det["replayed"] = obj.get("replayed") is True
        det["node"], det["pipeline"], det["received_ms"] = dev["node"], name, received
        if det["ts"] is None:
            det["ts"] = received
        self._detections.appendleft(det)
        dev["last_seen_ms"] = received
        events: list[dict[str, Any]] = [{"type": "detection", "detection": dict(det)}]
        if det["kind"] == "anomaly":
            score = det["anomaly_score"] if det["anomaly_score"] is not None else det["score"]
            if score is not None:
                events += self._anomaly_point(dev["node"], name, det["ts"], score, det["threshold"])
        return events

    # -- helpers (lock held) --------------------------------------------------------------------------
    def _device(self, node: str, received: int) -> dict[str, Any]:
        dev = self._devices.get(node)
        if dev is None:
            dev = {"node": node, "status": "unknown", "status_ms": None, "info": None, "pipelines": {},
                   "telemetry": None, "last_seen_ms": received}
            self._devices[node] = dev
        dev["last_seen_ms"] = received
        return dev

    def _pipeline(self, dev: dict[str, Any], name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        pipes = dev["pipelines"]
        if name not in pipes:
            if len(pipes) >= MAX_PIPELINES:
                return None
            pipes[name] = {"name": name, "type": None, "source": None, "status": None, "state": None}
        return pipes[name]

    def _history(self, table: dict[str, deque[dict[str, Any]]], key: str, point: dict[str, Any]) -> None:
        series = table.get(key)
        if series is None:
            if len(table) >= MAX_SERIES:  # the page shows the first ones; the others' points are dropped
                self.counters["ignored"] += 1
                return
            series = table[key] = deque(maxlen=self._history_points)
        if series and series[-1]["ts"] == point["ts"]:
            series[-1] = point
        else:
            series.append(point)

    def _anomaly_point(self, node: str, name: str | None, ts: float, score: float,
                       threshold: float | None) -> list[dict[str, Any]]:
        key = f"{node}/{name}"
        point = {"ts": ts, "score": score, "threshold": threshold}
        self._history(self._anomaly, key, point)
        return [{"type": "anomaly", "key": key, "point": point}]

    @staticmethod
    def _device_view(dev: dict[str, Any]) -> dict[str, Any]:
        view = dict(dev)
        view["pipelines"] = [dict(p) for _, p in sorted(dev["pipelines"].items())]
        return view

    def _device_event(self, dev: dict[str, Any]) -> dict[str, Any]:
        return {"type": "device", "device": self._device_view(dev)}

    # -- output ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, as one JSON-able dict (copies; safe to serialise unlocked)."""
        with self._lock:
            return {
                "schema": SCHEMA_SNAPSHOT,
                "prefix": self.prefix,
                "broker": dict(self._broker),
                "devices": [self._device_view(d) for _, d in sorted(self._devices.items())],
                "detections": [dict(d) for d in self._detections],
                "telemetry_history": {k: list(v) for k, v in sorted(self._telemetry.items())},
                "anomaly_history": {k: list(v) for k, v in sorted(self._anomaly.items())},
                "counters": dict(self.counters),
            }
