"""Vibration sources: replay of WAV and CSV recordings, and a serial line accelerometer.

* WAV: the rate from the header, 1–3 channels (axes), any encoding `drivers.wavfile` reads.
* CSV: comma-separated (a field may be in double quotes; one separated by semicolons or tabs is
  refused, saying so), a header row naming the columns; an optional time column (``t``, ``time``, ``time_s``,
  ``timestamp``, or ``t_ms`` / ``time_ms`` in milliseconds) gives the rate (1 / the mean step; steps
  must be positive and within 5 % of their median; a `rate_hz` given as well must agree within
  1 %, or is used when the steps are not uniform); otherwise `rate_hz` must be given; the other
  1–3 columns are the axes. Errors name the file, line and column.
* Serial (pyserial, the optional extra ``serial``): one sample per line, ``x,y,z`` (1–3 numbers)
  at a known `rate_hz`; unparsable lines are counted in ``health.dropped``, a lost port is
  reopened with exponential backoff.

`load_vibration(path)` returns (samples (n, axes) float32, rate_hz) for the CLI and training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.drivers.base import Backoff, Chunk, Pacer, Source, check_range, reconnect
from akida_edge.drivers.replay import ArrayReplaySource
from akida_edge.drivers.wavfile import read_wav
from akida_edge.errors import SourceError

TIME_COLUMNS = {
    "t": 1.0,
    "time": 1.0,
    "time_s": 1.0,
    "t_s": 1.0,
    "timestamp": 1.0,
    "seconds": 1.0,
    "t_ms": 1e-3,
    "time_ms": 1e-3,
    "t_us": 1e-6,
    "time_us": 1e-6,
}


def _parse_csv(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read CSV file {path}: {exc}") from None
    lines = text.splitlines()
    header_at = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if header_at is None:
        raise SourceError(f"{path} is empty (expected a header row, then samples)")
    head = lines[header_at]
    if "," not in head and (";" in head or "\t" in head):  # a spreadsheet's export in another locale
        raise SourceError(f"{path}:{header_at + 1}: the columns are separated by "
                          f"{'semicolons' if ';' in head else 'tabs'}, not commas; save it as "
                          "comma-separated CSV with '.' as the decimal point")
    names = [_unquote(h) for h in head.split(",")]
    if any(not n for n in names) or any(_is_number(n) for n in names):
        raise SourceError(
            f"{path}:{header_at + 1}: the first row must be a header naming the columns, "
            f"got {lines[header_at]!r}"
        )
    rows, line_no = [], []
    for i in range(header_at + 1, len(lines)):
        line = lines[i].strip()
        if not line:
            continue
        fields = [_unquote(f) for f in line.split(",")]
        if len(fields) != len(names):
            raise SourceError(
                f"{path}:{i + 1}: expected {len(names)} fields ({', '.join(names)}), got {len(fields)}"
            )
        try:
            rows.append([float(f) for f in fields])
            line_no.append(i + 1)
        except ValueError:
            col = next(j for j, f in enumerate(fields) if not _is_number(f))
            raise SourceError(
                f"{path}:{i + 1}: column {names[col]!r} value {fields[col].strip()!r} is not a number"
            ) from None
    if not rows:
        raise SourceError(f"{path} has a header but no samples")
    values = np.asarray(rows, np.float64)
    if not np.isfinite(values).all():
        r, col = np.argwhere(~np.isfinite(values))[0]
        raise SourceError(f"{path}:{line_no[r]}: column {names[col]!r} is not finite")
    return names, values, np.asarray(line_no)


def _unquote(field: str) -> str:
    """A CSV field without its white space and the double quotes some writers put around it."""
    field = field.strip()
    return field[1:-1].strip() if len(field) >= 2 and field[0] == field[-1] == '"' else field


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


#: where a user gives the rate of a CSV without a time column
RATE_HINT = "--rate-hz on the command line, rate_hz in a vibration_file source"


def load_csv(
    path: str | Path, rate_hz: float | None = None, time_column: str | None = None
) -> tuple[np.ndarray, float]:
    """Samples (n, axes) and the rate of a CSV recording (rules in the module docstring)."""
    path = Path(path)
    names, values, line_no = _parse_csv(path)
    lower = [n.lower() for n in names]
    t_idx = lower.index(time_column.lower()) if time_column and time_column.lower() in lower else None
    if time_column and t_idx is None:
        raise SourceError(f"{path}: no time column {time_column!r}; the columns are {', '.join(names)}")
    if t_idx is None:
        t_idx = next((i for i, n in enumerate(lower) if n in TIME_COLUMNS), None)
    axes = [i for i in range(len(names)) if i != t_idx]
    if not 1 <= len(axes) <= 3:
        raise SourceError(
            f"{path}: expected 1-3 axis columns besides an optional time column, got {len(axes)} "
            f"({', '.join(names[i] for i in axes)})"
        )
    if rate_hz is not None and not 0 < rate_hz < float("inf"):
        raise SourceError(f"{path}: sample rate must be a number > 0, got {rate_hz}")
    if t_idx is None:
        if rate_hz is None:
            raise SourceError(
                f"{path} has no time column ({', '.join(sorted(TIME_COLUMNS))}); give the sample rate "
                f"({RATE_HINT})"
            )
        return values[:, axes].astype(np.float32), float(rate_hz)
    if values.shape[0] < 2:
        if rate_hz is not None:
            return values[:, axes].astype(np.float32), float(rate_hz)
        raise SourceError(f"{path}: one sample is not enough to find the rate; give the sample rate "
                          f"({RATE_HINT})")
    t_s = values[:, t_idx] * TIME_COLUMNS.get(lower[t_idx], 1.0)
    dt = np.diff(t_s)
    step = float(np.median(dt))
    bad = np.flatnonzero((dt <= 0) | (np.abs(dt - step) > 0.05 * step))
    if (step <= 0 or bad.size) and rate_hz is not None:
        return values[:, axes].astype(np.float32), float(rate_hz)  # the given rate, as the error below says
    if step <= 0 or bad.size:
        line = int(line_no[int(bad[0]) + 1]) if bad.size else int(line_no[0])
        raise SourceError(
            f"{path}:{line}: column {names[t_idx]!r} does not increase uniformly here "
            f"(median step {step:g} s); resample the file or give the sample rate ({RATE_HINT})"
        )
    # the mean step: a time column written with few decimals rounds every step (12 kHz in
    # microseconds: 83 or 84 µs), and the median of rounded steps is off by up to half a unit
    file_rate = (len(t_s) - 1) / float(t_s[-1] - t_s[0])
    if rate_hz is not None and abs(rate_hz - file_rate) > 0.01 * file_rate:
        raise SourceError(
            f"{path}: its column {names[t_idx]!r} gives {file_rate:.6g} Hz but the sample rate given is "
            f"{rate_hz:g} Hz; drop the given rate (a time column gives its own) or fix the column"
        )
    return values[:, axes].astype(np.float32), file_rate
    return values[:, axes].astype(np.float32), float(rate_hz)


def load_vibration(path: str | Path, rate_hz: float | None = None) -> tuple[np.ndarray, float]:
    """A WAV (rate from its header) or CSV recording as (samples (n, axes) float32, rate_hz)."""
    path = Path(path)
    if path.is_dir():
        raise SourceError(f"vibration file {path} is a directory; give a WAV or CSV recording")
    if not path.is_file():
        raise SourceError(f"vibration file {path} does not exist")
    if path.suffix.lower() == ".wav":
        x, info = read_wav(path)
        if not 1 <= info.channels <= 3:
            raise SourceError(f"{path} has {info.channels} channels; vibration WAV files need 1-3 (axes)")
        return x, float(info.rate_hz)
    if path.suffix.lower() in (".csv", ".txt"):
        return load_csv(path, rate_hz)
    raise SourceError(f"{path}: unknown vibration file type {path.suffix!r}; use .wav or .csv")


@dataclass(frozen=True)
class VibrationFileConfig:
    path: str
    rate_hz: float | None = None
    block_s: float = 0.1
    realtime: bool = False
    loop: bool = False
    start_us: int = 0

    def __post_init__(self) -> None:
        check_range("rate_hz", self.rate_hz, 1.0, 1_000_000.0, optional=True)
        check_range("block_s", self.block_s, 0.0, 60.0, lo_open=True)
        check_range("start_us", self.start_us, 0, 2**62)


class VibrationFileSource(ArrayReplaySource):
    """Blocks (n, axes) float32 of a WAV or CSV recording (replay: `drivers.replay`)."""

    kind = "vibration"
    config: VibrationFileConfig

    def __init__(self, config: VibrationFileConfig, pacer: Pacer | None = None) -> None:
        super().__init__(config, pacer)

    def _load(self) -> tuple[np.ndarray, float]:
        return load_vibration(self.config.path, self.config.rate_hz)


@dataclass(frozen=True)
class SerialConfig:
    port: str
    rate_hz: float
    baudrate: int = 115200
    axes: int = 3
    block_samples: int = 100
    line_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        check_range("rate_hz", self.rate_hz, 1.0, 100_000.0)
        check_range("baudrate", self.baudrate, 300, 4_000_000)
        check_range("axes", self.axes, 1, 16)
        check_range("block_samples", self.block_samples, 1, 1_000_000)
        check_range("line_timeout_s", self.line_timeout_s, 0.0, 3600.0, lo_open=True)


class SerialVibrationSource(Source):
    """An accelerometer printing ``x,y,z`` lines on a serial port (needs pyserial)."""

    kind = "vibration"

    def __init__(self, config: SerialConfig, backoff: Backoff | None = None) -> None:
        super().__init__()
        self.config = config
        self.backoff = backoff or Backoff()
        self._port = None

    def _connect(self) -> bool:
        import serial  # optional extra: pip install "akida-edge[serial]"

        self._port = serial.Serial(self.config.port, self.config.baudrate, timeout=self.config.line_timeout_s)
        return True

    def open(self) -> SerialVibrationSource:
        try:
            import serial  # noqa: F401
        except ImportError:
            raise SourceError(
                'serial vibration source needs pyserial: pip install "akida-edge[serial]"'
            ) from None
        try:
            self._connect()
        except OSError as exc:
            raise SourceError(f"cannot open serial port {self.config.port}: {exc}") from None
        self._buf: list[list[float]] = []
        self.health.state = "open"
        return self

    def _parse(self, line: bytes) -> list[float] | None:
        try:
            values = [float(v) for v in line.decode("ascii").strip().split(",")]
        except (UnicodeDecodeError, ValueError):
            values = []
        if len(values) != self.config.axes:
            self.health.dropped += 1
            self.health.last_error = f"unparsable line {line[:40]!r} on {self.config.port}"
            return None
        return values

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        if self.health.state not in ("open", "reconnecting"):
            return None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while len(self._buf) < self.config.block_samples:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            try:
                if self.health.state == "reconnecting":
                    raise OSError("port lost")
                line = self._port.readline()
            except OSError as exc:
                self.health.last_error = f"serial port {self.config.port}: {exc}"
                if self._port is not None:
                    try:
                        self._port.close()
                    except OSError:
                        pass
                if not reconnect(self._connect, self.backoff, self.health, timeout_s):
                    return None
                continue
            if line:
                values = self._parse(line)
                if values is not None:
                    self._buf.append(values)
        data = np.asarray(self._buf[: self.config.block_samples], np.float32)
        del self._buf[: self.config.block_samples]
        t_us = int(time.time() * 1e6 - data.shape[0] * 1e6 / self.config.rate_hz)
        return self._chunk(t_us, data, self.config.rate_hz)

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None
        super().close()
