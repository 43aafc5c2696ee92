"""Session 9's phonetic head on the binary features (`phones.py`, `train.py --phones`)."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from akida_edge.apps.kws import dataset, feature_head, network, phones, train  # noqa: E402
from akida_edge.apps.kws.features import BANDS, FRAMES  # noqa: E402
from akida_edge.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.unit
espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Tiny tensors: PyTorch on one thread (`torch_one_thread`, conftest)."""


def test_the_accent_is_the_espeak_voice_without_its_variant():
    assert phones.accent("en-gb-x-rp+Alex") == "en-gb-x-rp"
    assert phones.accent("en-us") == "en-us"
    assert phones.accent("flite+slt") == phones.FLITE_ACCENT
    assert phones.accent("") is None


def test_stress_marks_are_stripped():
    assert phones.split_phones("f_'O@_w_3_d") == ["f", "O@", "w", "3", "d"]
    assert phones.split_phones(",a_b_'i:") == ["a", "b", "i:"]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 11])
def test_a_phone_at_index_i_of_n_goes_to_bin_floor_of_3_i_plus_half_over_n(n):
    got = phones.position_bins(n, 3)
    want = [int(math.floor(3 * (i + 0.5) / n)) for i in range(n)]
    assert got.tolist() == want
    assert got[0] == (0 if n > 1 else 1) and got[-1] == (2 if n > 1 else 1)  # first and last thirds


@espeak
def test_backward_and_forward_share_their_last_bin_and_differ_in_the_first():
    got = phones.transcribe("en-us", ["backward", "forward", "follow"])
    assert all(got[w] for w in got)
    inventory = tuple(sorted({p for ph in got.values() for p in ph}))
    table = phones.PhoneTable(inventory, {("en-us", w): tuple(ph) for w, ph in got.items()})
    y, mask = table.targets(np.array(["en-us+m3", "flite+kal", "en-us"]),
                            np.array(["backward", "forward", "follow"]))
    assert mask.all()
    per = len(inventory)
    first, last = slice(0, per), slice(2 * per, 3 * per)
    assert np.array_equal(y[0, last], y[1, last]) and y[0, last].sum() > 0  # "-ward" ends both
    assert not np.array_equal(y[0, first], y[1, first])  # "back-" vs "for-"
    assert not np.array_equal(y[1], y[2])
    # every target row marks exactly the distinct (bin, phone) pairs of its word
    for row, w in zip(y, ["backward", "forward", "follow"], strict=True):
        ph = got[w]
        assert row.sum() == len({(b, p) for b, p in zip(phones.position_bins(len(ph)), ph, strict=True)})


def test_rare_symbols_merge_into_their_base_form_or_are_dropped():
    raw = {("a", f"w{i}"): ["b", "i"] for i in range(5)}
    raw[("a", "long")] = ["b", "i:"]  # rare, base "i" frequent: merged
    raw[("a", "odd")] = ["b", "Q#"]  # rare, base "Q" unknown: dropped
    inventory, merged = phones.merge_rare(raw, min_count=3)
    assert inventory == ("b", "i")
    assert merged[("a", "long")] == ("b", "i") and merged[("a", "odd")] == ("b",)


def test_silence_windows_and_unknown_pairs_get_no_target():
    table = phones.PhoneTable(("a", "b"), {("en-us", "ab"): ("a", "b"), ("en-gb", "ab"): ("b",)})
    voices = np.array(["en-us+m1", "", "en-gb+Alex", "en-gb+Alex", "flite+awb"])
    words = np.array(["ab", "", "ab", "zz", "ab"])
    y, mask = table.targets(voices, words)
    assert mask.tolist() == [True, False, True, False, True]
    assert not y[~mask].any()
    assert y[0].tolist() == table.vector(("a", "b")).tolist() == y[4].tolist()  # flite: en-us rules


@espeak
def test_phone_targets_follow_fit_datas_order_and_mask_silence_and_windows(tmp_path, rng):
    silence = dataset.CLASSES.index("_silence_")
    unknown = dataset.CLASSES.index("_unknown_")
    kws = {"y": np.array([0, silence, unknown, 1]),
           "voice": np.array(["en-us+m1", "", "en-gb+Alex", "flite+slt"]),
           "word": np.array([dataset.CLASSES[0], "", "bird", dataset.CLASSES[1]]),
           "x": rng.integers(0, 256, (4, FRAMES, BANDS, 1)).astype(np.uint8)}
    words = {"y": np.array([0, 1]), "voice": np.array(["en-gb-x-rp+Annie", "en-us+f2"]),
             "word": np.array(["kettle", "garden"]), "classes": 2,
             "x": rng.integers(0, 256, (2, FRAMES, BANDS, 1)).astype(np.uint8)}
    windows = {"y": np.full(3, unknown), "voice": np.array(["en-us+m1"] * 3), "word": np.array(["a b c"] * 3),
               "x": rng.integers(0, 256, (3, FRAMES, BANDS, 1)).astype(np.uint8)}
    fd = train.fit_data(kws, words, windows, words_unknown=True)
    cache = tmp_path / "phones.json"
    table, y, mask = train.phone_targets(kws, words, len(fd["y"]), cache)
    assert y.shape == (len(fd["y"]), table.outputs)
    assert mask.tolist() == [True, False, True, True, True, True, False, False, False]
    assert not y[~mask].any() and (y[mask].sum(1) > 0).all()
    said = np.concatenate([np.where(kws["y"] == silence, "", kws["word"]), words["word"]])
    again = phones.build_table(np.concatenate([kws["voice"], words["voice"]]), said, cache)
    assert again == table  # read back from the cache


def test_bin_f1_is_micro_f1_per_bin(rng):
    scores = rng.standard_normal((30, 3 * 4))
    targets = (rng.random((30, 12)) < 0.3).astype(np.float32)
    got = phones.bin_f1(scores, targets, bins=3)
    for b in range(3):
        p, t = scores[:, 4 * b: 4 * b + 4] > 0, targets[:, 4 * b: 4 * b + 4] > 0
        tp, fp, fn = (p & t).sum(), (p & ~t).sum(), (~p & t).sum()
        assert got[b] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert phones.bin_f1(targets * 2 - 1, targets) == [1.0, 1.0, 1.0]


def _tiny(rng, n=48):
    torch.manual_seed(0)
    model = network.build(12, width=8, features=16, blocks=2, down=(0,))
    x = torch.from_numpy(rng.integers(0, 256, (n, 1, FRAMES, BANDS)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 12, n))
    wide = torch.from_numpy(rng.integers(0, 17, n))
    targets = torch.from_numpy((rng.random((n, 9)) < 0.3).astype(np.float32))
    mask = torch.from_numpy(rng.random(n) < 0.7)
    return model, x, y, wide, targets, mask


def test_fit_with_phones_trains_its_head_and_logs_the_loss(rng):
    model, x, y, wide, targets, mask = _tiny(rng)
    head = torch.nn.Linear(16, 9)
    before = head.weight.detach().clone()
    phone = network.PhoneLoss(head, targets, mask, 1.0)
    logs = network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=16, progress=None,
                       aux=(network.aux_head(model, 17), wide), phones=phone)
    assert math.isfinite(logs[0]["phone_loss"]) and 0 < logs[0]["phone_loss"] < 2
    assert not torch.equal(before, head.weight.detach())
    with pytest.raises(ValueError, match="aux"):
        network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, progress=None, phones=phone)


def test_a_zero_weight_phone_head_leaves_the_run_unchanged(rng):
    """The head only adds a loss: at weight 0 every other weight and random stream is the run's
    without it — so the session-7 control arm is this option's control."""
    model, x, y, wide, targets, mask = _tiny(rng)
    states = []
    for phone in (None, network.PhoneLoss(torch.nn.Linear(16, 9), targets, mask, 0.0)):
        model, *_ = _tiny(np.random.default_rng(1))
        torch.manual_seed(5)
        network.fit(model, x, y, epochs=1, lr=1e-2, seed=0, batch=16, progress=None,
                    aux=(network.aux_head(model, 17), wide), phones=phone)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_the_head_only_retraining_trains_the_phone_head(rng):
    model, x, y, wide, targets, mask = _tiny(rng)
    trunk = feature_head.trunk_outputs(model, x)
    head = torch.nn.Linear(16, 9)
    before = head.weight.detach().clone()
    feature_head.retrain(model, trunk, y, wide, 17, epochs=2, batch=16, progress=None,
                         phones=network.PhoneLoss(head, targets, mask, 1.0))
    assert not torch.equal(before, head.weight.detach()) and not head.training


@pytest.mark.parametrize("kwargs, match", [
    ({"phone_weight": -1.0}, "--phones"),
    ({"phone_weight": 1.0}, "--words"),
    ({"phone_weight": 1.0, "words": "w", "float_from": "x.pt"}, "float epochs"),
    ({"phone_weight": 1.0, "words": "w", "mixup_alpha": 0.3}, "--mixup"),
])
def test_bad_phone_settings_are_one_line_errors(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        train.run(tmp_path / "data", tmp_path / "out", small=True, progress=None, **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_bin_auc_is_the_mann_whitney_statistic_per_bin(rng):
    scores = np.round(rng.standard_normal((25, 3 * 4)), 1)  # rounded: ties count ½
    targets = (rng.random((25, 12)) < 0.3).astype(np.float32)
    got = phones.bin_auc(scores, targets, bins=3)
    for b in range(3):
        s, t = scores[:, 4 * b: 4 * b + 4].ravel(), targets[:, 4 * b: 4 * b + 4].ravel() > 0
        diff = s[t][:, None] - s[~t][None, :]
        assert got[b] == pytest.approx(float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0)))
    assert phones.bin_auc(targets, targets) == [1.0, 1.0, 1.0]
