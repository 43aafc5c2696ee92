"""The dashboard's HTTP server: a static page, `/api/state` (JSON) and `/events` (SSE).

Stdlib only (`http.server.ThreadingHTTPServer`, one thread per connection). Routes:

- `GET /` (and `/app.js`, `/style.css`): the page, from package data, nothing fetched at run time;
- `GET /api/state`: `DashboardState.snapshot()` as JSON;
- `GET /events`: Server-Sent Events; first a `snapshot` event, then `device`, `detection`,
  `telemetry`, `anomaly` and `broker` events as MQTT messages arrive, and a comment ping every
  `ping_s` so proxies and the browser keep the stream open.

Bound to 127.0.0.1 by default. On a loopback address the `Host` header must name a loopback host
too (a page on another site cannot read the dashboard through DNS rebinding).
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from akida_edge.dashboard.feed import BrokerSettings, MqttFeed
from akida_edge.dashboard.hub import CLOSE, Hub, encode
from akida_edge.dashboard.state import DashboardState
from akida_edge.errors import ConfigError

log = logging.getLogger("akida_edge.dashboard")

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                               "frame-ancestors 'none'"}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _load_static() -> dict[str, tuple[bytes, str]]:
    root = resources.files("akida_edge.dashboard.static")
    return {route: (root.joinpath(name).read_bytes(), ctype) for route, (name, ctype) in STATIC.items()}


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "akida-edge-dashboard"
    timeout = 30.0  # seconds a socket read or write may stall (a stuck SSE client frees its thread)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)

    def _host_ok(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return _is_loopback(name)

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, head_only: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in SECURITY_HEADERS.items():
            self.send_header(k, v)
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 (stdlib name)
        self.do_GET(head_only=True)

    def do_GET(self, head_only: bool = False) -> None:  # noqa: N802 (stdlib name)
        path = self.path.split("?", 1)[0]
        if not self._host_ok():
            self._send(HTTPStatus.FORBIDDEN, b"forbidden host\n", "text/plain; charset=utf-8")
            return
        app = self.server.app
        if path in app.static:
            body, ctype = app.static[path]
            self._send(HTTPStatus.OK, body, ctype, head_only)
        elif path == "/api/state":
            body = json.dumps(app.state.snapshot(), separators=(",", ":")).encode()
            self._send(HTTPStatus.OK, body, "application/json", head_only)
        elif path == "/events" and not head_only:
            self._events()
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head_only)

    def _events(self) -> None:
        app = self.server.app
        client = app.hub.subscribe()
        if client is None:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"too many dashboard clients\n", "text/plain")
            return
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Accel-Buffering", "no")
            for k, v in SECURITY_HEADERS.items():
                self.send_header(k, v)
            self.end_headers()
            # Subscribed before the snapshot: nothing is missed; repeats are idempotent in the page.
            self.wfile.write(b"retry: 2000\n\n" + encode("snapshot", app.state.snapshot()))
            while not app.closing.is_set():
                msg = client.get(app.ping_s)
                if msg == CLOSE:
                    break
                self.wfile.write(msg if msg is not None else b": ping\n\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        finally:
            app.hub.unsubscribe(client)
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    #: the listen backlog (socketserver's 5 made 20 concurrent clients wait seconds, 200 time out)
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that went away mid-response is not an error (socketserver printed a traceback
        for each); anything else is logged with its traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        log.exception("dashboard: request from %s failed", client_address[0] if client_address else "?")
    app: DashboardServer
    loopback_only: bool


class DashboardServer:
    """The whole dashboard: HTTP server, SSE hub, state and MQTT feed.

    Parameters
    ----------
    host, port : where to serve HTTP (port 0 picks a free one; see `url`).
    broker : the MQTT broker and prefix to read.
    ping_s : seconds between SSE keep-alive comments.
    port_option : the command-line option that set `port`, named in the errors (`akida-edge run`
        sets it with ``--dashboard PORT``).

    Raises
    ------
    ConfigError
        The address is taken or cannot be bound (one line naming `--host`/`--port`).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, broker: BrokerSettings | None = None,
                 ping_s: float = 15.0, port_option: str = "--port") -> None:
        self.broker = broker or BrokerSettings()
        self.ping_s = ping_s
        self.static = _load_static()
        self.state = DashboardState(self.broker.prefix)
        self.hub = Hub()
        self.feed = MqttFeed(self.broker, self.state, self.hub)
        self.closing = threading.Event()
        try:
            self.httpd = _HTTPServer((host, port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"{port_option} {port}: {host}:{port} is already in use; stop what uses it "
                                  f"or choose another with {port_option}") from None
            raise ConfigError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); "
                              "use a local address such as 127.0.0.1") from None
        self.httpd.app = self
        self.httpd.loopback_only = _is_loopback(host)
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/"

    def start(self) -> DashboardServer:
        """Serve in a background thread (tests, embedding); returns self."""
        self.feed.start()
        self._serving = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="dashboard-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `close()` is called from another one."""
        self.feed.start()
        self._serving = True
        self.httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        """Stop serving, end every SSE stream and disconnect from the broker."""
        self.closing.set()
        self.hub.close()
        if self._serving:  # shutdown() waits for serve_forever(), so only when it ran
            self.httpd.shutdown()
        self.httpd.server_close()
        self.feed.stop()
        if self._thread is not None:
            self._thread.join(5.0)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(host: str, port: int, broker: BrokerSettings) -> DashboardServer:
    """Build and start a dashboard in the background (see `DashboardServer`)."""
    return DashboardServer(host, port, broker).start()
