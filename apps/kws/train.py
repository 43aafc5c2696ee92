"""Train, quantize, convert and check the keyword-spotting model: one reproducible command.

    python -m akida_edge.apps.kws.train --data data/kws --out apps/kws/model [--small]

Steps (each with a progress line on stderr):

1. the data set (`dataset.py`, espeak-ng; built or resumed under `--data`; `TRAIN_PER_CLASS`
   training clips per class instead of the generator's 600, two per synthesized utterance);
2. features with the run-time code path (`features.batch_features`: log-mel of
   `frontends.audio`, MFCCs with per-utterance mean removal, 8-bit), cached under `--data`;
3. float training of the DS-CNN (`network.py`, `ARCH`) with SpecAugment, a checkpoint after every
   epoch (`<data>/checkpoints/`, usable with `--float-from`); by default (`--no-aux`: without) a
   second head on the 256 binary features also classifies every `_unknown_` word as its own
   class (`AUX_WORDS`), so that the features separate words the model is not trained to name —
   what few-shot learning of new words needs (`apps/kws/learn.py`); the head is dropped before
   quantization; `--words DIR` adds the word set (`wordset.py`: hundreds of other words said by
   many training voices, built or resumed under DIR) to that head, its clips without a 12-class
   target; `--more-words DIR [DIR2]` (with `--words`) adds further word sets (`wordset.py --more`:
   `vocabulary.MORE_WORDS`, session 11; `--more 2`: `vocabulary.MORE_WORDS_2`, session 13) after
   the first, its words further classes of that head and its clips treated as the first set's
   (also by `--words-unknown`); with `--float-from` and
   `--head-only`, only the feature layer and the heads are retrained, on the frozen trunk's
   outputs (`feature_head.py`: minutes instead of hours); with `--float-from`, `--probe-epochs N`
   first fits the auxiliary head alone on the saved network's frozen binary features (a linear
   probe, `feature_head.probe`; session 12: a saved `kws_float.pt` holds no auxiliary head, so it
   would otherwise start at random); with `--continue-epochs`, `--distill WEIGHT` keeps the keyword
   outputs of the network it starts from (distillation of its own 12-class outputs, Learning
   without Forgetting) and `--trunk-lr SHARE` trains the trunk at a share of the rate, so that the
   word features can learn while the keywords stay (both off by default; docs/kws-learning.md §20);
   `--kokoro DIR` adds keyword clips said by 22 Kokoro neural voices (`kokoroset.py`; 36 with the
   accented ones when DIR holds a set built with ``--accented``; left out of `--distill`;
   docs/kws-learning.md §23) and measures 6 others (`kokoro_test_accuracy`);
   `--windows DIR` adds 1 s windows of continuous non-keyword speech (`speechwindows.py`) as
   `_unknown_`, `--words-unknown` makes the word set's clips `_unknown_` in the 12-class loss too;
   together these new negatives weigh `--negative-share` classes of training clips (`fit_data`;
   float training only); `--mixup ALPHA` mixes pairs of clips of different voices (`mixup.py`)
   and `--average-from F` keeps the average of the float weights over the last 1 − F of the float
   steps (SWA, `averaging.py`) — both off by default (docs/kws.md, session 7); `--metric WEIGHT`
   (with `--words`) adds WEIGHT × a prototypical loss on cross-voice episodes of the word set to
   the binarized features (`episodes.py`; off by default; docs/kws-learning.md, session 8);
   `--phones WEIGHT` (with `--words`, also with `--head-only`) adds WEIGHT × the mean binary
   cross-entropy of a third, phonetic head on the binarized features: which espeak-ng phones occur
   in each third of the clip's word (`phones.py`; `_silence_` clips and speech windows masked out;
   the label table cached as `<checkpoints>/phones.json`; dropped before quantization; off by
   default; docs/kws-learning.md, session 9);
4. calibration of every activation on training data, then quantization-aware fine-tuning; the
   epoch with the best validation accuracy (quantized) is kept;
5. conversion to Akida 1.0 layers (`akida_edge.convert`), the AKD1000 check (`mapping.check`
   and `model.map`), and the evaluation: float vs quantized accuracy, held-out voices (`test`)
   held-out voice families (`cross_family`) and the held-out synthesizer (`other_synth`,
   festival), per class, the confusion matrix, the agreement
   of the converted model with the fake-quantized one, NPs and estimated energy (`report.py`).

Writes `kws.aem` (the converted model), `kws_float.pt` (the float network, for the benchmark's
float accuracy), `metrics.json`, `REPORT.md` and `confusion.png` under `--out`.

`--small` is the CI smoke run (a tiny data set, a narrow network with the same block types,
including the strided separable block, one epoch each): it goes through every step in well under
a minute; its accuracy means nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from akida_edge.apps.kws import (
    averaging,
    dataset,
    episodes,
    feature_head,
    features,
    kokoroset,
    network,
    phones,
    report,
    speechwindows,
    wordset,
)
from akida_edge.apps.kws.kokoro import PREFIX as KOKORO_PREFIX
from akida_edge.apps.kws.kokoro import SYNTH_VERSION as KOKORO_SYNTH_VERSION
from akida_edge.convert import calibrate, convert, integer_forward, set_quantized
from akida_edge.engine.device import AKD1000
from akida_edge.engine.mapping import check
from akida_edge.errors import AkidaEdgeError, ConfigError, MappingError

FEATURE_VERSION = "f2"  # bump when features.py changes (invalidates the cache)
TRAIN_PER_CLASS = 2400
ARCH = {"width": 128, "features": 256, "blocks": 6, "down": (0,)}
SMALL_ARCH = {"width": 16, "features": 32, "blocks": 2, "down": (0,)}
# float epochs: the session-2 recipe's 9 ended with the loss still falling (under-fitted); 22
# beat 14 on validation by 0.013 (session 3, `model/REPORT.md`)
EPOCHS = 22
QAT_EPOCHS = 2
DISTILL_T = 2.0  # `--distill`: the softening temperature (Hinton et al., arXiv 1503.02531; LwF's)
CONTINUE_LR = 1e-3  # `--continue-epochs`: the second one-cycle's peak rate (a third of the first's 3e-3)
HEAD_EPOCHS = 30  # `--head-only`: epochs over the frozen trunk's outputs (seconds each)
TRAIN_SAMPLE = 2000  # training clips for calibration and the float train-accuracy figure
BN_SAMPLE = 16384  # `--average-from`: fitted clips giving the averaged network's BatchNorm statistics
# `--windows` / `--words-unknown`: the new `_unknown_` clips' total weight in the 12-class loss, in
# training clips of one class (2: they weigh as much as two keywords; docs/kws.md, session 6)
NEGATIVE_SHARE = 2.0
# `--average-from F` (weight averaging, `averaging.py`): the weights are added every AVERAGE_EVERY
# optimizer steps (~1/8 of an epoch of the session-6 recipe's 92 384 clips at batch 128)
AVERAGE_EVERY = 90


UNKNOWN = dataset.CLASSES.index("_unknown_")
# the auxiliary head's words (each its own class, after the 12): the `_unknown_` words; never the
# few-shot benchmark's new words (`backward`, `follow`, `forward`, kept out of every class)
AUX_WORDS = dataset.UNKNOWN_WORDS


def aux_targets(y: np.ndarray, words: np.ndarray) -> torch.Tensor:
    """The auxiliary head's target per clip: its class for keywords and silence, 12 + the word's
    index in `AUX_WORDS` for `_unknown_` clips (-100, ignored, for a word not in the list)."""
    index = {w: len(dataset.CLASSES) + i for i, w in enumerate(AUX_WORDS)}
    wide = np.asarray(y, np.int64).copy()
    unknown = wide == UNKNOWN
    wide[unknown] = [index.get(str(w), -100) for w in np.asarray(words)[unknown]]
    return torch.from_numpy(wide)
EVAL_SPLITS = ("test", "cross_family", "other_synth")
BIAS_GRID = np.round(np.arange(0.0, 6.001, 0.1), 1)


def unknown_bias(logits: np.ndarray, y: np.ndarray) -> float:
    """The offset added to the `_unknown_` logit that maximizes validation accuracy (the smallest
    on ties; a calibrated decision threshold, as in logit adjustment, Menon et al., arXiv
    2007.07314): `_unknown_` covers ~190 words with ~12 clips each, and the trained network
    under-calls it (keywords are rarely taken for it, other words often taken for keywords)."""
    acc = [float(np.mean((logits + b * _one_hot(UNKNOWN)).argmax(1) == y)) for b in BIAS_GRID]
    return float(BIAS_GRID[int(np.argmax(acc))])


def _one_hot(i: int, n: int = len(dataset.CLASSES)) -> np.ndarray:
    v = np.zeros(n, np.float32)
    v[i] = 1.0
    return v


def _frozen(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` in eval mode without gradients (the distillation's teacher)."""
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def _last_bias(model: torch.nn.Module) -> str:
    return f"{len(model) - 1}.bias"


def data_config(train_per_class: int = TRAIN_PER_CLASS) -> dataset.DatasetConfig:
    """The generator's default settings with `train_per_class` training clips per class (the
    other splits, hence the held-out test sets, stay the generator's defaults)."""
    per_class = {**dataset.DatasetConfig().per_class, "train": int(train_per_class)}
    return dataset.DatasetConfig(per_class=per_class)


def load_features(data: Path, split: str, progress=sys.stderr) -> dict[str, np.ndarray]:
    """Features, labels and metadata of one split, cached as `<data>/features-<version>-<split>.npz`."""
    manifest = json.loads((data / "manifest.json").read_text())
    cache = data / f"features-{FEATURE_VERSION}-{manifest['config_hash']}-{split}.npz"
    if cache.exists():
        return dict(np.load(cache))
    t0 = time.monotonic()
    raw = dataset.load_split(data, split)
    out = {"x": features.batch_features(raw["audio"]), "y": raw["label"].astype(np.int64),
           "voice": raw["voice"], "word": raw["word"], "snr_db": raw["snr_db"]}
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(cache)
    if progress is not None:
        progress.write(f"kws features  {split}: {len(out['y'])} clips in {time.monotonic() - t0:.0f} s\n")
    return out


def fit_data(train: dict[str, np.ndarray], words: dict[str, np.ndarray] | None = None,
             windows: dict[str, np.ndarray] | None = None, words_unknown: bool = False,
             negative_share: float = NEGATIVE_SHARE) -> dict:
    """What float training fits: the keyword training clips, then the word set's clips (auxiliary
    head: their word, 12 + `AUX_WORDS` + index; 12-class target `_unknown_` with `words_unknown`,
    else none, -100), then the speech windows (12-class `_unknown_`, no word class).

    The new `_unknown_` clips (word clips with `words_unknown`, windows) share a total weight of
    `negative_share` × (training clips per class) in the 12-class loss, so that ~50 000 of them
    do not swamp ten keywords of 2 400 clips each; every other clip weighs 1. Returns x (NCHW),
    y, aux_y, aux_classes, weight (None when there are no new negatives), negatives (their
    indices into x), voice (an integer id per clip, one per distinct voice name, for mixup) and kokoro
    (bool per clip: said by a Kokoro voice, `--kokoro` or a Kokoro word set; left out of `--distill`)."""
    x, y = [network.to_nchw(train["x"])], [torch.from_numpy(train["y"])]
    aux_y = [aux_targets(train["y"], train["word"])]
    aux_classes = len(dataset.CLASSES) + len(AUX_WORDS)
    negative = [np.zeros(len(train["y"]), bool)]
    voices = [_voices(train)]
    if words is not None:
        n = len(words["y"])
        x.append(network.to_nchw(words["x"]))
        y.append(torch.full((n,), UNKNOWN if words_unknown else -100, dtype=torch.int64))
        aux_y.append(aux_classes + torch.from_numpy(words["y"].astype(np.int64)))
        aux_classes += int(words["classes"])
        negative.append(np.full(n, words_unknown))
        voices.append(_voices(words))
    if windows is not None:
        n = len(windows["y"])
        x.append(network.to_nchw(windows["x"]))
        y.append(torch.full((n,), UNKNOWN, dtype=torch.int64))
        aux_y.append(torch.full((n,), -100, dtype=torch.int64))
        negative.append(np.ones(n, bool))
        voices.append(_voices(windows))
    neg = np.flatnonzero(np.concatenate(negative))
    weight = None
    if neg.size:
        per_class = len(train["y"]) / len(dataset.CLASSES)
        weight = torch.ones(sum(len(v) for v in y))
        weight[neg] = float(negative_share) * per_class / neg.size
    names = np.concatenate(voices)
    voice = torch.from_numpy(np.unique(names, return_inverse=True)[1].astype(np.int64))
    return {"x": torch.cat(x), "y": torch.cat(y), "aux_y": torch.cat(aux_y), "aux_classes": aux_classes,
            "weight": weight, "negatives": neg, "voice": voice,
            "kokoro": np.char.startswith(names.astype(str), KOKORO_PREFIX + "+")}


def join_words(first: dict[str, np.ndarray], second: dict[str, np.ndarray],
               same_words: bool = False) -> dict[str, np.ndarray]:
    """Two word sets' features as one (`--more-words`): the second's clips after the first's, its word
    labels after the first's `classes`; every per-clip array of both is concatenated. `same_words`
    (the second says the first's word list in other voices, `wordset.WordsetConfig.kokoro`): its
    labels stay, and the classes are the first's."""
    keys = [k for k in first if k != "classes" and k in second]
    shift = {"y": 0 if same_words else int(first["classes"])}
    out = {k: np.concatenate([first[k], second[k] + shift[k] if k in shift else second[k]]) for k in keys}
    return {**out, "classes": int(first["classes"]) + (0 if same_words else int(second["classes"]))}


def phone_targets(train: dict[str, np.ndarray], words: dict[str, np.ndarray], n_fit: int,
                  cache: str | Path | None = None) -> tuple[phones.PhoneTable, np.ndarray, np.ndarray]:
    """The phonetic head's targets for the clips `fit_data` returns (`n_fit` of them, in its order:
    keyword training clips, the word set's clips, then any speech windows): (table, float32 (n_fit,
    bins·P) targets, bool (n_fit,) mask). Keyword and `_unknown_` clips and the word set's clips have
    a target; `_silence_` clips (no voice, no word) and the speech windows (after them) do not."""
    voices = np.concatenate([np.asarray(train["voice"]).astype(str), np.asarray(words["voice"]).astype(str)])
    names = np.concatenate([np.asarray(train["word"]).astype(str), np.asarray(words["word"]).astype(str)])
    silence = np.concatenate([np.asarray(train["y"]) == dataset.CLASSES.index("_silence_"),
                              np.zeros(len(words["y"]), bool)])
    names[silence] = ""
    table = phones.build_table(voices, names, cache)
    y_part, m_part = table.targets(voices, names)
    y = np.zeros((n_fit, table.outputs), np.float32)
    mask = np.zeros(n_fit, bool)
    y[: len(names)], mask[: len(names)] = y_part, m_part
    return table, y, mask


def _voices(part: dict[str, np.ndarray]) -> np.ndarray:
    """The clips' voice names ('' for every clip of a part without them: one voice, never mixed)."""
    if "voice" in part:
        return np.asarray(part["voice"]).astype(str)
    return np.full(len(part["y"]), "")


def run(data: str | Path, out: str | Path, small: bool = False, seed: int = 1, workers: int = 2,
        threads: int = 1, epochs: int = EPOCHS, qat_epochs: int = QAT_EPOCHS, batch: int = 128,
        train_per_class: int = TRAIN_PER_CLASS, float_from: str | Path | None = None,
        quantized_from: str | Path | None = None, continue_epochs: int = 0, continue_lr: float = CONTINUE_LR,
        aux: bool = True,
        checkpoints: str | Path | None = None, words: str | Path | None = None, head_only: bool = False,
        head_epochs: int = HEAD_EPOCHS, windows: str | Path | None = None, words_unknown: bool = False,
        negative_share: float = NEGATIVE_SHARE, mixup_alpha: float = 0.0, average_from: float | None = None,
        metric: float = 0.0, metric_temperature: float = episodes.TEMPERATURE, phone_weight: float = 0.0,
        more_words: str | Path | Sequence[str | Path] | None = None, probe_epochs: int = 0,
        distill: float = 0.0, trunk_lr: float = 1.0, qat_distill: float = 0.0,
        kokoro: str | Path | None = None, progress=sys.stderr) -> dict:
    """The whole recipe (module docstring); writes `kws.aem`, `REPORT.md`, `confusion.png` and
    `metrics.json` under `out` and returns the metrics. `float_from`: a `kws_float.pt` of an
    earlier run of this recipe; its float phase is reused (only calibration, QAT and conversion
    run). `checkpoints`: where the per-epoch checkpoints go (default `<data>/checkpoints`).
    `words`: the word set's directory (module docstring, step 3); `head_only` (with `float_from`):
    retrain only the feature layer and the heads, `head_epochs` epochs. `windows`: the speech-window
    set's directory (`speechwindows.py`, built or resumed there) and `words_unknown`: the word
    set's clips as `_unknown_` too; both with `negative_share` (`fit_data`). `mixup_alpha` > 0:
    float training with mixup across voices (`mixup.py`). `average_from` (in [0, 1)): the float
    network kept is the average of its weights over the last 1 − `average_from` of the float
    steps (SWA, `averaging.py`; BatchNorm statistics recomputed); the last weights stay in the
    per-epoch checkpoint. `metric` > 0 (with `words`): float training adds `metric` × the prototypical
    loss of one cross-voice episode of the word set per step, at `metric_temperature` (`episodes.py`).
    `phone_weight` > 0 (with `words`): float training (or `head_only`) adds `phone_weight` × the
    phonetic head's mean binary cross-entropy (`phone_targets`, `phones.py`). `more_words` (with
    `words`): a further word set's directory, or several (`wordset.py --more PART`, built or resumed
    with the settings of its manifest; one without a manifest is built as part 1, 2, … by its
    place), each joined after the ones before (`join_words`); with `float_from`, the saved auxiliary
    head's rows are kept for the classes before the new words (the new rows start at random).
    `probe_epochs` > 0 (with `float_from` and the auxiliary head): before anything else trains, the
    auxiliary head alone is fitted that many epochs on the frozen network's binary features
    (`feature_head.probe`, a linear probe: LP-FT), so that its random rows do not disturb the
    features in the first steps. `distill` > 0 (with `continue_epochs`): the continuation adds
    `distill` × the distillation of the network's own 12-class outputs as it starts (frozen; T =
    `DISTILL_T`; `network.Distill`), so that the keyword outputs stay while the word features learn;
    `trunk_lr` (in (0, 1], with `continue_epochs`): the continuation's rate for the trunk (every
    layer before the binary feature layer) as a share of `continue_lr`. `qat_distill` > 0: the
    quantization-aware phase adds `qat_distill` × the distillation of the float network's 12-class
    outputs (the network as the float phase left it, frozen; T = `DISTILL_T`) to its cross-entropy:
    the quantized student learns the float teacher's soft outputs, not only the labels. `kokoro`:
    the Kokoro clip set's directory (`kokoroset.py`, built or resumed there): its ``train`` clips
    join the keyword training clips (float and quantization-aware phases; `distill` leaves them out:
    the network they start from should not hold its outputs on them), its ``test`` clips
    (neural voices never trained on) give ``kokoro_test_accuracy``."""
    data, out = Path(data), Path(out)
    one = isinstance(more_words, str | Path)
    mores = [] if more_words is None else [more_words] if one else [*more_words]
    more_words = mores or None
    if quantized_from is not None and float_from is None:
        raise ConfigError(f"--quantized-from {quantized_from} needs --float-from (the float network of the "
                          "same run, for the float figures)")
    if words is not None and not aux:
        raise ConfigError(f"--words {words} trains the auxiliary head; it cannot go with --no-aux")
    if more_words is not None and words is None:
        raise ConfigError(f"--more-words {' '.join(map(str, mores))}: a further word set needs --words DIR "
                          "(the first)")
    kokoro_word_accented = None  # the Kokoro word sets' voices include the accented ones (None: no such set)
    for part, more_dir in enumerate(mores, 1):  # parts 1 and 2 are built here when missing; no others
        if part not in wordset.MORE_PARTS and not (Path(more_dir) / "manifest.json").exists():
            raise ConfigError(f"--more-words {more_dir}: no word set there (no manifest.json), and only the "
                              f"first {len(wordset.MORE_PARTS)} further sets are built by training; build it "
                              f"first, e.g. python -m akida_edge.apps.kws.wordset --kokoro --out {more_dir}")
        if (Path(more_dir) / "manifest.json").exists():
            mcfg = wordset.WordsetConfig.of(more_dir)
            if mcfg.synth == "kokoro" and mcfg.synth_version < KOKORO_SYNTH_VERSION:
                raise ConfigError(f"--more-words {more_dir}: its Kokoro clips are of synthesis version "
                                  f"{mcfg.synth_version or 1} (words louder than the network's ±1 were cut); "
                                  f"make it again: python -m akida_edge.apps.kws.wordset --kokoro "
                                  f"--overwrite --out {more_dir}{' --accented' if mcfg.accented else ''}")
            if mcfg.synth == "kokoro":
                kokoro_word_accented = bool(kokoro_word_accented) or mcfg.accented
    if words_unknown and words is None:
        raise ConfigError("--words-unknown labels the word set's clips _unknown_: it needs --words DIR")
    if not continue_lr > 0:
        raise ConfigError(f"--continue-lr {continue_lr}: must be > 0 (the continuation's peak learning rate)")
    if negative_share <= 0:
        raise ConfigError(f"--negative-share {negative_share}: must be > 0 (the new negatives' weight in "
                          "training clips of one class)")
    if mixup_alpha < 0:
        raise ConfigError(f"--mixup {mixup_alpha}: the Beta(α, α) parameter must be > 0 (0: no mixup)")
    if average_from is not None and not 0.0 <= average_from < 1.0:
        raise ConfigError(f"--average-from {average_from}: must be in [0, 1) (the share of the float steps "
                          "before the weights are averaged)")
    if not qat_distill >= 0:
        raise ConfigError(f"--qat-distill {qat_distill}: the weight must be >= 0 (0: off)")
    if qat_distill > 0 and quantized_from is not None:
        raise ConfigError(f"--qat-distill {qat_distill} acts on the quantization-aware phase, which "
                          "--quantized-from skips: drop one of the two")
    if not distill >= 0 or not 0 < trunk_lr <= 1:
        raise ConfigError(f"--distill {distill} --trunk-lr {trunk_lr}: the distillation weight must be >= 0 "
                          "(0: off) and the trunk's share of the rate in (0, 1]")
    if (distill > 0 or trunk_lr != 1.0) and (float_from is None or continue_epochs <= 0 or mixup_alpha > 0
                                            or not aux):
        raise ConfigError(f"--distill {distill} --trunk-lr {trunk_lr} act on the continuation of a saved "
                          "network: they need --float-from, --continue-epochs N and the auxiliary head, "
                          "without --mixup")
    if probe_epochs < 0 or (probe_epochs > 0 and (float_from is None or not aux)):
        raise ConfigError(f"--probe-epochs {probe_epochs}: fits the auxiliary head of a saved network before "
                          "it trains on; it needs --float-from and the auxiliary head (not --no-aux)")
    if metric < 0 or metric_temperature <= 0:
        raise ConfigError(f"--metric {metric} --metric-temperature {metric_temperature}: the weight must be "
                          ">= 0 (0: off) and the temperature > 0")
    if metric > 0 and words is None:
        raise ConfigError(f"--metric {metric}: the episodes come from the word set; it needs --words DIR")
    if phone_weight < 0:
        raise ConfigError(f"--phones {phone_weight}: the weight must be >= 0 (0: off)")
    if phone_weight > 0 and words is None:
        raise ConfigError(f"--phones {phone_weight}: the phonetic head trains with the word set; it needs "
                          "--words DIR")
    if phone_weight > 0 and (mixup_alpha > 0 or (float_from is not None and continue_epochs <= 0
                                                 and not head_only)):
        raise ConfigError(f"--phones {phone_weight} acts on float training (or --head-only): it needs float "
                          "epochs and goes without --mixup")
    if (mixup_alpha > 0 or average_from is not None or metric > 0) and (head_only or (float_from is not None
                                                                       and continue_epochs <= 0)):
        raise ConfigError("--mixup, --average-from and --metric act on float training: they need float "
                          "epochs (no --float-from, or --continue-epochs N), not --head-only")
    if head_only and (float_from is None or quantized_from is not None or continue_epochs):
        raise ConfigError("--head-only retrains the feature layer of a float network: it needs --float-from "
                          "and goes with neither --quantized-from nor --continue-epochs")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    config = dataset.DatasetConfig.small() if small else data_config(train_per_class)
    dataset.build(data, config, workers=workers, progress=progress)
    splits = {s: load_features(data, s, progress) for s in dataset.SPLITS}
    kokoro_test, kokoro_rows = None, slice(0, 0)
    if kokoro is not None:
        kcfg = kokoroset.config_for(kokoro, small)  # the accented set when DIR holds one
        kokoroset.build(kokoro, kcfg, workers=workers, progress=progress)
        extra = load_features(Path(kokoro), "train", progress)
        n_base = len(splits["train"]["y"])
        kokoro_rows = slice(n_base, n_base + len(extra["y"]))  # after the keyword clips (`fit_data`'s order)
        splits["train"] = {k: np.concatenate([v, extra[k]]) for k, v in splits["train"].items()}
        kokoro_test = load_features(Path(kokoro), "test", progress)
    t = {s: (network.to_nchw(v["x"]), torch.from_numpy(v["y"])) for s, v in splits.items()}
    arch = SMALL_ARCH if small else ARCH
    epochs, q_epochs = (1, 1) if small else (epochs, qat_epochs)
    model = network.build(len(dataset.CLASSES), **arch)
    ckpt_dir = Path(checkpoints) if checkpoints is not None else data / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    word_classes = word_clips = window_clips = 0
    wset = wins = None
    if words is not None:
        wconfig = wordset.WordsetConfig.small() if small else wordset.WordsetConfig()
        wordset.build(words, wconfig, workers=workers, progress=progress)
        wset = {**load_features(Path(words), "train", progress), "classes": len(wconfig.train_words)}
        for part, more_dir in enumerate(mores, 1):
            mpath = Path(more_dir) / "manifest.json"
            mconfig = wordset.WordsetConfig.of(more_dir) if mpath.exists() else wordset.WordsetConfig.more(
                small=small, part=part)
            wordset.build(more_dir, mconfig, workers=workers, progress=progress)
            more = {**load_features(Path(more_dir), "train", progress), "classes": len(mconfig.train_words)}
            wset = join_words(wset, more, same_words=mconfig.train_words == wconfig.train_words)
        word_classes, word_clips = int(wset["classes"]), len(wset["y"])
    if windows is not None:
        wcfg = speechwindows.WindowsConfig.small() if small else speechwindows.WindowsConfig()
        speechwindows.build(windows, wcfg, progress=progress)
        wins = load_features(Path(windows), "train", progress)
        window_clips = len(wins["y"])
    fd = fit_data(splits["train"], wset, wins, words_unknown, negative_share)
    n_train = len(splits["train"]["y"])  # `fit_data`'s order: these clips, the word set's, the windows
    x_fit, y_fit, aux_y, aux_classes, w_fit = fd["x"], fd["y"], fd["aux_y"], fd["aux_classes"], fd["weight"]
    head = (network.aux_head(model, aux_classes), aux_y) if aux else None
    average = averaging.WeightAverage() if average_from is not None else None
    hook = averaging.step_hook(average, model, average_from, AVERAGE_EVERY) if average is not None else None
    sampler = None
    if metric > 0 and wset is not None:
        try:
            sampler = episodes.EpisodeSampler(wset["y"], wset["voice"], offset=len(splits["train"]["y"]))
        except ValueError as exc:
            raise ConfigError(f"--metric with --words {words}: {exc}") from None
    regular = {"mixup_alpha": mixup_alpha, "voice": fd["voice"], "step_hook": hook,
               "metric": None if sampler is None else episodes.Metric(sampler, metric, metric_temperature)}
    phone = None
    if phone_weight > 0 and wset is not None:
        table, p_y, p_mask = phone_targets(splits["train"], wset, len(fd["y"]), ckpt_dir / "phones.json")
        with torch.random.fork_rng():  # its initialization leaves the run's other random streams unchanged
            torch.manual_seed(seed + 9)
            p_head = torch.nn.Linear(model[-1].in_features, table.outputs)
        phone = network.PhoneLoss(p_head, torch.from_numpy(p_y), torch.from_numpy(p_mask), phone_weight)
        regular["phones"] = phone
        if progress is not None:
            progress.write(f"kws phones    {len(table.inventory)} phones × {table.bins} bins, "
                           f"{int(p_mask.sum())} of {len(p_mask)} clips with a target: "
                           f"{' '.join(table.inventory)}\n")

    def snapshot(**extra) -> dict:
        return {**arch, "down": list(arch["down"]), **extra,
                "state_dict": {k: v.clone() for k, v in model.state_dict().items()}}

    def float_checkpoint(epoch: int, logs: list[dict], name: str = "float") -> None:
        extra = {"aux_state_dict": head[0].state_dict()} if head is not None else {}
        if phone is not None:
            extra["phone_state_dict"] = phone.head.state_dict()
        torch.save(snapshot(epoch=epoch, history=logs, **extra), ckpt_dir / f"{name}-seed{seed}.pt")

    t0 = time.monotonic()
    if float_from is not None:
        saved = torch.load(Path(float_from), weights_only=True)
        if network.architecture(saved) != {**arch, "down": tuple(arch["down"])}:
            raise ConfigError(f"--float-from {float_from}: its network {network.architecture(saved)} is not "
                              f"this recipe's {arch}; pass a kws_float.pt or checkpoint of this recipe")
        model.load_state_dict(saved["state_dict"])
        saved_aux = saved.get("aux_state_dict", {})  # checkpoints since session 4 keep the aux head
        if head is not None and saved_aux and saved_aux["weight"].shape == head[0].weight.shape:
            head[0].load_state_dict(saved_aux)
        elif (head is not None and saved_aux and more_words is not None
              and saved_aux["weight"].shape[1:] == head[0].weight.shape[1:]
              and saved_aux["weight"].shape[0] < head[0].weight.shape[0]):  # the head grows by the new words
            rows = saved_aux["weight"].shape[0]
            with torch.no_grad():
                head[0].weight[:rows] = saved_aux["weight"]
                head[0].bias[:rows] = saved_aux["bias"]
        logs: list[dict] = list(saved.get("history", []))
        if probe_epochs > 0:
            logs += feature_head.probe(model, head[0], x_fit, aux_y, probe_epochs, seed=seed + 3,
                                       progress=progress)
        if head_only:
            new_head = feature_head.retrain(model, feature_head.trunk_outputs(model, x_fit), y_fit, aux_y,
                                            aux_classes, epochs=head_epochs, seed=seed, weight=w_fit,
                                            phones=phone, progress=progress)
            head = (new_head, aux_y)
            logs.append({"epoch": head_epochs, "what": "head", "aux_classes": aux_classes})
            float_checkpoint(head_epochs, logs, "float-head")
        if continue_epochs > 0:  # a second one-cycle from the saved network (a warm restart)
            keep = None
            if fd["kokoro"].any():  # the new voices (keyword, word clips) learn; the rest keeps its outputs
                keep = torch.from_numpy(~fd["kokoro"])
            teacher = network.Distill(_frozen(model), distill, DISTILL_T, keep) if distill > 0 else None
            logs += network.fit(model, x_fit, y_fit, epochs=continue_epochs, lr=continue_lr, seed=seed + 2,
                                batch=batch, x_val=t["validation"][0], y_val=t["validation"][1],
                                what="float+", progress=progress, aux=head, weight=w_fit, **regular,
                                distill=teacher, trunk_lr=trunk_lr,
                                checkpoint=lambda e, lg: float_checkpoint(e, logs + lg, "float-continued"))
    else:
        logs = network.fit(model, x_fit, y_fit, epochs=epochs, lr=3e-3, seed=seed, batch=batch,
                           x_val=t["validation"][0], y_val=t["validation"][1], what="float",
                           progress=progress, checkpoint=float_checkpoint, aux=head, weight=w_fit, **regular)
    if average is not None and average.count:  # the average replaces the last weights (kept in checkpoints)
        average.apply(model)
        pick_bn = torch.randperm(len(x_fit), generator=torch.Generator().manual_seed(seed))[:BN_SAMPLE]
        averaging.update_bn(model, x_fit[pick_bn], batch=batch, seed=seed)
        float_checkpoint(len(logs), logs, "float-averaged")
    float_bias = unknown_bias(network.predict(model, t["validation"][0]), splits["validation"]["y"])
    float_pred = {s: (network.predict(model, t[s][0]) + float_bias * _one_hot(UNKNOWN)).argmax(1)
                  for s in EVAL_SPLITS}
    k_float = None  # kokoro_test_accuracy of the float network (with its offset)
    if kokoro_test is not None:
        k_float = network.predict(model, network.to_nchw(kokoro_test["x"])) + float_bias * _one_hot(UNKNOWN)
    shipped = snapshot(unknown_bias=float_bias)  # the float network as shipped: with its own offset
    shipped["state_dict"][_last_bias(model)][UNKNOWN] += float_bias
    torch.save(shipped, out / "kws_float.pt")
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(t["train"][0]), generator=gen)[:TRAIN_SAMPLE]
    sample = t["train"][0][pick]
    def accuracy(x: torch.Tensor, y: torch.Tensor) -> float:
        return float(np.mean(network.predict(model, x).argmax(1) == y.numpy()))

    # float accuracy in eval mode (no augmentation) on training clips vs validation: the fit gap
    fit_figures = {"float_train_accuracy": accuracy(sample, t["train"][1][pick]),
                   "float_val_accuracy": accuracy(*t["validation"])}
    fit_figures["float_unknown_bias"] = float_bias
    best: dict = {"val_acc": -1.0}

    def keep_best(epoch: int, q_logs: list[dict]) -> None:
        acc = q_logs[-1].get("val_acc", 0.0)
        if acc > best["val_acc"]:
            best.update(val_acc=acc, epoch=epoch, state={k: v.clone() for k, v in model.state_dict().items()})
            torch.save(snapshot(epoch=epoch, history=q_logs), ckpt_dir / f"quantized-seed{seed}.pt")

    if quantized_from is not None:  # the QAT phase of an earlier run of this recipe
        saved = torch.load(Path(quantized_from), weights_only=True)
        model.load_state_dict(saved["state_dict"])
        set_quantized(model)
        logs += [log for log in saved.get("history", []) if log.get("what") == "quantized"]
        best["epoch"] = saved.get("epoch")
    else:
        qat_teacher = network.Distill(_frozen(model), qat_distill, DISTILL_T) if qat_distill > 0 else None
        calibrate(model, sample)
        set_quantized(model)
        # the keyword training set only, also with new negatives: with 4 800 of them (their float
        # share) validation lost 0.009 more (docs/kws.md, session 6)
        logs += network.fit(model, *t["train"], epochs=q_epochs, lr=3e-4, seed=seed + 1, batch=batch,
                            x_val=t["validation"][0], y_val=t["validation"][1], what="quantized",
                            progress=progress, checkpoint=keep_best, distill=qat_teacher)
        if "state" in best:
            model.load_state_dict(best["state"])
    fit_figures["qat_epoch_kept"] = best.get("epoch")
    q_bias = unknown_bias(network.predict(model, t["validation"][0]), splits["validation"]["y"])
    with torch.no_grad():
        model[-1].bias[UNKNOWN] += q_bias  # folded into the last layer's threshold by `convert`
    fit_figures["unknown_bias"] = q_bias
    fit_figures["quantized_val_accuracy"] = float(np.mean(
        network.predict(model, t["validation"][0]).argmax(1) == splits["validation"]["y"]))
    train_s = time.monotonic() - t0
    akida = convert(model, sample=sample)
    violations = check(akida)
    if violations:
        raise MappingError("the converted model breaks AKD1000 limits: " + "; ".join(map(str, violations)))
    device = AKD1000()
    device.soc.power_measurement_enabled = True
    akida.map(device)
    with torch.no_grad():
        fq_pred = integer_forward(model, t["test"][0]).output.numpy().argmax(1)
    quant_pred = {s: akida.predict(splits[s]["x"]).reshape(len(splits[s]["y"]), -1).argmax(1)
                  for s in EVAL_SPLITS}
    metrics = report.evaluate(akida, splits, float_pred, quant_pred, fq_pred, dataset.CLASSES)
    if kokoro_test is not None:
        k_y = kokoro_test["y"]
        k_quant = akida.predict(kokoro_test["x"]).reshape(len(k_y), -1).argmax(1)
        metrics.update(kokoro_test_accuracy=float(np.mean(k_quant == k_y)),
                       float_kokoro_test_accuracy=float(np.mean(k_float.argmax(1) == k_y)),
                       kokoro_test_clips=int(len(k_y)),
                       kokoro_train_clips=kokoro_rows.stop - kokoro_rows.start,
                       kokoro_train_voices=[v.variant for v in
                                            kokoroset.split_voices("train", kcfg.accented)])
    metrics.update(**fit_figures, epochs_float_continued=continue_epochs if float_from is not None else 0,
                   continue_lr=continue_lr if float_from is not None and continue_epochs > 0 else None,
                   distill=distill, distill_temperature=DISTILL_T if distill > 0 or qat_distill > 0 else None,
                   trunk_lr=trunk_lr, qat_distill=qat_distill,
                   architecture={**arch, "down": list(arch["down"])},
                   train_seconds=round(train_s, 1), epochs_quantized=q_epochs,
                   epochs_float=sum(1 for log in logs if log.get("what") in ("float", "float+"))
                   if float_from is not None else epochs,
                   batch=batch, float_reused=float_from is not None, aux_words=len(AUX_WORDS) if aux else 0,
                   quantized_reused=quantized_from is not None, small=small, seed=seed,
                   word_classes=word_classes, word_clips=word_clips, head_only=head_only,
                   kokoro_word_clips=int(fd["kokoro"][n_train:n_train + word_clips].sum()),
                   kokoro_word_accented=kokoro_word_accented,
                   more_words=len(mores), probe_epochs=probe_epochs,
                   window_clips=window_clips, words_unknown=words_unknown,
                   negative_share=negative_share if fd["negatives"].size else 0.0,
                   mixup_alpha=mixup_alpha, average_from=average_from, metric_weight=metric,
                   metric_temperature=metric_temperature if metric > 0 else None, phone_weight=phone_weight,
                   averaged_points=average.count if average is not None else 0,
                   data_config_hash=config.digest(), history=logs,
                   clips={s: int(len(v["y"])) for s, v in splits.items()})
    path = akida.save(str(out / "kws.aem"))
    report.write(out, metrics, dataset.CLASSES)
    if progress is not None:
        progress.write(f"kws model     {path}: accuracy {metrics['accuracy']:.4f} (float "
                       f"{metrics['float_accuracy']:.4f}), cross-family "
                       f"{metrics['cross_family_accuracy']:.4f}, other synthesizer "
                       f"{metrics['other_synth_accuracy']:.4f}, {metrics['nps']} NPs\n")
    return metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.kws.train",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/kws", help="data set directory (built if missing)")
    ap.add_argument("--out", default="apps/kws/model", help="where the model and its report go")
    ap.add_argument("--small", action="store_true", help="CI smoke run: tiny data, one epoch")
    ap.add_argument("--seed", type=int, default=1, help="training seed (the data set has its own)")
    ap.add_argument("--workers", type=int, default=2, help="processes generating data")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1)")
    ap.add_argument("--epochs", type=int, default=EPOCHS, help=f"float training epochs (default {EPOCHS})")
    ap.add_argument("--qat-epochs", type=int, default=QAT_EPOCHS,
                    help=f"quantization-aware epochs (default {QAT_EPOCHS})")
    ap.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    ap.add_argument("--float-from", metavar="FILE", help="reuse the float network of an earlier run "
                    "(its kws_float.pt): calibrate, fine-tune and convert only")
    ap.add_argument("--quantized-from", metavar="FILE", help="reuse the quantization-aware phase of an "
                    "earlier run (its data/kws/checkpoints/quantized-seed*.pt; needs --float-from)")
    ap.add_argument("--continue-epochs", type=int, default=0, help="with --float-from: train the saved "
                    "float network this many more epochs (a second one-cycle at --continue-lr)")
    ap.add_argument("--continue-lr", type=float, default=CONTINUE_LR, metavar="LR",
                    help=f"with --continue-epochs: the second one-cycle's peak learning rate (default "
                         f"{CONTINUE_LR:g}, a third of the first training's)")
    ap.add_argument("--distill", type=float, default=0.0, metavar="WEIGHT",
                    help="with --continue-epochs: add WEIGHT × the distillation of the saved network's own "
                         "12-class outputs (it keeps the keywords while the words learn; default 0: off)")
    ap.add_argument("--trunk-lr", type=float, default=1.0, metavar="SHARE",
                    help="with --continue-epochs: the trunk's rate (every layer before the binary features) "
                         "as a share of --continue-lr (default 1)")
    ap.add_argument("--aux", action=argparse.BooleanOptionalAction, default=True,
                    help="float training with every _unknown_ word as its own class of a second head on "
                         "the binary features (default; --no-aux: without)")
    ap.add_argument("--train-per-class", type=int, default=TRAIN_PER_CLASS,
                    help=f"training clips per class (default {TRAIN_PER_CLASS})")
    ap.add_argument("--words", metavar="DIR", help="add the word set (apps/kws/wordset.py; built or resumed "
                    "under DIR) to the auxiliary head: features that tell many words apart")
    ap.add_argument("--more-words", metavar="DIR", nargs="+", help="with --words: further word sets (python "
                    "-m akida_edge.apps.kws.wordset --more PART --out DIR), in order, whose words become "
                    "further classes")
    ap.add_argument("--probe-epochs", type=int, default=0, metavar="N",
                    help="with --float-from: first fit the auxiliary head alone N epochs on the frozen "
                         "network's binary features (a linear probe; default 0: off)")
    ap.add_argument("--head-only", action="store_true", help="with --float-from: retrain only the binary "
                    "feature layer and the heads, on the frozen trunk's outputs")
    ap.add_argument("--head-epochs", type=int, default=HEAD_EPOCHS,
                    help=f"epochs of --head-only (default {HEAD_EPOCHS})")
    ap.add_argument("--windows", metavar="DIR", help="add 1 s windows of continuous non-keyword speech "
                    "(apps/kws/speechwindows.py; built or resumed under DIR) as _unknown_")
    ap.add_argument("--words-unknown", action="store_true", help="with --words: the word set's clips are "
                    "_unknown_ in the 12-class loss too")
    ap.add_argument("--negative-share", type=float, default=NEGATIVE_SHARE,
                    help="total weight of the --windows / --words-unknown clips in the 12-class loss, in "
                         f"training clips of one class (default {NEGATIVE_SHARE:g})")
    ap.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                    help="float training with mixup across voices in feature space, λ ~ Beta(ALPHA, ALPHA) "
                         "(mixup.py; default 0: off)")
    ap.add_argument("--average-from", type=float, default=None, metavar="F",
                    help="keep the average of the float weights over the last 1 − F of the float steps "
                         "(SWA, averaging.py; BatchNorm statistics recomputed; default: the last weights)")
    ap.add_argument("--metric", type=float, default=0.0, metavar="WEIGHT",
                    help="with --words: add WEIGHT × a prototypical loss on cross-voice episodes of the word "
                         "set to the binarized features (episodes.py; default 0: off)")
    ap.add_argument("--metric-temperature", type=float, default=episodes.TEMPERATURE, metavar="TAU",
                    help=f"temperature of --metric's cosine logits (default {episodes.TEMPERATURE:g})")
    ap.add_argument("--phones", type=float, default=0.0, metavar="WEIGHT",
                    help="with --words: add WEIGHT × the binary cross-entropy of a phonetic head on the "
                         "binarized features (espeak-ng phones per third of a word; default 0: off)")
    ap.add_argument("--qat-distill", type=float, default=0.0, metavar="WEIGHT",
                    help="add WEIGHT × the distillation of the float network's 12-class outputs to the "
                         f"quantization-aware phase (T = {DISTILL_T:g}; default 0: labels only)")
    ap.add_argument("--kokoro", metavar="DIR", help="add keyword clips said by 22 Kokoro neural voices "
                    "(apps/kws/kokoroset.py; built or resumed under DIR; 36 with the accented ones when DIR "
                    "holds a set built with --accented) to the training clips; 6 more voices give "
                    "kokoro_test_accuracy")
    ap.add_argument("--checkpoints", metavar="DIR", help="where per-epoch checkpoints go (default "
                    "<data>/checkpoints; another directory keeps an earlier run's checkpoints)")
    args = ap.parse_args(argv)
    try:
        metrics = run(args.data, args.out, small=args.small, seed=args.seed, workers=args.workers,
                      threads=args.threads, epochs=args.epochs, qat_epochs=args.qat_epochs,
                      batch=args.batch, train_per_class=args.train_per_class,
                      float_from=args.float_from, quantized_from=args.quantized_from,
                      continue_epochs=args.continue_epochs, continue_lr=args.continue_lr, aux=args.aux,
                      checkpoints=args.checkpoints, words=args.words, head_only=args.head_only,
                      head_epochs=args.head_epochs, windows=args.windows,
                      words_unknown=args.words_unknown, negative_share=args.negative_share,
                      mixup_alpha=args.mixup, average_from=args.average_from, metric=args.metric,
                      metric_temperature=args.metric_temperature, phone_weight=args.phones,
                      more_words=args.more_words, probe_epochs=args.probe_epochs, distill=args.distill,
                      trunk_lr=args.trunk_lr, qat_distill=args.qat_distill, kokoro=args.kokoro)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps({k: metrics[k] for k in ("accuracy", "float_accuracy", "quantization_drop",
                                              "cross_family_accuracy", "other_synth_accuracy", "agreement",
                                              "nps")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
