"""The literal, slow, dense NumPy reference of the virtual AKD1000 (DESIGN.md §3).

This module *is* the definition of what the engine computes: every numba kernel in `kernels.py`
must match it bit for bit (tests/kernel). It favours being obviously right over being fast: dense
int64 arithmetic, explicit padding, one slice per kernel tap.

Semantics, per layer (NHWC, integers throughout):

- potential p = Σ w·x over the receptive field (cross-correlation); `same` padding the TensorFlow
  way (out = ceil(in/stride), total pad max((out−1)·stride + k − in, 0), smaller half before),
  padded with zeros, or with `padding_value` on the input layer;
- separable: exact depthwise sums d = Σ w_dw·x, then p = Σ_c w_pw[c]·d[c] (no rounding between);
- FullyConnected: p = x_flat · W with x flattened in (H, W, C) order;
- activation (b = act_bits, s16 = 16·act_step, an integer): y = 0 if p ≤ T, else
  y = min(2^b − 1, ceil(16·(p − T) / s16));
- max pooling: valid windows (floor), stride `pool_stride`, on the activations (= pooling the
  potentials first, the activation being monotonic);
- global average pooling, before the activation, exact: with N = H·W and S = Σ p,
  y = 0 if S ≤ N·T, else min(2^b − 1, ceil(16·(S − N·T) / (N·s16)));
- a last layer without activation returns int32 p − T.

Activity (`activity.py`): input events are non-zero inputs; synaptic ops are, for every input
event, its fan-out (the (output position, output channel) pairs whose receptive field holds it,
before pooling); separable layers add the pointwise fan-out (`filters`) of every non-zero
depthwise sum; output events are non-zero outputs (for a last layer without activation, non-zero
p − T).

What the emulator does NOT model: timing, latency and clocks of the chip; the event packet
format and the order in which events are processed; the mesh, NP-to-NP routing and DMA; weight
and threshold storage formats beyond their integer values (e.g. the 20-bit threshold field is a
mapping check, not an arithmetic limit here); saturation of the hardware accumulators (sums are
exact: int64 here, int32/int64 in the kernels as the bit widths demand); Akida 2.0 layers and its
post-ReLU pooling; the WTA groups of early InputConvolutional versions; any rounding the hardware
might apply in global average pooling (the rule above is exact and rational, see
`reference/akida-facts.md` §2.3).
"""

from __future__ import annotations

import numpy as np

from akida_edge.engine import layers as L
from akida_edge.engine.activity import Activity, LayerActivity
from akida_edge.errors import ModelError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def step16(act_step: np.ndarray) -> np.ndarray:
    """act_step in 1/16 units as exact int64 integers (act_step is a multiple of 1/16)."""
    return np.round(np.asarray(act_step, np.float64) * 16).astype(np.int64)


def pad_input(x: np.ndarray, spec: L.LayerSpec, value: int = 0) -> tuple[np.ndarray, int, int]:
    """Pad (N, H, W, C) for a spatial layer; returns the padded array and the output size."""
    _, h, w, _ = x.shape
    (kh, kw), (sy, sx) = spec.kernel_size, spec.kernel_stride
    oh, top = L.conv_output_size(h, kh, sy, spec.padding)
    ow, left = L.conv_output_size(w, kw, sx, spec.padding)
    need_h, need_w = (oh - 1) * sy + kh, (ow - 1) * sx + kw
    bottom, right = max(need_h - h - top, 0), max(need_w - w - left, 0)
    xp = np.pad(x.astype(np.int64), ((0, 0), (top, bottom), (left, right), (0, 0)),
                constant_values=value)
    return xp, oh, ow


def fan_out_map(h: int, w: int, spec: L.LayerSpec) -> np.ndarray:
    """How many output positions (before pooling) read each input position: (H, W) int64.

    Computed literally: every output position adds one to each input position its window covers.
    """
    (kh, kw), (sy, sx) = spec.kernel_size, spec.kernel_stride
    oh, top = L.conv_output_size(h, kh, sy, spec.padding)
    ow, left = L.conv_output_size(w, kw, sx, spec.padding)
    count = np.zeros((h + oh * sy + kh, w + ow * sx + kw), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            count[oy * sy:oy * sy + kh, ox * sx:ox * sx + kw] += 1
    return count[top:top + h, left:left + w]


def correlate(xp: np.ndarray, weights: np.ndarray, oh: int, ow: int, stride: tuple[int, int]) -> np.ndarray:
    """Cross-correlation of a padded (N, Hp, Wp, C) input with (kh, kw, C, F) weights: int64."""
    kh, kw, _, f = weights.shape
    sy, sx = stride
    w64 = weights.astype(np.int64)
    p = np.zeros((xp.shape[0], oh, ow, f), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            window = xp[:, ky:ky + sy * (oh - 1) + 1:sy, kx:kx + sx * (ow - 1) + 1:sx, :]
            p += window @ w64[ky, kx]
    return p


def depthwise(xp: np.ndarray, weights: np.ndarray, oh: int, ow: int, stride: tuple[int, int]) -> np.ndarray:
    """Exact depthwise sums of a padded input with (kh, kw, C, 1) weights: (N, oh, ow, C) int64."""
    kh, kw = weights.shape[:2]
    sy, sx = stride
    w64 = weights[:, :, :, 0].astype(np.int64)
    d = np.zeros((xp.shape[0], oh, ow, xp.shape[3]), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            d += xp[:, ky:ky + sy * (oh - 1) + 1:sy, kx:kx + sx * (ow - 1) + 1:sx, :] * w64[ky, kx]
    return d


def activate(p: np.ndarray, threshold: np.ndarray, act_step: np.ndarray, act_bits: int,
             count: int = 1) -> np.ndarray:
    """y = 0 if p ≤ count·T else min(2^b − 1, ceil(16·(p − count·T) / (count·s16))), as uint8.

    `count` is 1 for ordinary potentials and N = H·W for a global-average-pooled sum.
    """
    d = p.astype(np.int64) - count * threshold.astype(np.int64)
    den = count * step16(act_step)
    q = -((-16 * d) // den)  # exact integer ceil
    y = np.where(d <= 0, 0, np.minimum(q, 2**act_bits - 1))
    return y.astype(np.uint8)


def max_pool(y: np.ndarray, size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Max over valid (floor) windows of (N, H, W, C)."""
    (ph, pw), (sy, sx) = size, stride
    oh, ow = (y.shape[1] - ph) // sy + 1, (y.shape[2] - pw) // sx + 1
    out = np.zeros((y.shape[0], oh, ow, y.shape[3]), y.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j, :] = y[:, i * sy:i * sy + ph, j * sx:j * sx + pw, :].max(axis=(1, 2))
    return out


def check_output_layer(layer) -> None:
    """A layer without activation is the last one and does not pool (DESIGN.md §3)."""
    spec = layer.spec
    if not isinstance(spec, L.InputData) and not spec.activation and spec.pool_type != "none":
        raise ModelError(
            f"layer {layer.name!r}: activation=False cannot be combined with pool_type="
            f"{spec.pool_type!r}; enable the activation or remove the pooling"
        )


def layer_forward(layer, x: np.ndarray) -> tuple[np.ndarray, LayerActivity]:
    """Run one bound layer (`model.Layer`) on an (N, H, W, C) integer batch."""
    spec = layer.spec
    check_output_layer(layer)
    n = x.shape[0]
    act = LayerActivity(layer.name, spec.kind, int(np.prod(layer.input_shape)),
                        int(np.prod(layer.output_shape)))
    events = x != 0
    act.input_events = int(events.sum())
    if isinstance(spec, L.InputData):
        y = x.astype(np.uint8)
        act.output_events = act.input_events
        return y, act
    v = layer.variables
    if isinstance(spec, L.FullyConnected):
        p = x.reshape(n, -1).astype(np.int64) @ v["weights"].astype(np.int64)
        p = p.reshape(n, 1, 1, spec.units)
        act.synaptic_ops = act.input_events * spec.units
    else:
        pad_value = int(spec.padding_value) if isinstance(spec, L.InputConvolutional) else 0
        xp, oh, ow = pad_input(x, spec, pad_value)
        fan = fan_out_map(x.shape[1], x.shape[2], spec)
        dw_ops = int((events.sum(axis=3) * fan[None]).sum())
        if isinstance(spec, L.SeparableConvolutional):
            d = depthwise(xp, v["weights"], oh, ow, spec.kernel_stride)
            p = correlate(d, v["weights_pw"], oh, ow, (1, 1))
            act.synaptic_ops = dw_ops + int((d != 0).sum()) * spec.filters
        else:
            p = correlate(xp, v["weights"], oh, ow, spec.kernel_stride)
            act.synaptic_ops = dw_ops * spec.filters
    thr, step = v["threshold"], v["act_step"]
    if not spec.activation:
        out = p - thr.astype(np.int64)
        if out.size and (out.min() < INT32_MIN or out.max() > INT32_MAX):
            raise ModelError(f"layer {layer.name!r}: p - T leaves the int32 range; lower the weights")
        y = out.astype(np.int32)
    elif spec.pool_type == "average":
        s = p.sum(axis=(1, 2), keepdims=True)
        y = activate(s, thr, step, spec.act_bits, count=p.shape[1] * p.shape[2])
    else:
        y = activate(p, thr, step, spec.act_bits)
        if spec.pool_type == "max":
            y = max_pool(y, spec.pool_size, spec.effective_pool_stride)
    act.output_events = int((y != 0).sum())
    return y, act


def forward(model, x: np.ndarray, upto: int | None = None) -> tuple[np.ndarray, Activity]:
    """Run layers [0, upto) (all by default) on a validated (N, H, W, C) batch.

    Returns the outputs of the last run layer and the `Activity` summed over the batch.
    """
    stop = len(model.layers) if upto is None else upto
    activity = Activity(samples=int(x.shape[0]))
    y = x
    for layer in model.layers[:stop]:
        y, act = layer_forward(layer, y)
        activity.layers.append(act)
    return y, activity
