"""Cross-modal synchronisation: InfoNCE between the temporal self-similarity of video and audio features (ours)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def self_similarity(segments: torch.Tensor) -> torch.Tensor:
    """[K, C] segment features → [K, K] cosine self-similarity of the features minus their mean over time.

    Pooled diffusion features of neighbouring frames are nearly parallel (cosine ≈ 1 everywhere), which would
    leave every row alike and the InfoNCE flat; removing the static part keeps what changes over time.
    """
    x = segments.float()
    x = F.normalize(x - x.mean(dim=0, keepdim=True), dim=-1)
    return x @ x.transpose(0, 1)


def sync_infonce(d_video: torch.Tensor, d_audio: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE on rows: d_v[k] ↔ d_a[k] positive, d_a[j≠k] negative (Oord et al. 2018, eq. 4)."""
    a, b = F.normalize(d_video, dim=-1), F.normalize(d_audio, dim=-1)
    logits = a @ b.transpose(0, 1) / temperature
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.transpose(0, 1), labels))


def masked_mean(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[K, C, N] features, [K, N] 0/1 weights → [K, C] weighted means; all-zero rows fall back to the plain mean."""
    weights = weights.float()
    empty = weights.sum(-1, keepdim=True) == 0
    weights = torch.where(empty, torch.ones_like(weights), weights)
    return (features * weights[:, None]).sum(-1) / weights.sum(-1)[:, None]


def segment_rows(num_rows: int, row_seconds: float, num_segments: int, fps: float) -> list[torch.Tensor]:
    """For each segment k = [k/fps, (k+1)/fps), the time rows whose centre falls in it (else the nearest row)."""
    centres = (torch.arange(num_rows) + 0.5) * row_seconds
    rows = []
    for k in range(num_segments):
        inside = ((centres >= k / fps) & (centres < (k + 1) / fps)).nonzero().squeeze(1)
        if len(inside) == 0:
            inside = (centres - (k + 0.5) / fps).abs().argmin().view(1)
        rows.append(inside)
    return rows


def video_segments(features: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """[F, C, h, w] per-frame features, [F, h, w] relevant mask → [F, C] pooled over each frame's relevant cells."""
    return masked_mean(features.flatten(2), relevant.flatten(1))


def audio_segments(
    features: torch.Tensor, relevant: torch.Tensor, seconds: float, num_segments: int, fps: float
) -> torch.Tensor:
    """[C, T, M] audio features over `seconds`, [T, M] mask → [K, C] pooled over each segment's relevant cells."""
    rows = segment_rows(features.shape[1], seconds / features.shape[1], num_segments, fps)
    pooled = [masked_mean(features[:, r].flatten(1)[None], relevant[r].flatten()[None])[0] for r in rows]
    return torch.stack(pooled)


def sync_loss(
    video_segments_by_layer: list[torch.Tensor],
    audio_segments_by_layer: list[torch.Tensor],
    temperature: float = 0.1,
) -> torch.Tensor:
    """L_sync: InfoNCE between the layer-averaged K×K self-similarities of the two modalities (docs/design.md §2.6)."""
    d_video = torch.stack([self_similarity(s) for s in video_segments_by_layer]).mean(0)
    d_audio = torch.stack([self_similarity(s) for s in audio_segments_by_layer]).mean(0)
    return sync_infonce(d_video, d_audio, temperature)
