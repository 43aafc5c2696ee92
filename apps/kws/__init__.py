"""Keyword spotting on the virtual AKD1000: data made with espeak-ng (`dataset.py`), and later the
model, its training recipe and the `kws` commands."""
