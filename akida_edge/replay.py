"""What a device learned from, kept with its learned state so that a newer model can learn it again.

A learned state is tied to the backbone it was learned on (`akida_edge.state`): the binary weights
of a learning layer mean nothing on another backbone's features, so a model upgrade would leave a
device's learned classes unused until someone taught them again — and what was taught over MQTT
could not be taught again at all. An app therefore keeps, beside the weights, a `ReplayLog`: the
inputs of every `learn` call, in order, as the app cut them *before* anything the model decides
(KWS: log-mel frames before the input normalization; vision: the event windows' tensors). When the
store holds only a state of another model, the app replays the calls on the current model (the
same result as teaching it the same inputs in the same order) and saves it as the current state;
the store keeps the old one for the old model.

Layout in a state entry, under an app-chosen prefix ``P`` (the entry's own ``arrays``/``extra``):

- ``arrays[P + "data"]`` (total, …): the items one after another along axis 0 (one dtype);
- ``arrays[P + "length"]`` int32 (n,): each item's length along axis 0;
- ``arrays[P + "mark"]`` int32 (n,): an integer the app keeps per item (KWS: where the loudest
  second starts in the item's frames);
- ``arrays[P + "call"]`` int32 (n,): the learn call each item came with (0, 1, …);
- ``extra[P + "labels"]``: the label of each learn call; ``extra[P + "source"]``: what the items
  depend on (the app's front-end settings: another front-end refuses them with the reason);
  ``extra[P + "dropped"]``: per label, how many of its oldest items went over the cap.

A label keeps at most `per_label` items (a daemon learning from every confirmed detection would
otherwise grow its state without bound): the oldest go first, logged and counted. Forgetting a
label drops its items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PREFIX = "clips/"  # the apps' prefix (`akida-edge state list` counts the clips kept under it)

Item = tuple[np.ndarray, int]  # the inputs of one clip, and the app's integer for it


@dataclass
class ReplayLog:
    """The learn calls of one learned state, replayable in order (module docstring)."""

    source: str
    per_label: int
    items: list[Item] = field(default_factory=list)
    call: list[int] = field(default_factory=list)
    call_labels: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    #: labels also learned from clips that were not kept (before akida-edge kept them)
    unkept: list[str] = field(default_factory=list)

    @classmethod
    def from_state(cls, prefix: str, extra: dict[str, Any], arrays: dict[str, np.ndarray],
                   per_label: int, valid: Callable[[Item], bool] | None = None) -> ReplayLog:
        """The log stored in a state (empty, with no source, for a state written before logs were
        kept); raises `ValueError` when the stored arrays disagree or an item is not `valid`."""
        if prefix + "data" not in arrays:
            return cls(source="", per_label=per_label)
        try:
            length, mark, call = (np.asarray(arrays[prefix + k], np.int64)
                                  for k in ("length", "mark", "call"))
        except KeyError as exc:
            raise ValueError(f"its kept learning inputs lack the array {exc}") from None
        labels = [str(w) for w in extra.get(prefix + "labels", [])]
        data = np.asarray(arrays[prefix + "data"])
        bad_call = len(call) > 0 and (call.min() < 0 or call.max() >= len(labels))
        if not (len(length) == len(mark) == len(call)) or (length < 1).any() \
                or int(length.sum()) != len(data) or bad_call:
            raise ValueError("its kept learning inputs are inconsistent (lengths, learn calls and labels "
                             "disagree)")
        bounds = np.concatenate([[0], np.cumsum(length)])
        items = [(data[a:b], int(m)) for a, b, m in zip(bounds[:-1], bounds[1:], mark, strict=True)]
        if valid is not None and not all(valid(item) for item in items):
            raise ValueError("its kept learning inputs do not have the shape this app cuts")
        return cls(source=str(extra.get(prefix + "source", "")), per_label=per_label,
                   items=items, call=[int(c) for c in call],
                   call_labels=labels,
                   dropped={str(k): int(v) for k, v in dict(extra.get(prefix + "dropped", {})).items()},
                   unkept=[str(w) for w in extra.get(prefix + "unkept", [])])

    def to_state(self, prefix: str, empty: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(extra, arrays) to store with the learned state; `empty` is a zero-length array of the
        items' dtype and trailing shape (stored when there are none)."""
        extra = {prefix + "labels": list(self.call_labels), prefix + "source": self.source,
                 prefix + "dropped": dict(self.dropped), prefix + "unkept": list(self.unkept)}
        arrays = {prefix + "data": np.concatenate([x for x, _ in self.items]) if self.items else empty,
                  prefix + "length": np.array([len(x) for x, _ in self.items], np.int32),
                  prefix + "mark": np.array([m for _, m in self.items], np.int32),
                  prefix + "call": np.array(self.call, np.int32)}
        return extra, arrays

    def count(self, label: str) -> int:
        return sum(1 for c in self.call if self.call_labels[c] == label)

    def add(self, label: str, items: list[Item]) -> None:
        """Keep one learn call's items; over `per_label`, the label's oldest items go (logged)."""
        self.call_labels.append(label)
        self.items += [(np.asarray(x), int(m)) for x, m in items]
        self.call += [len(self.call_labels) - 1] * len(items)
        over = self.count(label) - self.per_label
        if over > 0:
            drop = [i for i, c in enumerate(self.call) if self.call_labels[c] == label][:over]
            self._remove(set(drop))
            self.dropped[label] = self.dropped.get(label, 0) + over
            log.warning("'%s': %d clips are kept to learn it again on a newer model; its %d oldest were "
                        "dropped (%d in all)", label, self.per_label, over, self.dropped[label])

    def forget(self, label: str) -> None:
        self._remove({i for i, c in enumerate(self.call) if self.call_labels[c] == label})
        self.dropped.pop(label, None)
        self.unkept = [w for w in self.unkept if w != label]

    def _remove(self, gone: set[int]) -> None:
        keep = [i for i in range(len(self.items)) if i not in gone]
        used = sorted({self.call[i] for i in keep})
        renumber = {old: new for new, old in enumerate(used)}
        self.items = [self.items[i] for i in keep]
        self.call = [renumber[self.call[i]] for i in keep]
        self.call_labels = [self.call_labels[c] for c in used]

    def calls(self) -> list[tuple[str, list[Item]]]:
        """The learn calls in the order they were made: (label, its items)."""
        out: list[tuple[str, list[Item]]] = [(w, []) for w in self.call_labels]
        for item, c in zip(self.items, self.call, strict=True):
            out[c][1].append(item)
        return [(w, items) for w, items in out if items]

    def why_not_replayable(self, source: str) -> str | None:
        """Why these items cannot be learned again by an app whose inputs depend on `source`
        (None when they can)."""
        if not self.items:
            return "it keeps no clips to learn again from (learned before akida-edge kept them)"
        if self.source != source:
            return (f"its kept clips were made with other input settings ({self.source}), not this "
                    f"version's ({source})")
        return None


def log_of_another_model(store: Any, name: str, model: Any, problem: Exception, prefix: str,
                         per_label: int, source: str, valid: Callable[[Item], bool] | None = None,
                         check: Callable[[dict], None] | None = None) -> tuple[Any, ReplayLog]:
    """(entry, its replay log): the current state `name` in `store`, learned on another backbone
    than the learning model `model`'s, that can be replayed here. Raises `problem` when there is no
    such state, whatever `check(entry.extra)` raises (the app's layout check), and
    `IncompatibleStateError` (`problem` with the reason) when it cannot be replayed."""
    from akida_edge.engine.learning_state import backbone_hash
    from akida_edge.state import IncompatibleStateError

    other = store.load(name)
    if other is None or other.model_hash == backbone_hash(model):
        raise problem
    if check is not None:
        check(other.extra)
    try:
        kept = ReplayLog.from_state(prefix, other.extra, other.arrays, per_label, valid)
    except ValueError as exc:
        raise IncompatibleStateError(f"{problem}; {exc}") from None
    why = kept.why_not_replayable(source)
    if why is not None:
        raise IncompatibleStateError(f"{problem}; {why}") from None
    return other, kept


def save_relearned(store: Any, name: str, other: Any, kept: ReplayLog, before: list[str],
                   save: Callable[[], Any]) -> None:
    """`save()` the state learned again from `other`'s log `kept`, and say so: what was learned
    again, and which of the labels it held (`before`) were not, or only in part (a directory that
    cannot be written leaves the state learned again in memory, logged)."""
    from akida_edge.errors import StateError

    again = sorted({w for w, _ in kept.calls()}, key=[w for w, _ in kept.calls()].index)
    note = (f"learned state {store.path(name)} was learned on another model ({other.model_hash[:12]}...); "
            f"learned {', '.join(again)} again on this model from their {len(kept.items)} kept clips")
    missing = [w for w in before if w and w not in again]
    if missing:
        note += (f"; NOT {', '.join(missing)}: no clip of them was kept (learned before akida-edge kept "
                 "them), teach them again")
    partial = [w for w in kept.unkept if w in again]
    if partial:
        note += f"; {', '.join(partial)} only from the clips kept since akida-edge kept them"
    try:
        save()
    except (OSError, StateError) as exc:
        log.warning("%s, but could not save them (%s): they are learned again at every start until "
                    "the state directory can be written", note, exc)
        return
    log.warning("%s; the old state is kept as %s", note, store.kept_path(name, other.model_hash).name)
