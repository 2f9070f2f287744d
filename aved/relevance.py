"""Relevance: which latent positions are the edit's to change — from where the prompts' noise predictions differ
(`delta`, v2's default), or from the edit words' cross-attention S, thresholded (docs/design.md §2.4)."""

from __future__ import annotations

import difflib
import math

import numpy as np
import torch
import torch.nn.functional as F

from aved.media.windows import WindowLayout, merge_windows, split_windows

STOPWORDS = frozenset(
    "a an the of in on at to with and or is are was were be by for from into onto over under as its it this that "
    "these those his her their there some while".split()
)


def edit_words(words: list[str], other: list[str]) -> set[str]:
    """Content words of a prompt that the other prompt lacks (all its content words when they share none)."""
    return {w for w in words if w not in STOPWORDS and w not in set(other)}


def single_edits(source: str, target: str) -> list[str]:
    """The source prompt with each of the target's word-level changes made alone (difflib opcodes over whitespace
    words), in order; `[target]` when it makes at most one."""
    a, b = source.split(), target.split()
    changes = [op for op in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(changes) <= 1:
        return [target]
    return [" ".join(a[:i1] + b[j1:j2] + a[i2:]) for _, i1, i2, j1, j2 in changes]


def edit_token_positions(spans: list[tuple[str, list[int]]], other_spans: list[tuple[str, list[int]]]) -> list[int]:
    """Key positions of the edit words' tokens, from (word, positions) spans of both prompts."""
    wanted = edit_words([w for w, _ in spans], [w for w, _ in other_spans])
    return sorted({p for w, positions in spans if w in wanted for p in positions})


def layer_shape(queries: int, size: tuple[int, int]) -> tuple[int, int]:
    """The (h_l, w_l) of a layer with `queries` positions over a latent of `size`, downsampled by a power of 2."""
    factor = math.isqrt(size[0] * size[1] // queries)
    if factor * factor * queries != size[0] * size[1]:
        raise ValueError(f"{queries} queries do not tile a {size} latent")
    return size[0] // factor, size[1] // factor


def normalize_cells(maps: torch.Tensor, n: int) -> torch.Tensor:
    """Min–max normalise each of the n×n cells of every [B, h, w] map to [0, 1] (a flat cell becomes 0)."""
    b, h, w = maps.shape
    tiles = maps.reshape(b, n, h // n, n, w // n).permute(0, 1, 3, 2, 4).reshape(b, n * n, -1)
    low, high = tiles.min(-1, keepdim=True).values, tiles.max(-1, keepdim=True).values
    tiles = torch.where(high > low, (tiles - low) / (high - low).clamp_min(1e-12), torch.zeros_like(tiles))
    return tiles.reshape(b, n, n, h // n, w // n).permute(0, 1, 3, 2, 4).reshape(b, h, w)


def relevance_map(
    probs_by_layer: list[torch.Tensor],
    positions: list[int],
    size: tuple[int, int],
    grid: int,
    batch: int,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """S: attention mass on `positions`, resized to `size`, normalised per cell, averaged over layers → [B, h, w]."""
    if not positions or not probs_by_layer:
        return torch.zeros(batch, *size, device=device)
    maps = []
    for probs in probs_by_layer:
        mass = probs[..., positions].sum(-1).float()
        h, w = layer_shape(mass.shape[1], size)
        resized = F.interpolate(mass.view(batch, 1, h, w), size=size, mode="bilinear", align_corners=False)
        maps.append(normalize_cells(resized[:, 0], grid))
    return torch.stack(maps).mean(0)


def delta_scores(delta_magnitude: torch.Tensor, grid: int, reach: int) -> torch.Tensor:
    """[B, C, h, w] mean |δ| over steps → [B, h, w]: its channel mean averaged over a (2·reach+1)² window, per cell
    min–max normalised (what `delta_relevance` thresholds)."""
    magnitude = delta_magnitude.float().mean(1, keepdim=True)
    if reach:
        magnitude = F.avg_pool2d(magnitude, 2 * reach + 1, stride=1, padding=reach, count_include_pad=True)
    return normalize_cells(magnitude[:, 0], grid)


def delta_relevance(
    delta_magnitude: torch.Tensor,
    grid: int,
    tau: float,
    reach: int,
    regions: torch.Tensor | None = None,
    tau_regions: float = 0.5,
) -> torch.Tensor:
    """[B, C, h, w] mean |δ| over steps → [B, h, w] in [0, 1]: where the two prompts' predictions differ (DiffEdit,
    Couairon et al. 2023, §3.2), averaged over a (2·reach+1)² window, per cell min–max normalised, fully relevant
    from τ up, wholly relevant over each of the `regions` labels' regions that `region_relevance` marks at
    `tau_regions`, and widened by `reach` positions each way so an edited object may change its outline."""
    window = 2 * reach + 1
    scores = delta_scores(delta_magnitude, grid, reach)
    soft = (scores / tau).clamp(max=1.0) if tau > 0 else torch.ones_like(scores)
    if regions is not None:
        soft = torch.maximum(soft, region_relevance(scores, regions, tau_regions))
    return F.max_pool2d(soft[:, None], window, stride=1, padding=reach)[:, 0] if reach else soft


def latent_regions(z: torch.Tensor, count: int, iterations: int = 10) -> torch.Tensor:
    """[B, C, h, w] → [B, h, w] labels of `count` k-means regions of each map's position vectors (Lloyd 1982), seeded
    deterministically by farthest points from the map's mean."""
    b, _, h, w = z.shape
    points = z.float().flatten(2).transpose(1, 2)  # [B, N, C]
    labels = []
    for x in points:
        centres = [x[(x - x.mean(0)).norm(dim=1).argmax()]]
        while len(centres) < count:
            centres.append(x[torch.cdist(x, torch.stack(centres)).min(1).values.argmax()])
        centres = torch.stack(centres)
        for _ in range(iterations):
            label = torch.cdist(x, centres).argmin(1)
            for k in range(count):
                if (label == k).any():
                    centres[k] = x[label == k].mean(0)
        labels.append(torch.cdist(x, centres).argmin(1))
    return torch.stack(labels).view(b, h, w)


def region_ratios(scores: torch.Tensor, labels: torch.Tensor) -> list[tuple[list[torch.Tensor], torch.Tensor]]:
    """[B, h, w] scores and region labels → per map, its regions' masks and each region's mean score over the highest
    region mean (0 for a map without any score): the quantity `region_relevance` holds to its τ."""
    out = []
    for i in range(scores.shape[0]):
        regions = [labels[i] == k for k in labels[i].unique()]
        means = torch.stack([scores[i][r].mean() for r in regions])
        top = means.max()
        out.append((regions, means / top if top > 0 else torch.zeros_like(means)))
    return out


def region_relevance(scores: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """[B, h, w] scores and region labels → 1 over each region whose mean score reaches τ of the highest region mean
    of its map (the delta relevance's rule on region means), else 0; a map without any score marks nothing."""
    out = torch.zeros_like(scores)
    for i, (regions, ratios) in enumerate(region_ratios(scores, labels)):
        if ratios.max() <= 0:
            continue
        for region, ratio in zip(regions, ratios, strict=True):
            out[i][region] = float(ratio >= tau)
    return out


def windowed_delta_relevance(magnitude: torch.Tensor, layout: WindowLayout, tau: float, reach: int) -> torch.Tensor:
    """[1, C, T, M] mean |δ| of a long sound → [1, T, M]: the delta relevance of each of the audio prior's windows
    (normalised within the window, as the prior sees it alone), cross-faded over the overlaps (aved.media.windows)."""
    return merge_windows(delta_relevance(split_windows(magnitude, layout), 1, tau, reach), layout)


def otsu_threshold(values: torch.Tensor, bins: int = 256) -> float:
    """The threshold that maximises the between-class variance of a histogram of `values` (Otsu 1979, eq. 18)."""
    values = values.flatten().float()
    low, high = values.min().item(), values.max().item()
    if high <= low:
        return high
    hist = torch.histc(values, bins=bins, min=low, max=high)
    centres = low + (torch.arange(bins, dtype=torch.float32) + 0.5) * (high - low) / bins
    weight0 = hist.cumsum(0)
    weight1 = hist.sum() - weight0
    mean0 = (hist * centres).cumsum(0) / weight0.clamp_min(1e-12)
    mean1 = ((hist * centres).sum() - (hist * centres).cumsum(0)) / weight1.clamp_min(1e-12)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    # Every threshold inside an empty gap between the modes scores the same: take the plateau's middle.
    plateau = (between >= between.max() * (1 - 1e-6)).nonzero().squeeze(1)
    best = (plateau[0] + plateau[-1]).item() / 2
    return float(low + (best + 1) * (high - low) / bins)


def relevance_mask(scores: torch.Tensor, method: str, tau: float) -> torch.Tensor:
    """Relevant ⇔ S > τ (`fixed`) or S > Otsu's threshold of S (`otsu`)."""
    if method == "fixed":
        return scores > tau
    if method == "otsu":
        return scores > otsu_threshold(scores)
    raise ValueError(f"unknown relevance method '{method}' (fixed or otsu)")


def composite_alpha(
    relevance: torch.Tensor, edited: np.ndarray, decoded_source: np.ndarray, scale: float
) -> np.ndarray:
    """[F, h, w] relevance and [F, H, W, 3] uint8 decodes of the edit and of the source's latent → [F, H, W] α =
    max(r↑, min(1, |edited − decoded source| / scale)), the change as a fraction of full range in the largest channel:
    a relevant pixel, or one the edit moved by `scale`, is the edit's; the rest is the source's in proportion to how
    little the edit moved it. Against the source's own decode, so the codec's loss alone never counts as a change."""
    size = edited.shape[1:3]
    up = F.interpolate(relevance[:, None].float().cpu(), size=size, mode="bilinear", align_corners=False)[:, 0]
    change = np.abs(edited.astype(np.float32) - decoded_source.astype(np.float32)).max(-1) / 255.0
    return np.maximum(up.clamp(0, 1).numpy(), np.minimum(1.0, change / scale))


def shuffle_positions(values: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same values at uniformly permuted positions (the random-relevance ablation: same mass, no place)."""
    order = torch.randperm(values.numel(), generator=generator, device=generator.device)
    return values.flatten()[order.to(values.device)].view_as(values)
