"""The MQTT web dashboard (`akida-edge dashboard`; DESIGN.md §4, issue 6 part 4).

A stdlib HTTP server serves one static page, a JSON snapshot (`/api/state`) and a Server-Sent
Events stream (`/events`) fed by one paho-mqtt client subscribed to `<prefix>/#`:

- `topics`: the only place that knows the topic layout (reference edge-daemon-mqtt.md §9);
- `state`: what the page shows (devices, detections, telemetry and anomaly-score history);
- `hub`: the SSE fan-out, one bounded queue per browser, slow browsers dropped;
- `feed`: the MQTT thread (retries the broker with backoff, reports "broker offline");
- `server`: the HTTP server tying them together.
"""

from akida_edge.dashboard.server import DashboardServer, serve

__all__ = ["DashboardServer", "serve"]
