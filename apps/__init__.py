"""akida_edge.apps (see DESIGN.md §1)."""
