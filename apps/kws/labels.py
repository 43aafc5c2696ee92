"""The keyword-spotting labels: the ten Speech Commands keywords and the two catch-all classes.

The only definition: the dataset (`dataset.py`), the app (`app.py`) and the daemon's Home
Assistant discovery (`akida_edge.mqtt.discovery`) import them. Plain tuples, no imports, so the
daemon can read them without loading numpy, numba or the audio stack.
"""

from __future__ import annotations

#: The ten keywords, in class-index order (Speech Commands v2; Warden 2018, arXiv:1804.03209).
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
#: Every class of the shipped model, in output-index order.
CLASSES = (*KEYWORDS, UNKNOWN, SILENCE)
