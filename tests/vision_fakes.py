"""A small stand-in for `apps.vision.gesture_model.GestureModel` (the app's tests do not depend on the
trained model): a real engine model with a binary feature layer (for learning and power), and an
*oracle* head that names a horizontal swipe from the motion of the event centroid across the
window's time slices, so recognition results can be derived from the scene that was rendered."""

from __future__ import annotations

import numpy as np

from akida_edge.apps.vision.labels import BACKGROUND, CLASSES
from akida_edge.apps.vision.representation import ViewParams
from akida_edge.engine import layers as L
from akida_edge.engine.model import Model, weight_range

VIEW = ViewParams(size=(16, 16), bins=4, window_ms=400, hop_ms=100, bits=2)
MIN_SHIFT = 0.15  # centroid travel (in input widths, first to last busy slice) that makes a swipe


def engine_model(seed: int = 5, view: ViewParams = VIEW, features: int = 64) -> Model:
    """Input (H, W, bins) → conv 3×3 stride 2 → FullyConnected `features` 1-bit → 9-way head."""
    rng = np.random.default_rng(seed)
    h, w = view.size
    m = Model()
    m.add(L.InputData(input_shape=(h, w, view.bins), input_bits=view.bits, name="input"))
    m.add(L.Convolutional(kernel_size=(3, 3), kernel_stride=(2, 2), filters=8, padding="same",
                          weights_bits=4, act_bits=4, name="conv"))
    m.add(L.FullyConnected(units=features, weights_bits=2, act_bits=1, name="features"))
    m.add(L.FullyConnected(units=len(CLASSES), weights_bits=4, activation=False, name="head"))
    for layer in m.layers[1:]:
        lo, hi = weight_range(layer.spec.weights_bits)
        shape = layer.get_variable("weights").shape
        layer.set_variable("weights", rng.integers(lo, hi + 1, size=shape).astype(np.int8))
    return m


class FakeGestureModel:
    """The `GestureModel` interface (vision contract) on a tiny engine model and an oracle head."""

    def __init__(self, view: ViewParams = VIEW, seed: int = 5) -> None:
        self.model = engine_model(seed, view)
        self.labels = CLASSES
        self.view = view
        self.feature_layer = "features"
        self._feat = Model()
        for layer in self.model.layers[:3]:
            self._feat.add(layer.spec)
            for name, value in layer.variables.items():
                self._feat.layers[-1].set_variable(name, value)

    @classmethod
    def load(cls, path=None) -> FakeGestureModel:
        return cls()

    def probabilities(self, x_u8: np.ndarray) -> np.ndarray:
        self.model.predict(x_u8)  # the chip's activity, as the real model would leave it
        return np.stack([oracle(x) for x in x_u8]).astype(np.float32)

    def features(self, x_u8: np.ndarray) -> np.ndarray:
        out = np.asarray(self._feat.forward(np.asarray(x_u8, np.uint8)))
        return out.reshape(len(x_u8), -1).astype(np.uint8)


def oracle(x: np.ndarray) -> np.ndarray:
    """Class probabilities of one (H, W, bins) window: swipe_right / swipe_left when the centroid
    of the busy slices travels ≥ MIN_SHIFT of the width, else background."""
    p = np.full(len(CLASSES), 0.01)
    xs = []
    for k in range(x.shape[2]):
        ys_, xs_ = np.nonzero(x[:, :, k])
        if xs_.size:
            xs.append(xs_.mean() / x.shape[1])
    shift = xs[-1] - xs[0] if len(xs) >= 2 else 0.0
    label = "swipe_right" if shift >= MIN_SHIFT else "swipe_left" if shift <= -MIN_SHIFT else BACKGROUND
    p[CLASSES.index(label)] = 1.0
    return p / p.sum()


def swipe_frames(direction: int, fps: float = 50.0, size: int = 48, still_s: float = 0.5, move_s: float = 0.3,
                 seed: int = 0, vertical: bool = False) -> tuple[np.ndarray, float, float]:
    """Grey frames of a bright square crossing a textured scene (direction +1: to the right, or
    down when `vertical`), still for `still_s` before and after; returns (frames, move start s,
    move end s)."""
    rng = np.random.default_rng(seed)
    bg = (40 + 40 * rng.random((size, size))).astype(np.float32)
    n_still, n_move = int(round(still_s * fps)), int(round(move_s * fps))
    xs = np.concatenate([np.zeros(n_still), np.linspace(0, 1, n_move + 1), np.ones(n_still)])
    frames = []
    side = size // 4
    for u in xs:
        f = bg.copy()
        x0 = int(round((u if direction > 0 else 1 - u) * (size - side)))
        f[size // 2 - side // 2: size // 2 + side // 2, x0: x0 + side] = 230
        frames.append((f.T if vertical else f).astype(np.uint8))
    return np.stack(frames), n_still / fps, (n_still + n_move) / fps


def write_video(path, frames: np.ndarray, fps: float = 50.0):
    """Grey frames to a Motion-JPEG AVI with OpenCV; returns `path`."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames.shape[2:0:-1])
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path
