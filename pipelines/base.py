"""The pipeline protocol the daemon runs (DESIGN.md §2).

A pipeline is built from its `[[pipelines]]` entry by `build(cfg) -> Pipeline`, found as
`akida_edge.pipelines.<type>:build` (or `factory = "module:function"` for `type = "custom"`).
The daemon runs each pipeline in its own thread and iterates `run(stop_event)`, which yields

- `Detection` — something worth telling the world: goes to the disk outbox, then MQTT (QoS 1,
  never lost); its `ts_ms` is the *capture* time of the data that caused it (epoch ms);
- `Activity` — what was done since the last yield (inferences, latency, events, synaptic ops,
  *estimated* chip energy from the power model): feeds telemetry, and every yield counts as
  progress for the systemd watchdog. A pipeline should yield at least once per second, even
  when it detects nothing.

`run` returns when `stop_event` is set (drain quickly: the daemon waits a few seconds) or when a
finite source ends. Raising an exception (a sensor unplugged, `SourceError`) makes the daemon
report the pipeline `offline` on `<prefix>/<node>/<name>/status`, log the reason and call `run`
again after a backoff (doubling from `retry_min_s` to `retry_max_s`) while other pipelines go on.
Models do no I/O; a pipeline never touches MQTT.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Detection:
    """One detection.

    Parameters
    ----------
    label : what was detected (`yes`, `anomaly`, `motion`...); HA's `event_type`.
    score : the decoder's score (probability for kws, anomaly score for anomaly).
    ts_ms : capture time of the data, epoch milliseconds UTC.
    kind : `keyword` | `anomaly` | `motion` | `gesture` (built-in pipelines; a custom one may add its own).
    fields : extra flat JSON fields (`scores`, `window_ms`, `latency_ms`, `energy_uj`...), units in
        the key names.
    """

    label: str
    score: float
    ts_ms: int
    kind: str = "keyword"
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Activity:
    """Work done since the previous yield (all counts are increments, not totals).

    `chip_energy_uj` is *estimated* by the power model for those inferences, `chip_static_uj` the
    part of it that is the chip's static floor (`CHIP_STATIC_MW` over the time those inferences
    stand for): pipelines share one chip, so telemetry counts the floor once, not once per
    pipeline (a pipeline that leaves it 0 has its whole energy counted as its own); `chip_power_mw`,
    when given, is the model's current estimate. `state`, when given, is published retained on
    `<prefix>/<node>/<name>/state` (flat JSON; for anomaly pipelines e.g. `{"anomaly": "ON",
    "score": 4.2}`).
    """

    inferences: int = 0
    latency_ms: tuple[float, ...] = ()
    events: int = 0
    synops: int = 0
    chip_energy_uj: float = 0.0
    chip_static_uj: float = 0.0
    chip_power_mw: float | None = None
    state: Mapping[str, Any] | None = None
    #: while the source delivers nothing because it is not open (a camera unplugged, a stream
    #: dropped, a microphone's stream stopped: ``reconnecting`` with backoff): its `Health` as
    #: `{"state", "last_error", "reconnects"}`; the daemon then reports the pipeline offline with it
    source: Mapping[str, Any] | None = None


@runtime_checkable
class Pipeline(Protocol):
    """What the daemon needs from a pipeline."""

    name: str

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        """Read the source and yield detections and activity until `stop_event` is set."""
        ...


class Describable(Protocol):
    """Optional: `describe()` returns flat facts merged into the pipeline's entry of the retained
    `info` topic once built, e.g. `{"model": "dscnn_kws", "model_sha256": "...", "labels": [...]}`."""

    def describe(self) -> Mapping[str, Any]: ...


class CommandTarget(Protocol):
    """Optional: a pipeline that takes commands over MQTT (`request/pipeline` with
    `{"pipeline": name, "command": cmd, ...}`) implements `handle_command`. It runs in the daemon's
    command thread (not the pipeline's): guard shared state. Raise `ValueError` (or `KeyError`,
    `TypeError`) with a one-line reason to answer with an error; return JSON-able data."""

    def handle_command(self, command: str, args: dict[str, Any]) -> Any: ...


def set_threshold(pipeline: object, value: float) -> bool:
    """Change a running pipeline's threshold if it supports it (method `set_threshold`)."""
    method = getattr(pipeline, "set_threshold", None)
    if method is None:
        return False
    method(float(value))
    return True


LEARNING_COMMANDS = ("learn", "forget", "learned")


def learning_label(pipeline: str, command: str, args: dict[str, Any], learned: object | None,
                   check: Any, noun: str, learn_args: tuple[str, ...] = ("label",)) -> str | None:
    """The checks every learning pipeline's `learn` / `forget` / `learned` command starts with.

    Raises `ValueError` for an unknown command, `LearningError` when the pipeline does not learn
    (`learned` is None) and `InputDataError` for a missing or refused label (`check(label)` gives
    the reason, or None); returns None for `learned` (the caller lists), else the label. `noun`
    names the label in the message ("the word"). An argument the command does not take (`learn`:
    `learn_args`; `forget`: the label; `learned`: none) is refused (`InputDataError`): a misspelt
    option ("synthesise") would otherwise be dropped without a word.
    """
    from akida_edge.errors import InputDataError, LearningError

    if command not in LEARNING_COMMANDS:
        raise ValueError(f"unknown command {command[:64]!r}; known: {', '.join(LEARNING_COMMANDS)}")
    takes = {"learn": learn_args, "forget": ("label",), "learned": ()}[command]
    unknown = sorted(set(args) - set(takes))
    if unknown:
        raise InputDataError(f"{command} takes no argument {unknown[0][:40]!r}; it takes "
                             f"{', '.join(takes) or 'none'}")
    if learned is None:
        raise LearningError(f"pipeline {pipeline!r} does not learn (options.learned = false, or its "
                            "state dir holds another model's state)")
    if command == "learned":
        return None
    if "label" not in args:
        raise InputDataError(f"{command} needs a label ({noun})")
    label = args["label"]
    problem = check(label)
    if problem:
        raise InputDataError(f"label {str(label)[:40]!r}: {problem}")
    return label


def saved_or_restored(action: Callable[[], T], restore: Callable[[], None], what: str) -> T:
    """Run a learning `action` (learn or forget, which saves the state); when the store refuses
    (`StateError`: full disk, read-only, a path that is a file), `restore()` the last saved state in
    memory, so that what runs is what a restart would load, and raise a `StateError` (the command's
    one-line error) saying that `what` is not applied and why."""
    from akida_edge.errors import AkidaEdgeError, StateError

    try:
        return action()
    except StateError as exc:
        try:
            restore()
        except AkidaEdgeError as again:  # the saved state cannot be read back: keep what runs
            log.error("%s: the state saved before could not be loaded back (%s); the unsaved one stays "
                      "in use", what, again)
            raise StateError(f"{what} is not saved: {exc}") from None
        raise StateError(f"{what} is not applied: {exc}; the state saved before stays in use") from None
