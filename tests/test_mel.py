"""The AudioLDM2 audio front end against an independent librosa computation."""

import librosa
import numpy as np
import torch

from aved.media.mel import MelConfig, log_mel, normalize_waveform, pad_or_crop, waveform_to_mel


def _librosa_log_mel(y: np.ndarray, cfg: MelConfig) -> np.ndarray:
    side = (cfg.n_fft - cfg.hop_length) // 2
    padded = np.pad(y, (side, side), mode="reflect")
    spec = np.abs(
        librosa.stft(
            padded, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length, window="hann", center=False
        )
    )
    basis = librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, htk=False, norm="slaney"
    )
    return np.log(np.maximum(basis @ spec, cfg.clamp)).T


def test_log_mel_matches_librosa_primitives():
    cfg = MelConfig()
    rng = np.random.default_rng(0)
    t = np.arange(cfg.sample_rate * 2) / cfg.sample_rate
    y = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    ours = log_mel(torch.from_numpy(y)[None], cfg)[0].numpy()
    reference = _librosa_log_mel(y.astype(np.float64), cfg)
    assert ours.shape == reference.shape == (len(y) // cfg.hop_length, cfg.n_mels)
    # float32 STFT vs librosa's float64: measured max difference 4e-6 in log units; allow 1e-4.
    assert np.abs(ours - reference).max() < 1e-4


def test_full_window_is_1024_frames_and_normalised():
    cfg = MelConfig()
    assert cfg.num_samples == 163840 and cfg.num_frames == 1024
    y = np.random.default_rng(1).standard_normal(16000 * 3).astype(np.float32) + 0.2
    mel, gain = waveform_to_mel(y, 16000, cfg)
    assert mel.shape == (1, 1, 1024, 64)
    normalised, _ = normalize_waveform(y)
    assert abs(normalised.mean()) < 1e-6 and np.isclose(np.abs(normalised).max(), 0.5)
    assert np.isclose(gain, 0.5 / np.abs(y - y.mean()).max(), rtol=1e-5)
    # The padded tail is digital silence: every bin sits at the clamp.
    assert torch.allclose(mel[0, 0, -100:], torch.full((100, 64), np.log(cfg.clamp)))


def test_pad_and_crop():
    y = np.arange(10, dtype=np.float32)
    assert pad_or_crop(y, 4).tolist() == [0, 1, 2, 3]
    assert pad_or_crop(y, 12).tolist() == list(range(10)) + [0, 0]
    long = np.random.default_rng(2).standard_normal(16000 * 12).astype(np.float32)
    mel, _ = waveform_to_mel(long, 16000)
    assert mel.shape[2] == 1024  # 12 s is cropped to the 10.24 s window


def test_resampling_keeps_frame_count():
    y = np.random.default_rng(3).standard_normal(44100 * 2).astype(np.float32)
    mel, _ = waveform_to_mel(y, 44100)
    assert mel.shape == (1, 1, 1024, 64)
    # 2 s of content → the first 200 frames carry energy, the padded rest is silence.
    assert mel[0, 0, :190].mean() > np.log(1e-5) + 1
