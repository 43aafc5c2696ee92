"""Power model of the virtual AKD1000: estimated chip power from the mapping and the activity.

Everything here is an *estimate* (telemetry labels it so). Decision: figures are for the **chip**
(static + dynamic); the published measurements are **board** figures that include a ≈0.9 W floor
(regulators, PCIe, idle chip), so `PowerReport` also gives `board_total_mw` for comparison with
MetaTF's numbers.

    dynamic energy per inference  E_dyn = E_SOP·synaptic_ops + E_EVENT·input_events
    dynamic_mw = E_dyn · rate_hz;   total_mw = CHIP_STATIC_MW + dynamic_mw
    energy per inference = E_dyn + CHIP_STATIC_MW / rate_hz

Calibration (sources in `reference/akida-facts.md` §4.3, §5.4):
- AkidaNet 0.5@224 on the AKD1000 board (`doc/power_number.rst`): floor 905.21 mW, average
  981 mW at 51.28 fps, 19.13 mJ/frame *including the floor*. Above the floor:
  (981 − 905.21) mW / 51.28 Hz = 1.478 mJ per frame of dynamic energy.
- Its activity at the calibration point (`nominal_activity`, input pixels dense, hidden layers at
  CALIBRATION_DENSITY = 0.5): 177.96 M synaptic ops and 0.916 M input events per frame (the
  unit test recomputes both from `zoo.akidanet(0.5, 224)`).
- With E_EVENT = 4·E_SOP (assumption: moving an event packet through the mesh costs a few MACs):
  E_SOP = 1.478 mJ / (177.96 M + 4 · 0.916 M) = 8.14 pJ, E_EVENT = 32.6 pJ.
- Static: the "~30 mW typical" chip figure found in summaries is **unverified** (not in any
  BrainChip source read); it is used as the chip floor. Board floors barely depend on the model
  (914.03 mW with DS-CNN on 5-65 NPs, 905-912 mW with AkidaNet on 68), so static power does not
  scale with the NPs used.
- "< 250 mW" for KWS (arXiv 2504.00957) cannot be the reference board's power, whose floor alone
  is 914 mW with that model; it is read as chip (or another board's) power and checked against
  the chip estimate.
- Check, DS-CNN KWS (nominal activity): ≈ 12 µJ per inference, so even at 1000 inferences/s
  (the "< 1 ms" claim, arXiv 2504.00957) the chip stays near 42 mW, under the "< 250 mW" claim.
A still input (no events) costs exactly the static floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from akida_edge.engine import layers as L
from akida_edge.engine.activity import Activity, LayerActivity

E_SOP_PJ = 8.14  # dynamic energy per synaptic operation (calibrated above)
E_EVENT_PJ = 4 * E_SOP_PJ  # per input event (assumed ratio 4, see above)
CHIP_STATIC_MW = 30.0  # "~30 mW typical chip" — UNVERIFIED claim, used as the chip floor
BOARD_FLOOR_MW = 905.21  # AKD1000 reference board floor with AkidaNet loaded (power_number.rst)
CALIBRATION_DENSITY = 0.5  # assumed share of non-zero activations inside AkidaNet at calibration


@dataclass(frozen=True)
class PowerReport:
    """Estimated chip power for an inference rate; `label` is always 'estimated'."""

    static_mw: float
    dynamic_mw: float
    total_mw: float
    energy_uj_per_inference: float
    dynamic_uj_per_inference: float
    inference_rate_hz: float | None
    board_total_mw: float
    per_layer_dynamic_uj: dict[str, float] = field(default_factory=dict)
    label: str = "estimated"
    basis: str = "chip"

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "static_mw", "dynamic_mw", "total_mw", "energy_uj_per_inference",
            "dynamic_uj_per_inference", "inference_rate_hz", "board_total_mw", "label", "basis")}


def power_report(mapping: Any, activity: Activity, rate_hz: float | None = None) -> PowerReport:
    """Estimated power of `activity` (per-layer counts summed over `activity.samples`) on `mapping`.

    `rate_hz` is the inference rate; None means a single isolated inference: the dynamic energy
    only, with static power reported but not shared out per inference."""
    if rate_hz is not None and not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz={rate_hz!r} must be a positive number of inferences per second")
    n = max(activity.samples, 1)
    on_chip = {m.name for m in mapping.layers} if mapping is not None else None
    per_layer = {}
    for la in activity.layers:
        if on_chip is not None and la.name not in on_chip:
            continue
        per_layer[la.name] = (la.synaptic_ops * E_SOP_PJ + la.input_events * E_EVENT_PJ) / n * 1e-6
    dyn_uj = sum(per_layer.values())
    dynamic_mw = dyn_uj * 1e-3 * rate_hz if rate_hz else 0.0  # µJ·Hz = µW
    static_mw = CHIP_STATIC_MW
    energy_uj = dyn_uj + (static_mw * 1e3 / rate_hz if rate_hz else 0.0)  # mW/Hz = mJ
    return PowerReport(static_mw=static_mw, dynamic_mw=dynamic_mw, total_mw=static_mw + dynamic_mw,
                       energy_uj_per_inference=energy_uj, dynamic_uj_per_inference=dyn_uj,
                       inference_rate_hz=rate_hz, board_total_mw=BOARD_FLOOR_MW + dynamic_mw,
                       per_layer_dynamic_uj=per_layer)


def nominal_activity(model: Any, hidden_density: float = CALIBRATION_DENSITY,
                     input_density: float = 1.0) -> Activity:
    """Activity of one inference when a share `hidden_density` of every hidden layer's inputs are
    events (`input_density` for the first layer): dense fan-out counts × density, edges ignored.

    Conv: H_o·W_o·k²·C·F; separable: H_o·W_o·k²·C + H_o·W_o·C·F; FullyConnected: N·units."""
    out = []
    for i, layer in enumerate(model.layers):
        spec = layer.spec
        h, w, c = layer.input_shape
        reads_input = spec.is_input or isinstance(model.layers[i - 1].spec, L.InputData)
        rho = input_density if reads_input else hidden_density
        if isinstance(spec, L.InputData):
            continue
        if isinstance(spec, L.FullyConnected):
            dense = h * w * c * spec.units
        else:
            oh = L.conv_output_size(h, spec.kernel_size[0], spec.kernel_stride[0], spec.padding)[0]
            ow = L.conv_output_size(w, spec.kernel_size[1], spec.kernel_stride[1], spec.padding)[0]
            kk = spec.kernel_size[0] * spec.kernel_size[1]
            if isinstance(spec, L.SeparableConvolutional):
                dense = oh * ow * kk * c + oh * ow * c * spec.filters
            else:
                dense = oh * ow * kk * c * spec.filters
        size_in, size_out = h * w * c, math.prod(layer.output_shape)
        out.append(LayerActivity(layer.name, spec.kind, size_in, size_out,
                                 input_events=round(rho * size_in), synaptic_ops=round(rho * dense),
                                 output_events=round(hidden_density * size_out)))
    return Activity(samples=1, layers=out)
