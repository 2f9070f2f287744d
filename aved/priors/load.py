"""Loading both priors from a ModelConfig: device and dtype resolved once, here."""

from __future__ import annotations

import torch

from aved.config import ModelConfig
from aved.errors import AvedError
from aved.priors.audioldm2 import AudioLDM2Prior
from aved.priors.stable_diffusion import StableDiffusionPrior


def resolve_device(name: str) -> str:
    """'auto' → cuda when present, else cpu; refuse a CUDA device that is not there."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AvedError(f"device '{name}': no CUDA device is available here")
    return name


def load_video_prior(model: ModelConfig) -> StableDiffusionPrior:
    prior = StableDiffusionPrior.from_pretrained(model.video, getattr(torch, model.dtype), resolve_device(model.device))
    return prior.compile() if model.compile else prior


def load_audio_prior(model: ModelConfig) -> AudioLDM2Prior:
    prior = AudioLDM2Prior.from_pretrained(
        model.audio, getattr(torch, model.dtype), resolve_device(model.device), vocoder=model.vocoder
    )
    return prior.compile() if model.compile else prior
