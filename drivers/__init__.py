"""akida_edge.drivers (see DESIGN.md §1)."""
