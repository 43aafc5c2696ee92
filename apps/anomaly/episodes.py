"""Anomaly episodes from per-window flags: hysteresis (debounce) in both directions.

An episode *starts* at the first of `on_windows` consecutive anomalous windows and *ends* after
`off_windows` consecutive normal windows (its end time is the end of its last anomalous window).
So a single anomalous window among normal ones (a knock, a glitch) opens nothing, and one normal
window inside a fault does not split the episode. `EpisodeTracker` is the streaming form (`step`
per window, for `anomaly watch`); `episodes` runs it over a whole recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Episode:
    """One anomaly episode: times in seconds from the start of the stream, `end_s` None while open."""

    start_s: float
    end_s: float | None = None
    peak_score: float = 0.0
    windows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 3),
                "end_s": None if self.end_s is None else round(self.end_s, 3),
                "peak_score": round(self.peak_score, 4), "windows": self.windows}


@dataclass
class EpisodeTracker:
    """Streaming hysteresis over window flags (see the module docstring)."""

    on_windows: int = 2
    off_windows: int = 4
    current: Episode | None = None
    _run_on: list[tuple[float, float]] = field(default_factory=list)  # (start_s, score) of the pending run
    _run_off: int = 0
    _last_end_s: float = 0.0

    def __post_init__(self) -> None:
        if self.on_windows < 1 or self.off_windows < 1:
            raise ValueError(f"on_windows and off_windows must be >= 1, got {self.on_windows}, "
                             f"{self.off_windows}")

    def step(self, start_s: float, end_s: float, score: float, anomalous: bool) -> list[tuple[str, Episode]]:
        """Feed one window; returns the events it causes: ("start", episode) and/or ("end", episode)."""
        events: list[tuple[str, Episode]] = []
        if self.current is None:
            if not anomalous:
                self._run_on.clear()
                return events
            self._run_on.append((start_s, score))
            if len(self._run_on) >= self.on_windows:
                self.current = Episode(start_s=self._run_on[0][0],
                                       peak_score=max(s for _, s in self._run_on),
                                       windows=len(self._run_on))
                self._last_end_s = end_s
                self._run_on.clear()
                self._run_off = 0
                events.append(("start", self.current))
            return events
        if anomalous:
            self._run_off = 0
            self.current.windows += 1
            self.current.peak_score = max(self.current.peak_score, score)
            self._last_end_s = end_s
            return events
        self._run_off += 1
        if self._run_off >= self.off_windows:
            events.append(("end", self.close()))
        return events

    def close(self) -> Episode:
        """End the open episode at its last anomalous window and return it."""
        ep = self.current
        assert ep is not None
        ep.end_s = self._last_end_s
        self.current = None
        self._run_off = 0
        return ep


def episodes(starts_s: list[float] | Any, window_s: float, scores: Any, flags: Any,
             on_windows: int = 2, off_windows: int = 4) -> list[Episode]:
    """All episodes of a recording; an episode still open at the end gets `end_s` = its last
    anomalous window's end."""
    tracker = EpisodeTracker(on_windows, off_windows)
    done: list[Episode] = []
    for t, s, f in zip(starts_s, scores, flags, strict=True):
        for kind, ep in tracker.step(float(t), float(t) + window_s, float(s), bool(f)):
            if kind == "end":
                done.append(ep)
    if tracker.current is not None:
        done.append(tracker.close())
    return done
