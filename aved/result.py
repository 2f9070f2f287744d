"""What an edit returns, whichever engine made it; and the check that its latents stayed usable."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from aved.codec import PreparedClip

_MODALITY_NAMES = {"v": "video latents", "a": "audio latents"}


@dataclass
class EditResult:
    """What an edit produced; the library writes none of it to disk."""

    source: PreparedClip
    frames: np.ndarray  # [F, s, s, 3] uint8
    audio: np.ndarray  # [N] float32
    sample_rate: int
    fps: float
    z_video: torch.Tensor | None
    z_audio: torch.Tensor | None
    history: dict[str, list[float]] = field(default_factory=dict)
    decoded_frames: np.ndarray | None = None  # the frames before compositing (preservation.composite); None: none ran
    relevance_video: np.ndarray | None = None  # [F, h, w] in [0, 1], mean over steps, latent resolution
    relevance_audio: np.ndarray | None = None  # [T, M] in [0, 1], mean over steps, latent resolution
    models: dict[str, dict[str, str | None]] = field(default_factory=dict)  # "video" → {"id", "revision"}

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps


def diverged(latents: dict[str, torch.Tensor], bounds: dict[str, float]) -> list[str]:
    """The modalities ("v", "a" → their names) whose latent is non-finite or larger in magnitude than its bound."""
    return [
        _MODALITY_NAMES[m]
        for m, z in latents.items()
        if not bool(torch.isfinite(z).all()) or float(z.detach().abs().max()) > bounds[m]
    ]
