"""Write `akida-edge bench --json` runs into the record the README quotes (``bench/recorded.json``).

    python scripts/record_bench.py RUN.json... [--date YYYY-MM-DD] [--record FILE]

Each suite of each run replaces that suite's entry in the record, with the run's machine and
software and the date (default: the run file's modification day, UTC). The README's table quotes
the record (a unit test checks it, tests/unit/test_readme_figures.py), and
``akida-edge bench --compare`` compares a new run with it (bench/record.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from akida_edge.bench import record
from akida_edge.errors import AkidaEdgeError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN.json",
                   help="outputs of `akida-edge bench --json`")
    p.add_argument("--date", help="the runs' date, YYYY-MM-DD (default: each file's modification day, UTC)")
    p.add_argument("--record", type=Path, default=record.RECORD,
                   help="the record to update (default: %(default)s)")
    args = p.parse_args(argv)
    if args.date:
        try:
            dt.date.fromisoformat(args.date)
        except ValueError:
            print(f"record_bench: error: --date {args.date!r} is not a date; give YYYY-MM-DD",
                  file=sys.stderr)
            return 2
    try:
        current = record.load(args.record) if args.record.exists() else {}
        for run in args.runs:
            suites = record.load(run)  # the checks of --baseline: one line for a file that is not a run
            mtime = dt.datetime.fromtimestamp(run.stat().st_mtime, dt.timezone.utc)
            day = args.date or mtime.date().isoformat()
            current = record.merge(current, suites, day)
            print(f"record_bench: {run}: {', '.join(suites)} ({day})", file=sys.stderr)
    except AkidaEdgeError as exc:
        print(f"record_bench: error: {exc}", file=sys.stderr)
        return 2
    tmp = args.record.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"suites": current}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(args.record)
    print(f"record_bench: wrote {args.record} ({', '.join(current)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
