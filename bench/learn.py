"""Edge-learning benchmark: the cost of learning and predicting on the learning layer.

Set-up as in BrainChip's published KWS edge-learning example (`reference/akida-facts.md` §3.4):
64 binary features (about 23 active per sample), 33 classes x 15 neurons = 495 neurons,
num_weights 27, learning_competition 0.1; then `add_classes(3)` as for the three new words.

Figures:
- ``ms_per_sample`` — `Model.fit` on ONE labelled sample (the whole public call: input checks,
  the numba kernel, syncing the layer), best of several runs, median over samples; target <= 1 ms.
- ``ms_per_sample_batch`` — the same per sample when 1000 samples go to one `fit` call.
- ``predict_ms`` — `Model.predict(x, num_classes)` of one sample; ``predict_ms_per_sample_batch``
  for a batch of 1000.

The keyword figures of issue 5 (``new_word_acc_5shot``, ``new_word_acc_1shot``, ``base_acc_drop``,
``adapt_acc_before`` / ``adapt_acc_after``) need the trained KWS model and held-out voices; they
are added by the KWS app (see `kws_figures` below), and reported as null until then.
"""

from __future__ import annotations

from typing import IO, Any

import numpy as np
from akida_edge.bench.timing import best_seconds

SUITE = "learn"

N_FEATURES = 64
ACTIVE_MEAN = 22.875  # mean spikes per sample of the published DS-CNN feature layer
CLASSES, NEURONS_PER_CLASS, NUM_WEIGHTS = 33, 15, 27


def _model(seed: int = 0) -> Any:
    import akida_edge as ae

    m = ae.Model([ae.InputData(input_shape=(1, 1, N_FEATURES), input_bits=1),
                  ae.FullyConnected(units=CLASSES * NEURONS_PER_CLASS, weights_bits=1,
                                    activation=False)])
    m.compile(num_weights=NUM_WEIGHTS, num_classes=CLASSES, learning_competition=0.1, seed=seed)
    return m


def _samples(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = (rng.random((n, 1, 1, N_FEATURES)) < ACTIVE_MEAN / N_FEATURES).astype(np.uint8)
    return x, rng.integers(0, CLASSES, n)


def kws_figures(progress: IO[str] | None = None) -> dict[str, Any]:
    """Keyword-learning accuracy figures (issue 5, part 5). Placeholder until the KWS model exists:
    the KWS app fills these in from its held-out voices; null means "not measured yet"."""
    return {"new_word_acc_5shot": None, "new_word_acc_1shot": None, "base_acc_drop": None,
            "adapt_acc_before": None, "adapt_acc_after": None}


def run(progress: IO[str] | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(20261127)
    m = _model()
    x, y = _samples(rng, 1000)
    m.fit(x[:1], y[:1])  # compile the kernels (cached on disk afterwards)
    m.predict(x[:1], num_classes=CLASSES)

    one = [best_seconds(lambda i=i: m.fit(x[i:i + 1], int(y[i])), repeat=3) for i in range(200)]
    fresh = _model(seed=1)
    batch = best_seconds(lambda: fresh.fit(x, y), repeat=1)
    m.add_classes(3)  # as in the published example: three new words
    new_x, _ = _samples(rng, 160)
    add_classes_fit = best_seconds(lambda: m.fit(new_x, rng.integers(CLASSES, CLASSES + 3, 160)),
                                   repeat=1)
    predict_one = [best_seconds(lambda i=i: m.predict(x[i:i + 1], num_classes=CLASSES + 3), repeat=3)
                   for i in range(100)]
    predict_batch = best_seconds(lambda: m.predict(x, num_classes=CLASSES + 3), repeat=3)
    figures: dict[str, Any] = {
        "ms_per_sample": round(float(np.median(one)) * 1e3, 4),
        "ms_per_sample_batch": round(batch / len(x) * 1e3, 5),
        "new_words_160_samples_ms": round(add_classes_fit * 1e3, 3),
        "predict_ms": round(float(np.median(predict_one)) * 1e3, 4),
        "predict_ms_per_sample_batch": round(predict_batch / len(x) * 1e3, 5),
        "neurons": int(m.learning.units),
        "num_weights": NUM_WEIGHTS,
        "n_features": N_FEATURES,
    }
    figures.update(kws_figures(progress))
    return figures
