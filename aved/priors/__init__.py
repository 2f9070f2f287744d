"""Frozen diffusion priors: Stable Diffusion for frame grids, AudioLDM2 for log-mels."""

from aved.config import DEFAULT_AUDIO_MODEL, DEFAULT_VIDEO_MODEL
from aved.priors.audioldm2 import AudioLDM2Prior
from aved.priors.base import Condition, DiffusionPrior, v_to_eps
from aved.priors.stable_diffusion import StableDiffusionPrior

__all__ = [
    "DEFAULT_AUDIO_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "AudioLDM2Prior",
    "Condition",
    "DiffusionPrior",
    "StableDiffusionPrior",
    "v_to_eps",
]
