"""The keyword-spotting pipeline: the kws app's spotter on a live or replayed audio source.

16 kHz mono audio blocks (`microphone`, `audio_file`; the drivers resample and mix down) →
`apps.kws.app.Stream`: log-mel frames block by block, a 1-s window every `hop_ms` classified by
the shipped DS-CNN on the virtual AKD1000 (plus the words learned on this device), probabilities
smoothed over `smooth` windows, one detection per utterance at its peak, `refractory_ms` between
detections, kept only when said on its own (`isolated_max_ms`, `apps.kws.isolation`). The
pipeline's `threshold` is the smoothed probability a keyword needs (settable at run time).
Detections are `kind = "keyword"`, `label` the word, `score` its probability, `ts` the capture
time of the peak window's centre.

Yields per processed block an `Activity` (the windows classified, their host latency, the model's
events and synaptic ops, the *estimated* chip energy at one window per hop) and the detections.

Commands (`handle_command`, over MQTT `request/pipeline`): `learn` a word from the last
detection's 1-s window (`source: "last_detection"`) or from uploaded WAV clips
(`audio_wav_b64`: one base64 string or a list, any rate and channel count, at most
`MAX_UPLOAD_BYTES` decoded in all) and/or from its spelling (`synthesize: N` clips said by
espeak-ng training voices, `apps.kws.enroll`), `forget` a word, list the `learned` words. Learning goes
through `apps.kws.learn.Learned.learn_audio`, as `akida-edge kws learn` does, and is saved in the
pipeline's state dir. The last `RING_S` seconds of audio are kept to cut the detection's window.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from akida_edge.apps.kws.detect_params import DetectParams
from akida_edge.config import PipelineConfig
from akida_edge.drivers import check_dataclass, make_source
from akida_edge.errors import AkidaEdgeError, InputDataError
from akida_edge.pipelines.base import Activity, Detection, learning_label, saved_or_restored
from akida_edge.pipelines.compose import idle_activity, read_chunks, stream_start_us

#: The pipeline's `threshold` when the entry sets none: the kws app's measured operating point.
DEFAULT_THRESHOLD = DetectParams.threshold
RATE_HZ = 16000
RING_S = 4.0  # audio kept to cut the last detection's window (a detection is emitted < 2 s late)
MAX_UPLOAD_BYTES = 512 * 1024  # decoded WAV bytes per learn command (all clips)
MAX_CLIPS = 16
MAX_SYNTHESIZE = 200  # clips of a word's spelling per learn command (`synthesize`)


def check_threshold(value: float) -> str | None:
    """Why `value` is not a kws threshold (None when it is one)."""
    if not 0.0 < value <= 1.0:
        return "a kws threshold is the smoothed keyword probability; use a value in (0, 1]"
    return None


@dataclass(frozen=True)
class Options:
    """The `options` table of a kws pipeline (defaults: the kws app's `DetectParams`)."""

    hop_ms: float = DetectParams.hop_ms
    smooth: int = DetectParams.smooth
    refractory_ms: float = DetectParams.refractory_ms
    isolated_max_ms: float = DetectParams.isolated_max_ms  # 0: also keywords run into other words
    learned: bool = True  # also spot the words learned on this device
    state_dir: str = ""  # learned words (the config loader fills in the daemon's state dir)

    def __post_init__(self) -> None:
        if not 20.0 <= self.hop_ms <= 1000.0:
            raise ValueError(f"hop_ms must lie in 20..1000, got {self.hop_ms}")
        if not 1 <= self.smooth <= 50:
            raise ValueError(f"smooth must lie in 1..50 windows, got {self.smooth}")
        if not 0 <= self.refractory_ms <= 60_000:
            raise ValueError(f"refractory_ms must lie in 0..60000, got {self.refractory_ms}")
        if not (self.isolated_max_ms == 0 or 200 <= self.isolated_max_ms <= 10_000):
            raise ValueError(f"isolated_max_ms must be 0 (gate off) or lie in 200..10000, "
                             f"got {self.isolated_max_ms}")


def check_options(table: Any, where: str) -> Options:
    """The validated `Options` (the config loader calls this for `validate-config`)."""
    return check_dataclass(Options, table, where)


class KwsPipeline:
    """`Spotter` + `Stream` over a source (module docstring)."""

    def __init__(self, cfg: PipelineConfig, options: Options) -> None:
        from akida_edge.apps.kws.app import Spotter

        problem = check_threshold(cfg.threshold)
        if problem:
            raise ValueError(f"pipeline {cfg.name!r}: threshold = {cfg.threshold}: {problem}")
        self.name = cfg.name
        self.cfg = cfg
        self.options = options
        self.spotter = Spotter(cfg.model or None, options.state_dir or None, learned=options.learned)
        self.mapping = self.spotter.model.map()
        self.params = DetectParams(hop_ms=options.hop_ms, smooth=options.smooth, threshold=cfg.threshold,
                                   refractory_ms=options.refractory_ms,
                                   isolated_max_ms=options.isolated_max_ms)
        self.lock = threading.Lock()  # guards the stream and the learned store
        self._ring = np.zeros(int(RING_S * RATE_HZ), np.float32)
        self._pushed = 0  # samples pushed into the stream (its time axis)
        self.last_window: tuple[str, np.ndarray] | None = None  # (label, 1 s at 16 kHz)

    def warm_run(self) -> None:
        """Compile (or load) the kernels that building does not reach (`python -m akida_edge.warm`:
        see `AnomalyPipeline.warm_run`): the run's front-end, on 2 s of seeded noise through a
        stream of its own, and, when the pipeline learns, a `learn` command's
        (`learn.warm_learning`: a word learned from noise in a state directory of its own)."""
        from akida_edge.apps.kws.app import Stream
        from akida_edge.apps.kws.learn import warm_learning

        noise = np.random.default_rng(0).normal(0.0, 0.05, 2 * RATE_HZ).astype(np.float32)
        Stream(self.spotter, self.params).push(noise)
        if self.options.learned:
            warm_learning(self.spotter.model)

    def set_threshold(self, value: float) -> None:
        problem = check_threshold(value)
        if problem:
            raise ValueError(f"threshold = {value}: {problem}")
        with self.lock:
            self.params = dataclasses.replace(self.params, threshold=float(value))
            if getattr(self, "stream", None) is not None:
                self.stream.params = self.params
                self.stream.detector.params = self.params

    def describe(self) -> dict[str, Any]:
        return {"model": self.spotter.path.name, "model_sha256": self.spotter.model.file_hash,
                "nps": int(self.mapping.np_count),
                "labels": [c for c in self.spotter.classes if c]}

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        from akida_edge.apps.kws.app import Stream
        from akida_edge.engine.power import power_report

        with self.lock:
            self.stream = Stream(self.spotter, self.params)
        source = make_source(self.cfg.source.type, **self.cfg.source.options).open()
        t0_us, pushed = None, 0
        for chunk in read_chunks(source, stop_event):
            if chunk is None:
                yield idle_activity(source)  # alive while the source gives nothing (and why)
                continue
            t0_us = stream_start_us(t0_us, chunk, pushed)
            pushed += chunk.data.shape[0]
            before = self.stream._next
            t_start = time.perf_counter()
            x = chunk.data[:, 0] if chunk.data.ndim == 2 else chunk.data
            with self.lock:
                found = self.stream.push(x)
                self._remember(x, found)
            latency_ms = (time.perf_counter() - t_start) * 1e3
            windows = (self.stream._next - before) // self.params.hop_frames
            act = self.spotter.model.statistics if windows else None
            report = power_report(self.mapping, act, rate_hz=1000.0 / self.params.hop_ms) if act else None
            yield Activity(  # the batch's activity counts are totals over its windows
                inferences=int(windows), latency_ms=(latency_ms / max(windows, 1),) * int(windows),
                events=0 if act is None else int(sum(la.input_events for la in act.layers[:1])),
                synops=0 if act is None else int(sum(la.synaptic_ops for la in act.layers)),
                chip_energy_uj=0.0 if report is None else report.energy_uj_per_inference * windows,
                chip_static_uj=0.0 if report is None else (
                    report.energy_uj_per_inference - report.dynamic_uj_per_inference) * windows,
                chip_power_mw=None if report is None else report.total_mw)
            for d in found:
                yield self._detection(d, t0_us)
        if not stop_event.is_set():  # the source ended: the last words still count
            with self.lock:
                found = self.stream.flush()
                self._remember(np.zeros(0, np.float32), found)
            for d in found:
                yield self._detection(d, t0_us or 0)

    def _remember(self, x: np.ndarray, found: list) -> None:
        """Keep the last `RING_S` s of audio and the 1-s window of the latest detection (locked)."""
        x = np.asarray(x, np.float32).reshape(-1)[-len(self._ring):]
        self._ring = np.concatenate([self._ring[len(x):], x])
        self._pushed += len(x)
        for d in found[-1:]:
            first = self._pushed - len(self._ring)  # stream sample index of self._ring[0]
            start = int(round((d.t_ms - 500.0) * RATE_HZ / 1000)) - first
            window = self._ring[max(start, 0): max(start + RATE_HZ, 0)]
            if window.size:
                self.last_window = (d.label, window.copy())

    # -- commands (the daemon's command thread) --------------------------------------------------
    def handle_command(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """`learn` / `forget` / `learned` (module docstring); a one-line `ValueError` otherwise."""
        from akida_edge.apps.kws.learn import NO_WORD, check_word

        if command == "learn" and self.spotter.learned is None and self.options.learned:
            with self.lock:  # another model's state that cannot be learned again: teach anew (kept)
                try:
                    self.spotter.learn_afresh()
                except AkidaEdgeError:
                    pass
        learned = self.spotter.learned
        label = learning_label(self.name, command, args, learned, check_word, "the word",
                               ("label", "source", "audio_wav_b64", "synthesize"))
        if label is None:
            with self.lock:
                return {"words": learned.words}
        if command == "forget":
            with self.lock:
                saved_or_restored(lambda: learned.forget(label), self._restore_saved, f"forgetting {label!r}")
                self._classes_changed()
                return {"forgot": label, "words": learned.words}
        n_spoken = self._synthesize_count(label, args)
        clips, source = self._clips(args, spelling_only=n_spoken > 0)
        silent = [k for k, clip in enumerate(clips) if source == "upload" and learned.holds_no_word(clip)]
        if silent:  # learned, silence would teach the word to claim every quiet window
            raise InputDataError(f"audio_wav_b64[{silent[0]}] {NO_WORD}")
        spoken = self._spoken(label, n_spoken)  # seconds of espeak-ng: outside the lock
        if spoken:
            source = f"{source} + {len(spoken)} synthesized" if clips else "synthesized"
        with self.lock:
            n = saved_or_restored(lambda: learned.learn_audio(label, clips + spoken), self._restore_saved,
                                  f"learning {label!r}")
            self._classes_changed()
            out = {"learned": label, "clips": len(clips), "synthesized": len(spoken), "samples": n,
                   "source": source, "words": learned.words}
            if learned.last_confusion:  # as `akida-edge kws learn` warns (apps/kws/learn.py)
                rival, sure, total = learned.last_confusion
                out["warning"] = (f"the base model is sure '{label}' is '{rival}' in {sure} of {total} "
                                  f"samples; windows it is that sure of stay '{rival}'")
            return out

    @staticmethod
    def _synthesize_count(label: str, args: dict[str, Any]) -> int:
        """The `synthesize` key: clips of the word's spelling to learn too (`apps.kws.enroll`)."""
        from akida_edge.apps.kws.labels import KEYWORDS

        n = args.get("synthesize", 0)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_SYNTHESIZE:
            raise InputDataError(f"synthesize {repr(n)[:20]}: give a whole number of clips "
                                 f"0..{MAX_SYNTHESIZE} (40 is the documented choice)")
        if n and label in KEYWORDS:
            raise InputDataError(f"synthesize: '{label}' is a base keyword, which the model was trained "
                                 "on; send clips of the speaker's own voice instead (adaptation)")
        return n

    @staticmethod
    def _spoken(label: str, n: int) -> list[np.ndarray]:
        """`n` synthesized clips of `label` (`enroll.spoken_clips`; espeak-ng and sox needed)."""
        from akida_edge.apps.kws import enroll

        if n == 0:
            return []
        enroll.check_tools()  # a ConfigError (a ValueError): the command's one-line error response
        return enroll.spoken_clips(label, n)

    def _clips(self, args: dict[str, Any], spelling_only: bool = False) -> tuple[list[np.ndarray], str]:
        """The 16 kHz clips a `learn` command names (none when `spelling_only` and it names none)."""
        from akida_edge.drivers.audio_file import check_audio_rate
        from akida_edge.drivers.wavfile import parse_wav
        from akida_edge.errors import SourceError
        from akida_edge.frontends.resample import resample

        has_audio, source = "audio_wav_b64" in args, args.get("source")
        if spelling_only and not has_audio and source is None:
            return [], ""
        if has_audio and source is not None:
            raise InputDataError('learn takes one audio source: source: "last_detection" or audio_wav_b64, '
                                 "not both")
        if not has_audio and source is None:
            raise InputDataError('learn needs either source: "last_detection" or audio_wav_b64 (one '
                                 "base64 WAV or a list), or synthesize: N to learn the word's spelling")
        if source is not None:
            if source != "last_detection":
                raise InputDataError(f'source {str(source)[:40]!r}: the only source is "last_detection"')
            with self.lock:
                last = self.last_window
            if last is None:
                raise InputDataError(f"pipeline {self.name!r} has detected nothing yet; "
                                     "send audio_wav_b64 instead")
            return [last[1]], f"last_detection ({last[0]})"
        items = args["audio_wav_b64"]
        items = [items] if isinstance(items, str) else items
        if not isinstance(items, list) or not items or len(items) > MAX_CLIPS \
                or not all(isinstance(i, str) for i in items):
            raise InputDataError(f"audio_wav_b64 must be a base64 string or a list of 1..{MAX_CLIPS} of them")
        if sum(len(i) for i in items) * 3 // 4 > MAX_UPLOAD_BYTES + 3 * len(items):
            raise InputDataError(f"audio_wav_b64 decodes to more than {MAX_UPLOAD_BYTES} bytes; "
                                 "send shorter clips (about 1 s each)")
        clips = []
        for k, item in enumerate(items):
            try:  # line breaks and spaces of `base64 FILE` (76-character lines) are not data
                raw = base64.b64decode("".join(item.split()), validate=True)
            except (binascii.Error, ValueError):
                raise InputDataError(f"audio_wav_b64[{k}] is not valid base64") from None
            try:
                x, info = parse_wav(raw, f"audio_wav_b64[{k}]")
                check_audio_rate(info.rate_hz, f"audio_wav_b64[{k}]")
            except SourceError as exc:
                raise InputDataError(str(exc)) from None
            if info.frames == 0:
                raise InputDataError(f"audio_wav_b64[{k}] holds no audio samples")
            mono = x.mean(axis=1) if info.channels > 1 else x[:, 0]
            clips.append(resample(mono, info.rate_hz, RATE_HZ))
        return clips, "upload"

    def _restore_saved(self) -> None:
        """The learned words as saved (after a learn or forget the store refused; locked)."""
        from akida_edge.apps.kws.learn import Learned

        self.spotter.learned = Learned(self.spotter.model, self.spotter.state_dir)
        self._classes_changed()

    def _classes_changed(self) -> None:
        """A running stream's detector learns the new label list (its smoothing restarts)."""
        stream = getattr(self, "stream", None)
        if stream is not None and stream.detector.classes != self.spotter.classes:
            stream.detector.classes = self.spotter.classes
            stream.detector._recent.clear()

    def _detection(self, d: Any, t0_us: int) -> Detection:
        ts_ms = int(round(t0_us / 1000 + d.t_ms))
        return Detection(d.label, float(d.score), ts_ms, "keyword",
                         {"latency_ms": round(max(time.time_ns() / 1e6 - ts_ms, 0.0), 3)})


def check_model(cfg: PipelineConfig) -> None:
    """An `AkidaEdgeError` (one line) when `cfg.model` is not a keyword-spotting model
    (`validate-config`: the pipeline would fail at every retry)."""
    from akida_edge.apps.kws.app import check_kws_model
    from akida_edge.engine.modelfile import load_model

    if cfg.model:
        check_kws_model(load_model(cfg.model), cfg.model)


def build(cfg: PipelineConfig) -> KwsPipeline:
    """The kws pipeline of a `[[pipelines]]` entry with `type = "kws"`."""
    return KwsPipeline(cfg, check_options(cfg.options, f"pipelines.{cfg.name}.options"))
