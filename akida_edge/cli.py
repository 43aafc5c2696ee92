"""The `akida-edge` command line.

Each command group lives in its own module under `akida_edge/commands/` and exposes
`register(subparsers)`; this module only discovers them, parses and turns every `AkidaEdgeError`
into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from akida_edge import __version__
from akida_edge.commands._args import default_state
from akida_edge.errors import AkidaEdgeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="akida-edge",
        description="Edge sensing on a virtual BrainChip AKD1000.",
    )
    parser.add_argument("--version", action="version", version=f"akida-edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from akida_edge import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # shared helpers (_args), not a command group
            continue
        module = importlib.import_module(f"akida_edge.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        default_state(args)
        result = args.func(args)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("akida-edge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
