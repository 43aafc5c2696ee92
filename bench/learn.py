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
  ``adapt_acc_before`` / ``adapt_acc_after``, and the number of clips behind each): the shipped KWS
  model (`apps/kws`) learning through the ``kws learn`` path, measured on espeak-ng voices held out
  from its training; see `kws_figures`.
"""

from __future__ import annotations

from typing import IO, Any

import numpy as np

from akida_edge.bench.timing import best_seconds

SUITE = "learn"

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


NEW_WORDS = ("backward", "follow", "forward")
KWS_SEED = 20261127


def _kws_clip(rng: np.random.Generator, voice: str, word: str) -> np.ndarray:
    """One 1-s, 16 kHz clip of `word` in `voice`: the generator's prosody and speaker/channel
    augmentation (`synth.random_speech`), a random onset, peak 0.3 and white noise at -60 dBFS RMS."""
    from akida_edge.apps.kws import synth

    x = synth.trim(synth.synthesize(synth.random_speech(rng, voice, word)))
    clip, _ = synth.fit(x, synth.SAMPLE_RATE_HZ, rng)
    clip = 0.3 * clip / max(float(np.abs(clip).max()), 1e-9) + 1e-3 * rng.standard_normal(clip.size)
    return clip.astype(np.float32)


def _accuracy(spotter: Any, clips: list[tuple[str, np.ndarray]]) -> float:
    """Share of clips that `Spotter.classify_audio` (the `kws classify` path) labels right."""
    return float(np.mean([spotter.classify_audio(x)[0] == word for word, x in clips])) if clips else 0.0


def _learn(spotter: Any, word: str, clips: list[np.ndarray]) -> None:
    """`kws learn`'s path: the clips' log-mel, then `Learned.learn`."""
    from akida_edge.apps.kws import features as F

    spotter.learned.learn(word, [F.logmel(x, F.PARAMS) for x in clips])


def kws_figures(progress: IO[str] | None = None, words: tuple[str, ...] = NEW_WORDS, shots: int = 5,
                learners: int = 5, test_voices: int = 8, base_per_keyword: int = 3,
                adapt_voices: int = 4, adapt_test_per_keyword: int = 3,
                seed: int = KWS_SEED) -> dict[str, Any]:
    """Keyword-learning accuracy of the shipped KWS model on held-out voices (issue 5, part 5).

    Voices (`apps.kws.voices.split_voices`, the data set's seed): the ``test`` split (voices never
    heard in training, their language and variant were) and ``cross_family`` (language AND variant
    family never heard). Clips: `_kws_clip`, seeded by `seed`. Learning goes through the public
    path of ``akida-edge kws learn`` (`Learned.learn` on the clips' log-mel, a fresh per-device
    state in a temporary directory); classification through `Spotter.classify_audio`.

    - ``new_word_acc_<shots>shot`` / ``new_word_acc_1shot``: `words` (not among the 12 classes)
      learned from `shots` (1) clips each of one test voice (the *learner*); accuracy on the words
      said once each by `test_voices` OTHER test voices. Mean over `learners` learner voices.
    - ``base_acc_drop``: accuracy on the ten keywords (`base_per_keyword` clips each) and
      `base_per_keyword` `_unknown_` words, said by the other test voices, before − after
      learning the `shots`-shot words, mean over learners.
    - ``adapt_acc_before`` / ``adapt_acc_after``: for `adapt_voices` cross-family voices, the
      keyword accuracy on `adapt_test_per_keyword` clips per keyword before and after learning
      `shots` other clips per keyword of that voice under the keyword's own name.
    """
    import tempfile

    from akida_edge.apps.kws.app import KEYWORDS, Spotter
    from akida_edge.apps.kws.dataset import UNKNOWN_WORDS
    from akida_edge.apps.kws.voices import available_languages, available_variants, split_voices

    split = split_voices(available_languages(), available_variants(), seed)
    rng = np.random.default_rng([seed, 5])
    test = [split["test"][i].name for i in rng.permutation(len(split["test"]))]
    cross = [split["cross_family"][i].name for i in rng.permutation(len(split["cross_family"]))]
    if progress:
        print(f"bench learn: KWS figures on held-out voices ({learners} learners, {test_voices} test "
              f"voices, {adapt_voices} cross-family voices)", file=progress, flush=True)
    base = Spotter(learned=False)
    acc_k: list[float] = []
    acc_1: list[float] = []
    drop: list[float] = []
    n_new = n_base = 0
    for li in range(learners):
        learner, others = test[li], test[learners + li * test_voices: learners + (li + 1) * test_voices]
        shot_clips = {w: [_kws_clip(rng, learner, w) for _ in range(shots)] for w in words}
        new_test = [(w, _kws_clip(rng, v, w)) for w in words for v in others]
        base_words = [str(k) for k in (*np.repeat(KEYWORDS, base_per_keyword),
                                       *rng.choice(UNKNOWN_WORDS, base_per_keyword))]
        base_test = [(k if k in KEYWORDS else "_unknown_", _kws_clip(rng, others[i % len(others)], k))
                     for i, k in enumerate(base_words)]
        n_new, n_base = len(new_test), len(base_test)
        before = _accuracy(base, base_test)
        for n_shots, acc in ((shots, acc_k), (1, acc_1)):
            with tempfile.TemporaryDirectory() as state:
                spotter = Spotter(state_dir=state)
                for w in words:
                    _learn(spotter, w, shot_clips[w][:n_shots])
                acc.append(_accuracy(spotter, new_test))
                if n_shots == shots:
                    drop.append(before - _accuracy(spotter, base_test))
    adapt_before: list[float] = []
    adapt_after: list[float] = []
    n_adapt = 0
    for voice in cross[:adapt_voices]:
        learn_clips = {k: [_kws_clip(rng, voice, k) for _ in range(shots)] for k in KEYWORDS}
        adapt_test = [(k, _kws_clip(rng, voice, k)) for k in KEYWORDS for _ in range(adapt_test_per_keyword)]
        n_adapt = len(adapt_test)
        adapt_before.append(_accuracy(base, adapt_test))
        with tempfile.TemporaryDirectory() as state:
            spotter = Spotter(state_dir=state)
            for k in KEYWORDS:
                _learn(spotter, k, learn_clips[k])
            adapt_after.append(_accuracy(spotter, adapt_test))

    def mean(v: list[float]) -> float | None:
        return round(float(np.mean(v)), 4) if v else None

    return {
        f"new_word_acc_{shots}shot": mean(acc_k), "new_word_acc_1shot": mean(acc_1),
        "base_acc_drop": mean(drop), "adapt_acc_before": mean(adapt_before),
        "adapt_acc_after": mean(adapt_after),
        "new_words": list(words), "new_word_learners": test[:learners],
        "new_word_shot_clips": len(words) * shots * learners,
        "new_word_test_clips": n_new * learners, "base_test_clips": n_base * learners,
        "adapt_voices": cross[:adapt_voices], "adapt_shot_clips": len(KEYWORDS) * shots * adapt_voices,
        "adapt_test_clips": n_adapt * adapt_voices,
    }


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
    return figures
