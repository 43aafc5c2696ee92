"""Weight averaging of a float KWS network along its training path (SWA).

Stochastic weight averaging (Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
Generalization", arXiv 1803.05407): the uniform average

    w̄ = (1/K) Σₖ w(tₖ)

of the weights taken at K points tₖ of the end of training lies nearer the centre of a wide
region of low loss than any single point, which tends to generalize better. Here the points are
every `every` optimizer steps over the last `1 − start` share of the float steps (`train.py
--average-from start`): the one-cycle schedule (`network.one_cycle`) is still well above zero for
most of that span, so the points differ. Only the trainable parameters are averaged (weights,
biases, BatchNorm's γ and β, the step-ReLUs' learnable thresholds); BatchNorm's running
statistics of an average are not the average of the statistics, so they are recomputed on
training inputs afterwards (`update_bn`, the paper's "bn_update").

Needs PyTorch (the `train` extra).
"""

from __future__ import annotations

import torch
from torch import nn

from akida_edge.apps.kws import network


class WeightAverage:
    """Running uniform average of a model's trainable parameters (`add` once per point)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def add(self, model: nn.Module) -> None:
        """w̄ ← w̄ + (w − w̄)/(k + 1): the mean of the k + 1 points seen."""
        for name, p in model.named_parameters():
            if self.count == 0:
                self.mean[name] = p.detach().clone()
            else:
                self.mean[name] += (p.detach() - self.mean[name]) / (self.count + 1)
        self.count += 1

    @torch.no_grad()
    def apply(self, model: nn.Module) -> None:
        """Write the average into `model`'s parameters (in place); raises ValueError with no point."""
        if self.count == 0:
            raise ValueError("WeightAverage.apply: no weights were averaged")
        for name, p in model.named_parameters():
            p.copy_(self.mean[name])


def step_hook(average: WeightAverage, model: nn.Module, start: float, every: int):
    """A `network.fit` `step_hook(step, steps)` that adds `model`'s weights to `average` at the
    steps s ≥ ⌈start · steps⌉ with (s − that) a multiple of `every`, and at the last step."""
    if not 0.0 <= start < 1.0 or every < 1:
        raise ValueError(f"step_hook: start {start} must be in [0, 1) and every {every} ≥ 1")

    def hook(step: int, steps: int) -> None:
        first = min(int(-(-start * steps // 1)), steps - 1)  # ⌈start·steps⌉, at most the last step
        if step >= first and ((step - first) % every == 0 or step == steps - 1):
            average.add(model)

    return hook


@torch.no_grad()
def update_bn(model: nn.Module, x: torch.Tensor, batch: int = 256, seed: int = 0) -> None:
    """Recompute every BatchNorm's running mean and variance as the plain average over the batches
    of `x` (NCHW, uint8 codes as floats) under the training augmentation (`network.spec_augment`,
    seeded), the statistics that training-mode batches would have seen; the model ends in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the plain mean over the batches
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for i in range(0, len(x), batch):
        model(network.spec_augment(x[i: i + batch], gen))
    for m, mom in zip(norms, momenta, strict=True):
        m.momentum = mom
    model.eval()
