"""The shipped gesture model (`gestures.aem`) and its training report (package data)."""
