"""The dashboard's MQTT side: one thread owns one paho-mqtt 2.x client subscribed to `<prefix>/#`.

The thread connects, runs `client.loop()` until told to stop, and when the broker is unreachable
or drops us it retries with exponential backoff (`min_backoff_s` doubling to `max_backoff_s`),
reporting the link on the page ("broker offline") and once per outage in the log. Callbacks do
no I/O: `on_message` folds the message into `DashboardState` (dict work under a short lock) and
hands the resulting events to the SSE `Hub` (`put_nowait`), so they never block (reference
edge-daemon-mqtt.md §4.3: never block in paho callbacks).
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from akida_edge.dashboard.hub import Hub
from akida_edge.dashboard.state import DashboardState
from akida_edge.dashboard.topics import subscription
from akida_edge.mqtt.topics import DEFAULT_PREFIX

log = logging.getLogger("akida_edge.dashboard")


@dataclass(frozen=True)
class BrokerSettings:
    """Where the daemons publish. `password` comes from `--password-file`, never the command line;
    `tls_ca` (a CA bundle, PEM) turns on TLS with certificate and host name verification."""

    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = DEFAULT_PREFIX
    username: str | None = None
    password: str | None = None
    tls_ca: Path | None = None
    keepalive_s: int = 30
    connect_timeout_s: float = 5.0
    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


class MqttFeed:
    """Runs the MQTT client in its own thread; `start()`, `stop()`."""

    def __init__(self, settings: BrokerSettings, state: DashboardState, hub: Hub) -> None:
        self.settings = settings
        self.state = state
        self.hub = hub
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()
        self._had_session = False
        self._refused: str | None = None
        self.connects = 0

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dashboard-mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wait_connected(self, timeout_s: float) -> bool:
        """True once subscribed to the broker (used by tests and the CLI banner)."""
        return self._connected.wait(timeout_s)

    # -- the owner thread -------------------------------------------------------------------------------
    def _client(self) -> mqtt.Client:
        s = self.settings
        client_id = f"akida-edge-dashboard-{uuid.uuid4().hex[:8]}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=MQTTProtocolVersion.MQTTv5)
        client.connect_timeout = s.connect_timeout_s
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls_ca is not None:
            client.tls_set_context(ssl.create_default_context(cafile=str(s.tls_ca)))
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _run(self) -> None:
        backoff = self.settings.min_backoff_s
        reported: str | None = None
        while not self._stop.is_set():
            error = self._session(self._client())
            if self._stop.is_set():
                break
            error = error or "connection lost"
            if self._had_session:  # a fresh outage: retry soon, and say so once
                backoff, reported = self.settings.min_backoff_s, None
            self._set_link(False, error)
            if error != reported:
                log.warning("broker %s: %s; retrying with backoff (the page shows 'broker offline')",
                            self.address, error)
                reported = error
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2.0, self.settings.max_backoff_s)
        self._set_link(False, "dashboard stopped")

    def _session(self, client: mqtt.Client) -> str | None:
        """Connect and loop until the link drops or we stop; returns why it ended."""
        self._had_session = False
        self._refused = None
        try:
            client.connect(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            return f"unreachable ({exc.strerror or exc})" if isinstance(exc, OSError) else str(exc)
        try:
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            while not self._stop.is_set() and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                rc = client.loop(timeout=0.25)
            if self._stop.is_set():
                client.disconnect()
                return None
            return self._refused or f"connection lost ({mqtt.error_string(rc)})"
        finally:
            self._connected.clear()

    def _set_link(self, connected: bool, error: str | None) -> None:
        self.hub.publish(self.state.set_broker(connected, error))

    # -- callbacks (paho's thread == the owner thread; never block) -------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self._refused = f"refused the connection ({reason_code})"
            return
        client.subscribe(subscription(self.settings.prefix), qos=1)
        self.connects += 1
        self._had_session = True

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        # raced: "connected" was said at the CONNACK, before the SUBSCRIBE was even written, so a
        # detection published on seeing it (the page's "broker online", wait_connected) could be
        # routed before the subscription and never shown: said at the SUBACK now
        self._connected.set()
        log.info("broker %s: connected, subscribed to %s", self.address, subscription(self.settings.prefix))
        self._set_link(True, None)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self.hub.publish(self.state.apply(message.topic, message.payload))
        except Exception:  # one bad message must not stop the MQTT loop (paho re-raises by default)
            log.exception("dashboard: message on %s could not be shown", message.topic)
