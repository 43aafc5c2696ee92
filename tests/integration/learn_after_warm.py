"""Run by test_warm.py in a fresh process (numba keeps no kernel in memory yet): a kws and a
gesture pipeline built as the daemon builds them, their `warm_run` (what `python -m
akida_edge.warm` runs), then a `learn` command on each through `handle_command`, as MQTT sends it.
Prints JSON: the numba kernel signatures the learns reached that the warm had not (each one a
compile in the daemon on a device's first learn, or a load from the cache when warm reached it)
and the state directory's files after the warm and after the learns.

    python learn_after_warm.py STATE_DIR
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
from numba.core.dispatcher import Dispatcher

from akida_edge.config import parse_config
from akida_edge.daemon import build_pipeline
from akida_edge.drivers.wavfile import write_wav


def signatures() -> set[str]:
    """Every signature of every numba kernel of akida_edge that this process has compiled or loaded."""
    kernels = {id(v): v for name, module in list(sys.modules.items()) if name.startswith("akida_edge")
               for v in list(vars(module).values()) if isinstance(v, Dispatcher)}
    return {f"{d.py_func.__module__}.{d.py_func.__qualname__}{sig}"
            for d in kernels.values() for sig in d.signatures}


def main(state: Path) -> dict:
    tables = [{"name": "kws", "type": "kws", "source": {"type": "synthetic_speech"},
               "options": {"state_dir": str(state)}},
              {"name": "hands", "type": "camera", "source": {"type": "synthetic_camera", "scene": "gestures"},
               "options": {"mode": "gestures", "state_dir": str(state)}}]
    kws, hands = (build_pipeline(p) for p in parse_config({"pipelines": tables}).pipelines)
    kws.warm_run()
    hands.warm_run()
    warmed, after_warm = signatures(), sorted(p.name for p in state.iterdir())
    rng = np.random.default_rng(7)  # other data than the warm's: a chirp, and denser windows
    t = np.arange(16000) / 16000
    wav = state.parent / "chirp.wav"
    write_wav(wav, 0.3 * np.sin(2 * np.pi * 300 * t * (1 + 2 * t)) + rng.normal(0.0, 0.02, t.size), 16000)
    words = kws.handle_command("learn", {"label": "lantern",
                                         "audio_wav_b64": base64.b64encode(wav.read_bytes()).decode()})
    shape = (3, *hands.recognizer.gm.model.input_shape)
    windows = (rng.random(shape) < 0.2).astype(np.uint8) * rng.integers(1, 4, shape, np.uint8)
    hands.last_windows = ("swipe_left", windows)  # what a detection keeps (2-bit inputs)
    gestures = hands.handle_command("learn", {"label": "flick", "source": "last_detection"})
    return {"new": sorted(signatures() - warmed), "after_warm": after_warm,
            "after_learn": sorted(p.name for p in state.iterdir()),
            "learned": [words["words"], gestures["gestures"]]}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
