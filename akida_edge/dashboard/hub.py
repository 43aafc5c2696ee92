"""Server-Sent Events fan-out: one bounded queue per browser; a slow browser is dropped.

`publish()` is called from the MQTT thread and never blocks: it `put_nowait`s the encoded event
into every client's queue, and a client whose queue is full is closed (its `EventSource`
reconnects and reloads the snapshot), so one stalled tab cannot hold up MQTT or the others.
Wire format: W3C/WHATWG "Server-sent events" (`event:` / `data:` lines, blank line to end).
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

#: Sentinel telling a client's stream to end.
CLOSE = b""


def encode(event: str, data: Any) -> bytes:
    """One SSE message; JSON has no raw newlines, so a single `data:` line is enough."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Client:
    """One connected browser: a bounded queue of encoded messages."""

    def __init__(self, maxsize: int) -> None:
        self.queue: queue.Queue[bytes] = queue.Queue(maxsize=maxsize)
        self.dropped = False

    def get(self, timeout_s: float) -> bytes | None:
        """Next message, `CLOSE` when the hub dropped this client, None on timeout (send a ping)."""
        if self.dropped:
            return CLOSE
        try:
            return self.queue.get(timeout=timeout_s)
        except queue.Empty:
            return CLOSE if self.dropped else None


class Hub:
    """Fan-out of dashboard events to every SSE client.

    Parameters
    ----------
    client_queue : messages buffered per client before it is considered too slow and dropped.
    max_clients : connections refused beyond this many.
    """

    def __init__(self, client_queue: int = 512, max_clients: int = 64) -> None:
        self._lock = threading.Lock()
        self._clients: set[Client] = set()
        self._client_queue = client_queue
        self.max_clients = max_clients
        self.dropped_clients = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)

    def subscribe(self) -> Client | None:
        """A new client, or None when `max_clients` are already connected."""
        with self._lock:
            if len(self._clients) >= self.max_clients:
                return None
            client = Client(self._client_queue)
            self._clients.add(client)
            return client

    def unsubscribe(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)

    def publish(self, events: list[dict[str, Any]]) -> None:
        """Queue each event (a dict with `type`) for every client; never blocks."""
        with self._lock:
            clients = list(self._clients)
        if not events or not clients:
            return
        messages = [encode(e["type"], e) for e in events]
        for client in clients:
            try:
                for m in messages:
                    client.queue.put_nowait(m)
            except queue.Full:
                self._drop(client)

    def _drop(self, client: Client) -> None:
        with self._lock:
            if client not in self._clients:
                return
            self._clients.discard(client)
            self.dropped_clients += 1
        client.dropped = True

    def close(self) -> None:
        """End every stream (server shutdown)."""
        with self._lock:
            clients, self._clients = list(self._clients), set()
        for client in clients:
            client.dropped = True
            try:
                client.queue.put_nowait(CLOSE)
            except queue.Full:
                pass
