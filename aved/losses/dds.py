"""Delta Denoising Score: the target branch moves along ε̂_trg − ε̂_src (Hertz et al. 2023)."""

from __future__ import annotations

import torch


def cfg_combine(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """ε̂ = ε_u + ω·(ε_c − ε_u) (classifier-free guidance, Ho & Salimans 2022, eq. 6)."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def dds_direction(eps_src: torch.Tensor, eps_trg: torch.Tensor) -> torch.Tensor:
    """δ = ε̂_trg − ε̂_src with NaNs zeroed (DDS, Hertz et al. 2023, eq. 6)."""
    return torch.nan_to_num(eps_trg - eps_src, nan=0.0, posinf=0.0, neginf=0.0)


def dds_loss(z: torch.Tensor, direction: torch.Tensor, weight: float | torch.Tensor = 1.0) -> torch.Tensor:
    """½‖z − sg(z − w·δ)‖², a surrogate whose gradient with respect to z is exactly w·δ (docs/design.md §2.6)."""
    target = (z - weight * direction).detach()
    return 0.5 * (z - target).pow(2).sum()
