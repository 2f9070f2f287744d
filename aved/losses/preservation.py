"""Preservation: what the edit words do not name stays. v2, a latent anchor weighted by 1 − relevance; v1, PatchNCE
between target and source features at irrelevant positions (CDS, Nam et al. 2024)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def anchor_loss(z: torch.Tensor, z_src: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """½ Σ w·(z − z_src)² with w = `keep` [B, h, w] in [0, 1] per position: zero, with zero gradient, at the source."""
    return 0.5 * (keep[:, None] * (z - z_src.detach()).pow(2)).sum()


def patch_nce(query: torch.Tensor, positive: torch.Tensor, temperature: float) -> torch.Tensor:
    """−log softmax(q_i·k_i/T) over k_j of the other sampled positions, L2-normalised (Park et al. 2020, eq. 2)."""
    q, k = F.normalize(query.float(), dim=-1), F.normalize(positive.float(), dim=-1)
    logits = q @ k.transpose(0, 1) / temperature
    return F.cross_entropy(logits, torch.arange(len(q), device=q.device))


def sample_positions(mask: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Up to `count` distinct indices where the flat boolean `mask` is true, drawn uniformly."""
    candidates = mask.flatten().nonzero().squeeze(1)
    if len(candidates) <= count:
        return candidates
    order = torch.randperm(len(candidates), generator=generator, device=generator.device)
    return candidates[order[:count].to(candidates.device)]


def pool_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[B, h, w] boolean → [B, *size]: true where most of the covered area is true."""
    return F.adaptive_avg_pool2d(mask[:, None].float(), size)[:, 0] > 0.5


def preservation_loss(
    trg_features: list[torch.Tensor],
    src_features: list[torch.Tensor],
    keep: torch.Tensor,
    generator: torch.Generator,
    patch_sizes: tuple[int, ...] = (1, 2),
    num_patches: int = 256,
    temperature: float = 0.07,
) -> torch.Tensor:
    """Σ over layers and patch sizes of PatchNCE at ≤ num_patches sampled `keep` positions
    (docs/design.md §2.6, L_pres).

    Features are [B, C, h_l, w_l] per layer; `keep` is the [B, h, w] irrelevant mask at latent resolution.
    """
    total = trg_features[0].new_zeros(())
    for trg, src in zip(trg_features, src_features, strict=True):
        for p in patch_sizes:
            if min(trg.shape[-2:]) < p:
                continue
            t, s = (F.avg_pool2d(x, p) if p > 1 else x for x in (trg, src))
            mask = pool_mask(keep, t.shape[-2:])
            index = sample_positions(mask, num_patches, generator)
            if len(index) < 2:
                continue
            flat_t = t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])
            flat_s = s.permute(0, 2, 3, 1).reshape(-1, s.shape[1])
            total = total + patch_nce(flat_t[index], flat_s[index].detach(), temperature)
    return total
