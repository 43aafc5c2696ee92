"""Keyword spotting on the virtual AKD1000: data made with espeak-ng (`dataset.py`), the DS-CNN
model's training recipe (`train.py`, shipped in `model/`), the app behind the `kws` commands
(`app.py`) and few-shot keyword learning (`learn.py`)."""
