"""`python -m akida_edge` is the `akida-edge` command."""

from akida_edge.cli import main

raise SystemExit(main())
