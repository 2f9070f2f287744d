"""AudioLDM2's audio front end: 16 kHz mono waveform ↔ log-mel spectrogram (docs/design.md §1)."""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import torch

from aved.config import MelConfig


def resample(waveform: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono float waveform (soxr, high quality)."""
    if rate == target_rate:
        return waveform.astype(np.float32, copy=False)
    return librosa.resample(waveform.astype(np.float32), orig_sr=rate, target_sr=target_rate).astype(np.float32)


def pad_or_crop(waveform: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad at the end or cut to exactly `length` samples."""
    if len(waveform) >= length:
        return waveform[:length]
    return np.pad(waveform, (0, length - len(waveform)))


def normalize_waveform(waveform: np.ndarray) -> tuple[np.ndarray, float]:
    """Remove the mean and scale the peak to 0.5, as AudioLDM does; returns (normalised, gain applied)."""
    centred = waveform - waveform.mean()
    gain = 0.5 / (np.abs(centred).max() + 1e-8)
    return (centred * gain).astype(np.float32), float(gain)


@lru_cache(maxsize=4)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """Slaney-normalised mel filterbank [n_mels, n_fft // 2 + 1]."""
    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax))


def log_mel(waveform: torch.Tensor, config: MelConfig | None = None) -> torch.Tensor:
    """[B, N] waveform → [B, N // hop, n_mels] log(clamp(mel·|STFT|, 1e-5)), reflect-padded (n_fft−hop)/2 a side."""
    config = config or MelConfig()
    side = (config.n_fft - config.hop_length) // 2
    padded = torch.nn.functional.pad(waveform[:, None], (side, side), mode="reflect")[:, 0]
    window = torch.hann_window(config.win_length, device=waveform.device, dtype=waveform.dtype)
    spec = torch.stft(
        padded,
        config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=window,
        center=False,
        return_complex=True,
    ).abs()
    basis = _mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    mel = basis.to(spec) @ spec
    return torch.log(torch.clamp(mel, min=config.clamp)).transpose(1, 2)


def front_end_waveform(
    waveform: np.ndarray, rate: int, config: MelConfig | None = None, frames: int | None = None
) -> tuple[np.ndarray, float]:
    """Any-rate mono waveform → (the normalised, padded window the mel is taken of, normalisation gain); the window
    is the prior's (config.duration) or, for a long sound, `frames` mel frames."""
    config = config or MelConfig()
    samples = config.num_samples if frames is None else frames * config.hop_length
    mono = resample(waveform, rate, config.sample_rate)[:samples]
    # Normalise the real signal before zero-padding so that silence stays exactly zero.
    normalised, gain = normalize_waveform(mono)
    return pad_or_crop(normalised, samples), gain


def waveform_to_mel(
    waveform: np.ndarray, rate: int, config: MelConfig | None = None, frames: int | None = None
) -> tuple[torch.Tensor, float]:
    """Any-rate mono waveform → ([1, 1, frames, n_mels] log-mel of the padded window, normalisation gain); one
    window of the prior's by default, `frames` frames for a long sound (one gain over all of it)."""
    config = config or MelConfig()
    padded, gain = front_end_waveform(waveform, rate, config, frames)
    mel = log_mel(torch.from_numpy(padded)[None], config)[:, : config.num_frames if frames is None else frames]
    return mel[:, None], gain
