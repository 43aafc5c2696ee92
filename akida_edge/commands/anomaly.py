"""`akida-edge anomaly fit|score|watch`: learn a machine's normal on the device, then score vibration.

* ``fit FILE... [--state DIR]`` — learn normal from recordings (WAV, rate from the header, or CSV
  with a header row; `drivers/vibration.py`), in the order given; saved atomically through
  `akida_edge.state` (``anomaly.learned``). A fit replaces the previous normal (kept as ``.bak``).
* ``score FILE... [--json] [--state DIR]`` — per file ``file``, ``anomaly_score`` (the median
  window score), ``max_score``, ``is_anomaly`` (an anomaly episode occurred), ``threshold``,
  ``windows``, ``anomalous_windows`` and ``episodes`` (start/end in s from the file's start).
* ``watch [--source synthetic|file|serial]`` — a live source window by window: scores and
  episode start/end lines; ``--learn-s S`` learns normal from the first S seconds first.

A file that cannot be read, or is shorter than one feature window (nothing to learn or score),
gives one line on stderr (``{"file", "error"}`` with --json); the other files are still processed
and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from akida_edge import state as S
from akida_edge.commands._args import STATE_HELP
from akida_edge.commands._files import FILE_ERRORS, PerFile
from akida_edge.errors import AkidaEdgeError, SourceError, StateError

RATE_HELP = ("sample rate of CSV files without a time column (t, time_s, t_ms...); WAV files and "
             "CSVs with one give their own (a rate that disagrees with the column is refused)")
FIT_FIRST = "no learned normal in {dir}; run `akida-edge anomaly fit FILE...` first"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("anomaly", help="learn a machine's normal vibration and detect anomalies")
    sub = p.add_subparsers(dest="anomaly_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state", metavar="DIR", help=STATE_HELP)
    common.add_argument("--backbone", metavar="FILE", help="backbone model file (default: the shipped one)")
    fit = sub.add_parser("fit", parents=[common], help="learn normal running from vibration recordings")
    fit.add_argument("files", nargs="+", metavar="FILE", help="WAV or CSV recordings of normal running")
    fit.add_argument("--neurons", type=_neurons, default=32, help="learning-layer neurons (default 32)")
    fit.add_argument("--json", action="store_true", help="print the fit report as JSON")
    fit.add_argument("--rate-hz", type=_rate, metavar="HZ", help=RATE_HELP)
    fit.set_defaults(func=_fit)
    score = sub.add_parser("score", parents=[common], help="anomaly scores of vibration recordings")
    score.add_argument("files", nargs="+", metavar="FILE", help="WAV or CSV recordings")
    score.add_argument("--json", action="store_true", help="one JSON object per file")
    score.add_argument("--rate-hz", type=_rate, metavar="HZ", help=RATE_HELP)
    score.set_defaults(func=_score)
    watch = sub.add_parser("watch", parents=[common], help="score a live vibration source")
    watch.add_argument("--source", choices=("synthetic", "file", "serial"), default="synthetic")
    watch.add_argument("--file", help="recording for --source file")
    watch.add_argument("--port", help="serial port for --source serial")
    watch.add_argument("--rate-hz", type=_rate, metavar="HZ", help="sample rate for --source serial, and "
                       "for a --source file CSV without a time column")
    watch.add_argument("--axes", type=int, default=1, help="axes for --source serial (default 1)")
    watch.add_argument("--fault", default="none", help="synthetic: fault to inject (outer, inner, ball, "
                       "imbalance, misalignment)")
    watch.add_argument("--severity", type=float, default=0.3, help="synthetic: fault severity 0..1")
    watch.add_argument("--fault-after-s", type=float, default=0.0, help="synthetic: fault starts after "
                       "this many seconds of watching")
    watch.add_argument("--learn-s", type=float, default=0.0, help="learn normal from the first S seconds "
                       "of the source before watching (and save it)")
    watch.add_argument("--duration-s", type=float, help="stop after this many seconds")
    watch.add_argument("--realtime", action="store_true", help="pace the synthetic machine or a replayed "
                       "file in real time, as a live sensor (default: as fast as it is computed or read)")
    watch.add_argument("--json", action="store_true", help="one JSON object per window and event")
    watch.set_defaults(func=_watch)


def _neurons(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of neurons; give a whole number >= 1 "
                                         "(default 32)")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 1 <= value <= 1e6:
        raise argparse.ArgumentTypeError(f"{text!r} is not a sample rate; give a number of Hz in 1..1e6")
    return value


def _detector(args: argparse.Namespace, neurons: int | None = None) -> Any:
    from akida_edge.apps.anomaly.detector import AnomalyDetector, FitParams

    params = FitParams() if neurons is None else FitParams(neurons=neurons)
    return AnomalyDetector(args.backbone, params)


def _load_files(files: list[str], as_json: bool,
                rate_hz: float | None = None) -> tuple[list[tuple[str, np.ndarray]], PerFile]:
    """The recordings' feature windows (`rate_hz`: of CSVs without a time column); the `PerFile`
    that counted (and reported) the bad ones (a malformed CSV raises `ValueError`)."""
    from akida_edge.apps.anomaly import features

    per_file = PerFile(as_json, FILE_ERRORS + (ValueError,))
    loaded = per_file.results(files, lambda f: features.load_windows(f, rate_hz))
    return [(f, v) for f, (v, _) in loaded], per_file


def _too_short(path: str) -> SourceError:
    """A recording without one whole feature window: nothing in it can be learned or scored."""
    from akida_edge.apps.anomaly import features

    return SourceError(f"{path} is shorter than one {features.PARAMS.window_s:g} s window; give a "
                       "recording of at least that long")


def _fit(args: argparse.Namespace) -> int:
    from akida_edge.apps.anomaly import features

    det = _detector(args, args.neurons)
    loaded, files = _load_files(args.files, args.json, args.rate_hz)
    usable = []
    for f, v in loaded:
        if usable and v.shape[1] != usable[0][1].shape[1]:
            files.fail(f, SourceError(f"{f} has {v.shape[1]} axes but {usable[0][0]} has "
                                      f"{usable[0][1].shape[1]}; fit on recordings of one sensor"))
            continue
        if len(v) == 0:
            files.fail(f, _too_short(f))
            continue
        usable.append((f, v))
    if not usable:
        raise SourceError("no usable recording to learn normal from; give WAV or CSV files of normal running")
    values = np.concatenate([v for _, v in usable])
    report = det.fit(values)
    store = S.StateStore(args.state)
    path = det.save(store, extra={"files": [Path(f).name for f, _ in usable]})
    seconds = (report.windows - 1) * features.PARAMS.hop_s + features.PARAMS.window_s
    if args.json:
        print(json.dumps({**report.as_dict(), "seconds": seconds, "state": str(path)}))
    else:
        print(f"learned normal from {report.windows} windows (~{seconds:.0f} s) of {len(usable)} file(s): "
              f"{report.neurons_used} neurons, num_weights {report.num_weights}, threshold "
              f"{report.threshold:.3f}; saved to {path}")
    return files.exit_code


def _loaded(args: argparse.Namespace) -> Any:
    det = _detector(args)
    store = S.StateStore(args.state)
    if not det.load(store):
        raise StateError(FIT_FIRST.format(dir=store.directory))
    return det


def score_values(det: Any, values: np.ndarray) -> dict[str, Any]:
    """The per-recording result of feature values (windows, axes, F)."""
    from akida_edge.apps.anomaly import features
    from akida_edge.apps.anomaly.episodes import episodes

    scores = det.score(values)
    flags = det.is_anomaly(scores)
    starts = np.arange(len(scores)) * features.PARAMS.hop_s
    eps = episodes(starts, features.PARAMS.window_s, scores, flags)
    return {"anomaly_score": round(float(np.median(scores)), 4) if len(scores) else None,
            "max_score": round(float(scores.max()), 4) if len(scores) else None,
            "is_anomaly": bool(eps), "threshold": round(float(det.threshold), 4),
            "windows": int(len(scores)), "anomalous_windows": int(flags.sum()),
            "episodes": [e.as_dict() for e in eps]}


def _score(args: argparse.Namespace) -> int:
    det = _loaded(args)
    loaded, files = _load_files(args.files, args.json, args.rate_hz)
    for f, values in loaded:
        if len(values) == 0:  # else "normal" with no score: a verdict on nothing
            files.fail(f, _too_short(f))
            continue
        try:
            row = {"file": f, **score_values(det, values)}
        except AkidaEdgeError as exc:
            files.fail(f, exc)
            continue
        if args.json:
            print(json.dumps(row))
        else:
            verdict = "ANOMALY" if row["is_anomaly"] else "normal"
            eps = ", ".join(f"{e['start_s']:.2f}-{e['end_s']:.2f} s" for e in row["episodes"])
            print(f"{f}: {verdict} score {row['anomaly_score']:.3f} (max {row['max_score']}, threshold "
                  f"{row['threshold']:.3f}, {row['windows']} windows)" + (f" episodes {eps}" if eps else ""))
    return files.exit_code


def _check_watch(args: argparse.Namespace) -> None:
    """One line naming a `watch` option whose value cannot work (before anything is opened)."""
    import math

    from akida_edge.apps.anomaly import features
    from akida_edge.apps.anomaly.detector import AnomalyDetector
    from akida_edge.errors import ConfigError

    p = features.PARAMS
    least_s = (AnomalyDetector.MIN_WINDOWS - 1) * p.hop_s + p.window_s  # the windows a fit needs
    if not (args.learn_s == 0 or least_s <= args.learn_s <= 86400):
        raise ConfigError(f"--learn-s {args.learn_s:g}: give 0 (use the saved normal) or {least_s:g}..86400 "
                          f"s (learning needs {AnomalyDetector.MIN_WINDOWS} windows)")
    if not (math.isfinite(args.fault_after_s) and args.fault_after_s >= 0):
        raise ConfigError(f"--fault-after-s {args.fault_after_s:g}: give seconds >= 0")
    if args.duration_s is not None:
        if not 0 < args.duration_s < math.inf:
            raise ConfigError(f"--duration-s {args.duration_s:g}: give seconds > 0 (or leave it out: until "
                              "Ctrl-C)")
        if args.duration_s <= args.learn_s:
            raise ConfigError(f"--duration-s {args.duration_s:g} ends before --learn-s {args.learn_s:g} is "
                              "learned (the duration includes the learning); give a longer duration")


def _watch(args: argparse.Namespace) -> int:
    from akida_edge.apps.anomaly.watch import watch

    _check_watch(args)
    det = _detector(args)
    store = S.StateStore(args.state)
    if args.learn_s <= 0 and not det.load(store):
        raise StateError(FIT_FIRST.format(dir=store.directory) + " (or pass --learn-s SECONDS)")
    return watch(det, args, store)
