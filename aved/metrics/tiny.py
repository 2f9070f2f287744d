"""Tiny, randomly initialised CLIP, CLAP and DINO models with their preprocessors, built fully in code.

They have the architectures of the metric checkpoints (CLIP ViT, CLAP with a 4-stage HTSAT, DINO ViT) at toy
sizes, so the metrics run through their real loading path with no network and no downloaded weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    ClapAudioConfig,
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    ClapTextConfig,
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTokenizer,
    CLIPVisionConfig,
    PreTrainedModel,
    RobertaTokenizer,
    ViTConfig,
    ViTModel,
)
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

from aved import folders
from aved.priors.builders import tiny_clip_tokenizer, tiny_roberta_tokenizer

IMAGE_SIZE = 32  # pixels; 4×4 patches of 8


def tiny_clip() -> tuple[CLIPModel, CLIPTokenizer, CLIPImageProcessorPil]:
    """A 2-layer CLIP (32-d text and vision towers, 16-d joint space) with its tokenizer and image processor."""
    tokenizer = tiny_clip_tokenizer()
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = CLIPVisionConfig(
        image_size=IMAGE_SIZE,
        patch_size=8,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
    )
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16))
    # CLIP's own preprocessing (bicubic shortest-edge resize, centre crop, CLIP mean/std) at the toy size.
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    return model.eval(), tokenizer, processor


def tiny_clap_metric_model() -> tuple[ClapModel, RobertaTokenizer, ClapFeatureExtractor]:
    """A CLAP with a 2-layer text tower and a 4-stage HTSAT (as the real one) at 16–128 channels."""
    tokenizer = tiny_roberta_tokenizer()
    text = ClapTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=37,
        num_attention_heads=2,
        num_hidden_layers=2,
        max_position_embeddings=80,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    audio = ClapAudioConfig(
        spec_size=256,
        window_size=8,
        num_mel_bins=64,
        patch_size=4,
        patch_stride=(4, 4),
        depths=(1, 1, 1, 1),
        num_attention_heads=(1, 2, 2, 4),
        patch_embeds_hidden_size=16,
        hidden_size=128,  # = patch_embeds_hidden_size · 2^(stages − 1), the width of the last stage
        intermediate_size=37,
        enable_fusion=False,
    )
    torch.manual_seed(0)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16))
    # The preprocessing of `laion/clap-htsat-unfused`: 48 kHz, 10 s window, repeat-padding, mel bands 50–14000 Hz.
    features = ClapFeatureExtractor(
        feature_size=64, sampling_rate=48000, frequency_min=50, frequency_max=14000, truncation="rand_trunc"
    )
    return model.eval(), tokenizer, features


def tiny_dino() -> tuple[ViTModel, ViTImageProcessorPil]:
    """A 2-layer, 32-d ViT (patch 8) without pooler, and a ViT image processor (resize, ImageNet mean/std)."""
    config = ViTConfig(
        image_size=IMAGE_SIZE,
        patch_size=8,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
    )
    torch.manual_seed(0)
    model = ViTModel(config, add_pooling_layer=False)
    processor = ViTImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    return model.eval(), processor


def _save(parts: tuple, target: Path) -> Path:
    """Save model and preprocessors as `target`, replacing it whole once complete."""
    with folders.replaced_folder(target) as stage:
        for part in parts:
            if isinstance(part, PreTrainedModel):
                part.save_pretrained(stage, safe_serialization=True)
            else:
                part.save_pretrained(stage)
    return target


def write_tiny_metric_models(directory: str | Path) -> dict[str, Path]:
    """Write tiny CLIP, CLAP and DINO folders to ``directory``/clip, /clap and /dino; returns them by name."""
    directory = Path(directory)
    return {
        "clip": _save(tiny_clip(), directory / "clip"),
        "clap": _save(tiny_clap_metric_model(), directory / "clap"),
        "dino": _save(tiny_dino(), directory / "dino"),
    }
