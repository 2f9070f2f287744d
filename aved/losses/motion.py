"""Motion: where each frame's latent changes into the next, held to the source's (ours, docs/design.md §2b).

The source's frame-to-frame change sits where its object moves, whatever the object looks like, so holding that map
holds the object's path and moments while leaving its appearance and a static background free to change."""

from __future__ import annotations

import torch

from aved.losses.timing import FLUX_EPS


def motion_map(frames: torch.Tensor) -> torch.Tensor:
    """Per-frame latents [F, C, h, w] → [F−1, h·w]: ‖z_{f+1} − z_f‖ over channels at each position, normalised to
    sum to one over the clip (where and when the change is, not how large: per frame pair it let a pair the source
    barely moves in change a lot, benchmarks/README.md "A motion term")."""
    step = (frames[1:].float() - frames[:-1].float()).pow(2).sum(1).add(FLUX_EPS).sqrt().flatten(1)
    return step / step.sum()


def motion_loss(frames: torch.Tensor, source_frames: torch.Tensor) -> torch.Tensor:
    """Σ_f ‖m_f − m_f^src‖²·(h·w) of the motion maps: exactly zero, gradient too, where the edit moves what the
    source moves (a difference, so rounding cannot leave a residue); × h·w so a map's size does not set its scale."""
    edited, source = motion_map(frames), motion_map(source_frames.detach())
    return (edited - source).pow(2).sum() * edited.shape[1]
