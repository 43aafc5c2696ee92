"""A small literal integer forward of DESIGN.md §3, for the conversion agreement tests.

TODO(lead): once `akida_edge.engine.execute` is on main, the agreement tests also compare with
`Model.forward` / `Model.predict` (`test_convert_agreement.py::test_engine_executor_agrees`, skipped
until then); this helper can then be dropped in favour of the engine's own reference.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from akida_edge.engine import layers as L


def _pad(a: np.ndarray, spec: L.LayerSpec, value: int) -> np.ndarray:
    if spec.padding == "valid":
        return a
    pads = [(0, 0)]
    for axis, (k, s) in enumerate(zip(spec.kernel_size, spec.kernel_stride, strict=True)):
        size = a.shape[1 + axis]
        out, before = L.conv_output_size(size, k, s, "same")
        total = max((out - 1) * s + k - size, 0)
        pads.append((before, total - before))
    pads.append((0, 0))
    return np.pad(a, pads, constant_values=value)


def _windows(a: np.ndarray, k: tuple[int, int], s: tuple[int, int]) -> np.ndarray:
    """(N, H', W', C, kh, kw) valid windows with stride s."""
    return sliding_window_view(a, k, axis=(1, 2))[:, :: s[0], :: s[1]]


def _ceil_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return -((-num) // den)


def int_forward(model, x: np.ndarray) -> list[np.ndarray]:
    """Integer NHWC outputs of every layer after the input layer (int64)."""
    a = np.asarray(x).astype(np.int64)
    outs = []
    for layer in model.layers:
        spec = layer.spec
        if isinstance(spec, L.InputData):
            continue
        var = {k: np.asarray(v) for k, v in layer.variables.items()}
        if isinstance(spec, L.FullyConnected):
            p = (a.reshape(a.shape[0], -1) @ var["weights"].astype(np.int64)).reshape(a.shape[0], 1, 1, -1)
        else:
            pad_value = getattr(spec, "padding_value", 0)
            win = _windows(_pad(a, spec, pad_value), spec.kernel_size, spec.kernel_stride)
            if isinstance(spec, L.SeparableConvolutional):
                d = np.einsum("nhwcij,ijc->nhwc", win, var["weights"][..., 0].astype(np.int64))
                p = d @ var["weights_pw"][0, 0].astype(np.int64)
            else:
                p = np.einsum("nhwcij,ijco->nhwo", win, var["weights"].astype(np.int64))
            if spec.pool_type == "max":
                p = _windows(p, spec.pool_size, spec.effective_pool_stride).max(axis=(-2, -1))
        thr = var["threshold"].astype(np.int64)
        step16 = np.rint(var["act_step"].astype(np.float64) * 16).astype(np.int64)
        if not spec.activation:
            a = p - thr
        else:
            levels = 2**spec.act_bits - 1
            if getattr(spec, "pool_type", "none") == "average":
                n = p.shape[1] * p.shape[2]
                total = p.sum(axis=(1, 2), keepdims=True)
                a = np.clip(_ceil_div(16 * (total - n * thr), n * step16), 0, levels)
            else:
                a = np.clip(_ceil_div(16 * (p - thr), step16), 0, levels)
        outs.append(a)
    return outs
