"""Frame sampling, square resizing, n×n grid packing, the latent-space grid shuffle and compositing an edit over its
source (docs/design.md §1, §2.2, §2b)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from aved.errors import AvedError

# Timestamps are rationals rounded to a time base; a frame stamped within this of a wanted time counts as on screen.
NEAREST_TOLERANCE = 1e-3
# Times are exact rationals turned into floats; this absorbs the rounding where they meet a window edge.
TIME_EPS = 1e-6


def sample_times(duration: float, fps: float, max_duration: float | None = None) -> np.ndarray:
    """Times k/fps of the frames to keep, k = 0..⌊min(duration, max_duration)·fps⌋−1 (at least one)."""
    if max_duration is not None:
        duration = min(duration, max_duration)
    count = max(1, int(np.floor(duration * fps + TIME_EPS)))
    return np.arange(count) / fps


def nearest_frames(times: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each wanted time: the last one whose timestamp is ≤ t (+ NEAREST_TOLERANCE)."""
    index = np.searchsorted(times, wanted + NEAREST_TOLERANCE, side="right") - 1
    return np.clip(index, 0, len(times) - 1)


def resize_center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Scale each [H, W, 3] frame so its shorter side is `size`, then crop the centre size×size square."""
    height, width = frames.shape[1:3]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        resized = cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
        out[i] = resized[top : top + size, left : left + size]
    return out


def composite_frames(edited: np.ndarray, source: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """[F, H, W, 3] uint8 frames and [F, H, W] α in [0, 1] → α·edited + (1 − α)·source, rounded (Porter & Duff 1984,
    "over")."""
    a = alpha.astype(np.float32)[..., None]
    mixed = a * edited.astype(np.float32) + (1 - a) * source.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def num_grids(num_frames: int, n: int) -> int:
    """Grids needed to hold `num_frames` frames at n×n cells each."""
    return -(-num_frames // (n * n))


def pack_grids(frames: torch.Tensor, n: int) -> torch.Tensor:
    """[F, C, s, s] → [G, C, n·s, n·s]; frame k goes to grid k // n², cell k % n² (row-major).

    The last grid is padded by repeating the last frame.
    """
    count, channels, height, width = frames.shape
    if n < 1:
        raise AvedError(f"grid size must be at least 1, got {n}")
    per_grid = n * n
    pad = num_grids(count, n) * per_grid - count
    if pad:
        frames = torch.cat([frames, frames[-1:].expand(pad, -1, -1, -1)])
    grids = frames.reshape(-1, n, n, channels, height, width)
    return grids.permute(0, 3, 1, 4, 2, 5).reshape(-1, channels, n * height, n * width)


def unpack_grids(grids: torch.Tensor, n: int, num_frames: int) -> torch.Tensor:
    """Exact inverse of `pack_grids`: [G, C, n·s, n·s] → [num_frames, C, s, s]."""
    count, channels, height, width = grids.shape
    if height % n or width % n:
        raise ValueError(f"grid of {height}×{width} does not split into {n}×{n} cells")
    tiles = grids.reshape(count, channels, n, height // n, n, width // n).permute(0, 2, 4, 1, 3, 5)
    return tiles.reshape(count * n * n, channels, height // n, width // n)[:num_frames]


def shuffle_permutation(num_frames: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """A permutation of all G·n² cells that moves the F frame cells among themselves; padding cells stay."""
    total = num_grids(num_frames, n) * n * n
    device = generator.device
    perm = torch.arange(total, device=device)
    perm[:num_frames] = torch.randperm(num_frames, generator=generator, device=device)
    return perm


def invert_permutation(perm: torch.Tensor) -> torch.Tensor:
    """The permutation q with q[perm] = arange, so that x[perm][q] = x."""
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(len(perm), device=perm.device)
    return inverse


def permute_cells(grids: torch.Tensor, n: int, perm: torch.Tensor) -> torch.Tensor:
    """Rearrange the cells of a batch of grids (image or latent): new cell i holds old cell perm[i]."""
    tiles = unpack_grids(grids, n, grids.shape[0] * n * n)
    return pack_grids(tiles[perm], n)
