"""WAV files whose samples or rate are not sound (session-10 audit): a float WAV holding NaN, and a
header rate of 1 Hz or 1 GHz, were classified and learned as if they were ("_silence_ (0.95)", a
learned word from a NaN clip); now each is one line naming the file and what is wrong."""

from __future__ import annotations

import base64
import struct
from types import SimpleNamespace

import numpy as np
import pytest

from akida_edge.drivers.audio_file import AUDIO_RATE_MAX_HZ, AUDIO_RATE_MIN_HZ, load_audio
from akida_edge.drivers.vibration import load_vibration
from akida_edge.drivers.wavfile import read_wav, write_wav
from akida_edge.errors import InputDataError, SourceError

pytestmark = pytest.mark.unit


def float_wav(path, samples: np.ndarray, rate_hz: int = 16000) -> None:
    """A mono IEEE-float 32-bit WAV of `samples` as they are (NaN included)."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate_hz, 4 * rate_hz, 4, 32)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_float_wav_with_samples_that_are_not_numbers_is_refused_naming_the_file(tmp_path, rng, bad):
    x = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    where = int(rng.integers(100, 16000))
    x[where:where + 3] = bad
    path = tmp_path / "broken.wav"
    float_wav(path, x)
    for read in (read_wav, load_audio, load_vibration):
        with pytest.raises(SourceError) as err:
            read(path)
        message = str(err.value)
        assert str(path) in message and "3 samples that are not numbers" in message
        assert f"frame {where}" in message and "export it again" in message
    x[where:where + 3] = 0.0  # the same file without them reads
    float_wav(path, x)
    assert np.array_equal(read_wav(path)[0][:, 0], x)


@pytest.mark.parametrize("rate_hz", [1, AUDIO_RATE_MIN_HZ - 1, AUDIO_RATE_MAX_HZ + 1, 1_000_000_000])
def test_a_header_rate_that_is_not_an_audio_rate_is_refused_naming_it(tmp_path, rng, rate_hz):
    path = tmp_path / "odd.wav"
    write_wav(path, 0.1 * rng.standard_normal(4000), rate_hz)
    with pytest.raises(SourceError) as err:
        load_audio(path)
    message = str(err.value)
    assert str(path) in message and f"{rate_hz} Hz" in message
    assert f"{AUDIO_RATE_MIN_HZ}-{AUDIO_RATE_MAX_HZ} Hz" in message
    for rate_hz in (AUDIO_RATE_MIN_HZ, 44100, AUDIO_RATE_MAX_HZ):  # the range's ends and a usual rate
        write_wav(path, 0.1 * rng.standard_normal(4000), rate_hz)
        assert load_audio(path).size == int(np.ceil(4000 * 16000 / rate_hz))


def test_an_upload_with_such_a_rate_or_nan_is_refused_in_the_error_response(tmp_path, rng):
    from akida_edge.pipelines.kws import KwsPipeline

    bad_rate, nan = tmp_path / "rate.wav", tmp_path / "nan.wav"
    write_wav(bad_rate, 0.1 * rng.standard_normal(16000), 1_000_000_000)
    float_wav(nan, np.full(16000, np.nan, np.float32))
    ok = tmp_path / "ok.wav"
    write_wav(ok, 0.1 * rng.standard_normal(16000), 16000)
    b64 = [base64.b64encode(p.read_bytes()).decode() for p in (ok, bad_rate, nan)]
    with pytest.raises(InputDataError, match=r"audio_wav_b64\[1\]: .*1000000000 Hz, not an audio rate"):
        KwsPipeline._clips(SimpleNamespace(), {"audio_wav_b64": b64[:2]})
    with pytest.raises(InputDataError, match=r"audio_wav_b64\[1\] holds 16000 samples that are not numbers"):
        KwsPipeline._clips(SimpleNamespace(), {"audio_wav_b64": [b64[0], b64[2]]})
    clips, source = KwsPipeline._clips(SimpleNamespace(), {"audio_wav_b64": b64[:1]})
    assert source == "upload" and len(clips) == 1 and clips[0].size == 16000


@pytest.mark.parametrize(("tag", "bits", "block"), [(0x11, 4, 256), (0x31, 0, 65), (7, 8, 1)])
def test_a_compressed_wav_is_named_an_unsupported_encoding_not_a_corrupt_header(tmp_path, tag, bits, block):
    """Session-14 audit: an IMA-ADPCM WAV (a dictaphone's; `sox -e ima-adpcm`) or a GSM one was
    called "an inconsistent header": a corrupt file, to the user, when it is a valid file in an
    encoding to convert."""
    fmt = struct.pack("<HHIIHH", tag, 1, 8000, 4000, block, bits)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", block) + bytes(block)
    path = tmp_path / "voice.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(SourceError) as err:
        load_audio(path)
    assert str(err.value) == (f"{path}: unsupported WAV encoding (format tag {tag}, {bits} bits); use PCM "
                              "8/16/24/32-bit or float 32/64-bit (e.g. sox IN.wav -b 16 OUT.wav)")
