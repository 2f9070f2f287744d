"""Loading both priors from a ModelConfig: device (aved.devices) and dtype resolved once, here."""

from __future__ import annotations

import torch

from aved.config import ModelConfig
from aved.devices import resolve_device
from aved.priors.audioldm2 import AudioLDM2Prior
from aved.priors.stable_diffusion import StableDiffusionPrior


def load_video_prior(model: ModelConfig) -> StableDiffusionPrior:
    prior = StableDiffusionPrior.from_pretrained(model.video, getattr(torch, model.dtype), resolve_device(model.device))
    return prior.compile() if model.compile else prior


def load_audio_prior(model: ModelConfig) -> AudioLDM2Prior:
    prior = AudioLDM2Prior.from_pretrained(
        model.audio, getattr(torch, model.dtype), resolve_device(model.device), vocoder=model.vocoder
    )
    return prior.compile() if model.compile else prior
