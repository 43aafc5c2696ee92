"""The gesture labels: eight trained gestures, the catch-all background class and two novel ones.

The only definition: the data set, the model, the app and the daemon import them. Plain tuples, no
imports, so the daemon can read them without loading numpy, numba or OpenCV.
"""

from __future__ import annotations

#: The trained gestures, in class-index order.
GESTURES = ("swipe_left", "swipe_right", "swipe_up", "swipe_down",
            "circle_cw", "circle_ccw", "approach", "recede")
#: Still scenes, flicker, light ramps, sensor noise and irrelevant motion.
BACKGROUND = "_background_"
#: Every output of the base model, in output-index order.
CLASSES = GESTURES + (BACKGROUND,)
#: Rendered but never trained on: the few-shot learning benchmark's gestures.
NOVEL = ("wave", "z_shape")
