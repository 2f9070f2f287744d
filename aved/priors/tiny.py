"""Tiny, randomly initialised but complete Stable Diffusion and AudioLDM2 pipelines built fully in code.

Everything here (weights, configs and tokenizers) is created in memory and deterministic, so tests and
smoke runs need neither network access nor downloaded checkpoints. Test-sized only: runtime code does not import
this module (the parts it shares with the ToyWorld priors are in aved/priors/builders.py).
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AudioLDM2Pipeline,
    AudioLDM2UNet2DConditionModel,
    AutoencoderKL,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import (
    ClapFeatureExtractor,
    SpeechT5HifiGan,
    SpeechT5HifiGanConfig,
)

from aved import folders
from aved.priors.builders import (
    audioldm2_scheduler,
    sd_scheduler,
    tiny_clap_text_encoder,
    tiny_clip_text_encoder,
    tiny_clip_tokenizer,
    tiny_gpt2,
    tiny_projection,
    tiny_roberta_tokenizer,
    tiny_t5_encoder,
    tiny_t5_tokenizer,
)


def tiny_sd_unet() -> UNet2DConditionModel:
    """Build a two-level SD-2.1 style UNet; attention only at the coarse level keeps CPU edits fast."""
    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=64,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        use_linear_projection=True,
    ).eval()


def tiny_sd_vae() -> AutoencoderKL:
    """Build a four-level image VAE (spatial factor 8, 4 latent channels) that is cheap at 512x512."""
    torch.manual_seed(0)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=4,
        sample_size=64,
        scaling_factor=0.18215,
    ).eval()


def tiny_stable_diffusion(prediction_type: str = "epsilon") -> StableDiffusionPipeline:
    """Build a complete tiny SD-2.1 style pipeline (no safety checker) with random weights."""
    tokenizer = tiny_clip_tokenizer()
    return StableDiffusionPipeline(
        vae=tiny_sd_vae(),
        text_encoder=tiny_clip_text_encoder(tokenizer),
        tokenizer=tokenizer,
        unet=tiny_sd_unet(),
        scheduler=sd_scheduler(prediction_type),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def tiny_audioldm2_unet() -> AudioLDM2UNet2DConditionModel:
    """Build a two-level AudioLDM2 UNet attending to GPT-2 (16-d) and T5 (32-d) streams."""
    torch.manual_seed(0)
    return AudioLDM2UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=256,
        in_channels=8,
        out_channels=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
    ).eval()


def tiny_audioldm2_vae() -> AutoencoderKL:
    """Build a three-level mel VAE (factor 4, 8 latent channels): [1,1,1024,64] -> [1,8,256,16]."""
    torch.manual_seed(0)
    return AutoencoderKL(
        in_channels=1,
        out_channels=1,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(8, 16, 16),
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=8,
        sample_size=1024,
        scaling_factor=0.9228,
    ).eval()


def tiny_vocoder() -> SpeechT5HifiGan:
    """Build a tiny HiFi-GAN mapping 64 mel bins to 16 kHz audio, 160 samples per frame."""
    torch.manual_seed(0)
    config = SpeechT5HifiGanConfig(
        model_in_dim=64,
        sampling_rate=16000,
        upsample_initial_channel=16,
        upsample_rates=[4, 4, 10],
        upsample_kernel_sizes=[8, 8, 20],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        normalize_before=False,
    )
    return SpeechT5HifiGan(config).eval()


def tiny_audioldm2() -> AudioLDM2Pipeline:
    """Build a complete tiny AudioLDM2 pipeline (CLAP + T5 + GPT-2 conditioning) with random weights."""
    tokenizer = tiny_roberta_tokenizer()
    tokenizer_2 = tiny_t5_tokenizer()
    return AudioLDM2Pipeline(
        vae=tiny_audioldm2_vae(),
        text_encoder=tiny_clap_text_encoder(tokenizer),
        text_encoder_2=tiny_t5_encoder(tokenizer_2),
        projection_model=tiny_projection(),
        language_model=tiny_gpt2(),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        feature_extractor=ClapFeatureExtractor(),
        unet=tiny_audioldm2_unet(),
        scheduler=audioldm2_scheduler(),
        vocoder=tiny_vocoder(),
    )


def _save(pipeline: StableDiffusionPipeline | AudioLDM2Pipeline, target: Path) -> Path:
    """Save a pipeline as `target`, replacing it whole once complete."""
    with folders.replaced_folder(target) as stage:
        pipeline.save_pretrained(stage, safe_serialization=True)
    return target


def write_tiny_models(directory: str | Path, prediction_type: str = "epsilon") -> dict[str, Path]:
    """Write the tiny SD and AudioLDM2 pipelines to ``directory``/sd and ``directory``/audioldm2."""
    directory = Path(directory)
    return {
        "sd": _save(tiny_stable_diffusion(prediction_type), directory / "sd"),
        "audioldm2": _save(tiny_audioldm2(), directory / "audioldm2"),
    }
