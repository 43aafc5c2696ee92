"""`akida-edge bench [--json] [SUITE...]`: the benchmark suites under `bench/`."""

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
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    results = runner.run_suites(args.suites, progress=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print(runner.format_table(results))
    return 0
