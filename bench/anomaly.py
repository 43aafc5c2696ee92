"""Vibration-anomaly benchmark: learning a machine's normal on the device, against Edge Impulse's K-means.

Set-up (issue 5, part 5). Machines held out from the backbone's training: `MACHINES` random
machines from seeds >= `machines.HELD_OUT_SEED0` (other geometries, speeds, resonances and noise
than any training machine) and the CWRU drive-end rig (SKF 6205 at 1797 rpm). Per machine:

* fit: 60 s of normal running (`AnomalyDetector.fit`: 80 % learned, 20 % calibrate the
  threshold); the K-means peer is fitted on the same 60 s (all of it);
* held-out normal: the next 30 s (59 windows of 1 s, hop 0.5 s);
* faults: outer race, inner race, ball, imbalance, misalignment, each at severities
  `SEVERITIES` (0.1 mild ... 0.5 moderate; 1.0 is the driver's strongest), 5 s each, noise seeds
  other than the normal run's.

Figures, per 1 s window (one window = one decision, no averaging over windows):

* ``auc`` — ROC AUC of the anomaly score, held-out normal windows against all fault windows,
  per machine (each machine has its own learned normal), averaged over machines; ``auc_min``
  the worst machine; ``auc_<fault>`` per fault type; ``kmeans_auc`` (and per fault) the peer on
  the same windows in the same run; ``auc_severity_<s>`` per severity (all fault types).
  AUC = P(score_fault > score_normal) + ½·P(equal)
  (Mann-Whitney; ties count half).
* ``false_alarm_rate`` — held-out normal windows above the calibrated threshold;
  ``detection_rate`` — fault windows above it; ``episodes_normal`` — anomaly episodes opened
  on the held-out normal runs (hysteresis, `episodes.py`), all machines together.
* ``np_count``, ``dynamic_uj_per_window``, ``energy_uj_per_window`` — the AKD1000 mapping of
  backbone + learning layer and the power model's *estimate* per window (one window per hop).
* ``fit_seconds`` — `AnomalyDetector.fit` on the 60 s (features already computed; the learning
  itself plus the backbone on the device), median over machines; ``fit_seconds_with_frontend``
  the same plus the front-end on the 60 s of samples; ``score_ms_per_window`` — the
  whole per-window path (front-end, encoding, backbone, learning-layer distance) on 30 s, per
  window.
"""

from __future__ import annotations

import time
from typing import IO, Any

import numpy as np

SUITE = "anomaly"
MACHINES = 10
FIT_S, NORMAL_S, FAULT_S = 60.0, 30.0, 5.0
SEVERITIES = (0.1, 0.2, 0.35, 0.5)


def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(pos > neg) + ½·P(pos == neg) over all pairs (ties count half)."""
    neg = np.sort(np.asarray(neg, np.float64))
    pos = np.asarray(pos, np.float64)
    below = np.searchsorted(neg, pos, side="left")
    equal = np.searchsorted(neg, pos, side="right") - below
    return float((below + 0.5 * equal).sum() / (len(neg) * len(pos)))


def machine_configs(n: int = MACHINES) -> list[Any]:
    from akida_edge.apps.anomaly import machines

    return [machines.random_machine(machines.HELD_OUT_SEED0 + i) for i in range(n - 1)] + [
        machines.cwru_like(seed=machines.HELD_OUT_SEED0 + 999)]


def evaluate(configs: list[Any], backbone_path: Any = None, params: Any = None,
             progress: IO[str] | None = None) -> dict[str, Any]:
    from akida_edge.apps.anomaly import features, machines
    from akida_edge.apps.anomaly.detector import AnomalyDetector, FitParams
    from akida_edge.apps.anomaly.episodes import episodes
    from akida_edge.apps.anomaly.kmeans import KMeansAnomaly

    per: dict[str, list[float]] = {}
    fit_s, fit_total_s, score_ms, fa, det, eps = [], [], [], [], [], 0

    def add(key: str, value: float) -> None:
        per.setdefault(key, []).append(value)

    for m, cfg in enumerate(configs):
        det_ = AnomalyDetector(backbone_path, params or FitParams())
        raw_fit = machines.render(cfg, FIT_S)
        t0 = time.perf_counter()
        normal_fit = features.windows(raw_fit, cfg.rate_hz)
        t_fit_feat = time.perf_counter() - t0
        raw_normal = machines.render(cfg, NORMAL_S, start_s=FIT_S)
        t0 = time.perf_counter()
        normal = features.windows(raw_normal, cfg.rate_hz)
        t_feat = time.perf_counter() - t0
        t0 = time.perf_counter()
        det_.fit(normal_fit)
        fit_s.append(time.perf_counter() - t0)
        fit_total_s.append(fit_s[-1] + t_fit_feat)
        km = KMeansAnomaly().fit(normal_fit.reshape(-1, normal_fit.shape[-1]))
        t0 = time.perf_counter()
        s_norm = det_.score(normal)
        score_ms.append((time.perf_counter() - t0 + t_feat) * 1e3 / len(normal))
        k_norm = km.score(normal.reshape(-1, normal.shape[-1]))
        flags = det_.is_anomaly(s_norm)
        fa.append(float(flags.mean()))
        starts = np.arange(len(s_norm)) * features.PARAMS.hop_s
        eps += len(episodes(starts, features.PARAMS.window_s, s_norm, flags))
        s_all, k_all = [], []
        by_sev: dict[float, tuple[list, list]] = {sev: ([], []) for sev in SEVERITIES}
        for f_i, fault in enumerate(machines.FAULT_TYPES):
            s_f, k_f = [], []
            for v_i, sev in enumerate(SEVERITIES):
                fc = machines.with_fault(cfg, fault, sev, seed=cfg.seed + 7919 * (1 + f_i * 10 + v_i))
                v = features.windows(machines.render(fc, FAULT_S, start_s=FIT_S + NORMAL_S), cfg.rate_hz)
                s_f.append(det_.score(v))
                k_f.append(km.score(v.reshape(-1, v.shape[-1])))
                by_sev[sev][0].append(s_f[-1])
                by_sev[sev][1].append(k_f[-1])
            s_f, k_f = np.concatenate(s_f), np.concatenate(k_f)
            add(f"auc_{fault}", auc(s_norm, s_f))
            add(f"kmeans_auc_{fault}", auc(k_norm, k_f))
            s_all.append(s_f)
            k_all.append(k_f)
        s_all, k_all = np.concatenate(s_all), np.concatenate(k_all)
        det.append(float(det_.is_anomaly(s_all).mean()))
        add("auc", auc(s_norm, s_all))
        for sev, (s_v, k_v) in by_sev.items():
            add(f"auc_severity_{sev}", auc(s_norm, np.concatenate(s_v)))
            add(f"kmeans_auc_severity_{sev}", auc(k_norm, np.concatenate(k_v)))
        if m == 0:
            chip = det_.chip_figures(normal)
        add("kmeans_auc", auc(k_norm, k_all))
        if progress:
            print(f"  machine {m + 1}/{len(configs)}: auc {per['auc'][-1]:.4f}, kmeans_auc "
                  f"{per['kmeans_auc'][-1]:.4f}, threshold {det_.threshold:.3f}", file=progress, flush=True)
    out: dict[str, Any] = {"auc": float(np.mean(per["auc"])), "auc_min": float(np.min(per["auc"])),
                           "kmeans_auc": float(np.mean(per["kmeans_auc"]))}
    for fault in machines.FAULT_TYPES:
        out[f"auc_{fault}"] = float(np.mean(per[f"auc_{fault}"]))
    for fault in machines.FAULT_TYPES:
        out[f"kmeans_auc_{fault}"] = float(np.mean(per[f"kmeans_auc_{fault}"]))
    for sev in SEVERITIES:
        out[f"auc_severity_{sev}"] = float(np.mean(per[f"auc_severity_{sev}"]))
        out[f"kmeans_auc_severity_{sev}"] = float(np.mean(per[f"kmeans_auc_severity_{sev}"]))
    out.update(false_alarm_rate=float(np.mean(fa)), detection_rate=float(np.mean(det)),
               episodes_normal=eps, fit_seconds=float(np.median(fit_s)),
               fit_seconds_with_frontend=float(np.median(fit_total_s)),
               score_ms_per_window=float(np.median(score_ms)), machines=len(configs),
               severities=list(SEVERITIES), fit_s=FIT_S, window_s=features.PARAMS.window_s,
               hop_s=features.PARAMS.hop_s)
    out.update({k: chip[k] for k in ("np_count", "dynamic_uj_per_window", "energy_uj_per_window")})
    return out


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    return evaluate(machine_configs(), progress=progress)
