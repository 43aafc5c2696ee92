"""The camera app: event-based gestures on the virtual AKD1000 (labels, representation, model)."""
