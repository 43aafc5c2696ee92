"""Edge learning (engine/learning.py): the rule's invariants, few-shot accuracy, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

import akida_edge as ae
from akida_edge.engine import learning
from akida_edge.engine.learning_state import LearningState, backbone_hash
from akida_edge.errors import InputDataError, LearningError

pytestmark = pytest.mark.unit


def shallow(n_in: int = 64, units: int = 30, **compile_kw) -> ae.Model:
    m = ae.Model([ae.InputData(input_shape=(1, 1, n_in), input_bits=1),
                  ae.FullyConnected(units=units, weights_bits=1, activation=False)])
    kw = {"num_weights": 12, "num_classes": 3, "learning_competition": 0.1, "seed": 7}
    kw.update(compile_kw)
    learning.compile_model(m, **kw)
    return m


def binary(rng: np.random.Generator, n: int, n_in: int, p: float = 0.3) -> np.ndarray:
    return (rng.random((n, 1, 1, n_in)) < p).astype(np.uint8)


def test_compile_gives_num_weights_ones_and_nothing_learned():
    m = ae.Model([ae.InputData(input_shape=(1, 1, 64), input_bits=1),
                  ae.FullyConnected(units=30, weights_bits=1, activation=False)])
    m.compile(num_weights=12, num_classes=3, learning_competition=0.1, seed=7)  # Model's API
    assert m.learning.digest() == shallow().learning.digest()
    st = m.learning
    assert np.all(st.weights.sum(axis=0) == 12)
    assert not st.learned.any() and np.all(st.plasticity == 1.0)
    layer = m.layers[-1]
    np.testing.assert_array_equal(layer.get_variable("weights"), st.weights)
    assert np.all(layer.get_variable("threshold") == 12)  # fresh neurons never fire


@pytest.mark.parametrize("rule", ["akd1000", "counts"])
def test_count_of_ones_is_constant_through_learning(rng, rule):
    m = shallow(rule=rule)
    x, y = binary(rng, 60, 64), rng.integers(0, 3, 60)
    for i in range(0, 60, 7):
        m.fit(x[i:i + 7], y[i:i + 7])
        assert np.all(m.learning.weights.sum(axis=0) == 12)
    m.add_classes(2)
    m.fit(x[:10], np.full(10, 4))
    assert np.all(m.learning.weights.sum(axis=0) == 12)


def test_only_the_labelled_class_learns_one_neuron_per_sample(rng):
    m = shallow(units=30, num_classes=3)
    group = m.learning.neurons_per_class
    for x, label in zip(binary(rng, 25, 64), rng.integers(0, 3, 25), strict=True):
        before = m.learning.copy()
        (win,) = m.fit(x, int(label))
        changed_w = np.flatnonzero(np.any(m.learning.weights != before.weights, axis=0))
        changed_n = np.flatnonzero((m.learning.learn_count != before.learn_count)
                                   | (m.learning.threshold_learning != before.threshold_learning)
                                   | (m.learning.plasticity != before.plasticity))
        assert win // group == label
        assert set(changed_w) <= {win} and list(changed_n) == [win]
        assert m.learning.learn_count.sum() == before.learn_count.sum() + 1


def test_moved_ones_go_from_inactive_to_active_inputs(rng):
    m = shallow(units=3, num_classes=1)
    x = binary(rng, 1, 64, p=0.4)
    before = m.learning.weights.copy()
    (win,) = m.fit(x, 0)
    feat = x.reshape(-1).astype(bool)
    gained = (m.learning.weights[:, win] == 1) & (before[:, win] == 0)
    lost = (m.learning.weights[:, win] == 0) & (before[:, win] == 1)
    assert np.all(feat[gained]) and not np.any(feat[lost]) and gained.sum() == lost.sum()
    # plasticity 1: the fresh neuron imprints the sample as far as its ones allow
    movable = min(int((feat & (before[:, win] == 0)).sum()), int((~feat & (before[:, win] == 1)).sum()))
    assert gained.sum() == movable
    potential = int((feat & (m.learning.weights[:, win] == 1)).sum())
    assert potential == min(12, int(feat.sum()))


def test_plasticity_decays_to_min_and_threshold_rises(rng):
    init, decay, low = 0.9, 0.3, 0.2
    m = shallow(units=2, num_classes=2, learning_competition=1.0, initial_plasticity=init,
                plasticity_decay=decay, min_plasticity=low)
    proto = binary(rng, 1, 64, p=0.4)
    expected, thresholds = init, []
    for _ in range(5):
        (win,) = m.fit(proto, 1)
        assert win == 1  # one neuron per class: the same neuron keeps learning
        expected = max(low, expected - decay * init)
        assert m.learning.plasticity[1] == pytest.approx(expected)
        thresholds.append(int(m.learning.threshold_learning[1]))
    assert m.learning.plasticity[1] == pytest.approx(low)
    assert thresholds[0] > 0 and thresholds == sorted(thresholds)
    assert m.learning.threshold_learning[0] == 0 and m.learning.plasticity[0] == init


def test_competition_zero_recruits_fresh_neurons_first(rng):
    m = shallow(units=4, num_classes=1, learning_competition=0.0)
    proto = binary(rng, 1, 64, p=0.4)
    winners = [int(m.fit(proto, 0)[0]) for _ in range(6)]
    assert sorted(winners[:4]) == [0, 1, 2, 3]  # each sample recruits a fresh neuron
    assert all(w in range(4) for w in winners[4:])


@pytest.mark.parametrize("competition", [0.0, 0.3, 0.5, 1.0])
def test_learned_neuron_claims_a_sample_iff_it_reaches_theta(rng, competition):
    """Step 3: theta = T_L + (1 - competition) * (num_weights + 1 - T_L), checked on both sides."""
    for margin in (0, -1):
        m = shallow(units=3, num_classes=1, num_weights=20, learning_competition=competition)
        first = binary(rng, 1, 64, p=0.5)
        (w0,) = m.fit(first, 0)
        t = int(m.learning.threshold_learning[w0])
        theta = t + (1 - competition) * (20 + 1 - t)
        k = int(np.ceil(theta)) + margin  # overlap with the learned neuron's ones
        if not 0 <= k <= 20:
            continue
        ones = np.flatnonzero(m.learning.weights[:, w0])
        x = np.zeros(64, np.uint8)
        x[rng.choice(ones, k, replace=False)] = 1
        x[rng.choice(np.flatnonzero(m.learning.weights[:, w0] == 0), 10, replace=False)] = 1
        (win,) = m.fit(x.reshape(1, 1, 1, 64), 0)
        assert (win == w0) == (margin == 0), (competition, t, theta, k, win)


def prototypes(rng: np.random.Generator, classes: int, n_in: int, active: int) -> np.ndarray:
    protos = np.zeros((classes, n_in), np.uint8)
    for c in range(classes):
        protos[c, rng.choice(n_in, active, replace=False)] = 1
    return protos


def noisy(rng: np.random.Generator, protos: np.ndarray, n: int, drop: float = 0.2,
          add: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """n noisy versions per prototype: each active bit dropped w.p. `drop`, ~`add` random bits added."""
    n_in = protos.shape[1]
    labels = np.repeat(np.arange(len(protos)), n)
    keep = rng.random((len(labels), n_in)) >= drop
    extra = rng.random((len(labels), n_in)) < add / n_in
    x = ((protos[labels] & keep) | extra).astype(np.uint8)
    return x.reshape(-1, 1, 1, n_in), labels


def overlap_argmax(x: np.ndarray, refs: np.ndarray) -> np.ndarray:
    return (x.reshape(len(x), -1).astype(int) @ refs.reshape(len(refs), -1).T.astype(int)).argmax(axis=1)


def test_few_shot_prototypes_classify_clean_and_noisy_versions(rng):
    classes, n_in = 8, 128
    protos = prototypes(rng, classes, n_in, active=24)
    train_x, train_y = noisy(rng, protos, 5)
    test_x, test_y = noisy(rng, protos, 40)
    m = shallow(n_in=n_in, units=classes * 5, num_weights=20, num_classes=classes)
    m.fit(train_x, train_y)
    clean = m.predict(protos.reshape(-1, 1, 1, n_in), num_classes=classes)
    np.testing.assert_array_equal(clean, np.arange(classes))
    # oracle: the best overlap classifier, which knows the true prototypes
    oracle_acc = float(np.mean(overlap_argmax(test_x, protos) == test_y))
    acc = float(np.mean(m.predict(test_x, num_classes=classes) == test_y))
    assert acc >= oracle_acc - 0.05, (acc, oracle_acc)


def test_few_shot_under_heavy_noise_matches_nearest_shot(rng):
    """Heavy noise, 5 shots per class, 64 features: as good as the nearest training shot (1-NN)."""
    classes, n_in = 10, 64
    protos = prototypes(rng, classes, n_in, active=24)
    train_x, train_y = noisy(rng, protos, 5, drop=0.35, add=8)
    test_x, test_y = noisy(rng, protos, 60, drop=0.35, add=8)
    m = shallow(n_in=n_in, units=classes * 5, num_weights=20, num_classes=classes)
    m.fit(train_x, train_y)
    nn_acc = float(np.mean(train_y[overlap_argmax(test_x, train_x)] == test_y))
    acc = float(np.mean(m.predict(test_x, num_classes=classes) == test_y))
    assert acc >= nn_acc - 0.05, (acc, nn_acc)
    assert acc > 5 / classes  # far above chance


def test_counts_rule_averages_many_noisy_shots(rng):
    """With all of a class's samples on one neuron, the counts variant finds the majority pattern:
    better than the AKD1000 rule (which follows the latest samples) and close to the oracle."""
    classes, n_in = 10, 64
    protos = prototypes(rng, classes, n_in, active=24)
    train_x, train_y = noisy(rng, protos, 20, drop=0.35, add=8)
    test_x, test_y = noisy(rng, protos, 60, drop=0.35, add=8)
    acc = {}
    for rule in ("akd1000", "counts"):
        m = shallow(n_in=n_in, units=classes, num_weights=20, num_classes=classes,
                    learning_competition=1.0, rule=rule)
        m.fit(train_x, train_y)
        assert np.all(m.learning.weights.sum(axis=0) == 20)
        if rule == "counts":
            active = train_x.reshape(len(train_x), -1).astype(np.int64)
            per_class = np.stack([active[train_y == c].sum(axis=0) for c in range(classes)], axis=1)
            np.testing.assert_array_equal(m.learning.counts, per_class)
        acc[rule] = float(np.mean(m.predict(test_x, num_classes=classes) == test_y))
    oracle_acc = float(np.mean(overlap_argmax(test_x, protos) == test_y))
    assert acc["counts"] >= acc["akd1000"] and acc["counts"] >= oracle_acc - 0.05, (acc, oracle_acc)


def test_add_classes_keeps_old_neurons_and_predictions(rng):
    protos = prototypes(rng, 5, 64, 16)
    x, y = noisy(rng, protos, 4)
    m = shallow(units=5 * 3, num_weights=12, num_classes=5)
    m.fit(x, y)
    before = m.learning.copy()
    pred_before = m.predict(x, num_classes=5)
    m.add_classes(2)
    assert m.layers[-1].output_shape == (1, 1, 21) and m.learning.num_classes == 7
    assert m.layers[-1].get_variable("weights").shape == (64, 21)
    np.testing.assert_array_equal(m.learning.weights[:, :15], before.weights)
    np.testing.assert_array_equal(m.learning.threshold_learning[:15], before.threshold_learning)
    np.testing.assert_array_equal(m.predict(x, num_classes=7), pred_before)
    new_protos = prototypes(rng, 2, 64, 16)
    new_x, new_y = noisy(rng, new_protos, 4)
    m.fit(new_x, new_y + 5)
    np.testing.assert_array_equal(m.predict(new_protos.reshape(-1, 1, 1, 64), num_classes=7), [5, 6])
    np.testing.assert_array_equal(m.learning.weights[:, :15], before.weights)


def test_reset_classes_forgets_only_those_classes(rng):
    protos = prototypes(rng, 3, 64, 16)
    x, y = noisy(rng, protos, 4)
    m = shallow(units=3 * 4, num_weights=12, num_classes=3)
    m.fit(x, y)
    before = m.learning.copy()
    learning.reset_classes(m, [1])
    st = m.learning
    assert not st.learned[4:8].any() and np.all(st.weights[:, 4:8].sum(axis=0) == 12)
    np.testing.assert_array_equal(st.weights[:, :4], before.weights[:, :4])
    np.testing.assert_array_equal(st.weights[:, 8:], before.weights[:, 8:])
    pred = m.predict(x, num_classes=3)
    assert not np.any(pred == 1)
    np.testing.assert_array_equal(pred[y != 1], before_pred(before, x)[y != 1])
    m.fit(x[y == 1], 1)  # and it can be learned again
    assert np.all(m.predict(protos.reshape(-1, 1, 1, 64), num_classes=3) == [0, 1, 2])


def before_pred(state: LearningState, x: np.ndarray) -> np.ndarray:
    m = shallow(units=state.units, num_weights=state.num_weights, num_classes=state.num_classes)
    learning.attach(m, state.copy())
    return m.predict(x, num_classes=state.num_classes)


def test_distance_to_learned_prototypes(rng):
    m = shallow(units=4, num_classes=1, num_weights=12)
    x = binary(rng, 3, 64, p=0.4)
    assert np.all(learning.distance(m, x) == 12)  # nothing learned yet
    m.fit(x[:1], 0)
    pot = learning.potentials(m, x)[:, m.learning.learned]
    np.testing.assert_array_equal(learning.distance(m, x), 12 - pot.max(axis=1))
    assert learning.distance(m, x[:1])[0] == 0  # imprinted at plasticity 1


def test_class_match_is_the_best_learned_neurons_cosine(rng):
    m = shallow(units=30, num_classes=3, num_weights=12)
    x = binary(rng, 6, 64, p=0.3)
    m.fit(x[:4], np.array([0, 0, 2, 2]))
    state = m.learning
    feats = x.reshape(len(x), -1)
    got = learning.class_match(state, feats, 3)
    assert got.shape == (6, 3) and np.all(got[:, 1] == 0)  # class 1 learned nothing
    for i, f in enumerate(feats.astype(bool)):
        for c in (0, 2):
            cos = [np.sum(f & w.astype(bool)) / np.sqrt(w.sum() * max(f.sum(), 1))
                   for j, w in enumerate(state.weights.T) if j // 10 == c and state.learned[j]]
            assert got[i, c] == pytest.approx(max(cos), abs=1e-12)
    assert got[0, 0] == pytest.approx(12 / np.sqrt(12 * feats[0].sum()))  # the first shot, imprinted


def test_determinism_with_a_seed(rng):
    x, y = binary(rng, 40, 64), rng.integers(0, 3, 40)
    a, b, c = shallow(seed=3), shallow(seed=3), shallow(seed=4)
    for m in (a, b, c):
        m.fit(x, y)
    assert a.learning.digest() == b.learning.digest()
    assert not np.array_equal(a.learning.weights, c.learning.weights)


def test_state_round_trip_resumes_identically(rng):
    x, y = binary(rng, 30, 64), rng.integers(0, 3, 30)
    a, b = shallow(), shallow()
    a.fit(x, y)
    b.fit(x[:15], y[:15])
    meta = json.loads(json.dumps(b.learning.meta()))
    restored = LearningState.from_parts(meta, b.learning.arrays())
    c = shallow(seed=99)
    learning.attach(c, restored)
    c.fit(x[15:], y[15:])
    assert c.learning.digest() == a.learning.digest()


def test_unsupervised_winner_take_all(rng):
    m = shallow(units=10, num_classes=None, learning_competition=0.0)
    x = binary(rng, 6, 64, p=0.35)
    winners = m.fit(x)
    assert len(set(winners.tolist())) == 6
    np.testing.assert_array_equal(m.predict(x, num_classes=10), winners)
    with pytest.raises(LearningError, match="without num_classes"):
        m.fit(x, 0)


def test_empty_sample_learns_nothing_and_fires_nothing(rng):
    m = shallow()
    m.fit(binary(rng, 5, 64), [0, 1, 2, 0, 1])
    empty = np.zeros((1, 1, 1, 64), np.uint8)
    assert m.fit(empty, 0)[0] == -1
    assert m.predict(empty, num_classes=3)[0] == learning.NO_FIRE


def test_zero_plasticity_never_learns(rng):
    m = shallow(initial_plasticity=0.0, min_plasticity=0.0)
    assert np.all(m.fit(binary(rng, 5, 64), 1) == -1) and not m.learning.learned.any()


@pytest.mark.parametrize("layers,kw,match", [
    ([ae.InputData(input_shape=(4, 4, 1), input_bits=1),
      ae.Convolutional(kernel_size=3, filters=2, weights_bits=1)], {}, "only a FullyConnected"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=1),
      ae.FullyConnected(units=4, weights_bits=2, activation=False)], {}, "weights_bits=1"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=4),
      ae.FullyConnected(units=4, activation=False)], {}, "input_bits=1"),
    ([ae.InputData(input_shape=(3, 3, 2), input_bits=1),
      ae.Convolutional(kernel_size=3, filters=4, act_bits=2, weights_bits=2),
      ae.FullyConnected(units=4, activation=False)], {}, "act_bits=1"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=1),
      ae.FullyConnected(units=4, activation=False)], {"num_weights": 9}, r"\[1, 8\]"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=1),
      ae.FullyConnected(units=4, activation=False)], {"num_classes": 3}, "equal groups"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=1),
      ae.FullyConnected(units=4, activation=False)], {"initial_plasticity": 1.5}, r"in \[0, 1\]"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=1),
      ae.FullyConnected(units=4, activation=False)], {"min_plasticity": 0.5, "initial_plasticity": 0.3},
     "only decrease"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=1),
      ae.FullyConnected(units=4, activation=False)], {"rule": "stdp"}, "unknown"),
    ([ae.InputData(input_shape=(1, 1, 8), input_bits=1)], {}, "1 layer"),
])
def test_refusals_name_the_reason(layers, kw, match):
    m = ae.Model(layers)
    with pytest.raises(LearningError, match=match):
        learning.compile_model(m, **{"num_weights": 4, **kw})


def test_misuse_errors(rng):
    m = ae.Model([ae.InputData(input_shape=(1, 1, 8), input_bits=1),
                  ae.FullyConnected(units=4, activation=False)])
    with pytest.raises(LearningError, match="not compiled"):
        m.fit(np.zeros((1, 1, 1, 8), np.uint8), 0)
    m.compile(num_weights=3, num_classes=2)
    with pytest.raises(InputDataError, match="outside"):
        m.fit(np.ones((1, 1, 1, 8), np.uint8), 2)
    with pytest.raises(InputDataError, match="do not match"):
        m.fit(np.ones((1, 8), np.uint8), 0)
    with pytest.raises(InputDataError, match="0 or 1"):
        m.fit(np.full((1, 1, 1, 8), 2, np.uint8), 0)
    with pytest.raises(LearningError, match="must divide"):
        m.predict(np.ones((1, 1, 1, 8), np.uint8), num_classes=3)


def test_backbone_hash_ignores_the_learning_layer(rng):
    a, b = shallow(), shallow(seed=1)
    b.fit(binary(rng, 4, 64), 0)
    b.add_classes(1)
    assert backbone_hash(a) == backbone_hash(b)
    c = shallow(n_in=32)
    assert backbone_hash(c) != backbone_hash(a)


def deep_model() -> ae.Model:
    return ae.Model([ae.InputData(input_shape=(4, 4, 2), input_bits=1),
                     ae.Convolutional(kernel_size=3, filters=8, weights_bits=1, act_bits=1),
                     ae.FullyConnected(units=6, weights_bits=1, activation=False)])


def test_deep_model_calls_the_executor_for_its_features(rng, monkeypatch):
    """The contract with engine/execute.py, with a stand-in forward (the real one is tested below)."""
    from akida_edge.engine import execute

    calls = []

    def forward(model, x, upto):
        calls.append(upto)
        return (x.sum(axis=3, keepdims=True).repeat(8, axis=3) > 0).astype(np.uint8)  # (N, 4, 4, 8)

    monkeypatch.setattr(execute, "forward", forward)
    deep = deep_model()
    deep.compile(num_weights=20, num_classes=3, learning_competition=0.1, seed=5)
    x = binary(rng, 12, 32).reshape(12, 4, 4, 2)
    y = rng.integers(0, 3, 12)
    flat = shallow(n_in=128, units=6, num_weights=20, num_classes=3, seed=5)
    feats = forward(deep, x, 2).reshape(12, 1, 1, -1)
    np.testing.assert_array_equal(deep.fit(x, y), flat.fit(feats, y))
    assert deep.learning.digest() == flat.learning.digest() and set(calls) == {2}
    monkeypatch.setattr(execute, "forward", lambda model, x, upto: np.full((len(x), 128), 3))
    with pytest.raises(InputDataError, match="0 or 1"):
        deep.fit(x, y)


def test_deep_model_learns_from_backbone_features(rng):
    from akida_edge.engine import execute

    deep = deep_model()
    deep.layers[1].set_variable("weights", rng.integers(0, 2, size=(3, 3, 2, 8)))
    deep.layers[1].set_variable("threshold", np.full(8, 2))
    deep.compile(num_weights=20, num_classes=3, learning_competition=0.1, seed=5)
    x = binary(rng, 12, 32).reshape(12, 4, 4, 2)
    feats = np.asarray(execute.forward(deep, x, upto=2)).reshape(12, -1)
    flat = shallow(n_in=feats.shape[1], units=6, num_weights=20, num_classes=3, seed=5)
    y = rng.integers(0, 3, 12)
    np.testing.assert_array_equal(deep.fit(x, y), flat.fit(feats.reshape(12, 1, 1, -1), y))
    assert deep.learning.digest() == flat.learning.digest()
    np.testing.assert_array_equal(deep.predict(x, num_classes=3),
                                  flat.predict(feats.reshape(12, 1, 1, -1), num_classes=3))
