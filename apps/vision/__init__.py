"""Event-based gestures on the virtual AKD1000 (issue #7)."""
