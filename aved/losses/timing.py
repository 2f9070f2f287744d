"""Timing: the sound's event envelope in latent space held to the source's, which is in sync (ours, docs/design.md §2b).
`frame_rows` gives the frames' envelope to the diagnostic (benchmarks/toyworld_timing.py); the term reads the sound's.
"""

from __future__ import annotations

import torch

FLUX_EPS = 1e-12  # keeps the norm of a zero frame difference differentiable (its gradient is then 0, not NaN)


def latent_flux(sequence: torch.Tensor) -> torch.Tensor:
    """[T, D] latent rows over time → [T−1] ‖x_{t+1} − x_t‖: an onset envelope, like spectral flux (Masri 1996)."""
    step = sequence[1:].float() - sequence[:-1].float()
    return (step.pow(2).sum(-1) + FLUX_EPS).sqrt()


def standardize(envelope: torch.Tensor) -> torch.Tensor:
    """Centred and scaled to unit norm: which moments stand out, whatever the envelope's level or offset."""
    centred = envelope - envelope.mean()
    return centred / centred.norm().clamp_min(FLUX_EPS)


def timing_loss(sequence: torch.Tensor, source_sequence: torch.Tensor) -> torch.Tensor:
    """‖ê − ê_src‖² = 2 − 2·corr(flux(x), flux(x_src)) of the standardised envelopes: exactly zero, gradient too,
    where the edit keeps the source's moments (written as a difference so rounding cannot leave a residue)."""
    return (standardize(latent_flux(sequence)) - standardize(latent_flux(source_sequence.detach()))).pow(2).sum()


def audio_rows(z: torch.Tensor) -> torch.Tensor:
    """Audio latent [1, C, T, M] → its time rows [T, C·M]."""
    return z[0].permute(1, 0, 2).flatten(1)


def frame_rows(frames: torch.Tensor) -> torch.Tensor:
    """Per-frame latents [F, C, h, w] → rows [F, C·h·w]."""
    return frames.flatten(1)
