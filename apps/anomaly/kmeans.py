"""The peer method: Edge Impulse's K-means anomaly detection on standardized spectral features.

Edge Impulse (`inferencing-sdk-cpp`, `classifier/inferencing_engines/anomaly.h`;
`reference/encoders-and-peers.md` §4.2) standard-scales the selected feature axes,
z = (x − mean) / scale, clusters the normal training data with K-means and keeps per cluster k
its centroid c_k and its radius r_k (`max_error`: the largest distance of a member to c_k). A
sample's score is

    score(x) = min_k ( ‖z − c_k‖₂ − r_k )

— negative inside a cluster, the distance from the edge of the nearest cluster outside. Their
default cluster count is 32; with fewer samples we use at most n/4 clusters. K-means here is
k-means++ seeding (Arthur & Vassilvitskii, SODA 2007) and Lloyd iterations, the best of `n_init`
seeded restarts by inertia. Features: the same front-end values the backbone sees, before
quantization (RMS, kurtosis, crest factor, spectrum and envelope bands) — the same information
for both methods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def kmeans(x: np.ndarray, k: int, seed: int = 0, n_init: int = 3, max_iter: int = 100
           ) -> tuple[np.ndarray, np.ndarray]:
    """(centroids (k, d), labels (n,)) of `x` (n, d): k-means++ then Lloyd, best of `n_init`."""
    x = np.asarray(x, np.float64)
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= n samples, got k={k}, n={n}")
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(n_init):
        centers = _plus_plus(x, k, rng)
        labels = np.zeros(n, np.int64)
        for it in range(max_iter):
            d2 = _sq_dist(x, centers)
            new = d2.argmin(axis=1)
            if it and np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                members = x[labels == j]
                if len(members):
                    centers[j] = members.mean(axis=0)
                else:  # an empty cluster takes the point farthest from its centre
                    far = int(d2[np.arange(n), labels].argmax())
                    centers[j] = x[far]
                    labels[far] = j
        inertia = float(_sq_dist(x, centers)[np.arange(n), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, centers.copy(), labels.copy())
    assert best is not None
    return best[1], best[2]


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centers = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = _sq_dist(x, np.asarray(centers)).min(axis=1)
        total = d2.sum()
        idx = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
        centers.append(x[idx])
    return np.asarray(centers, np.float64)


def _sq_dist(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum((x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :], 0.0)


@dataclass
class KMeansAnomaly:
    """Edge Impulse's K-means anomaly block (see the module docstring)."""

    clusters: int = 32
    seed: int = 0
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    centroids: np.ndarray | None = None
    radius: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> KMeansAnomaly:
        x = np.asarray(x, np.float64).reshape(len(x), -1)
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0)
        self.scale[self.scale == 0] = 1.0  # a constant feature (scikit-learn's StandardScaler rule)
        z = (x - self.mean) / self.scale
        k = max(1, min(self.clusters, len(z) // 4))
        self.centroids, labels = kmeans(z, k, seed=self.seed)
        d = np.sqrt(_sq_dist(z, self.centroids)[np.arange(len(z)), labels])
        self.radius = np.zeros(k)
        np.maximum.at(self.radius, labels, d)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        """(n,) min_k(‖z − c_k‖ − r_k): below 0 inside a cluster."""
        if self.centroids is None:
            raise ValueError("fit the K-means anomaly model first")
        z = (np.asarray(x, np.float64).reshape(len(x), -1) - self.mean) / self.scale
        return (np.sqrt(_sq_dist(z, self.centroids)) - self.radius[None, :]).min(axis=1)
