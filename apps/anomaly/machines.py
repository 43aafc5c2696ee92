"""Random synthetic machines (geometries, speeds, resonances, noise) for training and evaluation.

`random_machine(seed, fault, severity)` draws one machine from a seeded generator: shaft speed
10-60 Hz (600-3600 rpm), 7-16 rolling elements, ball/pitch diameter ratio 0.15-0.30, pitch
diameter 25-120 mm, contact angle 0-20°, structural resonance 1.5-5 kHz with damping 0.03-0.10,
impact amplitude 1-3 g, shaft harmonics and noise 0.02-0.10 g, speed drift up to 2 %. Training
uses seeds below `HELD_OUT_SEED0`, evaluation (bench, tests) seeds from it on, so the machines
the benchmark scores were never seen by the backbone. `cwru_like` is the CWRU drive-end rig
(SKF 6205, 1797 rpm), also never used in training.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from akida_edge.drivers.synthetic_machine import BearingGeometry, MachineConfig, SyntheticMachine

FAULT_TYPES = ("outer", "inner", "ball", "imbalance", "misalignment")
CLASSES = ("none", *FAULT_TYPES)
HELD_OUT_SEED0 = 1_000_000


def random_machine(seed: int, fault: str = "none", severity: float = 0.0) -> MachineConfig:
    """One machine drawn from `seed` (its signal noise is seeded by it too)."""
    r = np.random.default_rng([seed, 0xA11])
    pitch = r.uniform(25, 120)
    geometry = BearingGeometry(n_balls=int(r.integers(7, 17)), pitch_diameter_mm=pitch,
                               ball_diameter_mm=pitch * r.uniform(0.15, 0.30),
                               contact_angle_deg=r.uniform(0, 20))
    return MachineConfig(rate_hz=12000.0, shaft_hz=r.uniform(10, 60), bearing=geometry,
                         fault=fault, severity=severity if fault != "none" else 0.0,
                         resonance_hz=r.uniform(1500, 5000), damping=r.uniform(0.03, 0.10),
                         impact_g=r.uniform(1, 3), jitter=r.uniform(0.005, 0.02),
                         harmonics_g=r.uniform(0.02, 0.10), noise_g=r.uniform(0.02, 0.10),
                         speed_drift=r.uniform(0, 0.02), axes=1, seed=int(seed) % 2**31)


def cwru_like(fault: str = "none", severity: float = 0.0, seed: int = HELD_OUT_SEED0) -> MachineConfig:
    """The CWRU drive-end rig: SKF 6205-2RS at 1797 rpm (the driver's defaults)."""
    return MachineConfig(fault=fault, severity=severity if fault != "none" else 0.0, seed=seed)


def with_fault(config: MachineConfig, fault: str, severity: float, seed: int | None = None) -> MachineConfig:
    """The same machine with a fault (and, optionally, another noise seed)."""
    return replace(config, fault=fault, severity=severity if fault != "none" else 0.0,
                   seed=config.seed if seed is None else seed)


def render(config: MachineConfig, seconds: float, start_s: float = 0.0) -> np.ndarray:
    """(n, axes) float32 acceleration of `seconds` of running from `start_s`."""
    n0 = int(round(start_s * config.rate_hz))
    return SyntheticMachine(config).render(n0, n0 + int(round(seconds * config.rate_hz)))
