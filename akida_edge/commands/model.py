"""`akida-edge model summary FILE` and `akida-edge model check FILE [--json]`.

`check` exits 0 when the model fits the AKD1000 and 1 when it breaks hardware limits (every
violation listed); a missing or corrupt file is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json

from akida_edge.engine.device import AKD1000
from akida_edge.engine.limits import check
from akida_edge.engine.mapping import plan
from akida_edge.engine.modelfile import load_model
from akida_edge.engine.summary import summary
from akida_edge.errors import MappingError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("model", help="inspect model files: summary, AKD1000 fit")
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    s = sub.add_parser("summary", help="layers, shapes, parameters, bit widths, NPs and SRAM")
    s.add_argument("file", metavar="FILE", help="model file (.aem)")
    s.set_defaults(func=_summary)
    c = sub.add_parser("check", help="does the model fit the AKD1000? (exit 0 yes, 1 no)")
    c.add_argument("file", metavar="FILE", help="model file (.aem)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_check)


def _summary(args: argparse.Namespace) -> int:
    print(summary(load_model(args.file)))
    return 0


def _check(args: argparse.Namespace) -> int:
    model = load_model(args.file)
    device = AKD1000()
    violations = check(model, device.hw_version)
    result: dict = {"file": args.file, "device": device.name, "fits": not violations,
                    "violations": [v.as_dict() for v in violations]}
    if not violations:
        try:
            mapping = plan(model, device)
        except MappingError as exc:  # capacity: SRAM or a layer larger than the chip
            result.update(fits=False, error=str(exc))
        else:
            result.update(nps=mapping.np_count, nps_available=device.np_count,
                          sram_bytes=mapping.sram_bytes, sram_available=device.sram_bytes,
                          sequences=len(mapping.sequences),
                          layers={m.name: len(m.nps) for m in mapping.layers})
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["fits"]:
        print(f"{args.file}: fits the {device.name}: {result['nps']} of {device.np_count} NPs, "
              f"SRAM {result['sram_bytes'] / 1024:.1f} KB of {device.sram_bytes // 2**20} MB, "
              f"{result['sequences']} sequence(s)")
    else:
        lines = [f"{args.file}: does NOT fit the {device.name}"]
        if violations:
            lines[0] += f": {len(violations)} hardware limit(s) broken"
            lines += [f"  - {v}" for v in violations]
        else:
            lines.append(f"  - {result['error']}")
        print("\n".join(lines))
    return 0 if result["fits"] else 1
