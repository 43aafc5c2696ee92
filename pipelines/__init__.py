"""akida_edge.pipelines (see DESIGN.md §1)."""
