"""The integer arithmetic of an Akida 1.0 block, run in PyTorch (forward exact, gradient STE).

For one block with integer inputs a (the previous block's activation levels, float step s_in),
integer weights w_int with float steps Δ (per output channel o) and folded BatchNorm
(γ' = γ/√(σ² + ε), β' = β − γ'·μ + γ'·bias):

    float pre-activation   x[o] = α[o]·p[o] + β'[o],  α[o] = s_in·Δ[o]·γ'[o],  p = Σ w_int·a  (integer)

A negative α is folded into the signs of the channel's integer weights, so α > 0. The step
activation clip(ceil((x − T)/s), 0, L) then equals, exactly,

    n = clip(ceil((p − θ) / σ), 0, L)   with   θ = round((T − β')/α)   (integer, accumulator units)
                                             σ = round(16·s/α)/16      (act_step, 1/16 units)

which is the chip's rule (DESIGN.md §3). The rounding of θ and σ is *part of the trained model*:
the forward uses the rounded values, so the converted model and this one agree bit for bit and
training sees (and compensates) the rounding. θ's rounding moves the threshold by at most half
an accumulator unit, i.e. α/2 in float units, below 1/(2·fan-in·levels) of the typical range;
σ's relative error is at most 1/(32·σ). σ must fit [1/16, 65535/16] (a 16-bit field in 1/16
units). Where s/α would exceed it (8-bit data times 8-bit weights: accumulators of ~10^5 for 15
levels), the channel's weight grid is coarsened by r = s/(α·σ_max) ≥ 1 (Δ·r, fewer integer
levels) so that σ fits; this is the one lossy adjustment, and training sees it too (cnn2snn
instead clips σ and rescales the next layer, akida-facts §2.1.4). Below 1/16, σ is clipped.
Global average pooling (before the activation) compares the spatial sum S with N·θ:
n = clip(ceil((S − N·θ)/(N·σ)), 0, L). A last block without activation outputs p − θ (integers)
and the float logits (p − θ)/σ with σ = round(16/α)/16.

Potentials are exact in float32 while |p| < 2^24 (integer sums); the divisions are done on
float64 integers with floor division, which is exact, so no tie is ever decided by rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from akida_edge.convert.blocks import Block, parse_blocks
from akida_edge.convert.qat import QLinear, QSequential, round_ste
from akida_edge.errors import ModelError

FLOAT32_EXACT = 2.0**24  # integers up to here are exact in float32 (Akida's limits stay below)
ACT_STEP_MIN = 1.0 / 16
ACT_STEP_MAX = 65535.0 / 16
ACT_STEP_FIT = ACT_STEP_MAX * 0.99  # headroom so σ's rounding never crosses the field's end


@dataclass
class BlockInts:
    """A block's integer variables (tensors, integer-valued except act_step in 1/16 units)."""

    weights: list[torch.Tensor]
    threshold: torch.Tensor
    act_step: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor


@dataclass
class Forward:
    """Result of `integer_forward`: float output, integer output, per-block integer outputs."""

    output: torch.Tensor
    int_output: torch.Tensor
    per_block: list[torch.Tensor] = field(default_factory=list)


def _channels(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """View a per-channel vector (C,) to broadcast against an NC... tensor."""
    return t.view(1, -1, *([1] * (like.dim() - 2)))


def bn_affine(block: Block, out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """γ', β' of the block's folded BatchNorm (running statistics) and bias."""
    bias = block.layer.bias
    b = bias if bias is not None else torch.zeros(out)
    bn = block.bn
    if bn is None:
        return torch.ones(out), b
    var = bn.running_var if bn.running_var is not None else torch.ones(out)
    mean = bn.running_mean if bn.running_mean is not None else torch.zeros(out)
    gamma = bn.weight if bn.weight is not None else torch.ones(out)
    beta = bn.bias if bn.bias is not None else torch.zeros(out)
    g = gamma / torch.sqrt(var + bn.eps)
    return g, beta - g * mean + g * b


def block_ints(block: Block, s_in: torch.Tensor) -> BlockInts:
    """The block's integer weights, threshold and act_step for inputs of float step `s_in`."""
    weights, delta = block.layer.int_weights()
    gamma, beta = bn_affine(block, delta.shape[0])
    alpha = s_in * delta * gamma
    s_out = block.act.step.abs().clamp_min(1e-8) if block.act is not None else torch.ones(())
    coarsen = (s_out / (alpha.abs().clamp_min(1e-12) * ACT_STEP_FIT)).clamp_min(1.0).detach()
    if bool((coarsen > 1).any()):
        weights, delta = block.layer.int_weights(coarsen)
        alpha = s_in * delta * gamma
    sign = torch.where(alpha < 0, -1.0, 1.0).detach()
    weights = list(weights)
    w = weights[-1]
    weights[-1] = w * sign.view(-1, *([1] * (w.dim() - 1)))
    alpha = (alpha * sign).clamp_min(1e-12)
    t_out = block.act.threshold if block.act is not None else 0.0
    thr = round_ste((t_out - beta) / alpha)
    step = round_ste(16.0 * s_out / alpha) / 16
    step = step.clamp(ACT_STEP_MIN, ACT_STEP_MAX)
    return BlockInts(weights, thr, step, alpha, beta)


def _potential(block: Block, a: torch.Tensor, ints: BlockInts) -> torch.Tensor:
    if isinstance(block.layer, QLinear) and a.dim() > 2:
        a = a.flatten(1)  # torch order (C, H, W); the converter permutes to Akida's (H, W, C)
    p = block.layer.int_potential(a, ints.weights)
    peak = float(p.detach().abs().max()) if p.numel() else 0.0
    if peak >= FLOAT32_EXACT:
        raise ModelError(
            f"block {block.name!r}: potentials reach {peak:.0f}, beyond 2^24 where float32 stops being "
            "exact; use fewer weight bits, input bits or channels"
        )
    if block.pool is not None and not block.gap:
        p = block.pool(p)
    return p


def _ceil_exact(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """ceil(num/den) for integer-valued float64 tensors, den > 0 (floor division is exact)."""
    return -torch.div(-num, den, rounding_mode="floor")


def _step_activation(p: torch.Tensor, ints: BlockInts, levels: int, n_sum: int) -> torch.Tensor:
    """clip(ceil((P − N·θ)/(N·σ)), 0, L): exact forward, straight-through gradient."""
    thr = _channels(ints.threshold, p)
    step = _channels(ints.act_step, p)
    q = (p - n_sum * thr) / (n_sum * step)
    num = (16.0 * (p.detach().double() - n_sum * thr.detach().double()))
    den = 16.0 * n_sum * step.detach().double()
    hard = _ceil_exact(num, den).to(p.dtype)
    return torch.clamp(q + (hard - q).detach(), 0, levels)


def block_forward(block: Block, a: torch.Tensor, s_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                    torch.Tensor]:
    """(float output, integer output, output step) of one block.

    With an activation: (n·s, n, s). Without (last block): ((p − θ)/σ, p − θ, 1)."""
    ints = block_ints(block, s_in)
    p = _potential(block, a, ints)
    if block.act is None:
        out_int = p - _channels(ints.threshold, p)
        return out_int / _channels(ints.act_step, p), out_int, torch.ones(())
    s = block.act.step.abs().clamp_min(1e-8)
    if block.gap:
        n_sum = p.shape[2] * p.shape[3]
        total = p.double().sum(dim=(2, 3), keepdim=True)  # exact beyond 2^24, unlike float32
        n = _step_activation(total, ints, block.act.levels, n_sum).to(p.dtype)
    else:
        n = _step_activation(p, ints, block.act.levels, 1)
    return n * s, n, s


def integer_forward(model: QSequential, x: torch.Tensor, keep: bool = False) -> Forward:
    """Run the model as the chip would: integer levels between blocks (see the module docstring)."""
    inp, blocks = parse_blocks(model)
    a = inp.check(x)
    s = torch.tensor(inp.scale)
    per_block = []
    out = out_int = a
    for block in blocks:
        out, out_int, s_next = block_forward(block, a, s)
        if keep:
            per_block.append(out_int.detach())
        a, s = out_int, s_next
    return Forward(out, out_int, per_block)


def preactivation(block: Block, a: torch.Tensor, s_in: torch.Tensor) -> torch.Tensor:
    """Float pre-activation α·p + β' (after pooling; the spatial mean for GAP)."""
    ints = block_ints(block, s_in)
    p = _potential(block, a, ints)
    if block.gap:
        p = p.mean(dim=(2, 3), keepdim=True)
    return _channels(ints.alpha, p) * p + _channels(ints.beta, p)


@torch.no_grad()
def calibrate(model: QSequential, x: torch.Tensor, percentile: float = 99.9,
              max_values: int = 1_000_000) -> None:
    """Set every StepReLU's step and threshold from sample data, layer by layer.

    For block i, with blocks < i already quantized: s = min(P, max_value)/L where P is the
    `percentile` of the positive float pre-activations, and T = s/2 (round-to-nearest start).
    """
    inp, blocks = parse_blocks(model)
    a = inp.check(x)
    s = torch.tensor(inp.scale)
    gen = torch.Generator().manual_seed(0)
    for block in blocks:
        if block.act is not None:
            pre = preactivation(block, a, s).flatten()
            pos = pre[pre > 0]
            if pos.numel() > max_values:
                pos = pos[torch.randperm(pos.numel(), generator=gen)[:max_values]]
            hi = float(np.percentile(pos.numpy(), percentile)) if pos.numel() else block.act.max_value
            hi = min(max(hi, 1e-6), block.act.max_value)
            step = hi / block.act.levels
            block.act.step.fill_(step)
            block.act.threshold.fill_(step / 2)
        _, a, s = block_forward(block, a, s)
