"""`akida-edge demo`: a two-minute tour of the virtual AKD1000, with nothing but this package.

Builds the DS-CNN keyword-spotting architecture of BrainChip's zoo (seeded random weights, its
thresholds calibrated so activity is sparse like a trained network), maps it onto the AKD1000,
runs a batch of log-mel-like inputs through the event-driven kernels, checks them bit for bit
against the NumPy reference and prints the mapping, the per-layer activity and the estimated
power.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="tour of the virtual AKD1000 on the DS-CNN KWS architecture")
    p.add_argument("--samples", type=int, default=64, help="inputs to run (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    p.set_defaults(func=_run)


def _say(text: str) -> None:
    print(text, flush=True)


def _run(args: argparse.Namespace) -> int:
    from akida_edge.bench.engine import calibrate, logmel_like
    from akida_edge.engine import statistics, zoo
    from akida_edge.engine.device import AKD1000
    from akida_edge.errors import InputDataError

    if not 1 <= args.samples <= 100_000:
        raise InputDataError(f"--samples {args.samples} is out of range; use 1 to 100000")
    if not 0 <= args.seed < 2**63:
        raise InputDataError(f"--seed {args.seed} is out of range; use 0 to {2**63 - 1}")
    rng = np.random.default_rng(args.seed)
    _say("1/4 building the DS-CNN KWS architecture (49x10 log-mel input, 8/4/4 bits) ...")
    model = zoo.dscnn_kws(rng)
    calibrate(model, logmel_like(rng, 48))
    device = AKD1000()
    device.soc.power_measurement_enabled = True
    model.map(device)
    _say(model.summary())

    _say("\n2/4 compiling the kernels (cached after the first run) ...")
    t0 = time.perf_counter()
    from akida_edge.engine import execute

    execute.warm(model)
    _say(f"    ready in {time.perf_counter() - t0:.1f} s")

    _say(f"\n3/4 running {args.samples} inputs, event-driven ...")
    x = logmel_like(rng, args.samples)
    t0 = time.perf_counter()
    logits = model.predict(x)
    seconds = time.perf_counter() - t0
    stats = statistics.report(model, rate_hz=50.0)
    _say(str(stats))
    _say(f"    host: {1e3 * seconds / args.samples:.3f} ms per input (measured); chip figures at "
         "50 inferences/s are estimates from the power model")

    _say("\n4/4 checking against the literal NumPy reference ...")
    n = min(args.samples, 16)
    same = np.array_equal(model.forward(x[:n]), model.forward(x[:n], reference=True))
    _say(f"    {n} inputs: {'bit-exact' if same else 'MISMATCH'}; "
         f"predicted classes of the first 8: {logits[:8].reshape(len(logits[:8]), -1).argmax(1).tolist()}")
    if not same:
        print("akida-edge: error: engine and reference disagree; please report this", file=sys.stderr)
        return 1
    _say("\nNext: `akida-edge model check FILE`, `akida-edge bench engine`, `akida-edge --help`.")
    return 0
