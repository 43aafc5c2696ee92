"""Parse daemon topics `<prefix>/<node>/...` into what the dashboard needs (reference §9).

The daemon publishes (retained marked R):

====================================  ===========  ==========================================
topic                                 kind         payload
====================================  ===========  ==========================================
`<prefix>/<node>/status`              `status`     R `online` / `offline` (last will)
`<prefix>/<node>/info`                `info`       R JSON `akida_edge.info/1`
`<prefix>/<node>/telemetry`           `telemetry`  flat JSON `akida_edge.telemetry/1`
`<prefix>/<node>/<pipe>/detection`    `detection`  JSON `akida_edge.detection/1`
`<prefix>/<node>/<pipe>/state`        `state`      R flat JSON (`score`, `anomaly`...)
`<prefix>/<node>/<pipe>/status`       `pipeline`   R `online` / `offline` / `disabled`
====================================  ===========  ==========================================

Command traffic (`request/<name>`, `response/<name>`) and anything else is ignored. This module
is the single place to change if the daemon's layout moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from akida_edge.mqtt.topics import LEVEL_RE as _LEVEL_RE

_NODE_LEAVES = {"status": "status", "info": "info", "telemetry": "telemetry"}
_PIPELINE_LEAVES = {"detection": "detection", "state": "state", "status": "pipeline"}
_COMMAND_LEVELS = {"request", "response"}


@dataclass(frozen=True)
class ParsedTopic:
    """What one topic is about: `kind` is one of `status info telemetry detection state pipeline`."""

    node: str
    kind: str
    pipeline: str | None = None


def is_level(value: str) -> bool:
    """True when `value` is a valid prefix, node or pipeline level (1-64 of `[A-Za-z0-9_-]`)."""
    return bool(_LEVEL_RE.match(value))


def subscription(prefix: str) -> str:
    """The one filter the dashboard subscribes to."""
    return f"{prefix}/#"


def parse(prefix: str, topic: str) -> ParsedTopic | None:
    """Classify `topic`, or None when the dashboard has no use for it.

    Parameters
    ----------
    prefix : the configured topic prefix (one level, e.g. `akida`).
    topic : the topic of a received message.
    """
    levels = topic.split("/")
    if len(levels) < 3 or levels[0] != prefix or not _LEVEL_RE.match(levels[1]):
        return None
    node = levels[1]
    if len(levels) == 3:
        kind = _NODE_LEAVES.get(levels[2])
        return ParsedTopic(node, kind) if kind else None
    if len(levels) == 4 and levels[2] not in _COMMAND_LEVELS and _LEVEL_RE.match(levels[2]):
        kind = _PIPELINE_LEAVES.get(levels[3])
        return ParsedTopic(node, kind, levels[2]) if kind else None
    return None
