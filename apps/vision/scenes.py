"""Rendered gesture scenes: a hand-like shape moving over a textured background, seeded, OpenCV.

`render(label, params)` gives grey frames (T, H, W) uint8 and their rate; the data set
(`dataset.py`) turns them into events with the project's DVS emulator and into model tensors.
Everything is a pure function of `SceneParams` (its `seed` included), so a scene is reproducible.

**The clip.** Frame i is at t = i/fps, i = 0 … round(duration·fps). The motion runs from `start_s`
for `gesture_s` seconds with a smooth (raised-cosine) progress u(t) ∈ [0, 1]; before it the shape
rests at the path's start, after it at the path's end.

**Paths** (image coordinates, y down; `extent` E is a fraction of the frame side S, `centre` c):

* swipes: from c − d·E·S/2 to c + d·E·S/2 along the direction d, with a small sideways arc;
* circles: angle θ(u) = θ0 ± 2π·turns·u at radius E·S/2 about c, cw = θ increasing (y down);
* approach / recede: scale from 1 to 1 + 2E (or back), with a slight drift;
* wave (novel): x = c_x + (E·S/4)·sin(2π·n·u), n = 2…3, the hand tilting with it;
* z_shape (novel): top-left → top-right → bottom-left → bottom-right at constant speed;
* `_background_`: no path; the shape (if any) rests with an optional tremor.

`motion` names the path to draw when it is not the label's own: the data set's `_background_`
clips include gestures that mostly lie outside the model's window (a gesture cut short is not
that gesture) and `OTHER_MOTIONS`: a diagonal swipe (45° + k·90°, ±15°), a vertical shake of
1.5–3 cycles, and a corner (a stroke along one axis, then one along the other).

**The shape.** ``"hand"``: an elliptic palm with `fingers` rounded fingers fanned by `spread_deg`
and a thumb; ``"mitten"``: the fingers together; ``"fist"``: short fingers; ``"object"``: a
textured ellipse (a held object); ``"none"``: no shape. Drawn anti-aliased at 1/16 px, filled
with a shaded, textured grey.

**Light and sensor.** Global gain ramping linearly from `light_gain[0]` to `light_gain[1]`, times
1 + `flicker`·sin(2π·f·t + φ) (mains flicker aliased by the frame rate), plus Gaussian noise of
`noise_dn` per pixel and frame. `distractors` small discs drift across the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from akida_edge.apps.vision.labels import AUX, BACKGROUND, CLASSES, NOVEL
from akida_edge.errors import ConfigError

BACKGROUNDS = ("noise", "stripes", "checker", "blobs", "gradient", "rects")
SHAPES = ("hand", "mitten", "fist", "object", "none")
#: Motions that are no gesture of the model (drawn in `_background_` clips): a diagonal swipe,
#: a vertical shake (a nod) and a corner (two perpendicular strokes).
OTHER_MOTIONS = ("diagonal", "nod", "corner")
#: Image directions of the one-letter codes in the variants of the other motions (y down).
DIRECTIONS = {"r": (1.0, 0.0), "l": (-1.0, 0.0), "d": (0.0, 1.0), "u": (0.0, -1.0)}
SWIPES = {"swipe_left": (-1.0, 0.0), "swipe_right": (1.0, 0.0), "swipe_up": (0.0, -1.0),
          "swipe_down": (0.0, 1.0)}
_SUB = 16  # cv2 drawing shift 4: 1/16-pixel coordinates


@dataclass(frozen=True)
class SceneParams:
    """One scene (module docstring). Lengths: `size` in pixels (H, W), fractions of the side S
    for `extent`, `centre`, `hand_scale`; times in seconds."""

    size: tuple[int, int] = (128, 128)
    fps: float = 30.0
    duration_s: float = 1.0
    background: str = "noise"
    bg_seed: int = 0
    bg_contrast: float = 1.0
    shape: str = "hand"
    fingers: int = 4
    finger_len: float = 0.7
    spread_deg: float = 10.0
    hand_scale: float = 0.3
    hand_dn: float = 180.0
    angle_deg: float = 0.0
    start_s: float = 0.35
    gesture_s: float = 0.5
    extent: float = 0.5
    centre: tuple[float, float] = (0.5, 0.5)
    turns: float = 0.9
    light_gain: tuple[float, float] = (1.0, 1.0)
    flicker: float = 0.0
    flicker_hz: float = 100.0
    noise_dn: float = 0.0
    distractors: int = 0
    tremor_px: float = 0.0
    motion: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ConfigError(f"SceneParams.background={self.background!r}: use one of {BACKGROUNDS}")
        if self.shape not in SHAPES:
            raise ConfigError(f"SceneParams.shape={self.shape!r}: use one of {SHAPES}")
        if not (8 <= min(self.size) and self.fps > 0 and self.duration_s > 0):
            raise ConfigError(f"SceneParams: size {self.size}, fps {self.fps}, duration {self.duration_s}: "
                              "need a side >= 8 px and positive rate and duration")


# --------------------------------------------------------------------------------------- textures


def _low_freq(rng: np.random.Generator, h: int, w: int, cell: int, lo: float, hi: float) -> np.ndarray:
    import cv2

    grid = rng.uniform(lo, hi, size=(max(2, h // cell + 2), max(2, w // cell + 2))).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def background(kind: str, size: tuple[int, int], seed: int, contrast: float = 1.0) -> np.ndarray:
    """A textured background (H, W) float32 in DN, mean about 110, seeded."""
    import cv2

    h, w = size
    rng = np.random.default_rng((seed, BACKGROUNDS.index(kind)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "noise":
        img = _low_freq(rng, h, w, int(rng.integers(6, 24)), -60, 60)
    elif kind == "stripes":
        a, period = rng.uniform(0, math.pi), rng.uniform(6, 30) * max(h, w) / 128
        img = 45 * np.sin(2 * math.pi * (xx * math.cos(a) + yy * math.sin(a)) / period + rng.uniform(0, 6.3))
    elif kind == "checker":
        cell = rng.uniform(6, 20) * max(h, w) / 128
        img = 45 * np.where(((xx // cell + yy // cell) % 2) == 0, 1.0, -1.0).astype(np.float32)
        img = cv2.GaussianBlur(img, (0, 0), 0.8)
    elif kind == "blobs":
        img = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(6, 16))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            ax = (int(rng.integers(3, w // 4)), int(rng.integers(3, h // 4)))
            cv2.ellipse(img, c, ax, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(-60, 60)), -1)
        img = cv2.GaussianBlur(img, (0, 0), 1.5)
    elif kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        img = 50 * ((xx / w - 0.5) * math.cos(a) + (yy / h - 0.5) * math.sin(a))
        img = img + _low_freq(rng, h, w, 32, -8, 8)
    else:  # rects: furniture-like boxes
        img = np.full((h, w), float(rng.uniform(-30, 30)), np.float32)
        for _ in range(int(rng.integers(4, 10))):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            x1, y1 = x0 + int(rng.integers(w // 10, w // 2)), y0 + int(rng.integers(h // 10, h // 2))
            cv2.rectangle(img, (x0, y0), (x1, y1), float(rng.uniform(-60, 60)), -1)
        img = cv2.GaussianBlur(img, (0, 0), 0.7)
    return (110.0 + contrast * img).astype(np.float32)


# ------------------------------------------------------------------------------------------ shape


def shape_mask(p: SceneParams, cx: float, cy: float, scale: float, angle_deg: float) -> np.ndarray:
    """Coverage (H, W) float32 in [0, 1] of the shape centred at (cx, cy) px, `scale` × its size."""
    import cv2

    h, w = p.size
    mask = np.zeros((h, w), np.uint8)
    if p.shape == "none":
        return mask.astype(np.float32)
    size = p.hand_scale * min(h, w) * scale  # overall height of the shape, px
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)

    def pt(u: float, v: float) -> tuple[int, int]:  # local (u right, v up) in units of `size`
        x = cx + size * (u * ca + v * sa)
        y = cy + size * (u * sa - v * ca)
        return int(round(x * _SUB)), int(round(y * _SUB))

    def disc(u: float, v: float, r: float) -> None:
        cv2.circle(mask, pt(u, v), max(1, int(round(r * size * _SUB))), 255, -1, cv2.LINE_AA, 4)

    def bar(a: tuple[float, float], b: tuple[float, float], width: float) -> None:  # a rounded finger
        thick = max(1, int(round(width * size)))
        cv2.line(mask, pt(*a), pt(*b), 255, thick, cv2.LINE_AA, 4)
        disc(*b, width / 2)

    if p.shape == "object":
        ax = (max(1, int(size * 0.32 * _SUB)), max(1, int(size * 0.45 * _SUB)))
        cv2.ellipse(mask, pt(0, 0), ax, angle_deg, 0, 360, 255, -1, cv2.LINE_AA, 4)
        return mask.astype(np.float32) / 255
    palm_c = (0.0, -0.15)
    ax = (max(1, int(size * 0.24 * _SUB)), max(1, int(size * 0.27 * _SUB)))
    cv2.ellipse(mask, pt(*palm_c), ax, angle_deg, 0, 360, 255, -1, cv2.LINE_AA, 4)
    n = max(1, int(p.fingers))
    length = {"hand": p.finger_len, "mitten": p.finger_len, "fist": 0.3 * p.finger_len}[p.shape] * 0.45
    spread = 0.0 if p.shape == "mitten" else p.spread_deg
    width = 0.08 if p.shape != "mitten" else 0.46 / n
    for k in range(n):
        off = (k - (n - 1) / 2)
        base_u = palm_c[0] + off * (0.42 / n)
        phi = math.radians(off * spread)
        root = (base_u, palm_c[1] + 0.12)
        tip = (base_u + length * math.sin(phi), root[1] + length * math.cos(phi))
        bar(root, tip, width)
    if p.shape != "fist":  # thumb
        bar((-0.12, -0.2), (-0.36, -0.05), 0.09)
    return mask.astype(np.float32) / 255


# ------------------------------------------------------------------------------------------- path


def progress(t_s: float, p: SceneParams) -> float:
    """u(t): 0 before the motion, 1 after it, raised cosine in between."""
    u = min(max((t_s - p.start_s) / max(p.gesture_s, 1e-6), 0.0), 1.0)
    return 0.5 - 0.5 * math.cos(math.pi * u)


def pose(label: str, p: SceneParams, t_s: float) -> tuple[float, float, float, float]:
    """(cx, cy) px, scale and angle (degrees) of the shape at time t."""
    h, w = p.size
    side = min(h, w)
    cx, cy = p.centre[0] * w, p.centre[1] * h
    u = progress(t_s, p)
    label = p.motion or label
    e = p.extent * side
    scale, angle = 1.0, p.angle_deg
    if label in SWIPES:
        dx, dy = SWIPES[label]
        bulge = 0.08 * e * math.sin(math.pi * u)
        cx += dx * e * (u - 0.5) + dy * bulge
        cy += dy * e * (u - 0.5) - dx * bulge
    elif label in ("circle_cw", "circle_ccw"):
        sign = 1.0 if label == "circle_cw" else -1.0
        theta0 = 2 * math.pi * ((p.seed % 97) / 97)
        lin = min(max((t_s - p.start_s) / max(p.gesture_s, 1e-6), 0.0), 1.0)
        th = theta0 + sign * 2 * math.pi * p.turns * lin
        cx += 0.5 * e * math.cos(th)
        cy += 0.5 * e * math.sin(th)
    elif label in ("approach", "recede"):
        grow = 1 + 2 * p.extent
        scale = 1 + (grow - 1) * (u if label == "approach" else 1 - u)
        cx += 0.03 * side * u
        cy += 0.02 * side * u
    elif label == "wave":
        n = 2 + (p.seed % 2)
        lin = min(max((t_s - p.start_s) / max(p.gesture_s, 1e-6), 0.0), 1.0)
        s = math.sin(2 * math.pi * n * lin)
        cx += 0.25 * e * s
        angle += 15 * s
    elif label == "z_shape":
        lin = min(max((t_s - p.start_s) / max(p.gesture_s, 1e-6), 0.0), 1.0)
        pts = [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]
        seg = [1.0, math.sqrt(2), 1.0]
        d = lin * sum(seg)
        k = 0
        while k < 2 and d > seg[k]:
            d -= seg[k]
            k += 1
        f = min(d / seg[k], 1.0)
        cx += e * (pts[k][0] + f * (pts[k + 1][0] - pts[k][0]))
        cy += e * (pts[k][1] + f * (pts[k + 1][1] - pts[k][1]))
    elif label.partition("_")[0] in OTHER_MOTIONS:
        # "diagonal", "nod", "corner": direction drawn from the seed; "diagonal_dr" (right-down),
        # "corner_rd" (right, then down): the variant named (`labels.AUX`)
        kind, _, variant = label.partition("_")
        if variant and label not in AUX:
            raise ConfigError(f"unknown motion {label!r}; use one of {OTHER_MOTIONS + AUX}")
        rng = np.random.default_rng((p.seed, 5))
        lin = min(max((t_s - p.start_s) / max(p.gesture_s, 1e-6), 0.0), 1.0)
        if kind == "diagonal":
            a = math.radians(45 + 90 * int(rng.integers(4)) + rng.uniform(-15, 15))
            if variant:
                dx, dy = DIRECTIONS[variant[1]][0], DIRECTIONS[variant[0]][1]
                a = math.atan2(dy, dx) + math.radians(rng.uniform(-15, 15))
            cx += math.cos(a) * e * (u - 0.5)
            cy += math.sin(a) * e * (u - 0.5)
        elif kind == "nod":
            cy += 0.25 * e * math.sin(2 * math.pi * rng.uniform(1.5, 3.0) * lin)
        else:  # corner
            d1 = np.asarray([[1, 0], [-1, 0], [0, 1], [0, -1]][int(rng.integers(4))], float)
            d2 = np.asarray([d1[1], d1[0]]) * rng.choice([-1.0, 1.0])
            if variant:
                d1, d2 = np.asarray(DIRECTIONS[variant[0]]), np.asarray(DIRECTIONS[variant[1]])
            f1, f2 = min(2 * lin, 1.0), max(2 * lin - 1, 0.0)
            cx += 0.5 * e * (d1[0] * (f1 - 0.5) + d2[0] * f2)
            cy += 0.5 * e * (d1[1] * (f1 - 0.5) + d2[1] * f2)
    elif label != BACKGROUND:
        raise ConfigError(f"unknown gesture {label!r}; use one of {CLASSES + NOVEL}")
    if p.tremor_px > 0:
        cx += p.tremor_px * math.sin(2 * math.pi * 7.3 * t_s + p.seed)
        cy += p.tremor_px * math.sin(2 * math.pi * 5.1 * t_s + 2 * p.seed)
    return cx, cy, scale, angle


# ----------------------------------------------------------------------------------------- render


def render(label: str, params: SceneParams | None = None) -> tuple[np.ndarray, float]:
    """Grey frames (T, H, W) uint8 of `label` in the scene `params`, and the frame rate (Hz)."""
    import cv2

    p = params or SceneParams()
    if label not in CLASSES + NOVEL:
        raise ConfigError(f"unknown gesture {label!r}; use one of {CLASSES + NOVEL}")
    motions = CLASSES + NOVEL + OTHER_MOTIONS + AUX
    if p.motion and p.motion not in motions:
        raise ConfigError(f"SceneParams.motion={p.motion!r}: use one of {motions}")
    h, w = p.size
    rng = np.random.default_rng((p.seed, 7))
    bg = background(p.background, p.size, p.bg_seed, p.bg_contrast)
    tex = p.hand_dn + _low_freq(rng, h, w, 10, -18, 18)
    yy = np.linspace(-12, 12, h, dtype=np.float32)[:, None]  # shading, top lit
    tex = tex - yy
    n = int(round(p.duration_s * p.fps)) + 1
    phase = rng.uniform(0, 2 * math.pi)
    dist = [(rng.uniform(0, w), rng.uniform(0, h), rng.uniform(-40, 40), rng.uniform(-40, 40),
             rng.uniform(0.02, 0.05) * min(h, w), rng.uniform(30, 230)) for _ in range(p.distractors)]
    frames = np.empty((n, h, w), np.uint8)
    for i in range(n):
        t = i / p.fps
        cx, cy, scale, angle = pose(label, p, t)
        m = shape_mask(p, cx, cy, scale, angle)
        f = bg * (1 - m) + tex * m
        for x0, y0, vx, vy, r, dn in dist:
            cv2.circle(f, (int(round((x0 + vx * t) * _SUB)), int(round((y0 + vy * t) * _SUB))),
                       max(1, int(r * _SUB)), float(dn), -1, cv2.LINE_AA, 4)
        ramp = p.light_gain[0] + (p.light_gain[1] - p.light_gain[0]) * (t / p.duration_s)
        f = f * ramp * (1 + p.flicker * math.sin(2 * math.pi * p.flicker_hz * t + phase))
        if p.noise_dn > 0:
            f = f + np.random.default_rng((p.seed, 11, i)).normal(0, p.noise_dn, f.shape).astype(np.float32)
        frames[i] = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    return frames, float(p.fps)
