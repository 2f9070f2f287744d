"""The one place a device name is read: the priors (aved.priors.load) and the metric models (aved.metrics) both ask."""

from __future__ import annotations

import torch

from aved.errors import AvedError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' → CUDA when present, else the CPU; any other name as torch reads it ('cpu', 'cuda:1', …). A CUDA
    device where there is none, or a name torch does not know, is a one-line AvedError."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise AvedError(f"device '{name}': not a device name (auto, cpu, cuda, cuda:N, mps, xpu)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise AvedError(f"device '{name}': no CUDA device is available here")
    return resolved
