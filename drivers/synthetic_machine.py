"""A synthetic rotating machine with a rolling-element bearing: seeded, deterministic, streaming.

Bearing defect frequencies (n rolling elements of diameter d on pitch diameter D, contact angle
φ, shaft frequency f_r; Randall & Antoni, MSSP 25(2):485, 2011, eqs. 1–4; the reference card
`encoders-and-peers.md` §4.3):

    FTF  = f_r/2 · (1 − (d/D)·cos φ)                 cage (fundamental train)
    BPFO = n·f_r/2 · (1 − (d/D)·cos φ)               ball pass, outer race
    BPFI = n·f_r/2 · (1 + (d/D)·cos φ)               ball pass, inner race
    BSF  = D·f_r/(2d) · (1 − ((d/D)·cos φ)²)         ball spin; a ball defect strikes both
                                                      races, so its impacts come at 2·BSF

The signal (acceleration, g) follows the recipe of Kim, An & Choi, "Diagnostics 101", Appl. Sci.
10(20):7302, 2020: each defect impact excites a structural resonance, an exponentially decaying
sinusoid ``e^(−ζω_n τ)·sin(ω_d τ)``; impacts come at the defect frequency with a small seeded
jitter (rolling elements slip); an inner-race defect turns with the shaft through the load zone,
so its impacts are amplitude-modulated at f_r; a ball defect's at the cage frequency FTF; an
outer-race defect is fixed and unmodulated. Imbalance adds a 1×f_r sinusoid; misalignment 2×
(with 1× and 3×). All faults scale with `severity` (0..1). Shaft harmonics, white noise and a
slow speed drift (a sum of seeded sinusoids, integrated in closed form for the shaft phase)
complete it.

Everything is a function of the global sample index (noise and jitter come from a counter-based
hash of the seed and the index), so rendering in blocks of any size gives exactly the samples of
one long render. `SyntheticMachineSource` streams it as a `Source` of vibration chunks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from akida_edge.drivers.base import Chunk, Pacer, Source, check_range

FAULTS = ("none", "outer", "inner", "ball", "imbalance", "misalignment")


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry; the default is the SKF 6205-2RS of the CWRU test rig
    (9 balls, d = 0.3126 in, D = 1.537 in, φ = 0)."""

    n_balls: int = 9
    ball_diameter_mm: float = 7.94
    pitch_diameter_mm: float = 39.04
    contact_angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.n_balls < 1 or not 0 < self.ball_diameter_mm < self.pitch_diameter_mm:
            raise ValueError(f"bearing geometry needs n >= 1 and 0 < d < D, got {self}")


@dataclass(frozen=True)
class BearingFrequencies:
    ftf_hz: float
    bpfo_hz: float
    bpfi_hz: float
    bsf_hz: float


def bearing_frequencies(shaft_hz: float, g: BearingGeometry = BearingGeometry()) -> BearingFrequencies:
    """FTF, BPFO, BPFI and BSF in Hz (formulas in the module docstring)."""
    r = g.ball_diameter_mm / g.pitch_diameter_mm * np.cos(np.radians(g.contact_angle_deg))
    return BearingFrequencies(
        ftf_hz=float(shaft_hz / 2 * (1 - r)),
        bpfo_hz=float(g.n_balls * shaft_hz / 2 * (1 - r)),
        bpfi_hz=float(g.n_balls * shaft_hz / 2 * (1 + r)),
        bsf_hz=float(g.pitch_diameter_mm * shaft_hz / (2 * g.ball_diameter_mm) * (1 - r * r)),
    )


@dataclass(frozen=True)
class MachineConfig:
    """A machine: speed, bearing, one fault with severity, resonance, noise, drift, axes, seed."""

    rate_hz: float = 12000.0
    shaft_hz: float = 29.95  # 1797 rpm
    bearing: BearingGeometry = BearingGeometry()
    fault: str = "none"
    severity: float = 0.5
    resonance_hz: float = 3000.0
    damping: float = 0.05  # ζ of the resonance
    impact_g: float = 2.0  # impact peak at severity 1
    jitter: float = 0.01  # impact time jitter, fraction of the impact period
    harmonics_g: float = 0.05  # healthy 1×, 2× shaft lines
    noise_g: float = 0.05  # white noise RMS
    speed_drift: float = 0.01  # relative speed variation (amplitude)
    axes: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; choose one of {', '.join(FAULTS)}")
        if not 0 <= self.severity <= 1:
            raise ValueError(f"severity must be in 0..1, got {self.severity}")
        if not 1 <= self.axes <= 3:
            raise ValueError(f"axes must be 1, 2 or 3, got {self.axes}")
        check_range("seed", self.seed, 0, 2**32 - 1)
        if not 0 < self.resonance_hz < self.rate_hz / 2:
            raise ValueError(
                f"resonance_hz must be below Nyquist ({self.rate_hz / 2} Hz), got {self.resonance_hz}"
            )
        if not 0 <= self.speed_drift < 0.5 or self.shaft_hz <= 0:
            raise ValueError(
                f"need shaft_hz > 0 and 0 <= speed_drift < 0.5, got {self.shaft_hz}, {self.speed_drift}"
            )


_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(seed: int, stream: int, idx: np.ndarray) -> np.ndarray:
    """Counter-based uniform floats in (0, 1) for (seed, stream, index) (SplitMix64 finaliser)."""
    with np.errstate(over="ignore"):
        z = idx.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= np.uint64((seed * 0x632BE59BD9B4E019 + stream * 0x85EBCA77C2B2AE63) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _gauss(seed: int, stream: int, idx: np.ndarray) -> np.ndarray:
    u1 = _splitmix(seed, 2 * stream, idx)
    u2 = _splitmix(seed, 2 * stream + 1, idx)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)


class SyntheticMachine:
    """Renders samples [n0, n1) of a `MachineConfig` as (n, axes) float32 acceleration in g."""

    _DRIFT_HZ = (0.05, 0.13, 0.31)

    def __init__(self, config: MachineConfig) -> None:
        self.config = config
        u = _splitmix(config.seed, 99, np.arange(8))
        self._drift_phase = 2 * np.pi * u[:3]
        self._drift_amp = config.speed_drift * np.array([0.6, 0.3, 0.1])
        self._axis_gain = np.array([1.0, 0.6 + 0.2 * u[3], 0.3 + 0.2 * u[4]])
        self.frequencies = bearing_frequencies(config.shaft_hz, config.bearing)
        c = config
        wn = 2 * np.pi * c.resonance_hz
        self._decay = c.damping * wn
        self._wd = wn * np.sqrt(1 - c.damping**2)
        self._ring = int(np.ceil(np.log(1e4) / self._decay * c.rate_hz))  # to −80 dB

    def shaft_cycles(self, t_s: np.ndarray) -> np.ndarray:
        """Shaft revolutions since t = 0: ∫ f_r(1 + Σ a_i sin(2π f_i t + φ_i)) dt, in closed form."""
        f = np.asarray(self._DRIFT_HZ)
        t = t_s[..., None]
        drift = (
            self._drift_amp
            / (2 * np.pi * f)
            * (np.cos(self._drift_phase) - np.cos(2 * np.pi * f * t + self._drift_phase))
        )
        return self.config.shaft_hz * (t_s + drift.sum(axis=-1))

    def _fault_order(self) -> tuple[float, float]:
        """(impacts per shaft revolution, modulation cycles per shaft revolution)."""
        fr = self.config.shaft_hz
        fq = self.frequencies
        return {
            "outer": (fq.bpfo_hz / fr, 0.0),
            "inner": (fq.bpfi_hz / fr, 1.0),
            "ball": (2 * fq.bsf_hz / fr, fq.ftf_hz / fr),
        }[self.config.fault]

    def _impacts(self, n0: int, n1: int) -> np.ndarray:
        c = self.config
        order, mod_order = self._fault_order()
        lo = max(n0 - self._ring - 2, 0)
        idx = np.arange(lo, n1 + 2)
        cyc = self.shaft_cycles(idx / c.rate_hz) * order  # impact count, increasing
        k = np.arange(int(np.ceil(cyc[0])), int(np.floor(cyc[-1])) + 1)
        if k.size == 0:
            return np.zeros((n1 - n0,))
        k = k[k >= 1]
        target = k + c.jitter * (_splitmix(c.seed, 7, k) - 0.5)  # jittered impact phase
        j = np.clip(np.searchsorted(cyc, target) - 1, 0, idx.size - 2)
        frac = (target - cyc[j]) / (cyc[j + 1] - cyc[j])
        t_imp = (idx[j] + frac) / c.rate_hz  # impact times, s
        amp = c.impact_g * c.severity * (0.8 + 0.4 * _splitmix(c.seed, 8, k))
        if mod_order:
            phase = 2 * np.pi * self.shaft_cycles(t_imp) * mod_order
            amp = amp * 0.5 * (1 + np.cos(phase))
        out = np.zeros(n1 - n0)
        first = np.ceil(t_imp * c.rate_hz).astype(np.int64)
        taps = np.arange(self._ring)
        sample = first[:, None] + taps[None, :]
        tau = sample / c.rate_hz - t_imp[:, None]
        resp = amp[:, None] * np.exp(-self._decay * tau) * np.sin(self._wd * tau)
        keep = (sample >= n0) & (sample < n1)
        np.add.at(out, sample[keep] - n0, resp[keep])
        return out

    def render(self, n0: int, n1: int) -> np.ndarray:
        """Samples [n0, n1) as (n1 − n0, axes) float32."""
        c = self.config
        idx = np.arange(n0, n1)
        theta = 2 * np.pi * self.shaft_cycles(idx / c.rate_hz)
        base = c.harmonics_g * (np.sin(theta) + 0.5 * np.sin(2 * theta + 0.3))
        fault = np.zeros(n1 - n0)
        s = c.severity
        if c.fault == "imbalance":
            fault = 10 * c.harmonics_g * s * np.sin(theta + 0.7)
        elif c.fault == "misalignment":
            fault = (
                c.harmonics_g
                * s
                * 10
                * (0.4 * np.sin(theta) + np.sin(2 * theta + 1.1) + 0.3 * np.sin(3 * theta))
            )
        elif c.fault in ("outer", "inner", "ball"):
            fault = self._impacts(n0, n1)
        out = np.empty((n1 - n0, c.axes), np.float32)
        for a in range(c.axes):
            out[:, a] = self._axis_gain[a] * (base + fault) + c.noise_g * _gauss(c.seed, 10 + a, idx)
        return out


class SyntheticMachineSource(Source):
    """A `SyntheticMachine` streamed in blocks of `block_s`, optionally for `duration_s` only,
    paced in real time or as fast as possible. With `fault_after_s` the machine runs healthy
    (``fault = "none"``) until then and with its configured fault afterwards (a fault that
    develops in service; same seed, so the healthy part equals a healthy machine's)."""

    kind = "vibration"

    def __init__(
        self,
        config: MachineConfig = MachineConfig(),
        block_s: float = 0.1,
        duration_s: float | None = None,
        realtime: bool = False,
        start_us: int | None = None,
        pacer: Pacer | None = None,
        fault_after_s: float | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.block = max(1, int(round(block_s * config.rate_hz)))
        self.total = None if duration_s is None else int(round(duration_s * config.rate_hz))
        self.pacer = pacer or Pacer(realtime)
        self.start_us = start_us
        if fault_after_s is not None and not fault_after_s >= 0:
            raise ValueError(f"fault_after_s must be >= 0, got {fault_after_s}")
        self.fault_n = None if fault_after_s is None else int(round(fault_after_s * config.rate_hz))
        self._n = 0

    def open(self) -> SyntheticMachineSource:
        self.machine = SyntheticMachine(self.config)
        self.healthy = SyntheticMachine(replace(self.config, fault="none")) if self.fault_n else None
        self._n = 0
        self._t0 = int(time.time() * 1e6) if self.start_us is None else int(self.start_us)
        self.pacer.wait(0.0)
        self.health.state = "open"
        return self

    def read(self, timeout_s: float | None = None) -> Chunk | None:
        if self.health.state != "open":
            return None
        n1 = self._n + self.block if self.total is None else min(self._n + self.block, self.total)
        if n1 <= self._n:
            self.health.state = "ended"
            return None
        rate = self.config.rate_hz
        self.pacer.wait(n1 / rate)
        if self.healthy is not None and self._n < self.fault_n:
            cut = min(n1, self.fault_n)
            parts = [self.healthy.render(self._n, cut)] + ([self.machine.render(cut, n1)] if cut < n1 else [])
            data = np.concatenate(parts)
        else:
            data = self.machine.render(self._n, n1)
        chunk = self._chunk(self._t0 + round(self._n * 1e6 / rate), data, rate)
        self._n = n1
        return chunk
