"""Training and evaluation data of the backbone: labelled feature windows of random machines.

Each machine (`machines.random_machine`) runs `ref_s` seconds of normal operation, whose median
window is its reference (`features.reference`, as `anomaly fit` learns it on a device), then
`clip_s` seconds of normal running and `clip_s` seconds of one fault drawn uniformly from
`machines.FAULT_TYPES` at a log-uniform severity in [`min_severity`, 1]. The samples are the
windows encoded against the machine's reference (`features.encode`); half are normal and the fault types share
the other half. Labels index `machines.CLASSES` (0 = normal).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from akida_edge.apps.anomaly import features, machines


def make(seeds: range | list[int], clip_s: float = 3.0, ref_s: float = 12.0, min_severity: float = 0.05,
         progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(encoded inputs (N, N_FEATURES) uint8, labels (N,) int64, machine index (N,)) of `seeds`."""
    values, labels, owner = [], [], []
    seeds = list(seeds)
    for i, seed in enumerate(seeds):
        r = np.random.default_rng([seed, 0xD47A])
        fault = machines.FAULT_TYPES[int(r.integers(len(machines.FAULT_TYPES)))]
        severity = float(np.exp(r.uniform(np.log(min_severity), 0.0)))
        normal = machines.random_machine(seed)
        ref, step = features.reference(features.windows(machines.render(normal, ref_s), normal.rate_hz))
        faulty = machines.with_fault(normal, fault, severity)
        for config, start in ((normal, ref_s), (faulty, ref_s + clip_s)):
            v = features.windows(machines.render(config, clip_s, start), config.rate_hz)
            v = features.encode(v, ref, step).reshape(-1, features.N_FEATURES)
            values.append(v)
            labels.append(np.full(len(v), machines.CLASSES.index(config.fault), np.int64))
            owner.append(np.full(len(v), i, np.int64))
        if progress is not None:
            progress(i + 1, len(seeds))
    return np.concatenate(values), np.concatenate(labels), np.concatenate(owner)
