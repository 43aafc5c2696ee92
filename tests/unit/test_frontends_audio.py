"""Audio front-end: framing, log-mel, streaming == batch, event view, DS-CNN tensor, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from akida_edge.frontends.audio import (
    KWS_DB_RANGE,
    KWS_PARAMS,
    LogMelParams,
    audio_events_step,
    audio_init,
    hz_to_mel,
    kws_input_tensor,
    logmel,
    logmel_step,
    mel_filterbank,
    mel_to_hz,
)
from akida_edge.frontends.delta import DeltaParams
from akida_edge.frontends.resample import (
    ResampleParams,
    resample,
    resample_flush,
    resample_init,
    resample_step,
)

pytestmark = pytest.mark.unit


def _splits(rng, n, max_block):
    cuts, i = [], 0
    while i < n:
        step = int(rng.integers(1, max_block))
        cuts.append((i, min(n, i + step)))
        i += step
    return cuts


def test_one_second_gives_49_frames():
    p = LogMelParams()
    assert logmel(np.zeros(p.rate_hz, np.float32), p).shape == (
        1 + (p.rate_hz - p.window) // p.hop,
        p.n_bands,
    )
    assert logmel(np.zeros(16000, np.float32), KWS_PARAMS).shape == (49, 10)


def test_streaming_equals_batch(rng):
    p = LogMelParams()
    x = rng.normal(scale=0.1, size=40000).astype(np.float32)
    whole = logmel(x, p)
    state, parts = audio_init(p), []
    for a, b in _splits(rng, x.size, 2000):
        y, state = logmel_step(x[a:b], state, p)
        parts.append(y)
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_sine_reads_near_zero_dbfs_and_matches_direct_dft():
    """A full-scale sine at a band's centre reads about 0 dBFS (Hann leakage adds < 2 dB), and the
    first frame equals a direct DFT sum computed here independently of the FFT path."""
    p = LogMelParams(n_fft=512)
    centres = mel_to_hz(np.linspace(hz_to_mel(p.f_min_hz), hz_to_mel(p.f_max_hz), p.n_bands + 2))[1:-1]
    band = 25
    f = centres[band]
    x = np.sin(2 * np.pi * f * np.arange(p.rate_hz) / p.rate_hz)
    mel = logmel(x.astype(np.float32), p)
    assert int(np.argmax(mel.mean(axis=0))) == band
    assert -0.5 < float(np.median(mel[:, band])) < 2.0
    n = np.arange(p.window)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / p.window)
    k = np.arange(p.n_fft // 2 + 1)
    dft = (w * x[: p.window]) @ np.exp(-2j * np.pi * np.outer(n, k) / p.n_fft)
    direct = 10 * np.log10(
        mel_filterbank(p).astype(np.float64) @ np.abs(dft) ** 2 / (w.sum() / 2) ** 2 + 1e-10
    )
    np.testing.assert_allclose(mel[0], direct, atol=1e-3)


def test_delta_events_count_thresholds(rng):
    """A band rising by k thresholds in one frame gives k ON events there, then nothing."""
    p = LogMelParams(n_bands=10, f_max_hz=4000.0)
    d = DeltaParams(threshold=3.0)
    t = np.arange(8000) / p.rate_hz
    quiet = 0.001 * np.sin(2 * np.pi * 1000 * t)
    loud = 0.1 * np.sin(2 * np.pi * 1000 * t)  # +40 dB in the 1 kHz band
    x = np.concatenate([quiet, loud]).astype(np.float32)
    mel, t_us, events, _ = audio_events_step(x, 0, audio_init(p), p, d)
    band = int(np.argmax(mel[-1]))
    on = events[(events["p"] == 1) & (events["y"] == band)]
    rise = mel[:, band].max() - mel[0, band]
    assert on.size == int(np.trunc(rise / d.threshold))
    assert set(np.unique(on["t"])) <= set(t_us.tolist())


def test_events_streaming_equals_batch(rng):
    p = LogMelParams(n_bands=16)
    d = DeltaParams(threshold=2.0)
    x = (rng.normal(size=32000) * np.repeat(rng.uniform(0.001, 0.5, 16), 2000)).astype(np.float32)
    mel_b, t_b, ev_b, _ = audio_events_step(x, 1_000_000, audio_init(p), p, d)
    state, mels, evs = audio_init(p), [], []
    for a, b in _splits(rng, x.size, 3000):
        m, _, e, state = audio_events_step(x[a:b], 1_000_000 + round(a * 1e6 / p.rate_hz), state, p, d)
        mels.append(m)
        evs.append(e)
    np.testing.assert_array_equal(np.concatenate(mels), mel_b)
    np.testing.assert_array_equal(np.concatenate(evs), ev_b)
    assert ev_b.size > 0


def test_kws_tensor_scaling(rng):
    x = rng.normal(scale=0.05, size=12000).astype(np.float32)  # shorter than 1 s: padded
    tensor = kws_input_tensor(x)
    assert tensor.shape == (49, 10, 1) and tensor.dtype == np.uint8
    padded = np.zeros(16000, np.float32)
    padded[:12000] = x
    lo, hi = KWS_DB_RANGE
    expected = np.clip(np.round((logmel(padded, KWS_PARAMS) - lo) * 255 / (hi - lo)), 0, 255)
    np.testing.assert_array_equal(tensor[:, :, 0], expected.astype(np.uint8))


def test_resample_streaming_equals_batch_and_keeps_tone(rng):
    rate = 44100
    t = np.arange(rate) / rate
    x = np.sin(2 * np.pi * 440 * t)
    y = resample(x, rate, 16000)
    assert y.size == int(np.ceil(x.size * 16000 / rate))
    ref = np.sin(2 * np.pi * 440 * np.arange(y.size) / 16000)
    assert np.abs(y - ref)[100:-100].max() < 1e-2
    params = ResampleParams(rate)
    state, parts = resample_init(params), []
    for a, b in _splits(rng, x.size, 5000):
        out, state = resample_step(x[a:b], state, params)
        parts.append(out)
    parts.append(resample_flush(state, params, squeeze=True))
    np.testing.assert_array_equal(np.concatenate(parts), y)


def test_resample_rejects_aliasing_tone():
    """9 kHz at 48 kHz is above the 16 kHz output's Nyquist and would alias to 7 kHz: it must be
    filtered out, so tone(7 kHz) + tone(9 kHz) resamples to (nearly) the 7 kHz tone alone."""
    rate = 48000
    t = np.arange(rate) / rate
    both = resample(np.sin(2 * np.pi * 7000 * t) + np.sin(2 * np.pi * 9000 * t), rate, 16000)
    clean = resample(np.sin(2 * np.pi * 7000 * t), rate, 16000)
    assert np.abs(both - clean)[1000:-1000].max() < 0.02


def test_wav_replay_through_streaming_logmel_matches_the_whole_file(tmp_path, rng):
    """Source -> front-end end to end: a 22.05 kHz stereo WAV replayed in blocks gives the frames
    of the whole resampled signal, and its first second gives the DS-CNN tensor."""
    from akida_edge.drivers.audio_file import AudioFileConfig, AudioFileSource, load_audio
    from akida_edge.drivers.wavfile import write_wav

    x = (0.2 * rng.normal(size=(33075, 2))).astype(np.float32)
    write_wav(tmp_path / "clip.wav", x, 22050)
    p = KWS_PARAMS
    state, frames = audio_init(p), []
    for chunk in AudioFileSource(AudioFileConfig(str(tmp_path / "clip.wav"), block_s=0.07)).open():
        y, state = logmel_step(chunk.data[:, 0], state, p)
        frames.append(y)
    whole = load_audio(tmp_path / "clip.wav")
    np.testing.assert_array_equal(np.concatenate(frames), logmel(whole, p))
    lo, hi = KWS_DB_RANGE
    first = np.concatenate(frames)[:49]
    expected = np.clip(np.round((first - lo) * 255 / (hi - lo)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(kws_input_tensor(whole)[:, :, 0], expected)
