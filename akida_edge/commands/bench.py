"""`akida-edge bench [--json] [--compare] [--baseline FILE] [SUITE...]`: the suites under `bench/`."""

from __future__ import annotations

import argparse
import json
import sys

from akida_edge.bench import runner


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="run the benchmark suites and report figures by name")
    p.add_argument("suites", nargs="*", metavar="SUITE",
                   help=f"suites to run (default: all of {', '.join(runner.suite_names())})")
    p.add_argument("--json", action="store_true", help="print one JSON object {suite: {figure: value}}")
    p.add_argument("--compare", action="store_true",
                   help="also compare the run with the figures the README quotes (bench/recorded.json): "
                        "which figures moved, what of the machine and software differs (with --json: "
                        "under 'compared')")
    p.add_argument("--baseline", metavar="FILE",
                   help="compare with FILE, an earlier `bench --json` output, instead (implies --compare)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from akida_edge.bench import record

    # read the record first: a wrong FILE is said before the suites run, not after
    compare = args.compare or args.baseline is not None
    recorded = record.load(args.baseline) if compare else None
    results = runner.run_suites(args.suites, progress=sys.stderr)
    cmp = record.compare(results, recorded) if recorded is not None else None
    if args.json:
        if cmp is not None:
            results["compared"] = cmp
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print(runner.format_table(results))
        if cmp is not None:
            source = args.baseline or "the recorded figures (bench/recorded.json)"
            print(record.format_comparison(cmp, source))
    return 0
