"""`anomaly watch`: score a live vibration source window by window, with anomaly episodes.

Sources: the synthetic machine (`drivers.synthetic_machine`, normal running, then optionally a
fault injected after `--fault-after-s`), a replayed recording (`drivers.vibration`, paced in real
time with `--realtime`) or a serial accelerometer. Blocks are resampled to the analysis rate
in a stream (`frontends.resample`) and cut into windows by the streaming front-end
(`frontends.vibration.vibration_step`), so the scores equal those of `anomaly score` on the
same samples. With `--learn-s S` the first S seconds are learned as normal (and saved) first.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from akida_edge.apps.anomaly import features
from akida_edge.apps.anomaly.episodes import EpisodeTracker
from akida_edge.errors import SourceError


def _sources(args: argparse.Namespace) -> list[Any]:
    if args.source == "synthetic":
        from akida_edge.drivers.synthetic_machine import MachineConfig, SyntheticMachineSource

        normal_s = max(args.learn_s, 0.0) + args.fault_after_s
        total = args.duration_s
        try:
            fault = MachineConfig(fault=args.fault, severity=args.severity, seed=1)
        except ValueError as exc:
            raise SourceError(f"--fault/--severity: {exc}") from None
        if args.fault == "none":
            return [SyntheticMachineSource(MachineConfig(), duration_s=total, realtime=args.realtime)]
        rest = None if total is None else max(total - normal_s, 0.0)
        return [SyntheticMachineSource(MachineConfig(), duration_s=normal_s, realtime=args.realtime),
                SyntheticMachineSource(fault, duration_s=rest, realtime=args.realtime)]
    if args.source == "file":
        from akida_edge.drivers.vibration import VibrationFileConfig, VibrationFileSource

        if not args.file:
            raise SourceError("--source file needs --file RECORDING.wav|.csv")
        return [VibrationFileSource(VibrationFileConfig(path=args.file, realtime=args.realtime,
                                                        rate_hz=args.rate_hz))]
    from akida_edge.drivers.vibration import SerialConfig, SerialVibrationSource

    if not args.port or not args.rate_hz:
        raise SourceError("--source serial needs --port DEVICE and --rate-hz RATE")
    try:
        serial = SerialConfig(port=args.port, rate_hz=args.rate_hz, axes=args.axes)
    except ValueError as exc:  # `axes = 0 is out of range...`: the option's name is the field's
        raise SourceError(f"--source serial: {_option(exc)}") from None
    return [SerialVibrationSource(serial)]


def _option(exc: ValueError) -> str:
    """A driver config's `axes = 0 is out of range; ...` as the option's `--axes 0 is out of range; ...`
    (each option is named after the field it sets)."""
    field, _, rest = str(exc).partition(" = ")
    return f"--{field.replace('_', '-')} {rest}" if rest else str(exc)


def feature_stream(sources: list[Any], duration_s: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(window start s, feature values (1, axes, F)) of each window the sources complete, in order."""
    stream = features.WindowStream()
    n_done = 0
    for source in sources:
        source.open()
        try:
            for chunk in source:
                for v in stream.push(chunk.data, chunk.rate_hz):
                    start_s = n_done * features.PARAMS.hop_s
                    if duration_s is not None and start_s + features.PARAMS.window_s > duration_s:
                        return
                    n_done += 1
                    yield start_s, v[None]
        finally:
            source.close()


def watch(det: Any, args: argparse.Namespace, store: Any) -> int:
    """Run the watch loop (see the module docstring); returns the exit status."""
    stream = feature_stream(_sources(args), args.duration_s)
    win = features.PARAMS.window_s

    def emit(obj: dict[str, Any], text: str) -> None:
        print(json.dumps(obj) if args.json else text, flush=True)

    if args.learn_s > 0:
        # learning is silent for learn_s seconds of a live or paced source: say so first (stderr,
        # so that --json output stays one object per line)
        pace = "in real time" if args.realtime or args.source == "serial" else "as fast as it is read"
        print(f"anomaly watch: learning normal from the first {args.learn_s:g} s of the {args.source} "
              f"source ({pace}), then scoring", file=sys.stderr, flush=True)
        learn, learned_s = [], 0.0
        for start_s, v in stream:
            learn.append(v)
            learned_s = start_s + win
            if learned_s >= args.learn_s:
                break
        if not learn:
            raise SourceError("the source ended before anything could be learned")
        if learned_s < args.learn_s:  # a normal learned from less than asked would replace the saved one
            raise SourceError(f"the {args.source} source ended after {learned_s:g} s of the "
                              f"{args.learn_s:g} s to learn; the saved normal is kept (give a longer "
                              "recording or a smaller --learn-s)")
        report = det.fit(np.concatenate(learn))
        path = det.save(store, extra={"files": [f"watch:{args.source}"]})
        emit({"event": "learned", **report.as_dict(), "state": str(path)},
             f"learned normal from {report.windows} windows: threshold {report.threshold:.3f}; "
             f"saved to {path}")
    tracker = EpisodeTracker()
    for start_s, v in stream:
        score = float(det.score(v)[0])
        flag = bool(det.is_anomaly(np.array([score]))[0])
        emit({"event": "window", "t_s": round(start_s, 3), "anomaly_score": round(score, 4),
              "is_anomaly": flag},
             f"t={start_s:8.2f} s  score {score:.3f}{'  *' if flag else ''}")
        for kind, ep in tracker.step(start_s, start_s + win, score, flag):
            emit({"event": f"episode_{kind}", **ep.as_dict()},
                 f"episode {kind}: {ep.start_s:.2f} s" + (f" - {ep.end_s:.2f} s, peak {ep.peak_score:.3f}"
                                                         if kind == "end" else ""))
    if tracker.current is not None:
        ep = tracker.close()
        emit({"event": "episode_end", **ep.as_dict()},
             f"episode end (stream ended): {ep.start_s:.2f} s - {ep.end_s:.2f} s, peak {ep.peak_score:.3f}")
    return 0
