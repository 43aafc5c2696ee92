"""The gesture data set: rendered scenes -> the DVS emulator -> model tensors, split by scene.

    python -m akida_edge.apps.vision.dataset --data data/vision [--small]

Each clip is a `scenes.render` scene of 1 s (0.2 s for the sensor to settle, then the model's
0.8 s window), turned into events by `akida_edge.encoders.dvs` (preset ``clean``, or ``noisy`` for
30 % of the clips) and into one (64, 64, 8) tensor by `representation.clip_tensor` over the last
0.8 s. Scene parameters are drawn per split so that the test split holds what training never saw:

* **backgrounds**: other seeds (every split draws its own), and the ``rects`` family only in test;
* **speeds**: gesture durations 0.25–0.40 s and 0.55–0.70 s for training, 0.40–0.55 s for test
  (circles 1.3 × longer);
* **shapes**: training sees hands with 4–5 fingers of length 0.5–0.7 or 0.9–1.1, fists and
  mittens; test sees hands with 3–5 fingers of length 0.7–0.9, mittens and a held object (an
  ellipse, never in training).

Sizes, start positions and times (a motion may begin before the window or end after it, by up to
20 % of its length), lighting ramps, flicker, camera noise and distractors vary in every split.
`_background_` clips are still scenes (a resting hand with tremor), global flicker or light ramps
on an empty scene, sensor noise, small irrelevant moving objects, and gestures cut short: at most
30 % of one of the eight gestures inside the window (so that the sliding windows of the app name
a gesture when it is (nearly) whole, and not from its first or last quarter), and other motions
(`scenes.OTHER_MOTIONS`: diagonal swipes, a vertical shake, corners), so that the features encode
the path itself and not only which of eight it resembles most (what few-shot learning of new
gestures builds on; the novel `wave` and `z_shape` are never drawn). `load_aux` adds named
variants of them (`labels.AUX`), as `_background_` scenes, for the wider training head of
`train.py`.

Clips are seeded by (split, label, index) only: `make_clips` and the cached splits under `--data`
(``<split>-<digest>.npz``, git-ignored) agree, and a clip does not depend on how many are drawn.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akida_edge.apps.vision import scenes
from akida_edge.apps.vision.labels import AUX, BACKGROUND, CLASSES, GESTURES, NOVEL
from akida_edge.apps.vision.representation import ViewParams, clip_tensor, video_events
from akida_edge.apps.vision.scenes import SceneParams
from akida_edge.errors import ConfigError

VERSION = "v3"  # bump when the sampling or rendering changes (invalidates the cache)
SPLITS = ("train", "validation", "test")
PER_LABEL = {"train": 400, "validation": 30, "test": 120}
SMALL_PER_LABEL = {"train": 3, "validation": 1, "test": 2}
AUX_PER_LABEL, AUX_SMALL_PER_LABEL = 150, 1  # training clips per auxiliary motion (`load_aux`)
SIZE = (128, 128)
PRE_S = 0.2  # the sensor settles before the model's window
TRAIN_BACKGROUNDS = scenes.BACKGROUNDS[:-1]
_SPLIT_CODE = {"train": 1, "validation": 2, "test": 3}


@dataclass(frozen=True)
class Clip:
    """One clip: its label, scene and sensor."""

    label: str
    scene: SceneParams
    dvs_preset: str = "clean"


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _two_ranges(rng: np.random.Generator, a: tuple[float, float], b: tuple[float, float]) -> float:
    return _u(rng, *(a if rng.random() < (a[1] - a[0]) / (a[1] - a[0] + b[1] - b[0]) else b))


def sample_clip(label: str, split: str, index: int, view: ViewParams | None = None) -> Clip:
    """The scene of clip `index` of `label` in `split` (module docstring), seeded by those three."""
    if split not in SPLITS:
        raise ConfigError(f"split {split!r}: use one of {SPLITS}")
    if label not in CLASSES + NOVEL + AUX:
        raise ConfigError(f"unknown gesture {label!r}; use one of {CLASSES + NOVEL + AUX}")
    view = view or ViewParams()
    window_s = view.window_ms / 1000
    label_code = zlib.crc32(label.encode())
    seed = int(np.random.SeedSequence((_SPLIT_CODE[split], label_code, int(index))).generate_state(1)[0])
    rng = np.random.default_rng(seed)
    test = split == "test"
    # background
    families = scenes.BACKGROUNDS if test else TRAIN_BACKGROUNDS
    kw: dict = dict(size=SIZE, fps=float(rng.choice([25.0, 30.0])), duration_s=PRE_S + window_s,
                    background=str(rng.choice(families)),
                    bg_seed=_SPLIT_CODE[split] * 10**7 + int(rng.integers(10**7)),
                    bg_contrast=_u(rng, 0.4, 1.3), seed=seed % 10**6)
    # shape
    r = rng.random()
    if test:
        kw["shape"] = "hand" if r < 0.5 else ("mitten" if r < 0.7 else "object")
        kw["fingers"], kw["finger_len"] = int(rng.integers(3, 6)), _u(rng, 0.7, 0.9)
    else:
        kw["shape"] = "hand" if r < 0.6 else ("fist" if r < 0.85 else "mitten")
        kw["fingers"], kw["finger_len"] = int(rng.integers(4, 6)), _two_ranges(rng, (0.5, 0.7), (0.9, 1.1))
    kw.update(spread_deg=_u(rng, 0, 20), hand_scale=_u(rng, 0.2, 0.4), angle_deg=_u(rng, -25, 25),
              hand_dn=_u(rng, 160, 235) if rng.random() < 0.7 else _u(rng, 15, 60))
    # motion
    d = _u(rng, 0.40, 0.55) if test else _two_ranges(rng, (0.25, 0.40), (0.55, 0.70))
    if label.startswith("circle") or label in NOVEL or label.startswith(("nod", "corner_")):
        d = min(1.3 * d, window_s * 0.95)
    kw["gesture_s"] = d
    kw["start_s"] = _u(rng, PRE_S - 0.2 * d, PRE_S + window_s - 0.8 * d)
    kw["extent"] = _u(rng, 0.3, 0.55) if label.startswith("circle") else _u(rng, 0.35, 0.65)
    kw["centre"] = (_u(rng, 0.3, 0.7), _u(rng, 0.3, 0.7))
    kw["turns"] = _u(rng, 0.75, 1.0)
    # light and sensor
    if rng.random() < 0.3:
        g0 = _u(rng, 0.7, 1.3)
        kw["light_gain"] = (g0, g0 * _u(rng, 0.8, 1.25))
    if rng.random() < 0.25:
        kw["flicker"], kw["flicker_hz"] = _u(rng, 0.02, 0.08), float(rng.choice([100.0, 120.0]))
    if rng.random() < 0.4:
        kw["noise_dn"] = _u(rng, 1, 4)
    if rng.random() < 0.15:
        kw["distractors"] = 1
    preset = "noisy" if rng.random() < 0.3 else "clean"
    if label in AUX:  # an auxiliary motion, whole in the window: a `_background_` scene
        return Clip(BACKGROUND, SceneParams(**kw, motion=label), preset)
    if label == BACKGROUND:
        kind = rng.random()
        if kind < 0.25:  # a gesture cut short: at most 30 % of it inside the window
            kw["motion"] = str(rng.choice(GESTURES))
            inside = _u(rng, 0.0, 0.3) * d
            after = rng.random() < 0.5
            kw["start_s"] = PRE_S + window_s - inside if after else PRE_S + inside - d
            return Clip(label, SceneParams(**kw), preset)
        if kind < 0.45:  # a motion that is no gesture of the model, whole in the window
            kw["motion"] = str(rng.choice(scenes.OTHER_MOTIONS))
            return Clip(label, SceneParams(**kw), preset)
        kind = (kind - 0.45) / 0.55
        kw["start_s"], kw["gesture_s"] = 0.0, 0.0
        if kind < 0.3:  # a resting hand
            kw["tremor_px"] = _u(rng, 0, 1.5)
        elif kind < 0.55:  # light changes on a scene without a hand
            kw["shape"] = "none" if rng.random() < 0.7 else kw["shape"]
            if rng.random() < 0.5:
                kw["flicker"], kw["flicker_hz"] = _u(rng, 0.05, 0.2), float(rng.choice([100.0, 120.0]))
            else:
                g0 = _u(rng, 0.6, 1.4)
                kw["light_gain"] = (g0, g0 * _u(rng, 0.6, 1.6))
        elif kind < 0.7:  # sensor noise
            preset, kw["noise_dn"] = "noisy", _u(rng, 3, 8)
            kw["shape"] = "none" if rng.random() < 0.5 else kw["shape"]
        else:  # small irrelevant motion
            kw["distractors"] = int(rng.integers(1, 4))
            kw["shape"] = "none" if rng.random() < 0.5 else kw["shape"]
            kw["tremor_px"] = _u(rng, 0, 1.0)
    return Clip(label, SceneParams(**kw), preset)


def clip_to_tensor(clip: Clip, view: ViewParams | None = None) -> np.ndarray:
    """Render, emulate the sensor and encode the last `window_ms` of the clip: (H, W, bins) uint8."""
    view = view or ViewParams()
    frames, fps = scenes.render(clip.label, clip.scene)
    events, shape = video_events(frames, fps, dvs_preset=clip.dvs_preset, seed=clip.scene.seed)
    t_end = int(round((len(frames) - 1) * 1e6 / fps)) + 1
    return clip_tensor(events, shape, view, t_end - view.window_us, t_end)


def make_clips(labels, split: str, n_per_label: int, seed: int = 0, view: ViewParams | None = None,
               progress=None) -> tuple[np.ndarray, list[str]]:
    """`n_per_label` clips of each label of `split`: (tensors (n, H, W, C) uint8, labels), label-major.

    `seed` offsets the clip indices (seed·10^6 + i), so two seeds give disjoint sets of scenes."""
    view = view or ViewParams()
    labels = list(labels)
    out = np.zeros((len(labels) * n_per_label, *view.tensor_shape), np.uint8)
    names: list[str] = []
    bar = _Bar(progress, f"vision data {split}", len(out))
    for a, label in enumerate(labels):
        for i in range(n_per_label):
            out[a * n_per_label + i] = clip_to_tensor(sample_clip(label, split, seed * 10**6 + i, view), view)
            names.append(label)
            bar.step()
    return out, names


def config_digest(per_label: dict[str, int], view: ViewParams) -> str:
    text = json.dumps({"version": VERSION, "per_label": per_label, "view": view.to_dict(),
                       "labels": list(CLASSES)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_split(data: str | Path, split: str, small: bool = False, view: ViewParams | None = None,
               progress=sys.stderr) -> dict[str, np.ndarray]:
    """x (n, H, W, C) uint8, y (n,) int64 class indices and per-clip scene facts of `split`,
    built on first use and cached under `data`."""
    view = view or ViewParams()
    per_label = SMALL_PER_LABEL if small else PER_LABEL
    path = Path(data) / f"{split}-{config_digest(per_label, view)}.npz"
    if path.exists():
        return dict(np.load(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    n = per_label[split]
    x, names = make_clips(CLASSES, split, n, 0, view, progress)
    clips = [sample_clip(label, split, i, view) for label in CLASSES for i in range(n)]
    out = {"x": x, "y": np.asarray([CLASSES.index(s) for s in names], np.int64),
           "shape": np.asarray([c.scene.shape for c in clips]),
           "background": np.asarray([c.scene.background for c in clips]),
           "gesture_s": np.asarray([c.scene.gesture_s for c in clips], np.float32),
           "dvs_preset": np.asarray([c.dvs_preset for c in clips])}
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **out)
    tmp.replace(path)
    return out


def load_aux(data: str | Path, small: bool = False, view: ViewParams | None = None,
             progress=sys.stderr) -> dict[str, np.ndarray]:
    """The auxiliary motions' training clips (`labels.AUX`, `train.py --aux`): x (n, H, W, C)
    uint8 and y (n,) indices into AUX, built on first use and cached under `data`."""
    view = view or ViewParams()
    n = AUX_SMALL_PER_LABEL if small else AUX_PER_LABEL
    text = json.dumps({"version": VERSION, "aux": list(AUX), "n": n, "view": view.to_dict()}, sort_keys=True)
    path = Path(data) / f"aux-train-{hashlib.sha256(text.encode()).hexdigest()[:12]}.npz"
    if path.exists():
        return dict(np.load(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    x, names = make_clips(AUX, "train", n, 0, view, progress)
    out = {"x": x, "y": np.asarray([AUX.index(s) for s in names], np.int64)}
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **out)
    tmp.replace(path)
    return out


def other_motion_mask(split: str, y: np.ndarray, view: ViewParams | None = None) -> np.ndarray:
    """Which clips of a cached split (label-major, as `load_split` builds them) are `_background_`
    clips of an undirected other motion (`scenes.OTHER_MOTIONS`): the wider head ignores them."""
    bg = CLASSES.index(BACKGROUND)
    out = np.zeros(len(y), bool)
    for i in np.flatnonzero(y == bg):
        idx = int(i - np.flatnonzero(y == bg)[0])
        out[i] = sample_clip(BACKGROUND, split, idx, view).scene.motion in scenes.OTHER_MOTIONS
    return out


class _Bar:
    """A one-line progress bar on a stream (None: silent)."""

    def __init__(self, stream, what: str, total: int) -> None:
        self.stream, self.what, self.total, self.done, self.t0 = stream, what, total, 0, time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.stream is None or (self.done % 25 and self.done != self.total):
            return
        el = time.monotonic() - self.t0
        bar = "#" * int(20 * self.done / max(self.total, 1))
        left = el / self.done * (self.total - self.done)
        self.stream.write(f"{self.what:<22} [{bar:<20}] {self.done}/{self.total} clips {el:.0f} s, "
                          f"~{left:.0f} s left\n")
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.vision.dataset",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/vision", help="cache directory (default data/vision)")
    ap.add_argument("--small", action="store_true", help="the CI smoke set: a few clips per class")
    args = ap.parse_args(argv)
    for split in SPLITS:
        d = load_split(args.data, split, small=args.small)
        print(f"{split}: {len(d['y'])} clips", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
