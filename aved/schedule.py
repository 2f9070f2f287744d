"""The edit's schedule: the timestep each step draws and how far the step moves the latents (docs/design.md §5).

`random` (the DDS default): t ~ U[t_min, t_max] every step, the step lr·γ^k. `annealed` (short edits): t decreases
from t_max to t_min, one draw per stratum, and each step moves in proportion to how far a DDPM sampler's step from
t_k to t_{k+1} moves its x̂₀ estimate per unit of ε-difference, which makes DDS a few-step edit-friendly DDPM edit
(TurboEdit, Deutch et al. 2024, §3)."""

from __future__ import annotations

import torch


def random_timestep(t_min: int, t_max: int, generator: torch.Generator) -> torch.Tensor:
    """t ~ U{t_min, …, t_max} (DDS, Hertz et al. 2023 §3.2), one draw from `generator`."""
    return torch.randint(t_min, t_max + 1, (1,), generator=generator, device=generator.device)


def annealed_timesteps(steps: int, t_min: int, t_max: int, generator: torch.Generator) -> torch.Tensor:
    """t_k uniform over the integers of the k-th of `steps` near-equal strata of {t_min, …, t_max}, from the top
    down: strictly decreasing (needs steps ≤ t_max − t_min + 1, which `EditConfig.validate` checks). Stratum k holds
    t_max − edges[k + 1] + 1 … t_max − edges[k]."""
    span = t_max - t_min + 1
    edges = torch.arange(steps + 1, dtype=torch.long) * span // steps
    u = torch.rand(steps, generator=generator, device=generator.device, dtype=torch.float64).cpu()
    sizes = edges[1:] - edges[:-1]
    return t_max - edges[:-1] - (u * sizes).long().clamp(max=sizes - 1)


def ddpm_step_weights(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """c_k = (1 − ᾱ_{t_k}/ᾱ_{t_{k+1}}) / (√ᾱ_{t_k}·√(1 − ᾱ_{t_k})), t_K = 0: how far a DDPM step t_k → t_{k+1}
    moves the final x̂₀ per unit of ε-difference (the edit-friendly DDPM recursion unrolled, TurboEdit eq. 7)."""
    abar = alphas_cumprod.double().cpu()[timesteps]
    after = torch.cat([abar[1:], alphas_cumprod.double().cpu()[:1]])
    return (1 - abar / after) / (abar.sqrt() * (1 - abar).sqrt())


def annealed_step_sizes(lr: float, gain: float, weights: torch.Tensor) -> list[float]:
    """lr·gain·c_k/mean(c): the DDPM steps' proportions, at a mean step of lr·gain."""
    return (lr * gain * weights / weights.mean()).tolist()
