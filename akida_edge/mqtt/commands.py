"""Commands: `<prefix>/<node>/request/<name>` answered on `<prefix>/<node>/response/<name>`.

A request is a JSON object of at most `MAX_REQUEST_BYTES` with an optional `transaction`
(string or integer, echoed back) and the command's arguments. Every request gets exactly one
response `{"schema", "ts", "transaction", "status": "ok"|"error", "data"|"error"}`: malformed JSON,
a wrong shape, an unknown command or a failing handler give `status: "error"` with a one-line
reason — never a crash. MQTT 5 requests may instead name a `ResponseTopic` (and
`CorrelationData`), which is honoured. Handlers run in the daemon's command threads, not in the
MQTT thread: `pipeline` commands (which can learn for seconds) in one of their own, the others in
another, so a long `learn` does not hold up `ping` or `status`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from akida_edge.mqtt import payloads

log = logging.getLogger("akida_edge.commands")

MAX_REQUEST_BYTES = 64 * 1024
#: The limit for commands that carry uploads (`pipeline` learn with audio): under the embedded
#: broker's 1 MiB packet limit.
MAX_UPLOAD_REQUEST_BYTES = 1000 * 1024
MAX_TRANSACTION_CHARS = 128

Handler = Callable[[dict[str, Any]], Any]


class CommandError(ValueError):
    """A request the daemon refuses; its message goes back in the error response."""


@dataclass(frozen=True)
class Request:
    name: str
    payload: bytes
    response_topic: str
    correlation: bytes | None = None
    #: why the request is answered with an error without running (set where it arrives: a
    #: response topic one cannot publish to, a request delivered as a retained message)
    refused: str = ""


def response_topic_problem(topic: str) -> str:
    """Why an MQTT 5 `ResponseTopic` cannot be published to ("" when it can): wildcards, U+0000,
    or too long (MQTT 5.0 §4.7.3; a wildcard made paho raise in the MQTT thread)."""
    if "+" in topic or "#" in topic:
        return f"response topic {topic[:80]!r} contains a wildcard (+ or #); name one topic"
    if "\x00" in topic:
        return "response topic contains U+0000; name a topic of printable characters"
    if len(topic.encode("utf-8", "surrogatepass")) > 65535:
        return "response topic is longer than 65535 bytes"
    return ""


def parse(payload: bytes, max_bytes: int = MAX_REQUEST_BYTES) -> tuple[Any, dict[str, Any]]:
    """(transaction, arguments) from a request payload, or `CommandError`."""
    if len(payload) > max_bytes:
        raise CommandError(f"request of {len(payload)} bytes exceeds the {max_bytes}-byte limit")
    try:
        body = json.loads(payload.decode("utf-8")) if payload else {}
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, and
        # an integer of over 4300 digits (Python's int-from-string limit)
        raise CommandError(f"request is not valid UTF-8 JSON ({str(exc)[:80]})") from exc
    if not isinstance(body, dict):
        raise CommandError(f"request must be a JSON object, got {type(body).__name__}")
    tx = body.pop("transaction", None)
    body.pop("schema", None)  # a client may tag its request like every payload (`akida_edge.<kind>/1`)
    if tx is not None and not (isinstance(tx, str) and len(tx) <= MAX_TRANSACTION_CHARS
                               or isinstance(tx, int) and not isinstance(tx, bool)):
        raise CommandError(f"transaction must be a string of at most {MAX_TRANSACTION_CHARS} characters "
                           "or an integer")
    return tx, body


def _transaction_of(payload: bytes) -> Any:
    """Best effort: the transaction of a request we refuse, so the caller can match the error."""
    try:
        tx = json.loads(payload[:MAX_REQUEST_BYTES]).get("transaction")
    except Exception:  # noqa: BLE001 - malformed on purpose
        return None
    return tx if isinstance(tx, str | int) and not isinstance(tx, bool) and len(str(tx)) <= 128 else None


class CommandTable:
    """Name -> handler; `handle(request)` returns the response payload (never raises)."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.max_bytes: dict[str, int] = {}
        self.takes: dict[str, tuple[str, ...] | None] = {}

    def add(self, name: str, handler: Handler, max_bytes: int = MAX_REQUEST_BYTES,
            takes: tuple[str, ...] | None = None) -> None:
        """`takes`: the arguments the command takes (any other is refused: a misspelt or an invented
        one would otherwise be ignored without a word); None: the handler checks them itself."""
        self.handlers[name] = handler
        self.max_bytes[name] = max_bytes
        self.takes[name] = takes

    def handle(self, request: Request) -> bytes:
        tx = None
        try:
            if request.refused:
                raise CommandError(request.refused)
            tx, args = parse(request.payload, self.max_bytes.get(request.name, MAX_REQUEST_BYTES))
            handler = self.handlers.get(request.name)
            if handler is None:
                raise CommandError(f"unknown command {request.name!r}; known: "
                                   + ", ".join(sorted(self.handlers)))
            takes = self.takes.get(request.name)
            other = sorted(set(args) - set(takes)) if takes is not None else []
            if other:
                raise CommandError(f"{request.name} takes no argument {other[0][:40]!r}; it takes "
                                   + (", ".join(takes) or "none (besides transaction)"))
            return payloads.response_payload(tx, "ok", data=handler(args))
        except CommandError as exc:
            tx = tx if tx is not None else _transaction_of(request.payload)
            return payloads.response_payload(tx, "error", error=str(exc))
        except Exception as exc:  # a handler bug answers with an error, never kills the daemon
            log.exception("command %s failed", request.name)
            return payloads.response_payload(tx, "error", error=f"internal error: {type(exc).__name__}: "
                                                                f"{str(exc)[:200]}")


def require(args: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """`args[key]`, checked to be of `kind` (bools are not numbers), else `CommandError`."""
    if key not in args:
        raise CommandError(f"missing argument {key!r}")
    value = args[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise CommandError(f"argument {key!r} = {str(value)[:40]!r} has the wrong type")
    return value
