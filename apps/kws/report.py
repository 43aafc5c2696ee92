"""Evaluation figures and the training report of the keyword model (`REPORT.md`, `confusion.png`).

Accuracies are top-1 over 12 classes. `accuracy` is the converted (integer) model on the virtual
AKD1000 on the `test` split (voices never used in training); `cross_family_accuracy` the same on
`cross_family` (accents and variant groups never used in training); `other_synth_accuracy` the same
on `other_synth` (festival voices: a synthesizer never used in training); `float_accuracy` the float
network before quantization on `test`; `quantization_drop` = float − quantized; `agreement` the
share of test clips where the converted model's top-1 equals the fake-quantized PyTorch model's.
Energy: the power model of `akida_edge.engine.power` (estimated, not measured) on the activity of
the test clips.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from akida_edge.engine import statistics

RATE_HZ = 10.0  # inferences per second while detecting (a window every 100 ms)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """Counts (n, n): row = true class, column = predicted class."""
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def evaluate(akida: Any, splits: dict, float_pred: dict, quant_pred: dict, fq_pred: np.ndarray,
             classes: tuple[str, ...]) -> dict:
    """The figures of the module docstring (plus per-class recall, the confusion and the chip cost)."""
    y, y_cf = splits["test"]["y"], splits["cross_family"]["y"]

    def mean(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(a == b)) if len(b) else float("nan")

    other = splits.get("other_synth")
    extra: dict[str, Any] = {}
    if other is not None and "other_synth" in quant_pred:
        y_os = other["y"]
        cm_os = confusion(y_os, quant_pred["other_synth"], len(classes))
        extra = {"other_synth_accuracy": mean(quant_pred["other_synth"], y_os),
                 "float_other_synth_accuracy": mean(float_pred["other_synth"], y_os),
                 "other_synth_keyword_accuracy": mean(quant_pred["other_synth"][y_os < 10], y_os[y_os < 10]),
                 "other_synth_by_voice": {str(v): mean(quant_pred["other_synth"][other["voice"] == v],
                                                       y_os[other["voice"] == v])
                                          for v in sorted(set(other["voice"]) - {""})},
                 "per_class_other_synth": {c: _recall(cm_os, i) for i, c in enumerate(classes)}}
    if "snr_db" in splits["test"]:
        snr = splits["test"]["snr_db"]
        extra["accuracy_by_snr_db"] = accuracy_by_snr(quant_pred["test"], y, snr, len(classes) - 1)
        extra["float_accuracy_by_snr_db"] = accuracy_by_snr(float_pred["test"], y, snr, len(classes) - 1)

    acc, f_acc = mean(quant_pred["test"], y), mean(float_pred["test"], y)
    cm = confusion(y, quant_pred["test"], len(classes))
    cm_cf = confusion(y_cf, quant_pred["cross_family"], len(classes))
    akida.forward(splits["test"]["x"])  # activity of the test clips for the power model
    stats = statistics.report(akida, rate_hz=RATE_HZ)
    power = stats.power.as_dict() if stats.power is not None else {}
    return {
        "accuracy": acc, "float_accuracy": f_acc, "quantization_drop": f_acc - acc,
        "cross_family_accuracy": mean(quant_pred["cross_family"], y_cf),
        "float_cross_family_accuracy": mean(float_pred["cross_family"], y_cf),
        "agreement": mean(quant_pred["test"], fq_pred),
        "per_class": {c: _recall(cm, i) for i, c in enumerate(classes)},
        "per_class_cross_family": {c: _recall(cm_cf, i) for i, c in enumerate(classes)},
        "confusion": cm.tolist(), "confusion_cross_family": cm_cf.tolist(),
        "nps": int(akida.mapping.np_count), "sram_bytes": int(akida.mapping.sram_bytes),
        "layers": {m.name: len(m.nps) for m in akida.mapping.layers},
        "dynamic_uj_per_inference": power.get("dynamic_uj_per_inference"),
        "energy_uj_per_inference_at_10hz": power.get("energy_uj_per_inference"),
        "total_mw_at_10hz": power.get("total_mw"),
        **extra,
    }


def _recall(cm: np.ndarray, i: int) -> float | None:
    n = int(cm[i].sum())
    return float(cm[i, i] / n) if n else None


def confusion_png(path: Path, cm: np.ndarray, classes: tuple[str, ...], title: str) -> None:
    """Row-normalized confusion matrix as a picture (OpenCV; darker = more), counts in the cells."""
    n, cell, left, top = len(classes), 46, 100, 70
    img = np.full((top + n * cell + 20, left + n * cell + 20, 3), 255, np.uint8)
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    font, aa = cv2.FONT_HERSHEY_SIMPLEX, cv2.LINE_AA
    cv2.putText(img, title, (10, 22), font, 0.55, (0, 0, 0), 1, aa)
    cv2.putText(img, "true (rows) / predicted (columns)", (10, 44), font, 0.45, (80, 80, 80), 1, aa)
    for i in range(n):
        cv2.putText(img, classes[i], (4, top + i * cell + cell // 2 + 5), font, 0.42, (0, 0, 0), 1, aa)
        cv2.putText(img, classes[i][:5], (left + i * cell + 3, top - 6), font, 0.36, (0, 0, 0), 1, aa)
        for j in range(n):
            shade = int(255 - 215 * rows[i, j])
            color = (shade, shade, 255) if i != j else (shade, 255 if shade > 128 else 200, shade)
            x0, y0 = left + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), color, -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), (200, 200, 200), 1)
            if cm[i, j]:
                ink = (255, 255, 255) if rows[i, j] > 0.6 else (0, 0, 0)
                cv2.putText(img, str(int(cm[i, j])), (x0 + 6, y0 + cell // 2 + 5), font, 0.45, ink, 1, aa)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")


def _more_words(sets) -> str:
    """The report's words for `--more-words` (a count of further word sets; True in reports before
    session 13, when there could be only one)."""
    if not sets:
        return ""
    n = 1 if sets is True else int(sets)
    if n == 1:
        return " and a second set of more words, `--more-words`"
    return f" and {n} further sets of more words, `--more-words`"


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


TRAIN_SAMPLE_TEXT = "2000"


def _kokoro_text(m: dict) -> str:
    if not m.get("kokoro_train_clips"):
        return ""
    from akida_edge.apps.kws.kokoro import ACCENTED_TRAIN, TRAIN_VOICES

    voices = m.get("kokoro_train_voices")
    accented = sum(v in ACCENTED_TRAIN for v in voices or ())
    if voices is None:  # metrics written before session 22 do not record which set trained the model
        who = ("Kokoro-82M training voices (`kokoroset.py`: the 22 English ones, and 14 accented ones in a "
               "set built with `--accented`; the same clips, effects and noise)")
    else:
        who = (f"{len(voices)} Kokoro-82M training voices (`kokoroset.py`"
               + (f", built with `--accented`: the {len(voices) - accented} English ones and {accented} "
                  "accented ones" if accented else f": the {len(voices)} English ones") + ")")
    words = ""
    if m.get("kokoro_word_clips"):
        word_accented = m.get("kokoro_word_accented")  # None: not recorded (before session 22)
        if word_accented is None or bool(word_accented) == bool(accented):
            who_words = "the same voices"
        else:
            who_words = (f"the {len(TRAIN_VOICES) + len(ACCENTED_TRAIN)} Kokoro voices" if word_accented
                         else f"the {len(TRAIN_VOICES)} English Kokoro voices")
        words = (f" The word sets add {m['kokoro_word_clips']} clips of words said by {who_words} "
                 f"(`wordset.py --kokoro{' --accented' if word_accented else ''}`).")
    return (f"\nNeural voices (`--kokoro`): {m['kokoro_train_clips']} more training clips said by {who}, in "
            f"the float and quantization-aware phases; {m['kokoro_test_clips']} clips of 6 other English "
            "voices, never trained on, are measured below." + words + "\n")


def _kokoro_rows(m: dict) -> str:
    if m.get("kokoro_test_accuracy") is None:
        return ""
    return (f"| kokoro_test_accuracy (6 Kokoro neural voices never trained on, quantized) | "
            f"{_fmt(m['kokoro_test_accuracy'])} |\n"
            f"| Kokoro held-out voices, float model | {_fmt(m.get('float_kokoro_test_accuracy'))} |\n")


def _qat_distill(m: dict) -> str:
    """The report's words for `--qat-distill` (empty without it)."""
    w = m.get("qat_distill") or 0.0
    return (f"; learning the float network's soft outputs too, weight {w:g} at T = "
            f"{m.get('distill_temperature')} (`--qat-distill`)") if w > 0 else ""


def _arch(m: dict) -> str:
    a = m.get("architecture")
    if not a:
        return "n/a"
    down = ", ".join(str(i + 1) for i in a["down"]) or "none"
    return (f"input conv {a['width']} @ 5×5/2 (8-bit weights), {a['blocks']} separable 3×3 blocks of "
            f"{a['width']} (stride 2 in block {down}; GAP in the last), dense {a['features']} binary "
            f"features, dense 12; 4-bit weights and activations elsewhere")


def write(out: Path, m: dict, classes: tuple[str, ...]) -> None:
    """`metrics.json`, `confusion.png` and `REPORT.md` under `out`."""
    (out / "metrics.json").write_text(json.dumps(m, indent=1))
    n = sum(map(sum, m["confusion"]))
    confusion_png(out / "confusion.png", np.array(m["confusion"]), classes,
                  f"KWS, held-out voices: accuracy {m['accuracy']:.3f} ({n} clips)")
    os_class = m.get("per_class_other_synth", {})
    rows = "\n".join(f"| `{c}` | {_fmt(m['per_class'][c])} | {_fmt(m['per_class_cross_family'][c])} | "
                     f"{_fmt(os_class.get(c))} |" for c in classes)
    by_voice = ", ".join(f"{v.split('+')[-1]} {_fmt(a)}"
                         for v, a in m.get("other_synth_by_voice", {}).items())
    aux = (f" Auxiliary head: {m['aux_words']} `_unknown_` words as their own classes during float "
           "training." if m.get("aux_words") else "")
    if m.get("word_classes"):
        aux += (f" The auxiliary head also named the {m['word_classes']} words of the word set "
                f"({m['word_clips']} clips by training voices, `wordset.py`, `--words`"
                + _more_words(m.get("more_words")) + ")" + (
                    "; only the binary feature layer and the heads were retrained with it, on the frozen "
                    "trunk (`--head-only`)." if m.get("head_only") else "."))
    if m.get("probe_epochs"):
        aux += (f" Before training on, the auxiliary head alone was fitted {m['probe_epochs']} epochs on the "
                "saved network's frozen binary features (a linear probe, `--probe-epochs`).")
    if m.get("negative_share"):
        new = [f"the {m['word_clips']} word-set clips (`--words-unknown`)"] if m.get("words_unknown") else []
        new += [f"{m['window_clips']} 1 s windows of continuous non-keyword speech (`speechwindows.py`, "
                "`--windows`)"] if m.get("window_clips") else []
        aux += (f" New `_unknown_` examples in the 12-class loss: {' and '.join(new)}, weighing "
                f"{m['negative_share']:g} classes' worth of training clips together (`--negative-share`; "
                "float training only; quantization-aware training used the keyword training set).")
    if m.get("mixup_alpha"):
        aux += (f" Float training mixed pairs of clips of different voices (mixup in feature space, "
                f"λ ~ Beta({m['mixup_alpha']:g}, {m['mixup_alpha']:g}), mixed targets for both heads; "
                "`--mixup`, `mixup.py`).")
    if m.get("averaged_points"):
        aux += (f" The float network is the average of its weights at {m['averaged_points']} points of "
                f"the last {1 - m['average_from']:.0%} of the float steps (SWA, `--average-from`, "
                "`averaging.py`; BatchNorm statistics recomputed).")
    if m.get("metric_weight"):
        aux += (f" Float training added {m['metric_weight']:g} × a prototypical loss (cosine, temperature "
                f"{m['metric_temperature']:g}) on cross-voice episodes of the word set to the binarized "
                "features (`--metric`, `episodes.py`).")
    if m.get("phone_weight"):
        aux += (f" {'Float training' if not m.get('head_only') else 'The head retraining'} added "
                f"{m['phone_weight']:g} × the binary cross-entropy of a phonetic head on the binarized "
                "features (espeak-ng phones per third of each word; `--phones`, `phones.py`; dropped before "
                "quantization).")
    snr = m.get("accuracy_by_snr_db", {})
    f_snr = m.get("float_accuracy_by_snr_db", {})
    snr_rows = (f"| quantized | {' | '.join(_fmt(v) for v in snr.values())} |\n"
                f"| float | {' | '.join(_fmt(f_snr.get(k)) for k in snr)} |")
    snr_head = f"| SNR (dB) | {' | '.join(snr)} |\n|---|{'---|' * len(snr)}"
    reused = "; the float phase reused from an earlier run (`--float-from`)" if m.get("float_reused") else ""
    if m.get("float_reused") and m.get("epochs_float_continued"):
        first = m["epochs_float"] - m["epochs_float_continued"]
        earlier = (f"the first {first} float epochs are an earlier run's" if first > 0 else
                   "the float network is an earlier run's, whose epochs its file does not record")
        reused = (f"; {earlier} (`--float-from`), the last {m['epochs_float_continued']} a warm restart of "
                  "it (`--continue-epochs`, a second one-cycle), whose time alone is counted")
    if m.get("quantized_reused"):
        reused = ("; the float and quantization-aware phases reused from a checkpoint of an earlier run "
                  "(`--float-from`, `--quantized-from`)")
    text = f"""# Keyword-spotting model: training report

Generated by `python -m akida_edge.apps.kws.train` ({'SMOKE run, --small' if m['small'] else 'full run'};
training seed {m['seed']}, data set config {m['data_config_hash']}, {m['epochs_float']} float +
{m['epochs_quantized']} quantization-aware epochs (the quantized epoch kept:
{m.get('qat_epoch_kept')}, best on validation{_qat_distill(m)}), {m['train_seconds']:.0f} s of training on one
thread{reused}). Network: {_arch(m)}.
Clips per split: {', '.join(f'{k} {v}' for k, v in m['clips'].items())} (`test` = espeak-ng voices
never used in training; `cross_family` = English accents and variant groups never used in
training; `other_synth` = festival, a synthesizer never used in training).{aux}

Data distribution (`dataset.py`, the same for every split unless said): espeak-ng English accents
× variants (`voices.py`: the other languages' letter-to-sound rules made other words of the
keywords), plus flite voices for 15 % of the training utterances; words as in the issue;
`_unknown_` = half near misses of keywords (`NEAR_MISS_WORDS`: "yet", "nope", "pup", "drown",
"laughed", "fright", "honest", "soft", "stomp", "goat", ...), half other words; exact homophones of
keywords ("know", "write") are not used. Background noise SNR drawn uniformly from {{clean, 30, 20,
15, 10, 5, 0}} dB (so 2 clips in 7 are at 5 dB or below), 8 noise kinds including babble; peak
level −30..−1 dBFS; random onset. Speaker and channel augmentation by sox (speed/VTLP, pitch,
reverb, band-limiting, EQ, overdrive). Training clips: two clips (independent shift, noise, SNR,
gain) per synthesized utterance; held-out clips: one each. Training adds SpecAugment (2 time masks
≤ 8 frames, 2 coefficient masks ≤ 2 per clip).
{_kokoro_text(m)}
Fit: float accuracy on {TRAIN_SAMPLE_TEXT} training clips (no augmentation)
{_fmt(m.get('float_train_accuracy'))} vs validation {_fmt(m.get('float_val_accuracy'))}.

Decision threshold: an offset is added to the `_unknown_` logit, chosen on the validation split
(`train.unknown_bias`): {_fmt(m.get('unknown_bias'))} for the quantized model (folded into the
last layer's threshold; validation accuracy then {_fmt(m.get('quantized_val_accuracy'))}) and
{_fmt(m.get('float_unknown_bias'))} for the float network (in `kws_float.pt`), so both
accuracies below include it and the quantization drop compares like with like.

| figure | value |
|---|---|
| accuracy (converted model, virtual AKD1000, held-out voices, 12 classes) | {_fmt(m['accuracy'])} |
| float accuracy (before quantization, same clips) | {_fmt(m['float_accuracy'])} |
| quantization drop (float − quantized) | {_fmt(m['quantization_drop'])} |
| cross_family_accuracy (held-out voice families, quantized) | {_fmt(m['cross_family_accuracy'])} |
| cross-family accuracy of the float model | {_fmt(m['float_cross_family_accuracy'])} |
| other_synth_accuracy (festival, never trained on, quantized) | {_fmt(m.get('other_synth_accuracy'))} |
| other_synth accuracy of the float model | {_fmt(m.get('float_other_synth_accuracy'))} |
| other_synth, keywords only (quantized) | {_fmt(m.get('other_synth_keyword_accuracy'))} |
| other_synth per festival voice (quantized) | {by_voice or 'n/a'} |
{_kokoro_rows(m)}| converted vs fake-quantized PyTorch: same top-1 | {_fmt(m['agreement'])} |
| NPs on the AKD1000 | {m['nps']} ({', '.join(f'{k} {v}' for k, v in m['layers'].items())}) |
| SRAM | {m['sram_bytes'] / 1024:.1f} KB |
| dynamic energy per inference (estimated) | {_fmt(m['dynamic_uj_per_inference'])} µJ |
| energy/inference at 10/s, static included (est.) | {_fmt(m['energy_uj_per_inference_at_10hz'])} µJ |

Per-class recall (quantized):

| class | held-out voices | held-out families | other synthesizer |
|---|---|---|---|
{rows}

Accuracy on held-out voices (`test`, spoken clips) by background-noise SNR:

{snr_head}
{snr_rows}

![confusion matrix](confusion.png)

## What these numbers do and do not say

All clips are synthetic (espeak-ng and flite in training), augmented with noise, gain and time
shifts. Held-out *voices* are other espeak-ng voices of the same synthesizer; held-out *families*
are accents/variants never trained on; `other_synth` is a synthesizer never trained on (festival;
two of its three voices are recordings of speakers flite also uses, made into voices another way)
— the closest proxy here for a new human speaker. Human voices were not measured: expect lower
accuracy on real people; the few-shot learning (`kws learn`, issue 5) is the remedy for what
remains.
"""
    (out / "REPORT.md").write_text(text)


def accuracy_by_snr(pred: np.ndarray, y: np.ndarray, snr_db: np.ndarray, silence: int) -> dict[str, float]:
    """Top-1 per background-noise SNR in dB ("clean": no noise added; NaN in the data set), over the
    speech clips: those of class `silence` (the silence class's index) have no SNR."""
    pred, y = np.asarray(pred), np.asarray(y)
    snr = np.nan_to_num(np.asarray(snr_db, np.float64), nan=np.inf)
    speech = y != silence
    out = {}
    for v in sorted(set(snr[speech]), reverse=True):
        at = speech & (snr == v)
        out["clean" if np.isinf(v) else f"{v:g}"] = float(np.mean(pred[at] == y[at]))
    return out
