"""Compile the numba kernels of the shipped apps once, at set-up, so that a first start is fast.

    python -m akida_edge.warm [--config FILE]

numba compiles a kernel on its first call and keeps the machine code on disk (`numba_config`:
``cache=True``); a first start of the daemon would otherwise spend ~2 minutes on two cores
compiling before its pipelines come online. This builds every pipeline of the config the way the
daemon does (`daemon.build_pipeline`: models loaded, kernels warmed; sources are only opened when
a pipeline runs) and the keyword spotter of `akida-edge kws` (`apps.kws.app.Spotter`), then exits.
`scripts/setup.sh` runs it; running it again is quick (the cache is loaded, not rebuilt).
"""

from __future__ import annotations

import argparse
import sys
import time

from akida_edge.errors import AkidaEdgeError


def warm(config_path: str | None, progress=sys.stderr) -> float:
    """Build the pipelines of `config_path` (None: as `akida-edge run` picks its config) and the
    keyword spotter; the seconds it took."""
    from akida_edge.config import resolve_config
    from akida_edge.daemon import PipelineUnavailable, build_pipeline

    t0 = time.monotonic()
    for p in resolve_config(config_path).pipelines:
        t = time.monotonic()
        try:
            build_pipeline(p)
        except PipelineUnavailable as exc:  # an app that is not installed: nothing to compile
            print(f"akida-edge warm: {exc}", file=progress, flush=True)
            continue
        print(f"akida-edge warm: pipeline {p.name} ({p.type}) ready in {time.monotonic() - t:.1f} s",
              file=progress, flush=True)
    t = time.monotonic()
    try:
        from akida_edge.apps.kws.app import Spotter

        Spotter(learned=False)
        print(f"akida-edge warm: keyword spotter ready in {time.monotonic() - t:.1f} s", file=progress,
              flush=True)
    except ImportError:
        pass
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akida_edge.warm", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=None, help="the config whose pipelines to build (default: as "
                    "`akida-edge run`: ./config.toml if there is one, else the packaged default)")
    args = ap.parse_args(argv)
    print("akida-edge warm: compiling the numba kernels (a first time takes a few minutes; "
          "cached afterwards)", file=sys.stderr, flush=True)
    try:
        took = warm(args.config)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return 1
    print(f"akida-edge warm: done in {took:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
