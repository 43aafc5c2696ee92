"""Vibration anomaly detection: a machine's *normal* learned on the device (issue 5, part 4).

vibration -> `features` (front-end bands, envelope, statistics) -> `features.encode` (4-bit input
tensor) -> backbone on the virtual AKD1000 (`model/backbone.aem`, trained by `train.py`) -> 1-bit
features -> a learning layer that learns normal only (`detector.py`) -> anomaly score, threshold,
episodes (`episodes.py`). The peer method (Edge Impulse's K-means anomaly) is `kmeans.py`.
"""
