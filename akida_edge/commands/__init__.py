"""CLI command groups: every module here defines `register(subparsers)` (see `akida_edge.cli`)."""
