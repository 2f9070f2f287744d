"""Classifier-free-guided DDIM sampling through a prior: SDEdit from a latent, or generation from noise."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler
from tqdm.auto import tqdm

from aved.losses.dds import cfg_combine
from aved.priors.base import DiffusionPrior
from aved.progress import bar_disable


@torch.no_grad()
def ddim_denoise(
    prior: DiffusionPrior,
    z: torch.Tensor,
    prompts: list[str],
    steps: int,
    guidance_scale: float,
    generator: torch.Generator,
    strength: float = 1.0,
    progress: bool = False,
    desc: str = "denoise",
    callback=None,
) -> torch.Tensor:
    """Noise z to t0 = strength·T (pure noise at 1) and run DDIM with CFG, row i conditioned on prompts[i]."""
    scheduler = DDIMScheduler.from_config(prior.pipeline.scheduler.config, prediction_type="epsilon")
    scheduler.set_timesteps(steps, device=prior.device)
    start = min(len(scheduler.timesteps) - 1, int(round(len(scheduler.timesteps) * (1 - strength))))
    timesteps = scheduler.timesteps[start:]
    noise = torch.randn(z.shape, generator=generator, device=generator.device).to(z.device, z.dtype)
    z = noise if strength >= 1 else scheduler.add_noise(z, noise, timesteps[:1])
    count = z.shape[0]
    cond = prior.encode_text(["", *prompts])
    rows = cond.take([0] * count + list(range(1, count + 1)))
    for k, t in enumerate(tqdm(timesteps, desc=desc, disable=bar_disable(progress), leave=False)):
        eps_u, eps_c = prior.predict_noise(torch.cat([z, z]), t, rows).split(count)
        z = scheduler.step(cfg_combine(eps_u, eps_c, guidance_scale), t, z).prev_sample
        if callback is not None and callback(k, {"t": int(t)}) is True:
            break  # the caller stopped it: z is as far as it got
    return z
