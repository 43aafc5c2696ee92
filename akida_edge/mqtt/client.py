"""The MQTT link: ONE thread owns the paho-mqtt 2.x client and does every network call.

Other threads never touch paho: pipelines commit detections to the `Outbox` and call `wake()`;
`publish()` queues a message for the owner thread. The owner runs paho's `loop()` itself (no
`loop_start` thread), so callbacks run in the owner thread and only append to lists (they never
block and never take a lock held around `publish`; see paho issues #354, #226 in reference
edge-daemon-mqtt.md §4.3).

Each connection uses a fresh paho client, so nothing un-acknowledged survives in paho's RAM queue:
the outbox is the one source of truth. On connect the link publishes `online` (retained; the last
will is `offline`, retained), re-publishes every retained message it was given (`info`, states,
discovery), subscribes, then sends the outbox oldest first; rows already there when the
connection came up (backlog of an outage or of a previous process) go out with `"replayed": true`.
A v5 PUBACK reason >= 0x80 (e.g. 0x87 Not authorized from an ACL) is logged as an error and moves
the row to the outbox's `rejected` table. Refused credentials are logged as such, and connection
attempts continue with exponential backoff (`reconnect_min_s` doubling to `reconnect_max_s`).
The backoff starts again from `reconnect_min_s` only once a connection has lasted `STABLE_S`: two
daemons with the same client id (the same `[device] id`) take the broker session from each other
at every connection, and reconnecting at once made them flap (online/offline) several times a
second, two log lines each time; they now back off, and the pattern is named in one error line.
"""

from __future__ import annotations

import collections
import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from akida_edge.config import PASSWORD_ENV, MqttConfig
from akida_edge.mqtt import payloads
from akida_edge.mqtt.outbox import KIND_DETECTION, Outbox
from akida_edge.mqtt.topics import Topics

log = logging.getLogger("akida_edge.mqtt")

#: CONNACK reasons that mean "your credentials are wrong" (v5 0x86/0x87/0x8C; v3.1.1 rc 4/5).
AUTH_REASONS = {"Bad user name or password", "Not authorized", "Bad authentication method"}
#: a connection must stay up this long before the reconnect backoff starts again from
#: `reconnect_min_s`: one the broker closes sooner (another client took its client id, a broker
#: that drops it at once) keeps backing off, instead of reconnecting every `reconnect_min_s`
STABLE_S = 10.0
#: this many such short connections in a row are logged once as an error, with the likely cause
SHORT_LIVED_LOGGED = 3

#: (topic, payload, MQTT 5 properties, retained=...) -> None: `retained` is True for a message the
#: broker kept and delivered at subscription (not a new publish)
MessageHandler = Callable[..., None]


@dataclass
class LinkStats:
    """Counters the telemetry reports (read from any thread; ints are updated atomically)."""

    connected: bool = False
    connects: int = 0
    connect_failures: int = 0
    auth_failures: int = 0
    published: int = 0
    acked: int = 0
    rejected: int = 0
    replayed: int = 0
    last_error: str = ""
    next_retry_s: float = 0.0
    reasons: collections.Counter = field(default_factory=collections.Counter)


class MqttLink:
    """Owner of the broker connection (start/stop from the daemon's main thread).

    Parameters
    ----------
    cfg : the `[mqtt]` section. host, port : where to connect (default: from `cfg`).
    topics : the node's topics. outbox : the disk outbox (detections and telemetry).
    on_message : called in the owner thread with (topic, payload, properties) for `request/+`
        and `homeassistant/status`; it must return quickly (hand work to a queue).
    subscriptions : extra topic filters to subscribe to on every connection.
    """

    def __init__(self, cfg: MqttConfig, topics: Topics, outbox: Outbox, *, host: str | None = None,
                 port: int | None = None, client_id: str | None = None,
                 on_message: MessageHandler | None = None, subscriptions: tuple[str, ...] = ()) -> None:
        self.cfg = cfg
        self.topics = topics
        self.outbox = outbox
        self.host = host or cfg.host
        self.port = int(port if port is not None else cfg.port)
        self.client_id = client_id or cfg.client_id or f"akida-edge-{topics.node}"
        self.on_message = on_message
        self.subscriptions = (topics.request_filter, *subscriptions)
        self.stats = LinkStats()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._retained: dict[str, tuple[bytes, int]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_deadline = 0.0
        self._thread: threading.Thread | None = None
        self._connected_event = threading.Event()
        self.offline_published = threading.Event()
        self._inflight: dict[int, tuple[int, str]] = {}  # mid -> (outbox row, topic)
        self._cursor = 0  # last outbox row sent on this connection
        self._reopened = outbox.reopened
        self._backlog_row = 0  # rows up to this one were waiting when the connection came up
        self._events: list = []  # (kind, reason) recorded by callbacks
        self._acks: list = []  # (mid, reason) recorded by on_publish
        self._done_rows: list[int] = []  # acknowledged, not yet deleted
        self._last_flush = 0.0
        self._said_no_username = False

    # -- any thread --------------------------------------------------------------------------------
    def start(self) -> None:
        if self.cfg.protocol == "3.1.1":
            log.warning("MQTT 3.1.1: a broker acknowledges publishes its ACL denies, so such losses "
                        "cannot be detected; use [mqtt] protocol = \"5\" where the broker allows it")
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Tell the owner thread the outbox has new rows."""
        self._wake.set()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
                correlation: bytes | None = None) -> None:
        """Queue a direct publish (not through the outbox). Retained ones are re-sent on connect;
        others are dropped while disconnected (use the outbox for what must not be lost).
        `correlation` is sent as the MQTT 5 CorrelationData property (responses)."""
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        self._queue.put((str(topic), data, qos, retain, correlation))
        self._wake.set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected_event.wait(timeout_s)

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Send what the outbox holds (up to `drain_timeout_s`), publish `offline`, disconnect."""
        self._drain_deadline = time.monotonic() + drain_timeout_s
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(drain_timeout_s + 10.0)

    # -- owner thread ------------------------------------------------------------------------------
    def _new_client(self) -> paho.Client:
        v5 = self.cfg.protocol == "5"
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                             reconnect_on_failure=False)
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, self.cfg.password())
        elif not self._said_no_username and self.cfg.password() is not None:
            # $CREDENTIALS_DIRECTORY/mqtt_password or the environment gave one (a password_file
            # without a username is refused by the config loader)
            self._said_no_username = True
            log.warning("an MQTT password is set (credential or %s) but [mqtt] username is empty, so it is "
                        "not sent; set mqtt.username", PASSWORD_ENV)
        if self.cfg.tls_ca or self.cfg.tls_cert:
            client.tls_set(ca_certs=self.cfg.tls_ca or None, certfile=self.cfg.tls_cert or None,
                           keyfile=self.cfg.tls_key or None, cert_reqs=ssl.CERT_REQUIRED)
            client.tls_insecure_set(self.cfg.tls_insecure)
        client.will_set(str(self.topics.status), "offline", qos=1, retain=True)
        client.max_inflight_messages_set(self.cfg.max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = None
        return client

    # Callbacks: run inside client.loop() in the owner thread; they only record what happened.
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._events.append(("connack", reason_code))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._events.append(("disconnect", reason_code))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acks.append((mid, reason_code))

    def _on_message(self, client, userdata, message) -> None:
        if self.on_message is not None:
            try:
                self.on_message(message.topic, bytes(message.payload), message.properties,
                                retained=bool(message.retain))
            except Exception:  # a handler bug must not kill the link
                log.exception("MQTT message handler failed on %s", message.topic)

    def _run(self) -> None:
        backoff = self.cfg.reconnect_min_s
        next_attempt = 0.0
        client: paho.Client | None = None
        state = "down"  # down -> connecting -> up
        connect_started = 0.0
        up_since = 0.0
        short_lived = 0  # connections in a row the broker closed within STABLE_S
        while True:
            now = time.monotonic()
            if self._stop.is_set() and (state != "up" or self._drained() or now > self._drain_deadline):
                break
            if state == "down" and now >= next_attempt:
                client, state, connect_started = self._try_connect()
                if state == "down":
                    next_attempt, backoff = self._schedule_retry(backoff)
            if client is not None and state != "down":
                # short waits: a detection committed by a pipeline thread goes out within ~10 ms
                busy = self._inflight or self._wake.is_set()
                self._wake.clear()
                rc = client.loop(timeout=0.0 if busy and not self._inflight else 0.002 if busy else 0.01)
                if state == "connecting" and now - connect_started > max(self.cfg.keepalive_s, 10):
                    rc = MQTTErrorCode.MQTT_ERR_CONN_LOST
                lost = False  # paho may report one lost connection twice (keepalive, then the read)
                for kind, reason in self._events:
                    if kind == "connack":
                        if reason.is_failure:
                            self._connack_failed(reason, client)
                            rc = MQTTErrorCode.MQTT_ERR_CONN_REFUSED
                        else:
                            state, up_since = "up", now
                            self._on_up(client)
                    elif kind == "disconnect" and state == "up" and not lost:
                        lost = True
                        self.stats.last_error = f"disconnected: {reason}"
                        log.warning("MQTT connection to %s:%d lost (%s); the outbox keeps everything",
                                    self.host, self.port, reason)
                        rc = MQTTErrorCode.MQTT_ERR_CONN_LOST
                        short_lived = short_lived + 1 if now - up_since < STABLE_S else 0
                        if short_lived == SHORT_LIVED_LOGGED:
                            self._say_short_lived(reason)
                self._events.clear()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    if state == "connecting" and rc != MQTTErrorCode.MQTT_ERR_CONN_REFUSED:
                        self._fail(self._no_connack(now - connect_started, rc), client)
                    self._teardown(client)
                    client, state = None, "down"
                    if now >= next_attempt:
                        next_attempt, backoff = self._schedule_retry(backoff)
                    continue
                self._handle_acks()
                self._flush_acks()
                if state == "up" and now - up_since >= STABLE_S:
                    backoff, short_lived = self.cfg.reconnect_min_s, 0
                if state == "up":
                    self._send_direct(client)
                    self._fill(client)
            else:
                self._drop_direct_unretained()
                self._wake.wait(min(0.2, max(0.0, next_attempt - time.monotonic())))
                self._wake.clear()
        if client is not None and state == "up":
            self._say_offline(client)
        elif client is not None:
            self._teardown(client)
        self.stats.connected = False

    def _try_connect(self) -> tuple[paho.Client | None, str, float]:
        try:
            client = self._new_client()
        except (OSError, ssl.SSLError, ValueError) as exc:
            # the password file (ConfigError) or a TLS file gone or unreadable since the start (a
            # secret rotated, LoadCredential's directory gone): the thread must not die of it
            self._failed(f"cannot set up the connection to {self.host}:{self.port}: {exc}", logging.ERROR,
                         "; retrying with backoff (read again at each attempt)")
            return None, "down", 0.0
        # read before connect(): paho's keepalive clock starts inside it (CONNECT written), so a
        # broker that never answers is always found to have waited keepalive_s (read after, a thread
        # descheduled between the two named a hung broker "closed before CONNACK ... TLS")
        started = time.monotonic()
        try:
            client.connect(self.host, self.port, keepalive=self.cfg.keepalive_s)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._failed(f"cannot connect to {self.host}:{self.port}: {exc}", logging.WARNING)
            return None, "down", 0.0
        return client, "connecting", started

    def _schedule_retry(self, backoff: float) -> tuple[float, float]:
        self.stats.next_retry_s = backoff
        log.info("MQTT: next connection attempt to %s:%d in %.1f s", self.host, self.port, backoff)
        return time.monotonic() + backoff, min(backoff * 2.0, self.cfg.reconnect_max_s)

    def _connack_failed(self, reason, client) -> None:
        text = str(reason)
        if text in AUTH_REASONS:
            user = self.cfg.username or "(anonymous)"
            self._failed(f"broker {self.host}:{self.port} refused the credentials of user {user!r}: {text}",
                         logging.ERROR, "; check mqtt.username and mqtt.password_file (or "
                         "$AKIDA_EDGE_MQTT_PASSWORD); retrying with backoff")
            self.stats.auth_failures += 1
        else:
            self._failed(f"broker {self.host}:{self.port} refused the connection: {text}", logging.ERROR,
                         "; retrying with backoff")

    def _say_short_lived(self, reason) -> None:
        self.stats.last_error = (f"the broker closed the connection {SHORT_LIVED_LOGGED} times in a row "
                                 f"within {STABLE_S:.0f} s ({reason})")
        log.error("MQTT %s:%d: %s: is another client connected as %r (a second daemon with [device] id = "
                  "%r)? Each one takes the session from the other; give each daemon its own [device] id%s "
                  "(one id, one set of topics and seq numbers). Backing off up to reconnect_max_s = %g s",
                  self.host, self.port, self.stats.last_error, self.client_id, self.topics.node,
                  " and mqtt.client_id" if self.cfg.client_id else "", self.cfg.reconnect_max_s)

    def _no_connack(self, waited_s: float, rc: MQTTErrorCode) -> str:
        """Why a connection ended before its CONNACK: a broker that never answered (paho gives up
        after keepalive_s: hung, overloaded, or a firewall that holds the packets) is not one that
        closed it at once (a wrong port, TLS spoken to a plain listener or the reverse)."""
        if waited_s >= self.cfg.keepalive_s:
            return (f"no CONNACK from the broker within keepalive_s = {self.cfg.keepalive_s:g} s: it "
                    "accepts the connection but does not answer (hung or overloaded?)")
        return (f"connection closed before CONNACK ({rc.name}); check mqtt.port and the TLS settings "
                "(tls_ca for a TLS listener)")

    def _fail(self, why: str, client) -> None:
        self._failed(why, logging.WARNING, f" ({self.host}:{self.port})")

    def _failed(self, why: str, level: int, advice: str = "") -> None:
        """A failed connection attempt: logged first, then counted, so that whoever watches the
        counters (a test, `status`) finds the line already written."""
        log.log(level, "MQTT %s%s", why, advice)
        self.stats.last_error = why
        self.stats.connect_failures += 1

    def _teardown(self, client: paho.Client) -> None:
        self._flush_acks(force=True)
        self.stats.connected = False
        self._connected_event.clear()
        self._inflight.clear()
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001 - the socket may already be gone
            pass
        sock = client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _on_up(self, client: paho.Client) -> None:
        self.stats.connects += 1
        self.stats.connected = True
        self.stats.last_error = ""
        self._backlog_row = self.outbox.last_row()
        self._cursor = 0
        client.publish(str(self.topics.status), b"online", qos=1, retain=True)
        for topic, (payload, qos) in self._retained.items():
            client.publish(topic, payload, qos=qos, retain=True)
        for sub in self.subscriptions:
            client.subscribe(sub, qos=1)
        log.info("MQTT connected to %s:%d as %s (MQTT %s); outbox holds %d", self.host, self.port,
                 self.client_id, self.cfg.protocol, self.outbox.depth())
        self._connected_event.set()

    def _fill(self, client: paho.Client) -> None:
        if self.outbox.reopened != self._reopened:  # its rows moved to a new database: read them all again
            self._reopened, self._cursor = self.outbox.reopened, 0
            self._backlog_row = self.outbox.last_row()
        room = self.cfg.max_inflight - len(self._inflight)
        if room <= 0:
            return
        rows = self.outbox.pending(self._cursor, room)
        for m in rows:
            # waiting when this connection came up (an outage, a previous process): sent late
            replay = m.row <= self._backlog_row
            data = payloads.mark_replayed(m.payload) if (replay and m.kind == KIND_DETECTION) else m.payload
            info = client.publish(m.topic, data, qos=m.qos)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break  # not handed to the socket: the row stays and goes out on the next attempt
            self._inflight[info.mid] = (m.row, m.topic)
            self._cursor = m.row
            self.stats.published += 1
            self.stats.replayed += int(replay and m.kind == KIND_DETECTION)

    def _handle_acks(self) -> None:
        if not self._acks:
            return
        for mid, reason in self._acks:
            entry = self._inflight.pop(mid, None)
            failed = getattr(reason, "is_failure", False)
            if failed:
                self.stats.rejected += 1
                self.stats.reasons[str(reason)] += 1
                topic = entry[1] if entry else "(direct publish)"
                log.error("MQTT broker refused the publish on %s: %s (reason 0x%02X); kept in the "
                          "outbox's rejected table, not retried; check the broker ACL", topic, reason,
                          reason.value)
                if entry:
                    self.outbox.reject(entry[0], int(reason.value), str(reason))
            elif entry:
                self._done_rows.append(entry[0])
                self.stats.acked += 1
        self._acks.clear()

    def _flush_acks(self, force: bool = False) -> None:
        """Delete acknowledged rows in batches (one transaction per ~50 ms or 256 rows).

        A crash before the delete only means the row is sent again (at least once, same `id`).
        """
        if self._done_rows and (force or len(self._done_rows) >= 256
                                or time.monotonic() - self._last_flush >= 0.05):
            if self.outbox.ack(self._done_rows):  # else the disk refused: kept, tried again later
                self._done_rows = []
            self._last_flush = time.monotonic()

    def _send_direct(self, client: paho.Client) -> None:
        while True:
            try:
                topic, data, qos, retain, correlation = self._queue.get_nowait()
            except queue.Empty:
                return
            if retain:
                self._retained[topic] = (data, qos)
            props = None
            if correlation is not None and self.cfg.protocol == "5":
                props = Properties(PacketTypes.PUBLISH)
                props.CorrelationData = correlation
            try:
                client.publish(topic, data, qos=qos, retain=retain, properties=props)
            except (ValueError, TypeError) as exc:  # one bad message must not end the MQTT thread
                log.error("MQTT: cannot publish to %r (%s); message dropped", topic[:120], exc)

    def _drop_direct_unretained(self) -> None:
        while True:
            try:
                topic, data, qos, retain, _ = self._queue.get_nowait()
            except queue.Empty:
                return
            if retain:
                self._retained[topic] = (data, qos)

    def _drained(self) -> bool:
        self._flush_acks(force=True)
        return not self._inflight and self._queue.empty() and not self.outbox.pending(self._cursor, 1)

    def _say_offline(self, client: paho.Client) -> None:
        """Clean stop: the will is not sent on a clean DISCONNECT, so publish `offline` ourselves."""
        info = client.publish(str(self.topics.status), b"offline", qos=1, retain=True)
        deadline = time.monotonic() + 3.0
        while info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not info.is_published():
            if time.monotonic() > deadline or client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS and info.is_published():
            self.offline_published.set()
        self._handle_acks()
        self._teardown(client)
        log.info("MQTT: published offline and disconnected")
