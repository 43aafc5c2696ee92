"""Validated MQTT topics under `<prefix>/<node>/` (DESIGN.md §4, docs/mqtt.md).

A `Topic` is a publish topic: non-empty levels, no wildcards, no NUL, at most 65535 UTF-8 bytes
(MQTT 3.1.1 §4.7, MQTT 5 §4.7). A `Topics` object builds every topic one node uses, so no topic
string is assembled anywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from akida_edge.errors import ConfigError

#: One topic level built from configuration: the prefix, node ids, pipeline names (the only definition;
#: `config.py` and `dashboard/topics.py` import it).
LEVEL_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: The topic prefix when `[mqtt] prefix` is not set (`<prefix>/<node>/...`); the dashboard's default too.
DEFAULT_PREFIX = "akida"


@dataclass(frozen=True)
class Topic:
    """A publish topic (no `+`/`#`); `str(topic)` is the wire form."""

    value: str

    def __post_init__(self) -> None:
        v = self.value
        if not v or len(v.encode("utf-8")) > 65535 or "\0" in v or "+" in v or "#" in v:
            raise ValueError(f"invalid MQTT publish topic {v!r}")
        if any(level == "" for level in v.split("/")):
            raise ValueError(f"MQTT topic {v!r} has an empty level")

    def __str__(self) -> str:
        return self.value

    def level(self, i: int) -> str:
        return self.value.split("/")[i]


def check_level(value: str, what: str) -> str:
    """Check one topic level we build from configuration (`[A-Za-z0-9_-]`, 1-64 characters)."""
    if not LEVEL_RE.match(value or ""):
        raise ConfigError(f"{what} = {value!r} cannot be an MQTT topic level; use 1-64 letters, "
                          "digits, '_' or '-'")
    return value


def matches(filter_: str, topic: str) -> bool:
    """True when `topic` matches the subscription filter (`+` one level, `#` the rest; MQTT §4.7)."""
    f_levels, t_levels = filter_.split("/"), topic.split("/")
    if topic.startswith("$") and filter_[:1] in ("+", "#"):
        return False
    for i, f in enumerate(f_levels):
        if f == "#":
            return True
        if i >= len(t_levels) or (f != "+" and f != t_levels[i]):
            return False
    return len(f_levels) == len(t_levels)


@dataclass(frozen=True)
class Topics:
    """Every topic of one node: `<prefix>/<node>/...` (see docs/mqtt.md for who retains what)."""

    prefix: str
    node: str
    discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        check_level(self.prefix, "mqtt.prefix")
        check_level(self.node, "device.id")
        check_level(self.discovery_prefix, "mqtt.discovery_prefix")

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.node}"

    def _t(self, *levels: str) -> Topic:
        return Topic("/".join((self.base, *levels)))

    @property
    def status(self) -> Topic:
        """Retained `online`/`offline`; also the last will."""
        return self._t("status")

    @property
    def info(self) -> Topic:
        return self._t("info")

    @property
    def telemetry(self) -> Topic:
        return self._t("telemetry")

    def detection(self, pipeline: str) -> Topic:
        return self._t(check_level(pipeline, "pipeline name"), "detection")

    def state(self, pipeline: str) -> Topic:
        return self._t(check_level(pipeline, "pipeline name"), "state")

    def pipeline_status(self, pipeline: str) -> Topic:
        return self._t(check_level(pipeline, "pipeline name"), "status")

    def request(self, name: str) -> Topic:
        return self._t("request", check_level(name, "command name"))

    def response(self, name: str) -> Topic:
        return self._t("response", check_level(name, "command name"))

    @property
    def request_filter(self) -> str:
        return f"{self.base}/request/+"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    @property
    def discovery(self) -> Topic:
        return Topic(f"{self.discovery_prefix}/device/{self.prefix}_{self.node}/config")

    def command_name(self, topic: str) -> str | None:
        """The `<name>` of `<base>/request/<name>`, or None for any other topic."""
        head = f"{self.base}/request/"
        if topic.startswith(head) and "/" not in topic[len(head):]:
            return topic[len(head):]
        return None
