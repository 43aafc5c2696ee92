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
- ``ms_per_sample_counts`` — ``ms_per_sample`` with the host-side ``rule="counts"`` variant.
- ``synth_5shot_acc_<rule>_<config>`` — few-shot accuracy on seeded synthetic binary patterns
  (10 classes, 64 features, prototypes of 24 active bits; every sample drops each bit w.p. 0.35
  and gains ~8 random bits; 5 shots per class, 100 test samples per class, mean over 5 seeds) for
  both rules and two set-ups: ``published`` (15 neurons per class, learning_competition 0.1, as
  the KWS example) and ``pooled`` (1 neuron per class, learning_competition 1). The two bounds:
  ``synth_5shot_acc_nearest_shot`` (1-NN on the shots) and ``synth_5shot_acc_oracle`` (knows the
  true prototypes).

- The keyword figures of issue 5 (``new_word_acc_5shot``, ``new_word_acc_1shot``, ``base_acc_drop``,
  ``adapt_acc_before`` / ``adapt_acc_after``, the same-voice figure, the diagnostics and the number
  of clips behind each): the shipped KWS model (`apps/kws`) learning through the ``kws learn``
  path, measured on espeak-ng voices held out from its training; see `bench/_learn_kws.py`. Beside
  them, the ``_tts`` figures: the same with text-to-speech enrollment (``kws learn --synthesize``),
  and the ``_other_synth`` figures: new words learned and tested on festival's voices, a
  synthesizer the backbone never heard (`other_synth_figures`); and the ``_neural_voice``
  figures: new words and adaptation taught and tested by one neural voice of a real person
  (`bench/_learn_neural.py`; null with ``neural_voice_reason`` without the ``dev`` extra); and the
  ``_kokoro`` figures: the same for each of six Kokoro neural voices never trained on, averaged
  (null with ``kokoro_learn_reason`` without the ``train`` extra), and the ``_kokoro_accented``
  figures for three accented Kokoro voices never trained on.
"""

from __future__ import annotations

from typing import IO, Any

import numpy as np

from akida_edge.bench._learn_kws import kws_figures, other_synth_figures
from akida_edge.bench._learn_neural import kokoro_figures, neural_voice_figures
from akida_edge.bench.timing import best_seconds

SUITE = "learn"
__all__ = ["SUITE", "kws_figures", "run", "synthetic_few_shot"]

N_FEATURES = 64
ACTIVE_MEAN = 22.875  # mean spikes per sample of the published DS-CNN feature layer
CLASSES, NEURONS_PER_CLASS, NUM_WEIGHTS = 33, 15, 27


def _model(seed: int = 0, rule: str = "akd1000", classes: int = CLASSES,
           neurons_per_class: int = NEURONS_PER_CLASS, num_weights: int = NUM_WEIGHTS,
           competition: float = 0.1) -> Any:
    import akida_edge as ae
    from akida_edge.engine import learning

    m = ae.Model([ae.InputData(input_shape=(1, 1, N_FEATURES), input_bits=1),
                  ae.FullyConnected(units=classes * neurons_per_class, weights_bits=1,
                                    activation=False)])
    learning.compile_model(m, num_weights=num_weights, num_classes=classes,
                           learning_competition=competition, seed=seed, rule=rule)
    return m


def _noisy(rng: np.random.Generator, protos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(len(protos)), n)
    keep = rng.random((len(labels), N_FEATURES)) >= 0.35
    extra = rng.random((len(labels), N_FEATURES)) < 8 / N_FEATURES
    return ((protos[labels] & keep) | extra).astype(np.uint8).reshape(-1, 1, 1, N_FEATURES), labels


def synthetic_few_shot(seeds: int = 5, classes: int = 10, shots: int = 5) -> dict[str, float]:
    """Few-shot accuracy of both rules on seeded synthetic patterns (see the module docstring)."""
    setups = {"published": (15, 0.1), "pooled": (1, 1.0)}
    acc: dict[str, list[float]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        protos = np.zeros((classes, N_FEATURES), np.uint8)
        for c in range(classes):
            protos[c, rng.choice(N_FEATURES, 24, replace=False)] = 1
        train_x, train_y = _noisy(rng, protos, shots)
        test_x, test_y = _noisy(rng, protos, 100)
        flat_test = test_x.reshape(len(test_x), -1).astype(np.int32)
        nearest = (flat_test @ train_x.reshape(len(train_x), -1).T.astype(np.int32)).argmax(axis=1)
        acc.setdefault("nearest_shot", []).append(float(np.mean(train_y[nearest] == test_y)))
        oracle = (flat_test @ protos.T.astype(np.int32)).argmax(axis=1)
        acc.setdefault("oracle", []).append(float(np.mean(oracle == test_y)))
        for rule in ("akd1000", "counts"):
            for name, (npc, competition) in setups.items():
                m = _model(seed, rule, classes, npc, 20, competition)
                m.fit(train_x, train_y)
                hit = float(np.mean(m.predict(test_x, num_classes=classes) == test_y))
                acc.setdefault(f"{rule}_{name}", []).append(hit)
    return {f"synth_{shots}shot_acc_{k}": round(float(np.mean(v)), 4) for k, v in acc.items()}


def _samples(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = (rng.random((n, 1, 1, N_FEATURES)) < ACTIVE_MEAN / N_FEATURES).astype(np.uint8)
    return x, rng.integers(0, CLASSES, n)


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
    counts_model = _model(rule="counts")
    counts_model.fit(x[:1], y[:1])
    one_counts = [best_seconds(lambda i=i: counts_model.fit(x[i:i + 1], int(y[i])), repeat=3)
                  for i in range(200)]
    figures: dict[str, Any] = {
        "ms_per_sample": round(float(np.median(one)) * 1e3, 4),
        "ms_per_sample_batch": round(batch / len(x) * 1e3, 5),
        "new_words_160_samples_ms": round(add_classes_fit * 1e3, 3),
        "predict_ms": round(float(np.median(predict_one)) * 1e3, 4),
        "predict_ms_per_sample_batch": round(predict_batch / len(x) * 1e3, 5),
        "ms_per_sample_counts": round(float(np.median(one_counts)) * 1e3, 4),
        "neurons": int(m.learning.units),
        "num_weights": NUM_WEIGHTS,
        "n_features": N_FEATURES,
    }
    figures.update(synthetic_few_shot())
    figures.update(kws_figures(progress))
    figures.update(other_synth_figures(progress))
    figures.update(neural_voice_figures(progress))
    figures.update(kokoro_figures(progress))
    figures.update(kokoro_figures(progress, accented=True))
    return figures
