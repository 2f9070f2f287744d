"""Reading a UNet's attention through diffusers attention processors: probabilities and post-`to_out` outputs."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

_SUFFIX = ".processor"


@dataclass
class AttentionStore:
    """What the capturing processors recorded during the last UNet call(s), keyed by processor name."""

    probs: dict[str, torch.Tensor] = field(default_factory=dict)  # [B, queries, keys], mean over heads, detached
    features: dict[str, torch.Tensor] = field(default_factory=dict)  # [B, queries, channels], keeps its graph
    record_features: bool = True  # off for calls whose features nobody reads, without swapping processors

    def take(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Hand over and forget what was recorded."""
        probs, features = self.probs, self.features
        self.probs, self.features = {}, {}
        return probs, features


class CaptureAttnProcessor:
    """Standard attention that also records, into `store`, the softmax(QKᵀ/√d) probabilities and/or the output."""

    def __init__(self, store: AttentionStore, name: str, record_probs: bool, record_features: bool):
        self.store, self.name = store, name
        self.record_probs, self.record_features = record_probs, record_features

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        batch, keys_len, _ = hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, keys_len, batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key, value = attn.to_k(encoder_hidden_states), attn.to_v(encoder_hidden_states)
        head_dim = key.shape[-1] // attn.heads
        query, key, value = (x.view(batch, -1, attn.heads, head_dim).transpose(1, 2) for x in (query, key, value))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        if self.record_probs:
            scores = (query.float() @ key.float().transpose(-1, -2)) * attn.scale
            if attention_mask is not None:
                scores = scores + attention_mask.float()
            probs = scores.softmax(dim=-1)
            self.store.probs[self.name] = probs.mean(dim=1).detach()
            hidden_states = (probs.to(value.dtype) @ value).to(query.dtype)
        else:
            hidden_states = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask)

        hidden_states = hidden_states.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if self.record_features and self.store.record_features:
            self.store.features[self.name] = hidden_states
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch, channels, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def select_layers(names: list[str], patterns: list[str] | str) -> list[str]:
    """Processor names matching any glob pattern (matched without the '.processor' suffix; * spans dots)."""
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return [n for n in names if any(fnmatch.fnmatchcase(n.removesuffix(_SUFFIX), p) for p in patterns)]


@contextmanager
def capture_attention(
    unet: torch.nn.Module, store: AttentionStore, prob_layers: list[str], feature_layers: list[str]
) -> Iterator[AttentionStore]:
    """Install capturing processors on the named layers only; restore every original processor on exit.

    Installing walks every module of the UNet (milliseconds), so callers hold this open across many UNet calls.
    """
    if not prob_layers and not feature_layers:
        yield store
        return
    original = unet.attn_processors
    unknown = (set(prob_layers) | set(feature_layers)) - set(original)
    if unknown:
        raise KeyError(f"no attention layers named {sorted(unknown)[:3]}")
    processors = dict(original)
    for name in set(prob_layers) | set(feature_layers):
        processors[name] = CaptureAttnProcessor(store, name, name in prob_layers, name in feature_layers)
    unet.set_attn_processor(processors)
    try:
        yield store
    finally:
        unet.set_attn_processor(dict(original))
