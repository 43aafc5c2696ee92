"""`akida-edge kws classify|detect|listen|learn|forget|learned`: keyword spotting with the shipped model
(`apps/kws`).

classify: one result per file (text, or one JSON object per line with `--json`); a bad file
(missing, not audio, empty, truncated) gives one line for that file on stderr (and an `error`
object with `--json`), the others are still classified, and the exit code is 1.
detect: keywords in a long recording with their times. listen: the same on a microphone.
learn / forget / learned: words taught on this device (`apps/kws/learn.py`; `--record N` also from
the microphone, `apps/kws/record.py`; `--synthesize N` also from the word's spelling,
`apps/kws/enroll.py`), kept in the per-device state.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from akida_edge.commands._args import STATE_HELP
from akida_edge.commands._files import PerFile
from akida_edge.errors import AkidaEdgeError

MAX_RECORD = 20  # `kws learn --record N`: utterances per command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("kws", help="keyword spotting: classify clips, detect in recordings, listen, "
                          "learn new words")
    sub = p.add_subparsers(dest="kws_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", metavar="FILE", help="a model made by akida_edge.apps.kws.train "
                        "(default: the shipped apps/kws/model/kws.aem)")
    common.add_argument("--state", metavar="DIR", help=STATE_HELP)
    c = sub.add_parser("classify", parents=[common], help="one keyword label per WAV file")
    c.add_argument("files", nargs="+", metavar="FILE.wav")
    c.add_argument("--json", action="store_true", help="one JSON object per file")
    c.set_defaults(func=_classify)
    d = sub.add_parser("detect", parents=[common], help="keywords and their times in a long recording")
    d.add_argument("file", metavar="FILE.wav")
    d.add_argument("--json", action="store_true", help="one JSON object per detection")
    _detect_options(d)
    d.set_defaults(func=_detect)
    ls = sub.add_parser("listen", parents=[common], help="keywords on the live microphone (Ctrl-C stops)")
    ls.add_argument("--device", metavar="NAME|INDEX", help="input device (default: the system default)")
    ls.add_argument("--json", action="store_true", help="one JSON object per detection")
    _detect_options(ls)
    ls.set_defaults(func=_listen)
    lr = sub.add_parser("learn", parents=[common], help="learn a new word (or improve one) from a few clips")
    lr.add_argument("--label", required=True, metavar="WORD", help="the word the clips say")
    lr.add_argument("files", nargs="*", metavar="FILE.wav")
    lr.add_argument("--synthesize", type=int, default=0, metavar="N",
                    help="also learn N clips of the word's spelling said by N synthetic voices (espeak-ng "
                         "and sox; 40 is a good choice; with no FILE, the spelling alone). Measured to help "
                         "for synthetic voices, not for another synthesizer's: see docs/kws-learning.md")
    lr.add_argument("--record", type=int, default=0, metavar="N",
                    help="also record the word N times from the microphone, one prompt each (say it on its "
                         "own, with a pause before and after; apps/kws/record.py)")
    lr.add_argument("--device", metavar="NAME|INDEX", help="input device for --record (default: the system "
                    "default)")
    lr.add_argument("--save", metavar="DIR", help="also write the --record utterances there as WAV files "
                    "(WORD-TIME-K.wav, 16 kHz), to keep them outside the learned state")
    lr.set_defaults(func=_learn)
    fg = sub.add_parser("forget", parents=[common], help="forget a learned word")
    fg.add_argument("word", metavar="WORD")
    fg.set_defaults(func=_forget)
    ld = sub.add_parser("learned", parents=[common], help="list the learned words")
    ld.add_argument("--json", action="store_true", help="one JSON object")
    ld.set_defaults(func=_learned)


def _detect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=None,
                   help="smoothed probability to fire (default 0.7, `DetectParams` of apps/kws/app.py)")
    p.add_argument("--isolated-max-ms", type=float, default=None, metavar="MS",
                   help="keep a keyword only if said on its own, in a stretch of speech at most MS long "
                        "(default 800, `DetectParams`; 0: also keywords run into other words)")


def _params(args: argparse.Namespace):
    import dataclasses

    from akida_edge.apps.kws.app import DetectParams
    from akida_edge.errors import ConfigError

    params = DetectParams()
    if args.threshold is not None:
        if not 0 < args.threshold <= 1:
            raise ConfigError(f"--threshold {args.threshold}: must be a probability in (0, 1]")
        params = dataclasses.replace(params, threshold=args.threshold)
    if args.isolated_max_ms is not None:
        if not (args.isolated_max_ms == 0 or 200 <= args.isolated_max_ms <= 10_000):
            raise ConfigError(f"--isolated-max-ms {args.isolated_max_ms}: use 0 (gate off) or 200..10000 ms")
        params = dataclasses.replace(params, isolated_max_ms=args.isolated_max_ms)
    return params


def _classify(args: argparse.Namespace) -> int:
    from akida_edge.apps.kws.app import Spotter

    spotter = Spotter(args.model, args.state)
    files = PerFile(args.json)
    for path, result in files.results(args.files, spotter.classify_file):
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(f"{path}: {result['label']} ({result['score']:.2f})", flush=True)
    return files.exit_code


def _print_detection(args: argparse.Namespace, file: str, det) -> None:
    if args.json:
        print(json.dumps({"file": file, "label": det.label, "t_ms": round(det.t_ms, 1),
                          "score": round(det.score, 4)}), flush=True)
    else:
        print(f"{det.t_ms / 1000:8.2f} s  {det.label:<6} ({det.score:.2f})", flush=True)


def _detect(args: argparse.Namespace) -> int:
    from akida_edge.apps.kws.app import Spotter
    from akida_edge.drivers.audio_file import load_audio
    from akida_edge.errors import InputDataError

    params = _params(args)
    x = load_audio(args.file)  # before the model loads: a bad file fails at once
    if x.size == 0:  # else "no keyword" for a recording that holds nothing
        raise InputDataError(f"{args.file} holds no audio samples (empty recording); record at least 1 s")
    spotter = Spotter(args.model, args.state)
    found = spotter.detect_audio(x, params)
    for det in found:
        _print_detection(args, args.file, det)
    if not found and not args.json:  # as `vision classify`: silence would look like a hang or a crash
        print(f"{args.file}: no keyword", flush=True)
    return 0


def _listen(args: argparse.Namespace) -> int:
    from akida_edge.apps.kws.app import Spotter, Stream
    from akida_edge.drivers.microphone import MicrophoneConfig, MicrophoneSource

    spotter = Spotter(args.model, args.state)
    stream = Stream(spotter, _params(args))
    source = MicrophoneSource(MicrophoneConfig(device=args.device))
    with source:
        where = args.device or "the default input"
        print(f"listening on {where} (Ctrl-C stops)", file=sys.stderr, flush=True)
        for chunk in source:
            for det in stream.push(chunk.data[:, 0]):
                _print_detection(args, "microphone", det)
    return 0


def _learn(args: argparse.Namespace) -> int:
    from akida_edge.apps.kws import enroll
    from akida_edge.apps.kws.app import Spotter
    from akida_edge.apps.kws.labels import KEYWORDS
    from akida_edge.apps.kws.learn import NO_WORD, check_word
    from akida_edge.drivers.audio_file import load_audio
    from akida_edge.errors import ConfigError, InputDataError

    problem = check_word(args.label)
    if problem:
        raise ConfigError(f"--label {args.label!r}: {problem}")
    if args.synthesize < 0:
        raise ConfigError(f"--synthesize {args.synthesize}: give a number of clips >= 0 (e.g. 40)")
    if not 0 <= args.record <= MAX_RECORD:
        raise ConfigError(f"--record {args.record}: give a number of utterances 0..{MAX_RECORD} (e.g. 5)")
    if args.save and not args.record:
        raise ConfigError(f"--save {args.save}: it keeps --record's utterances; add --record N")
    if not args.files and not args.synthesize and not args.record:
        raise ConfigError(f"nothing to learn '{args.label}' from: give WAV files of the word, --record N "
                          "to say it N times into the microphone, or --synthesize N to learn its spelling")
    if args.synthesize and args.label in KEYWORDS:
        raise ConfigError(f"--synthesize: '{args.label}' is a base keyword, which the model was trained on; "
                          "learn it from clips of your own voice instead (adaptation)")
    if args.synthesize:
        enroll.check_tools()  # before the model loads: a missing tool is not a per-file problem
    spotter = Spotter(args.model, args.state)
    try:  # another model's state that cannot be learned again here: teach this model anew (kept)
        spotter.learn_afresh()
    except AkidaEdgeError:
        pass
    if spotter.learned is None:
        raise _incompatible("learn", spotter)

    def load(path: str):
        x = load_audio(path)
        if x.size == 0:
            raise InputDataError(f"{path} holds no audio samples (empty recording)")
        if spotter.learned.holds_no_word(x):
            raise InputDataError(f"{path} {NO_WORD}")
        return x

    files = PerFile()
    clips = [x for _, x in files.results(args.files, load)]
    if args.files and not clips:
        raise InputDataError(f"no usable clip to learn '{args.label}' from; give WAV files of the word")
    recorded = _record(args) if args.record else []
    spoken = enroll.spoken_clips(args.label, args.synthesize, sys.stderr)
    n = spotter.learned.learn_audio(args.label, clips + recorded + spoken)
    synth = f" and {len(spoken)} synthesized" if spoken else ""
    mic = f"{len(recorded)} recorded, " if recorded else ""
    print(f"learned '{args.label}' from {mic}{len(clips)} clip(s){synth} ({n} samples); learned words: "
          f"{', '.join(spotter.learned.words)} (state: {spotter.learned.store.directory})")
    if spotter.learned.last_confusion:
        rival, sure, total = spotter.learned.last_confusion
        print(f"akida-edge: warning: the base model is sure '{args.label}' is '{rival}' in {sure} of "
              f"{total} samples; windows the base model is that sure of stay '{rival}' (a more "
              "distinct word, or clips in your own voice, learn better)", file=sys.stderr)
    return files.exit_code


def _record(args: argparse.Namespace) -> list:
    """`--record N`: N utterances of the label from the microphone (`apps.kws.record`)."""
    import time
    from pathlib import Path

    from akida_edge.apps.kws.record import RATE_HZ, record
    from akida_edge.drivers.microphone import MicrophoneConfig, MicrophoneSource
    from akida_edge.drivers.wavfile import write_wav
    from akida_edge.errors import ConfigError

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    save = None
    if args.save:  # made before recording: a directory that cannot be written fails first
        save = Path(args.save)
        try:
            save.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--save {args.save}: cannot create the directory ({exc.strerror})") from None
    with MicrophoneSource(MicrophoneConfig(device=args.device)) as source:
        clips = record((chunk.data[:, 0] for chunk in source), args.label, args.record, say)
    if save is not None:  # before learning, so the recordings outlive any later error
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for k, clip in enumerate(clips, 1):
            write_wav(save / f"{args.label}-{stamp}-{k}.wav", clip, RATE_HZ)
        say(f"saved {len(clips)} recording(s) in {save}")
    return clips


def _forget(args: argparse.Namespace) -> int:
    from akida_edge.apps.kws.app import Spotter

    spotter = Spotter(args.model, args.state)
    if spotter.learned is None:
        raise _incompatible("forget", spotter)
    spotter.learned.forget(args.word)
    print(f"forgot '{args.word}'; learned words: {', '.join(spotter.learned.words) or 'none'}")
    return 0


def _learned(args: argparse.Namespace) -> int:
    from akida_edge.apps.kws.app import Spotter

    spotter = Spotter(args.model, args.state)
    learned = spotter.learned
    words = learned.words if learned is not None else []
    if args.json:  # clips: how many each word keeps to be re-learned on a newer model
        print(json.dumps({"words": words, "state": str(learned.store.directory) if learned else None,
                          "clips": {w: learned.clips.count(w) for w in words} if learned else {}}))
    else:
        print("\n".join(words) if words else "no learned words")
    return 0


def _incompatible(what: str, spotter: Any) -> AkidaEdgeError:
    from akida_edge.errors import ConfigError

    why = (spotter.learned_problem
           or "the learned state of this directory belongs to another model version (kept)")
    return ConfigError(f"cannot {what}: {why}; use another --state DIR")
