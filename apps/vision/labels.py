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
#: Auxiliary motions (`scenes.py`: diagonal swipes named by their vertical then horizontal
#: direction, a vertical shake, corners named by their two strokes): their own outputs of a wider
#: head during float training with `train.py --aux` only, so that the binary features tell motion
#: shapes apart; `_background_` for the shipped 9-way head. Never `NOVEL`'s motions.
AUX = ("diagonal_dr", "diagonal_dl", "diagonal_ur", "diagonal_ul", "nod",
       "corner_rd", "corner_ru", "corner_ld", "corner_lu", "corner_dr", "corner_dl", "corner_ur", "corner_ul")
