"""A source whose chunk stamps follow a wall clock that steps forward once (NTP's first sync on a
box without a real-time clock), for the tests of detection times across such a step."""

from __future__ import annotations

import dataclasses


class SteppingClock:
    """Wraps a source: every chunk stamped at or after `step_at_us` is stamped `step_us` later."""

    def __init__(self, source, step_at_us: int, step_us: int) -> None:
        self.source, self.step_at_us, self.step_us = source, step_at_us, step_us

    def __getattr__(self, name):
        return getattr(self.source, name)

    def open(self):
        self.source.open()
        return self

    def read(self, timeout_s=None):
        chunk = self.source.read(timeout_s)
        if chunk is not None and chunk.t_us >= self.step_at_us:
            chunk = dataclasses.replace(chunk, t_us=chunk.t_us + self.step_us)
        return chunk


def stepping(module, monkeypatch, step_at_us: int, step_us: int) -> None:
    """Make `module.make_source` open its sources behind a `SteppingClock`."""
    from akida_edge.drivers import make_source

    monkeypatch.setattr(module, "make_source",
                        lambda kind, **o: SteppingClock(make_source(kind, **o), step_at_us, step_us))
