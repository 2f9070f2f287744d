"""Overlapping windows over a long time axis (docs/design.md §6): a sound longer than the audio prior's window is
one long mel / latent that the prior sees as windows of its own length, all at once; whatever the windows return is
merged back with weights that cross-fade linearly over each overlap and sum to one at every frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WindowLayout:
    """Windows of `length` frames starting at `starts`, covering `total` frames (the last one ends at `total`)."""

    total: int
    length: int
    starts: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.starts)

    def stretched(self, factor: int) -> WindowLayout:
        """The same windows on an axis `factor` times longer (latent frames → mel frames)."""
        return WindowLayout(self.total * factor, self.length * factor, tuple(s * factor for s in self.starts))

    def boundaries(self) -> list[int]:
        """Where one window ends and the next takes over: the middle of each overlap, in frames."""
        return [(self.starts[i] + self.length + self.starts[i + 1]) // 2 for i in range(self.count - 1)]


def window_layout(total: int, length: int, overlap: float, step: int = 1) -> WindowLayout:
    """Evenly spread windows of `length` frames over `total` ≥ `length` frames, each overlapping the next by at
    least `overlap`·length frames, starts on multiples of `step` (a VAE's factor: windows on whole latent cells)."""
    if total < length:
        raise ValueError(f"{total} frames are fewer than one window of {length}")
    if total % step or length % step:
        raise ValueError(f"{total} and {length} frames must be multiples of {step}")
    if total == length:
        return WindowLayout(total, length, (0,))
    hop = max(step, int(length * (1 - overlap)) // step * step)
    count = math.ceil((total - length) / hop) + 1
    last = (total - length) // step
    starts = tuple(round(i * last / (count - 1)) * step for i in range(count))  # even, on the step grid
    return WindowLayout(total, length, starts)


def window_weights(layout: WindowLayout) -> torch.Tensor:
    """[W, length]: each window's weight per frame, a linear cross-fade over every overlap; Σ over windows = 1."""
    weights = torch.zeros(layout.count, layout.total, dtype=torch.float64)
    for i, start in enumerate(layout.starts):
        ramp = torch.ones(layout.length, dtype=torch.float64)
        if i > 0:  # fade in over the overlap with the previous window
            overlap = layout.starts[i - 1] + layout.length - start
            if overlap > 0:
                ramp[:overlap] = torch.linspace(0, 1, overlap + 2, dtype=torch.float64)[1:-1]
        if i < layout.count - 1:  # fade out over the overlap with the next
            overlap = start + layout.length - layout.starts[i + 1]
            if overlap > 0:
                ramp[-overlap:] = torch.minimum(
                    ramp[-overlap:], torch.linspace(1, 0, overlap + 2, dtype=torch.float64)[1:-1]
                )
        weights[i, start : start + layout.length] = ramp
    weights = weights / weights.sum(0, keepdim=True)
    return torch.stack([weights[i, s : s + layout.length] for i, s in enumerate(layout.starts)]).float()


def split_windows(x: torch.Tensor, layout: WindowLayout, axis: int = -2) -> torch.Tensor:
    """[1, …, total, …] → [W, …, length, …]: the windows, cut along `axis` (views joined; autograd flows back)."""
    return torch.cat([x.narrow(axis, start, layout.length) for start in layout.starts])


def merge_windows(windows: torch.Tensor, layout: WindowLayout, axis: int = -2) -> torch.Tensor:
    """[W, …, length, …] → [1, …, total, …]: Σ_i w_i·window_i placed at its start (the weights of window_weights)."""
    axis = axis % windows.ndim
    weights = window_weights(layout).to(windows.device, windows.dtype)
    shape = [1] * windows.ndim
    shape[axis] = layout.length
    size = list(windows.shape)
    size[0], size[axis] = 1, layout.total
    out = windows.new_zeros(size)
    for i, start in enumerate(layout.starts):
        piece = windows[i : i + 1] * weights[i].view(shape)
        index = [slice(None)] * windows.ndim
        index[axis] = slice(start, start + layout.length)
        out[tuple(index)] = out[tuple(index)] + piece
    return out
