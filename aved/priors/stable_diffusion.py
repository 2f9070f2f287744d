"""Stable Diffusion 1.x/2.x as the frame prior: 512² RGB grids ↔ 4-channel latents, CLIP text conditioning."""

from __future__ import annotations

import math

import torch
from diffusers import StableDiffusionPipeline

from aved.config import DEFAULT_VIDEO_MODEL
from aved.errors import AvedError
from aved.priors.base import Condition, DiffusionPrior, load_pipeline, word_token_positions


class StableDiffusionPrior(DiffusionPrior):
    """Frozen SD UNet + VAE + CLIP text encoder; inputs are images in [−1, 1]."""

    pipeline: StableDiffusionPipeline

    @classmethod
    def from_pretrained(
        cls, model_id: str = DEFAULT_VIDEO_MODEL, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
    ) -> StableDiffusionPrior:
        pipeline = load_pipeline(
            StableDiffusionPipeline,
            model_id,
            "video",
            "--video-model",
            dtype=dtype,
            safety_checker=None,
            requires_safety_checker=False,
        )
        pipeline.set_progress_bar_config(disable=True)
        return cls(pipeline.to(device), model_id)

    @property
    def spatial_factor(self) -> int:
        """Pixels per latent cell along one side."""
        return self.pipeline.vae_scale_factor

    def check_grid(self, frame_size: int, grid: int) -> None:
        """Frames must map to whole latent cells, and a grid's latent must pass the UNet's downsamplings."""
        factor = self.spatial_factor
        latent = frame_size * grid // factor
        if frame_size % factor or latent % self.unet_factor:
            step = factor * self.unet_factor // math.gcd(grid, self.unet_factor)
            raise AvedError(
                f"frame size {frame_size} px with a {grid}×{grid} grid does not fit {self.model_id}: "
                f"use a frame size that is a multiple of {math.lcm(factor, step)} (e.g. 256)"
            )

    @torch.no_grad()
    def encode_text(self, prompts: list[str]) -> Condition:
        embeds, _ = self.pipeline.encode_prompt(
            prompts, self.device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        return Condition({"encoder_hidden_states": embeds})

    def relevance_layers(self) -> list[str]:
        return [name for name in self.attention_layers() if ".attn2." in name]

    def token_positions(self, prompt: str) -> list[tuple[str, list[int]]]:
        tokenizer = self.pipeline.tokenizer
        encoded = tokenizer(
            prompt,
            add_special_tokens=False,
            return_offsets_mapping=True,
            truncation=True,
            max_length=tokenizer.model_max_length - 2,
        )
        return word_token_positions(prompt, encoded["offset_mapping"], first=1)  # position 0 is BOS
