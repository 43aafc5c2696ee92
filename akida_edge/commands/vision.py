"""`akida-edge vision classify|watch|learn|forget|learned`: gestures with the shipped model (`apps/vision`).

classify: the gestures of video files or Prophesee EVT 2.0/3.0 ``.raw`` recordings with their
times (text, or one JSON object per gesture with `--json`); a bad file (missing, not a video,
truncated) gives one line naming it on stderr (and an `error` object with `--json`), the others
are still processed, and the exit code is 1. watch: the same on a live camera (`apps/vision/watch.py`).
learn / forget / learned: gestures taught on this device (`apps/vision/learn.py`), kept in the
per-device state.
"""

from __future__ import annotations

import argparse
import json
import sys

from akida_edge.commands._args import STATE_HELP
from akida_edge.commands._files import PerFile
from akida_edge.errors import AkidaEdgeError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("vision", help="event-based gestures: classify recordings, watch a camera, "
                              "learn")
    sub = p.add_subparsers(dest="vision_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", metavar="FILE", help="a gesture model made by akida_edge.apps.vision "
                        "(default: the shipped apps/vision/model/gestures.aem)")
    common.add_argument("--state", metavar="DIR", help=STATE_HELP)
    c = sub.add_parser("classify", parents=[common], help="gestures and their times in video or EVT files")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--json", action="store_true", help="one JSON object per gesture")
    _threshold_option(c)
    c.set_defaults(func=_classify)
    w = sub.add_parser("watch", parents=[common], help="gestures on a live camera (Ctrl-C stops)")
    w.add_argument("--camera", default="0", metavar="INDEX|URL", help="camera index, stream URL or video "
                   "file (default 0)")
    w.add_argument("--preview", action="store_true", help="a window with the event view and the last gesture")
    w.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    w.add_argument("--json", action="store_true", help="one JSON object per gesture")
    _threshold_option(w)
    w.set_defaults(func=_watch)
    lr = sub.add_parser("learn", parents=[common], help="learn a new gesture (or object) from a few clips")
    lr.add_argument("--label", required=True, metavar="NAME", help="what the clips show")
    lr.add_argument("files", nargs="+", metavar="FILE")
    lr.set_defaults(func=_learn)
    fg = sub.add_parser("forget", parents=[common], help="forget a learned gesture")
    fg.add_argument("name", metavar="NAME")
    fg.set_defaults(func=_forget)
    ld = sub.add_parser("learned", parents=[common], help="list the learned gestures")
    ld.add_argument("--json", action="store_true", help="one JSON object")
    ld.set_defaults(func=_learned)


def _threshold_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=None,
                   help="minimum smoothed score of a gesture (default: the app's)")


def _params(args: argparse.Namespace, recognizer):
    from akida_edge.errors import ConfigError

    if args.threshold is None:
        return recognizer.segment_params()
    if not 0 < args.threshold <= 1:
        raise ConfigError(f"--threshold {args.threshold}: must be a score in (0, 1]")
    return recognizer.segment_params(threshold=args.threshold)


def gesture_line(where: str, g, as_json: bool) -> str:
    """One output line for a gesture: text, or a JSON object with `file`."""
    if as_json:
        return json.dumps({"file": where, **g.as_dict()})
    return (f"{where}: {g.t_start_ms / 1000:8.2f}-{g.t_end_ms / 1000:.2f} s  {g.label:<12} "
            f"({g.score:.2f})")


def _classify(args: argparse.Namespace) -> int:
    from akida_edge.apps.vision.app import Recognizer

    recognizer = Recognizer(args.model, args.state)
    params = _params(args, recognizer)
    files = PerFile(args.json)
    for path, gestures in files.results(args.files, lambda path: recognizer.classify_file(path, params)):
        for g in gestures:
            print(gesture_line(path, g, args.json), flush=True)
        if not gestures and not args.json:
            print(f"{path}: no gesture", flush=True)
    return files.exit_code


def _watch(args: argparse.Namespace) -> int:
    from akida_edge.apps.vision.watch import watch

    return watch(args)


def _learn(args: argparse.Namespace) -> int:
    from akida_edge.apps.vision.app import Recognizer, load_events
    from akida_edge.apps.vision.learn import check_name
    from akida_edge.errors import ConfigError, InputDataError

    recognizer = Recognizer(args.model, args.state)
    problem = check_name(args.label, recognizer.base_classes)
    if problem:
        raise ConfigError(f"--label {args.label!r}: {problem}")
    try:  # another model's state that cannot be learned again here: teach this model anew (kept)
        recognizer.learn_afresh()
    except AkidaEdgeError:
        pass
    if recognizer.learned is None:
        raise _incompatible("learn")

    def load(path: str):
        events, shape = load_events(path)
        if events.size == 0:
            raise InputDataError(f"{path} holds no events (nothing moves); record the gesture")
        return events, shape

    files = PerFile()
    clips = [clip for _, clip in files.results(args.files, load)]
    if not clips:
        raise InputDataError(f"no usable clip to learn '{args.label}' from; give video or EVT files of it")
    if recognizer.learned.model.learning is None and recognizer.learned.use_base:
        # the first gesture of a device also learns prototypes of the base gestures (seconds of CPU)
        print("first gesture on this device: rendering the base gestures to learn beside it "
              "(a few seconds, once)...", file=sys.stderr, flush=True)
    n = recognizer.learned.learn_clips(args.label, clips)
    print(f"learned '{args.label}' from {len(clips)} clip(s) ({n} windows); learned gestures: "
          f"{', '.join(recognizer.learned.gestures)} (state: {recognizer.learned.store.directory})")
    return files.exit_code


def _forget(args: argparse.Namespace) -> int:
    from akida_edge.apps.vision.app import Recognizer

    recognizer = Recognizer(args.model, args.state)
    if recognizer.learned is None:
        raise _incompatible("forget")
    recognizer.learned.forget(args.name)
    print(f"forgot '{args.name}'; learned gestures: {', '.join(recognizer.learned.gestures) or 'none'}")
    return 0


def _learned(args: argparse.Namespace) -> int:
    from akida_edge.apps.vision.app import Recognizer

    recognizer = Recognizer(args.model, args.state)
    learned = recognizer.learned
    names = learned.gestures if learned is not None else []
    if args.json:
        print(json.dumps({"gestures": names, "state": str(learned.store.directory) if learned else None}))
    else:
        print("\n".join(names) if names else "no learned gestures")
    return 0


def _incompatible(what: str) -> AkidaEdgeError:
    from akida_edge.errors import ConfigError

    return ConfigError(f"cannot {what}: the learned state of this directory belongs to another model "
                       "version (kept); use another --state DIR")
