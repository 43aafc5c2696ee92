"""Composition of a pipeline (DESIGN.md §2): source → front-end → encoder → device → decoder.

`Composed` wires five small parts (and, for frames, a timeline) and runs them chunk by chunk in the
daemon's pipeline thread:

- a *source* (`akida_edge.drivers.make_source`), opened in `run` and closed when it returns;
- a *front-end* ``frontend(chunk) -> features | None`` (None: the chunk is dropped, e.g. by a
  target frame rate);
- an *encoder* ``encoder(features, t_us) -> Encoded`` (events counted, and the input tensor of
  the device model when there is one);
- an optional *device* (`DeviceStage`: a `Model` mapped on the virtual AKD1000 with power
  measurement on), which runs the tensor and reports activity and the *estimated* chip power;
- a *decoder* ``decoder(encoded, outputs, ts_ms) -> (detections, state | None)``;
- an optional *timeline* (`FrameTimeline`) for frames: the encoder and the decoder then get the
  scene's time (µs since the first frame, a forward step of a live clock left out) instead of
  the capture time, and `ts_ms` the clock's time of it.

Each processed chunk yields one `Activity` (one inference, its host latency, the events and
synaptic ops, the estimated chip energy) and then its `Detection`s, each carrying
`latency_ms` = now − capture time. When nothing arrives, an empty `Activity` is yielded at least
once per second (the daemon's watchdog counts yields as progress).

Capture times: live sources stamp chunks with epoch µs; replays and synthetic sources may use
media time from 0. A first chunk time before 2001 (< 1e15 µs) is taken as media time and shifted
to the wall clock at the first chunk, so `Detection.ts_ms` is always epoch ms.

Power (estimated; `akida_edge.engine.power`): per inference E = E_dyn + P_static / f, with f the
inference rate measured from consecutive capture times (scene times with a timeline; the source's
nominal rate before that); the reported chip power is P_static + E_dyn·f. An input without events
costs exactly the static floor.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from akida_edge.drivers.base import Chunk, Source
from akida_edge.pipelines.base import Activity, Detection

MEDIA_TIME_LIMIT_US = 10**15  # 2001-09-09 as epoch µs: earlier chunk times are media time
IDLE_YIELD_S = 1.0


#: a forward gap between two frames beyond this (or beyond a longer bound its pipeline sets) is a
#: step of the wall clock or a source that gave nothing for a while (`FrameTimeline`)
MAX_FRAME_GAP_US = 1_000_000


class FrameTimeline:
    """Frame stamps → the pipeline's own timeline (µs since the first frame: the scene's time, which
    the DVS emulator, the gesture windows and the motion decoder run on), and the epoch µs of its
    origin (for the detections' times).

    The timeline advances by each frame's interval. A forward gap beyond `max_gap_us` is not scene
    time: a live camera follows a forward step of the wall clock (NTP's first sync on a box
    without a real-time clock: hours, or decades from 1970; `drivers.camera`), and emulating it
    would spread the next frame's events over the step (with the noisy DVS preset: an hour of
    sensor noise in one frame), classify it window by window (an hour is 36 000 gesture windows,
    and the spread events made gestures of their own) and count it in a motion episode's
    duration. Such a frame advances the timeline by the last ordinary interval (a step's frame
    came one interval after the one before it) and the rest moves the origin, so later detections
    carry the clock's new time; so does a stamp that goes back (a replay restarting its media
    time). Frames in media time (before `MEDIA_TIME_LIMIT_US`) are dated from the wall clock at
    the first frame."""

    def __init__(self, max_gap_us: int) -> None:
        self.max_gap_us = int(max_gap_us)
        self.t_us = 0  # the latest frame on the timeline
        self.origin_epoch_us = 0  # epoch µs of the timeline's 0
        self._last: int | None = None  # the latest frame's stamp
        self._interval_us = 1  # the latest ordinary interval between two frames
        self._to_epoch_us = 0  # stamp → epoch µs (media time: the wall clock at the first frame)

    def advance(self, stamp_us: int) -> int:
        """The next frame, stamped `stamp_us`: its time on the timeline."""
        if self._last is None:
            if stamp_us < MEDIA_TIME_LIMIT_US:
                self._to_epoch_us = time.time_ns() // 1000 - stamp_us
        else:
            gap = stamp_us - self._last
            if 0 < gap <= self.max_gap_us:
                self._interval_us = gap
            self.t_us += gap if 0 < gap <= self.max_gap_us else self._interval_us
        self._last = stamp_us
        self.origin_epoch_us = stamp_us + self._to_epoch_us - self.t_us
        return self.t_us


@dataclass(frozen=True)
class Encoded:
    """What the encoder made of one feature frame: `events` (count), the device input `tensor`
    (None: nothing for the device), and flat facts for the decoder (`info`)."""

    t_us: int
    events: int
    tensor: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceResult:
    """One inference on the virtual chip: outputs, activity and the *estimated* power."""

    outputs: np.ndarray
    input_events: int
    synops: int
    energy_uj: float  # per inference, static share included (estimated)
    dynamic_uj: float
    power_mw: float  # chip total at the inference rate (estimated)


class DeviceStage:
    """A `Model` mapped on a virtual AKD1000 with power measurement enabled, kernels warmed."""

    def __init__(self, model: Any, name: str = "model") -> None:
        from akida_edge.engine.device import AKD1000

        device = AKD1000()
        device.soc.power_measurement_enabled = True
        model.map(device)
        self.model = model
        self.name = name
        from akida_edge.engine.execute import warm

        warm(model)  # compile / load the kernels now, not inside the first frame's latency

    @property
    def nps(self) -> int:
        return sum(len(m.nps) for m in self.model.mapping.layers)

    def run(self, tensor: np.ndarray, rate_hz: float) -> DeviceResult:
        """Forward one (H, W, C) input; power at `rate_hz` inferences per second."""
        from akida_edge.engine.power import power_report

        outputs = self.model.forward(tensor[None])
        act = self.model.statistics
        report = power_report(self.model.mapping, act, rate_hz)
        n = max(act.samples, 1)
        input_events = sum(la.input_events for la in act.layers[:1]) // n
        synops = sum(la.synaptic_ops for la in act.layers) // n
        return DeviceResult(outputs[0], int(input_events), int(synops), report.energy_uj_per_inference,
                            report.dynamic_uj_per_inference, report.total_mw)


Decoder = Callable[[Encoded, np.ndarray | None, int], tuple[list[Detection], dict[str, Any] | None]]


class Composed:
    """A pipeline from its parts (module docstring); `run(stop_event)` is what the daemon iterates."""

    def __init__(self, name: str, open_source: Callable[[], Source],
                 frontend: Callable[[Chunk], Any | None], encoder: Callable[[Any, int], Encoded],
                 decoder: Decoder, device: DeviceStage | None = None,
                 timeline: FrameTimeline | None = None) -> None:
        self.name = name
        self.open_source = open_source
        self.frontend = frontend
        self.encoder = encoder
        self.decoder = decoder
        self.device = device
        self.timeline = timeline
        self.chunks = 0
        self.inferences = 0
        self.last_power_mw: float | None = None
        self._offset_us: int | None = None
        self._last_t_us: int | None = None
        self._rate_hz: float | None = None

    def _epoch_us(self, t_us: int) -> int:
        if self._offset_us is None:
            self._offset_us = time.time_ns() // 1000 - t_us if t_us < MEDIA_TIME_LIMIT_US else 0
        return t_us + self._offset_us

    def _rate(self, t_us: int, nominal_hz: float) -> float:
        """Inference rate (Hz): smoothed from capture times, else the source's nominal rate."""
        if self._last_t_us is not None and t_us > self._last_t_us:
            inst = 1e6 / (t_us - self._last_t_us)
            self._rate_hz = inst if self._rate_hz is None else 0.9 * self._rate_hz + 0.1 * inst
        self._last_t_us = t_us
        if self._rate_hz is not None:
            return self._rate_hz
        return nominal_hz if nominal_hz > 0 else 1.0

    def step(self, chunk: Chunk) -> tuple[Activity, list[Detection]] | None:
        """Process one chunk: its activity and detections (None when the front-end drops it)."""
        t_start = time.perf_counter()
        self.chunks += 1
        features = self.frontend(chunk)
        if features is None:
            return None
        if self.timeline is None:
            t_us, epoch_us = chunk.t_us, self._epoch_us(chunk.t_us)
        else:  # scene time (a clock's step left out), detection times on the clock
            t_us = self.timeline.advance(chunk.t_us)
            epoch_us = self.timeline.origin_epoch_us + t_us
        rate_hz = self._rate(t_us, chunk.rate_hz)
        encoded = self.encoder(features, t_us)
        result = None
        if self.device is not None and encoded.tensor is not None:
            result = self.device.run(encoded.tensor, rate_hz)
            self.last_power_mw = result.power_mw
        ts_ms = epoch_us // 1000
        detections, state = self.decoder(encoded, None if result is None else result.outputs, ts_ms)
        self.inferences += 1
        latency_ms = (time.perf_counter() - t_start) * 1e3
        activity = Activity(inferences=1, latency_ms=(latency_ms,), events=encoded.events,
                            synops=0 if result is None else result.synops,
                            chip_energy_uj=0.0 if result is None else result.energy_uj,
                            chip_static_uj=0.0 if result is None else result.energy_uj - result.dynamic_uj,
                            chip_power_mw=None if result is None else result.power_mw, state=state)
        now_ms = time.time_ns() / 1e6
        out = []
        for det in detections:
            extra = {"latency_ms": round(max(now_ms - det.ts_ms, 0.0), 3),
                     "processing_ms": round(latency_ms, 3)}
            if result is not None:
                extra.update({"energy_uj": round(result.energy_uj, 3), "power_label": "estimated",
                              "chip_power_mw": round(result.power_mw, 3)})
            out.append(dataclasses.replace(det, fields={**extra, **det.fields}))
        return activity, out

    def run(self, stop_event: threading.Event) -> Iterator[Detection | Activity]:
        """Read the source until it ends or `stop_event` is set; yield activity and detections."""
        last_yield = time.monotonic()
        source = self.open_source()
        for chunk in read_chunks(source, stop_event):
            done = None if chunk is None else self.step(chunk)
            if done is None:  # no data, or data without a result yet: a sign of life now and then
                if time.monotonic() - last_yield >= IDLE_YIELD_S:
                    last_yield = time.monotonic()
                    yield idle_activity(source)
                continue
            activity, detections = done
            last_yield = time.monotonic()
            yield activity
            yield from detections


def stream_start_us(t0_us: int | None, chunk: Chunk, samples_before: int) -> int:
    """Epoch µs of a sample stream's first sample, as `chunk` (the stream's next chunk, after
    `samples_before` samples) says it.

    A live source stamps each chunk with the wall clock (the microphone resynchronises its stamps
    to the clock when they drift 100 ms apart), so the start is re-derived from every live chunk:
    times counted from it follow a clock step (NTP's first sync on a box without a real-time
    clock) and a sound card whose rate is off by tens of ppm (seconds a day), instead of keeping
    the clock of the first chunk for months. A replay in media time keeps the start it was given
    first: the wall clock when its first chunk came (`t0_us` None)."""
    if chunk.t_us >= MEDIA_TIME_LIMIT_US:
        return chunk.t_us - round(samples_before * 1e6 / chunk.rate_hz)
    return time.time_ns() // 1000 if t0_us is None else t0_us


def idle_activity(source: Any) -> Activity:
    """The sign of life a pipeline yields while its source gives nothing: an empty `Activity`,
    carrying the source's health when the source is not open (``reconnecting`` after a camera
    was unplugged or a stream stopped), so the daemon reports why nothing comes."""
    health = getattr(source, "health", None)
    if health is None or health.state in ("open", "closed"):
        return Activity()
    return Activity(source={"state": health.state, "last_error": health.last_error,
                            "reconnects": health.reconnects})


def read_chunks(source: Any, stop_event: threading.Event,
                heartbeat_s: float | None = None) -> Iterator[Any | None]:
    """The chunks of an open `source` until it ends or `stop_event` is set, then close it.

    While the source gives nothing (a sensor reconnecting, a paced replay between blocks), `None`
    comes every `heartbeat_s` so that a pipeline can show the daemon it is alive: the daemon's
    watchdog pings systemd only while every pipeline makes progress. Every pipeline reads its
    source through this loop. `heartbeat_s` defaults to `IDLE_YIELD_S`, read at call time."""
    heartbeat_s = IDLE_YIELD_S if heartbeat_s is None else heartbeat_s
    last = time.monotonic()
    try:
        while not stop_event.is_set():
            chunk = source.read(timeout_s=0.5)
            if chunk is not None:
                last = time.monotonic()
                yield chunk
            elif source.ended:
                return
            elif time.monotonic() - last >= heartbeat_s:
                last = time.monotonic()
                yield None
    finally:
        source.close()
