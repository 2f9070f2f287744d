"""The model-based metrics as pure functions of extracted features (numpy or torch in, float out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from aved.errors import AvedError

Array = np.ndarray | torch.Tensor

# Zero-shot prompts: CLIP's standard ImageNet template, and the usual CLAP counterpart.
IMAGE_TEMPLATE = "a photo of a {}"
AUDIO_TEMPLATE = "the sound of a {}"


def _rows(x: Array) -> torch.Tensor:
    """Features as a float64 [N, D] tensor (a single [D] vector becomes one row)."""
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu().double()
    return x.reshape(1, -1) if x.ndim == 1 else x


def cosine_matrix(a: Array, b: Array) -> torch.Tensor:
    """Cosine similarity of every row of `a` [N, D] with every row of `b` [M, D]: [N, M]."""
    a, b = _rows(a), _rows(b)
    a = torch.nn.functional.normalize(a, dim=-1)
    b = torch.nn.functional.normalize(b, dim=-1)
    return a @ b.T


def clip_t(text_feature: Array, image_features: Array) -> float:
    """CLIP-T: mean cosine between one prompt embedding and each frame embedding (Radford et al. 2021)."""
    return float(cosine_matrix(text_feature, image_features).mean())


def clap_score(text_feature: Array, audio_feature: Array) -> float:
    """CLAP score: cosine between a prompt embedding and an audio embedding (Wu et al. 2023)."""
    return float(cosine_matrix(text_feature, audio_feature).mean())


def dino_similarity(source_features: Array, edited_features: Array) -> float:
    """DINO structure score: mean cosine of the CLS tokens of matching source and edited frames (Caron et al. 2021)."""
    source, edited = _rows(source_features), _rows(edited_features)
    if source.shape != edited.shape:
        raise AvedError(
            f"DINO needs one source frame per edited frame, got {list(source.shape)} vs {list(edited.shape)}"
        )
    return float(torch.nn.functional.cosine_similarity(source, edited, dim=-1).mean())


def lpaps(source_layers: Sequence[Array], edited_layers: Sequence[Array], eps: float = 1e-10) -> float:
    """LPAPS: Σ_layers mean_positions ‖x̂_s − x̂_e‖² of channel-unit features [..., C, H, W] (LPIPS, Zhang et al. 2018).

    Unweighted (LPIPS's `lin=False`): each layer adds a value in [0, 4]; batch dimensions are averaged.
    """
    if len(source_layers) != len(edited_layers):
        raise AvedError(f"LPAPS needs the same layers on both sides, got {len(source_layers)} and {len(edited_layers)}")
    total = 0.0
    for s, e in zip(source_layers, edited_layers, strict=True):
        s, e = (torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).double() for x in (s, e))
        if s.shape != e.shape:
            raise AvedError(f"LPAPS layer shapes differ: {list(s.shape)} vs {list(e.shape)}")
        # LPIPS's normalize_tensor: x / (‖x‖ + eps), so all-zero features stay zero instead of dividing by zero.
        s = s / (s.norm(dim=-3, keepdim=True) + eps)
        e = e / (e.norm(dim=-3, keepdim=True) + eps)
        total += float((s - e).pow(2).sum(dim=-3).mean())
    return total


def match_frames(n_source: int, source_fps: float, n_edited: int, edited_fps: float) -> np.ndarray:
    """Index of the source frame shown at each edited frame's time k / edited_fps (nearest earlier, clamped)."""
    times = np.arange(n_edited) / float(edited_fps)
    # The epsilon keeps a frame whose time lands exactly on a source frame (e.g. 0.5 s at 24 fps) on that frame.
    index = np.floor(times * float(source_fps) + 1e-6).astype(np.int64)
    return np.clip(index, 0, n_source - 1)


def zero_shot_top1(query_features: Array, label_features: Array, categories: Sequence[str], target: str) -> float:
    """1.0 if the label with the highest cosine, averaged over the query rows (e.g. frames), is `target`, else 0.0."""
    if len(categories) != len(_rows(label_features)):
        raise AvedError(f"{len(categories)} categories but {len(_rows(label_features))} label embeddings")
    scores = cosine_matrix(query_features, label_features).mean(dim=0)
    return float(categories[int(scores.argmax())] == target)
