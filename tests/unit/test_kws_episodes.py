"""Session 8's metric learning on the binary features (`episodes.py`, `train.py --metric`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from akida_edge.apps.kws import episodes, network, train  # noqa: E402
from akida_edge.apps.kws.features import BANDS, FRAMES  # noqa: E402
from akida_edge.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.unit


def _labels(rng, words: int, voices: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([f"w{i}" for i in rng.integers(0, words, n)]),
            np.array([f"v{i}" for i in rng.integers(0, voices, n)]))


def test_episodes_never_put_a_query_voice_in_its_support(rng):
    word, voice = _labels(rng, 12, 6, 600)
    offset = 1000
    sampler = episodes.EpisodeSampler(word, voice, offset=offset)
    assert sampler.words == 12
    ep_rng = np.random.default_rng(3)
    for _ in range(50):
        ep = sampler.sample(ep_rng, words=5, shots=3, queries=4)
        assert set(np.unique(ep.support_word)) == set(np.unique(ep.query_word)) == set(range(5))
        for k in range(5):
            sup = ep.support[ep.support_word == k] - offset
            qry = ep.query[ep.query_word == k] - offset
            assert 1 <= len(sup) <= 3 and len(qry) == 4
            assert len(set(word[sup]) | set(word[qry])) == 1  # one word per episode class
            assert len(set(voice[sup])) == 1  # the support: clips of ONE voice
            assert not set(voice[qry]) & set(voice[sup])  # queries: only OTHER voices
        assert len(set(word[ep.support - offset])) == 5  # five different words


def test_a_word_of_one_voice_is_never_drawn(rng):
    word = np.array(["a"] * 4 + ["b"] * 4)
    voice = np.array(["x", "x", "y", "y", "z", "z", "z", "z"])  # "b" only by z: no other voice
    sampler = episodes.EpisodeSampler(word, voice)
    assert sampler.words == 1
    ep = sampler.sample(np.random.default_rng(0), words=4, shots=5, queries=2)
    assert set(word[ep.support]) == {"a"} and set(word[ep.query]) == {"a"}
    with pytest.raises(ValueError, match="another voice"):
        episodes.EpisodeSampler(word[4:], voice[4:])


def test_prototypical_loss_is_the_cross_entropy_of_cosine_to_the_mean_support(rng):
    support = torch.from_numpy(rng.random((7, 10)).astype(np.float32))
    s_word = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    query = torch.from_numpy(rng.random((5, 10)).astype(np.float32))
    q_word = torch.tensor([2, 0, 1, 1, 0])
    tau = 0.2
    protos = torch.stack([support[s_word == k].mean(0) for k in range(3)])
    cos = torch.stack([torch.stack([torch.dot(q, p) / (q.norm() * p.norm()) for p in protos]) for q in query])
    want = -torch.log_softmax(cos / tau, 1)[torch.arange(5), q_word].mean()
    got = episodes.prototypical_loss(support, s_word, query, q_word, tau)
    assert float(got) == pytest.approx(float(want), rel=1e-5)


def test_binarize_is_binary_forward_with_the_clipped_straight_through_gradient():
    x = torch.tensor([-1.0, -0.4, 0.2, 0.5, 0.7, 1.4, 2.0], requires_grad=True)
    b = episodes.binarize(x, 0.5)
    assert b.tolist() == [float(v > 0.5) for v in x.tolist()]
    b.sum().backward()
    assert x.grad.tolist() == [float(abs(v - 0.5) <= 1.0) for v in x.detach().tolist()]


def test_the_loss_falls_for_separable_features(rng):
    """Four words, each a cluster whatever the voice: a linear feature layer trained through the
    binarization on cross-voice episodes learns binary features that match a query to its word."""
    torch.manual_seed(0)
    words, dim, n = 4, 12, 400
    centre = rng.standard_normal((words, dim)) * 2
    word_id = rng.integers(0, words, n)
    x = torch.from_numpy((centre[word_id] + 0.5 * rng.standard_normal((n, dim))).astype(np.float32))
    voice = np.array([f"v{i}" for i in rng.integers(0, 8, n)])
    sampler = episodes.EpisodeSampler(word_id, voice)
    layer = torch.nn.Linear(dim, 32)
    opt = torch.optim.Adam(layer.parameters(), lr=0.02)
    ep_rng = np.random.default_rng(1)

    def loss_of(ep) -> torch.Tensor:
        b = episodes.binarize(layer(x[np.concatenate([ep.support, ep.query])]))
        ns = len(ep.support)
        return episodes.prototypical_loss(b[:ns], torch.from_numpy(ep.support_word), b[ns:],
                                          torch.from_numpy(ep.query_word))

    fixed = [sampler.sample(np.random.default_rng(100 + i), words=4, shots=5, queries=4) for i in range(20)]
    with torch.no_grad():
        before = float(np.mean([float(loss_of(ep)) for ep in fixed]))
    for _ in range(150):
        loss = loss_of(sampler.sample(ep_rng, words=4, shots=5, queries=4))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(np.mean([float(loss_of(ep)) for ep in fixed]))
    assert after < 0.5 * before
    assert after < math.log(words)  # better than chance among the four prototypes


def test_fit_with_metric_trains_the_feature_layer_and_logs_the_loss(rng):
    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    n = 48
    x = torch.from_numpy(rng.integers(0, 256, (n, 1, FRAMES, BANDS)).astype(np.float32))
    y = torch.full((n,), -100)
    y[:16] = torch.from_numpy(rng.integers(0, 12, 16))
    wide = torch.from_numpy(rng.integers(0, 17, n))
    word, voice = _labels(rng, 4, 3, n - 16)
    metric = episodes.Metric(episodes.EpisodeSampler(word, voice, offset=16), weight=1.0)
    head = network.aux_head(model, 17)
    dense = model[-4]  # the binary-feature layer's weights
    before = dense.weight.detach().clone()
    logs = network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=16, progress=None, aux=(head, wide),
                       metric=metric)
    assert math.isfinite(logs[0]["metric_loss"]) and logs[0]["metric_loss"] > 0
    assert not torch.equal(before, dense.weight.detach())
    with pytest.raises(ValueError, match="aux"):
        network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, progress=None, metric=metric)


@pytest.mark.parametrize("kwargs, match", [
    ({"metric": -1.0}, "--metric"),
    ({"metric": 1.0, "metric_temperature": 0.0}, "temperature"),
    ({"metric": 1.0}, "--words"),
    ({"metric": 1.0, "words": "w", "float_from": "x.pt"}, "float epochs"),
])
def test_bad_metric_settings_are_one_line_errors(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        train.run(tmp_path / "data", tmp_path / "out", small=True, progress=None, **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()  # refused before anything is made
