"""One spoken word: a speech synthesizer for the voice, sox for speaker and channel augmentation.

Three synthesizers, chosen by the voice's name:

* espeak-ng (formant synthesis; `en-us+f3`): the many-voice base of the data set;
* flite (`flite+slt`; voices kal, kal16, awb, rms, slt: diphone and clustergen/unit-selection
  synthesis, Black & Lenzo 2001): a second synthesis method in training;
* festival (`festival+ked_diphone`; kal_diphone, ked_diphone, cmu_us_slt_arctic_hts: diphone and
  HTS statistical-parametric synthesis, Black & Taylor 1997): held out entirely, the
  `other_synth` test split.

For flite and festival, `speed_wpm` sets the duration stretch 175 / speed_wpm (175 words per minute
is espeak-ng's default rate); their pitch comes from the sox chain below, and `pitch`, `amplitude`
and `word_gap` are espeak-ng's only.

`random_speech(rng, voice, text)` draws espeak-ng prosody (speed in words per minute, pitch 0..99,
amplitude, word gap, intonation from the final punctuation) and a sox effect chain:

* speaker: `speed f` (f ∈ [0.85, 1.15], shifts pitch and formants together, a vocal-tract-length
  perturbation), optionally followed by `tempo 1/f` (keeps the duration), and `pitch ±300` cents;
* room: `reverb` (reverberance, HF damping, room scale);
* channel, like cheap microphones: `sinc lo-hi` band-limiting (lo 60..400 Hz, hi 2.8..7.6 kHz),
  1-2 `equalizer` bands (±9 dB), light `overdrive`.

sox runs the effects at 22.05 kHz (espeak-ng's rate; flite's and festival's 8 or 16 kHz are
resampled first) and writes 32-bit float mono at 16 kHz.

The neural voices have their own `synthesize` with this one's contract (a `Speech` in, float32 at
16 kHz out): Piper's joe (`neural_voice.py`, held out) and Kokoro (`kokoro.py`, training voices).
Both take their phonemes from `espeak_ipa` and end with `sox_to_16k` (the same effect chain).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

from akida_edge.errors import SourceError

SAMPLE_RATE_HZ = 16000
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
ESPEAK_DEFAULT_WPM = 175.0
INTERNAL_RATE_HZ = 22050  # espeak-ng's own rate: the sox effects run at it for every synthesizer


def engine(voice: str) -> str:
    """The synthesizer of a voice name: `flite`, `festival` or `espeak-ng` (every other name)."""
    head = voice.split("+", 1)[0]
    return head if head in ("flite", "festival") else "espeak-ng"


@dataclass(frozen=True)
class Speech:
    """Everything that determines one synthesized utterance (recorded in the data set's metadata)."""

    voice: str
    text: str
    speed_wpm: int
    pitch: int
    amplitude: int
    word_gap: int
    effects: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.voice} s{self.speed_wpm} p{self.pitch} a{self.amplitude} g{self.word_gap} " + " ".join(
            self.effects)


def random_effects(rng: np.random.Generator) -> tuple[str, ...]:
    """A random sox effect chain (see the module docstring)."""
    fx: list[str] = []
    if rng.random() < 0.6:
        f = rng.uniform(0.85, 1.15)
        fx += ["speed", f"{f:.3f}"]
        if rng.random() < 0.5:
            fx += ["tempo", f"{1 / f:.3f}"]
    if rng.random() < 0.3:
        fx += ["pitch", str(int(rng.integers(-300, 301)))]
    if rng.random() < 0.35:
        fx += ["reverb", str(int(rng.integers(10, 80))), str(int(rng.integers(20, 80))),
               str(int(rng.integers(10, 100)))]
    if rng.random() < 0.5:
        fx += ["sinc", f"{int(rng.integers(60, 400))}-{int(rng.integers(2800, 7600))}"]
    if rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 3))):
            fx += ["equalizer", str(int(rng.integers(200, 5000))), f"{rng.uniform(0.5, 2.0):.2f}q",
                   f"{rng.uniform(-9, 9):.1f}"]
    if rng.random() < 0.1:
        fx += ["overdrive", str(int(rng.integers(5, 20)))]
    return tuple(fx)


def random_speech(rng: np.random.Generator, voice: str, text: str) -> Speech:
    """Random prosody and effects for `text` spoken by `voice`."""
    ending = ("", "", ".", "?", "!")[int(rng.integers(0, 5))]
    return Speech(voice=voice, text=text + ending, speed_wpm=int(rng.integers(110, 260)),
                  pitch=int(rng.integers(5, 95)), amplitude=int(rng.integers(60, 180)),
                  word_gap=int(rng.integers(0, 15)), effects=random_effects(rng))


def _engine_wav(speech: Speech) -> bytes:
    """The synthesizer's WAV bytes of `speech` (module docstring)."""
    kind, name = engine(speech.voice), speech.voice.split("+", 1)[-1]
    stretch = f"{ESPEAK_DEFAULT_WPM / speech.speed_wpm:.3f}"
    if kind == "espeak-ng":
        cmd = ["espeak-ng", "-v", speech.voice, "-s", str(speech.speed_wpm), "-p", str(speech.pitch),
               "-a", str(speech.amplitude), "-g", str(speech.word_gap), "-z", "--stdout", speech.text]
        return subprocess.run(cmd, capture_output=True, check=True).stdout
    if kind == "flite":
        cmd = ["flite", "-voice", name, "--setf", f"duration_stretch={stretch}", "-t", speech.text,
               "-o", "/dev/stdout"]
        return subprocess.run(cmd, capture_output=True, check=True).stdout
    # text2wave cannot write a valid WAV header to a pipe: a temporary file
    fd, path = tempfile.mkstemp(suffix=".wav", prefix="akida-edge-festival-")
    os.close(fd)
    try:
        cmd = ["text2wave", "-eval", f"(voice_{name})",
               "-eval", f"(Parameter.set 'Duration_Stretch {stretch})", "-o", path]
        subprocess.run(cmd, input=speech.text.encode(), capture_output=True, check=True)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def synthesize(speech: Speech) -> np.ndarray:
    """float32 mono samples at 16 kHz (`SourceError` if the synthesizer or sox fail)."""
    # 'gain -8' first: headroom so that EQ, reverb and overdrive do not clip inside sox; then every
    # synthesizer at espeak-ng's 22.05 kHz (a no-op for it), so that the effects' band limits stay
    # valid (flite's kal is 8 kHz); the output is resampled to 16 kHz last
    sox = ["sox", "-V1", "-t", "wav", "-", "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1",
           "-r", str(SAMPLE_RATE_HZ), "-", "gain", "-8", "rate", str(INTERNAL_RATE_HZ), *speech.effects]
    try:
        wav = _engine_wav(speech)
        raw = subprocess.run(sox, input=wav, capture_output=True, check=True).stdout
    except FileNotFoundError as exc:
        raise SourceError(
            f"{exc.filename} is not installed; install it (scripts/setup.sh lists it)"
        ) from None
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode(errors="replace").strip().splitlines()
        raise SourceError(
            f"{exc.cmd[0]} failed for {speech.describe()!r}: {err[-1] if err else exc.returncode}"
        ) from None
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def espeak_ipa(text: str, options: list[str]) -> str:
    """espeak-ng's IPA of `text` (``espeak-ng -q OPTIONS TEXT``: e.g. ``--ipa -v en-us``), one line
    per clause; `SourceError` if espeak-ng is missing or fails (the neural voices' phonemes)."""
    try:
        return subprocess.run(["espeak-ng", "-q", *options, text], capture_output=True, text=True,
                              check=True).stdout
    except FileNotFoundError:
        raise SourceError("espeak-ng is not installed; install it (scripts/setup.sh lists it)") from None
    except subprocess.CalledProcessError as exc:
        why = exc.stderr.strip() or exc.returncode
        raise SourceError(f"espeak-ng {options[0]} failed for {text!r}: {why}") from None


def sox_to_16k(x: np.ndarray, sox: list[str], speech: Speech) -> np.ndarray:
    """The neural voices' last step: `sox` (a command that reads raw float32 samples on stdin and
    writes raw float32 at `INTERNAL_RATE_HZ`, with `speech`'s effects) on `x`, then 16 kHz with the
    project's resampler; `SourceError` names the Speech if sox is missing or fails."""
    from akida_edge.frontends.resample import resample

    try:
        out = subprocess.run(sox, input=x.astype("<f4").tobytes(), capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise SourceError("sox is not installed; install it (scripts/setup.sh lists it)") from None
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode(errors="replace").strip().splitlines()
        why = err[-1] if err else exc.returncode
        raise SourceError(f"sox failed for {speech.describe()!r}: {why}") from None
    y = np.frombuffer(out, dtype="<f4").astype(np.float32)
    return resample(y, INTERNAL_RATE_HZ, SAMPLE_RATE_HZ).astype(np.float32)


def trim(x: np.ndarray, rel: float = 0.02) -> np.ndarray:
    """Cut leading and trailing samples quieter than `rel` of the peak."""
    if x.size == 0:
        return x
    idx = np.flatnonzero(np.abs(x) > rel * np.abs(x).max())
    return x[idx[0]: idx[-1] + 1] if idx.size else x[:0]


def fit(x: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Place `x` at a random offset in `n` samples (a time shift); longer input keeps its loudest
    `n`-sample window. Returns the clip and the speech onset in samples."""
    out = np.zeros(n, np.float32)
    if x.size > n:
        energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
        start = int(np.argmax(energy[n:] - energy[:-n]))
        out[:] = x[start: start + n]
        return out, 0
    offset = int(rng.integers(0, n - x.size + 1))
    out[offset: offset + x.size] = x
    return out, offset
