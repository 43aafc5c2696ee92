"""An embedded MQTT broker (3.1.1 and 5) for the shipped configuration: no broker to install.

Why our own: amqtt, the maintained pure-Python broker, speaks MQTT 3.1.1 only (reference
edge-daemon-mqtt.md §5.2), and the daemon speaks v5 by default. This broker implements the
subset a single edge box needs, on asyncio in one background thread:
CONNECT/CONNACK (protocol levels 4 and 5), PUBLISH at QoS 0 and 1 with PUBACK (QoS 2 is refused:
v5 reason 0x9B / v3 disconnect), SUBSCRIBE/SUBACK with `+` and `#` wildcards, UNSUBSCRIBE,
retained messages (an empty payload deletes), the last will (published on an abnormal
disconnect, dropped on a clean DISCONNECT), keep-alive (1.5 x the client's interval), PINGREQ,
session takeover by client id, a packet limit (`MAX_PACKET_BYTES`, announced to v5 clients at
CONNACK; a larger packet closes the connection, with DISCONNECT 0x95 to a v5 client, and is
logged), and a bound on what waits for a client that stopped reading (`MAX_CLIENT_BUFFER_BYTES`:
beyond it the connection is closed, with a warning, and its will published; at stop such a
client is cut after `STOP_GRACE_S`, so no connection task outlives the broker). At stop every
connection ends in order: what was sent to it, then a FIN, its input read (and ignored) until the
client closes (closing with unread input would reset it, losing what the client had not read). It keeps no
session state across connections (clean sessions only), forwards v5 PUBLISH properties except
the per-connection ones (retained messages are stored without them; a UTF-8 string field, topic
or property, that is not UTF-8 or holds U+0000 closes the sender's connection: forwarded, it made
every subscriber's client drop its own) and has no authentication:
it binds to 127.0.0.1 by default, so only local processes reach it.
Production uses an external broker (Mosquitto) with TLS, ACLs and credentials. Specifications:
MQTT 3.1.1 (OASIS 2014) and MQTT 5.0 (OASIS 2019), §2-§3.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
import threading
from dataclasses import dataclass, field

from akida_edge.errors import MqttError
from akida_edge.mqtt.topics import matches

log = logging.getLogger("akida_edge.mqtt.broker")

MAX_PACKET_BYTES = 1 << 20
#: bytes waiting to be sent to one client beyond which it is disconnected (it stopped reading)
MAX_CLIENT_BUFFER_BYTES = 8 * MAX_PACKET_BYTES
#: at stop, how long the connections may take to end (a client that reads nothing never lets its
#: connection close: it is cut, and whatever is still running then is cancelled)
STOP_GRACE_S = 1.0
PACKET_TOO_LARGE = 0x95  # MQTT 5 reason code (§2.4), sent in the DISCONNECT before closing


class PacketTooLarge(ValueError):
    """A client sent a packet over `MAX_PACKET_BYTES` (its size in `args[0]`)."""
CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 10, 11, 12, 13, 14


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([ptype << 4 | flags]) + _varint(len(body)) + body


async def _discard(reader: asyncio.StreamReader, n: int, timeout_s: float = 5.0) -> None:
    """Read and drop up to `n` bytes (the rest of a refused packet), for at most `timeout_s`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while n > 0 and loop.time() < end:
        try:
            chunk = await asyncio.wait_for(reader.read(min(n, 1 << 16)), end - loop.time())
        except (asyncio.TimeoutError, ConnectionError):
            return
        if not chunk:
            return
        n -= len(chunk)


def _str(s: str | bytes) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


class _Reader:
    """Cursor over one packet body."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u8(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        self.pos += 2
        return struct.unpack_from("!H", self.data, self.pos - 2)[0]

    def bin(self) -> bytes:
        n = self.u16()
        if self.pos + n > len(self.data):
            raise ValueError("truncated field")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def text(self) -> str:
        """A UTF-8 string field: well-formed UTF-8 without U+0000 (MQTT 5 §1.5.4; a client that
        sends one has sent a malformed packet, and its connection is closed, §4.13)."""
        s = self.bin().decode("utf-8")
        if "\x00" in s:
            raise ValueError("U+0000 in a UTF-8 string field")
        return s

    def varint(self) -> int:
        mult, value = 1, 0
        for _ in range(4):
            b = self.u8()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise ValueError("malformed variable byte integer")

    def skip_props(self) -> bytes:
        """Skip a v5 property block; return its content (without the length)."""
        n = self.varint()
        self.pos += n
        if self.pos > len(self.data):
            raise ValueError("truncated properties")
        return self.data[self.pos - n:self.pos]

    def rest(self) -> bytes:
        return self.data[self.pos:]


#: v5 property identifier -> size class: 1, 2, 4 bytes, "v" varint, "s" UTF-8 string, "b" binary
#: data, "p" string pair (user property).
_PROP_KIND = {0x01: 1, 0x17: 1, 0x19: 1, 0x24: 1, 0x25: 1, 0x28: 1, 0x29: 1, 0x2A: 1,
              0x13: 2, 0x21: 2, 0x22: 2, 0x23: 2, 0x02: 4, 0x11: 4, 0x18: 4, 0x27: 4, 0x0B: "v",
              0x03: "s", 0x08: "s", 0x09: "b", 0x12: "s", 0x15: "s", 0x16: "b", 0x1A: "s", 0x1C: "s",
              0x1F: "s", 0x26: "p"}


def forwardable_props(block: bytes) -> bytes:
    """A PUBLISH property block for subscribers: everything but Topic Alias (0x23) and Subscription
    Identifier (0x0B), which are per connection (MQTT 5 §3.3.2.3). Returns length + content. A
    string property that is not UTF-8 or holds U+0000 raises `ValueError` (the sender's connection
    is closed): forwarded, it made every subscriber's client drop its connection."""
    r, keep = _Reader(block), bytearray()
    while r.pos < len(block):
        start = r.pos
        ident = r.varint()
        kind = _PROP_KIND.get(ident)
        if kind is None:
            raise ValueError(f"unknown v5 property 0x{ident:02X}")
        if kind == "v":
            r.varint()
        elif kind == "s":
            r.text()
        elif kind == "b":
            r.bin()
        elif kind == "p":
            r.text()
            r.text()
        else:
            r.pos += kind
        if ident not in (0x23, 0x0B):
            keep += block[start:r.pos]
    if r.pos != len(block):
        raise ValueError("truncated property")
    return _varint(len(keep)) + bytes(keep)

    def rest(self) -> bytes:
        return self.data[self.pos:]


@dataclass
class _Session:
    client_id: str
    v5: bool
    writer: asyncio.StreamWriter
    subs: dict[str, int] = field(default_factory=dict)
    will: tuple[str, bytes, int, bool] | None = None
    next_mid: int = 0

    def mid(self) -> int:
        self.next_mid = self.next_mid % 65535 + 1
        return self.next_mid


class EmbeddedBroker:
    """Start with `start()` (returns once listening; `port` is the bound port), stop with `stop()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host, self.port = host, int(port)
        self._sessions: dict[str, _Session] = {}
        self._retained: dict[str, tuple[bytes, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping = False  # set by `_shutdown`: connections end in order, nothing more is routed
        self._too_large_said: dict[str, float] = {}  # client id -> loop time of its last warning

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="mqtt-broker", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            fix = ("set [mqtt] host to an address of this machine (\"127.0.0.1\" for loopback)"
                   if isinstance(self._error, socket.gaierror)
                   or getattr(self._error, "errno", None) == errno.EADDRNOTAVAIL
                   else "set [mqtt] port to a free port")
            raise MqttError(f"embedded MQTT broker cannot listen on {self.host}:{self.port} "
                            f"({self._error}); {fix}") from self._error

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            self._thread.join(5 + 2 * STOP_GRACE_S)

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port, reuse_address=True))
            self.port = self._server.sockets[0].getsockname()[1]
            log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        """Stop listening and close every connection, then stop the loop with no connection task
        left pending (one would be destroyed pending: asyncio's "Task was destroyed but it is
        pending!" at exit). Closing waits for what is queued to a client to be sent, so a client
        that stopped reading (a local subscriber that never reads) would keep its connection, and
        its task, for ever: after `STOP_GRACE_S` such a connection is cut, and a task still
        running after another `STOP_GRACE_S` (a connection that has not sent its CONNECT) is
        cancelled."""
        assert self._server is not None and self._loop is not None
        try:
            self._server.close()
            self._stopping = True
            for s in list(self._sessions.values()):
                # raced: close() stopped reading at once, and a socket closed with unread input (a
                # subscriber's PUBACK) is reset, which drops what the subscriber had not read yet
                # (the daemon's last `offline`, on a loaded machine): a FIN after what is queued, and
                # `_serve` reads on (ignoring it) until the client closes its side
                try:
                    if s.writer.can_write_eof():
                        s.writer.write_eof()
                    else:
                        s.writer.close()
                except OSError:  # the client went meanwhile (ENOTCONN): the rest must still end in order
                    s.writer.close()
            me = asyncio.current_task()
            pending = {t for t in asyncio.all_tasks() if t is not me}
            if pending:
                _, pending = await asyncio.wait(pending, timeout=STOP_GRACE_S)
            for s in list(self._sessions.values()):
                waiting = s.writer.transport.get_write_buffer_size()
                if waiting:
                    log.info("embedded broker: client %s has not read the %d bytes sent to it; connection "
                             "cut at stop", s.client_id, waiting)
                else:
                    log.info("embedded broker: client %s has read all, but not closed its connection within "
                             "%g s; connection cut at stop", s.client_id, STOP_GRACE_S)
                s.writer.transport.abort()  # its `_serve` ends
            if pending:
                _, pending = await asyncio.wait(pending, timeout=STOP_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            self._loop.stop()

    # -- one connection ---------------------------------------------------------------------------
    async def _read_packet(self, reader: asyncio.StreamReader,
                           timeout: float | None) -> tuple[int, int, bytes]:
        head = await asyncio.wait_for(reader.readexactly(1), timeout)
        mult, length = 1, 0
        for _ in range(4):
            b = (await reader.readexactly(1))[0]
            length += (b & 0x7F) * mult
            if not b & 0x80:
                break
            mult *= 128
        else:
            raise ValueError("malformed remaining length")
        if length > MAX_PACKET_BYTES:
            raise PacketTooLarge(length)
        body = await reader.readexactly(length) if length else b""
        return head[0] >> 4, head[0] & 0x0F, body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session: _Session | None = None
        clean = False
        try:
            ptype, _, body = await self._read_packet(reader, 10.0)
            if ptype != CONNECT:
                return
            session, keepalive = self._connect(body, writer)
            if session is None:
                return
            timeout = keepalive * 1.5 if keepalive else None
            while True:
                ptype, flags, body = await self._read_packet(reader, timeout)
                if self._stopping:  # read until the client closes its side; nothing is answered
                    continue
                if ptype == PUBLISH:
                    self._publish_in(session, flags, body)
                elif ptype == SUBSCRIBE:
                    self._subscribe(session, body)
                elif ptype == UNSUBSCRIBE:
                    self._unsubscribe(session, body)
                elif ptype == PINGREQ:
                    writer.write(_packet(PINGRESP, 0, b""))
                elif ptype == DISCONNECT:
                    clean = not (session.v5 and body[:1] == b"\x04")
                    return
                elif ptype == PUBACK:
                    continue
                else:
                    raise ValueError(f"unsupported packet type {ptype}")
                if writer.transport.get_write_buffer_size() > 4 * MAX_PACKET_BYTES:
                    await writer.drain()
        except PacketTooLarge as exc:  # a user's upload, say: said on both sides, never silently
            who = session.client_id if session else "?"
            now = asyncio.get_running_loop().time()
            # once a minute per client: paho sends the same publish again at every reconnection
            level = logging.WARNING if now - self._too_large_said.get(who, -1e9) >= 60.0 else logging.DEBUG
            if level == logging.WARNING:
                self._too_large_said[who] = now
            log.log(level, "embedded broker: client %s sent a packet of %d bytes, over the %d-byte limit; "
                    "connection closed%s", who, exc.args[0], MAX_PACKET_BYTES,
                    " (MQTT 5 reason 0x95 Packet too large)" if session and session.v5 else "")
            if session is not None and session.v5 and not self._stopping:  # no write after its FIN
                writer.write(_packet(DISCONNECT, 0, bytes([PACKET_TOO_LARGE, 0])))
            await _discard(reader, exc.args[0])  # closing on unread data would reset the DISCONNECT away
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ValueError,
                IndexError, struct.error, UnicodeDecodeError) as exc:
            log.debug("embedded broker: connection %s closed: %r", session and session.client_id, exc)
        except Exception:  # a broker bug must cost one connection, never the broker
            log.exception("embedded broker: dropping connection %s", session and session.client_id)
        finally:
            if session is not None and self._sessions.get(session.client_id) is session:
                del self._sessions[session.client_id]
                if not clean and session.will is not None and not self._stopping:
                    self._route(*session.will)
            writer.close()

    def _connect(self, body: bytes, writer: asyncio.StreamWriter) -> tuple[_Session | None, int]:
        r = _Reader(body)
        name, level, flags, keepalive = r.text(), r.u8(), r.u8(), r.u16()
        if name != "MQTT" or level not in (4, 5):
            writer.write(_packet(CONNACK, 0, b"\x00\x01" if level != 5 else b"\x00\x84\x00"))
            return None, 0
        v5 = level == 5
        if v5:
            r.skip_props()
        client_id = r.text() or f"auto-{id(writer):x}"
        will = None
        if flags & 0x04:
            if v5:
                r.skip_props()
            will = (r.text(), r.bin(), (flags >> 3) & 0x03, bool(flags & 0x20))
        old = self._sessions.get(client_id)
        if old is not None:
            old.writer.close()
        session = _Session(client_id=client_id, v5=v5, writer=writer, will=will)
        self._sessions[client_id] = session
        # v5: the Maximum Packet Size property (0x27), so a client that honours it refuses a larger
        # publish itself (mosquitto_pub does; paho does not, and gets DISCONNECT 0x95)
        max_size = b"\x27" + struct.pack("!I", MAX_PACKET_BYTES)
        writer.write(_packet(CONNACK, 0, b"\x00\x00" + bytes([len(max_size)]) + max_size if v5
                             else b"\x00\x00"))
        return session, keepalive

    def _publish_in(self, session: _Session, flags: int, body: bytes) -> None:
        qos, retain = (flags >> 1) & 0x03, bool(flags & 0x01)
        r = _Reader(body)
        topic = r.text()
        mid = r.u16() if qos else 0
        props = forwardable_props(r.skip_props()) if session.v5 else b"\x00"
        if qos == 2 or not topic or "+" in topic or "#" in topic:
            raise ValueError(f"refused PUBLISH qos={qos} topic={topic!r}")
        self._route(topic, r.rest(), qos, retain, props)
        if qos == 1:
            session.writer.write(_packet(PUBACK, 0, struct.pack("!H", mid)))

    def _route(self, topic: str, payload: bytes, qos: int, retain: bool, props: bytes = b"\x00") -> None:
        if retain:
            if payload:
                self._retained[topic] = (payload, qos)
            else:
                self._retained.pop(topic, None)
        for s in list(self._sessions.values()):
            granted = max((q for f, q in s.subs.items() if matches(f, topic)), default=-1)
            if granted >= 0:
                self._send(s, topic, payload, min(qos, granted), False, props)

    def _send(self, s: _Session, topic: str, payload: bytes, qos: int, retain: bool,
              props: bytes = b"\x00") -> None:
        transport = s.writer.transport
        if transport.is_closing() or self._stopping:
            return
        waiting = transport.get_write_buffer_size()
        if waiting > MAX_CLIENT_BUFFER_BYTES:  # it reads nothing, and no keep-alive ends it
            log.warning("embedded broker: client %s has not read the last %d bytes sent to it; connection "
                        "closed (a subscriber that stopped reading would hold them in memory without "
                        "bound)", s.client_id, waiting)
            transport.abort()  # its `_serve` ends, the session goes and its will is published
            return
        var = _str(topic) + (struct.pack("!H", s.mid()) if qos else b"") + (props if s.v5 else b"")
        s.writer.write(_packet(PUBLISH, qos << 1 | int(retain), var + payload))

    def _subscribe(self, session: _Session, body: bytes) -> None:
        r = _Reader(body)
        mid = r.u16()
        if session.v5:
            r.skip_props()
        codes, new = bytearray(), []
        while r.pos < len(body):
            filt, opts = r.text(), r.u8()
            qos = min(opts & 0x03, 1)
            hash_ok = filt == "#" or (filt.endswith("/#") and filt.count("#") == 1)
            if not filt or ("#" in filt and not hash_ok):
                codes.append(0x80 if not session.v5 else 0x8F)
                continue
            session.subs[filt] = qos
            codes.append(qos)
            new.append((filt, qos))
        session.writer.write(_packet(SUBACK, 0, struct.pack("!H", mid) + (b"\x00" if session.v5 else b"")
                                     + bytes(codes)))
        for topic, (payload, qos) in list(self._retained.items()):
            granted = max((q for f, q in new if matches(f, topic)), default=-1)
            if granted >= 0:
                self._send(session, topic, payload, min(qos, granted), True)

    def _unsubscribe(self, session: _Session, body: bytes) -> None:
        r = _Reader(body)
        mid = r.u16()
        if session.v5:
            r.skip_props()
        codes = bytearray()
        while r.pos < len(body):
            codes.append(0x00 if session.subs.pop(r.text(), None) is not None else 0x11)
        tail = b"\x00" + bytes(codes) if session.v5 else b""
        session.writer.write(_packet(UNSUBACK, 0, struct.pack("!H", mid) + tail))
