"""The ToyWorld priors' architectures: the real pipelines' classes, sized for 64 px frames and 2 s of sound on a CPU.

The video prior is a StableDiffusionPipeline over 2×2 grids of 64 px frames (factor-4 VAE → 32×32 latents); the
sound prior is an AudioLDM2Pipeline over 2.08 s log-mels (factor-8 VAE with 16 channels → 26×8 latents) with its
own small HiFi-GAN vocoder (`SpeechT5HifiGan`, AudioLDM2's vocoder class) trained on ToyWorld mels; Griffin-Lim
stays available (`model.vocoder=griffin-lim`). The sizes are what lets the
full ToyWorld benchmark run in 2 hours on 2 CPU cores (benchmarks/README.md): the frame UNet is narrow where the
latent is large and attends with 32-dim heads; the sound VAE's factor 8 with 16 channels keeps factor 4 with 4
channels' numbers per bin but leaves its UNet a quarter of the positions (at factor 8 the frame VAE loses the
objects' shapes). Both text encoders know every caption word as one token, so relevance reads one key per word.
Only the UNets, the VAEs, the text encoders the UNets read and the vocoder are trained; the sound prior's CLAP,
projection and GPT-2 stay at their seeded random initialisation (they only feed the GPT-2 stream).
"""

from __future__ import annotations

import math

import torch
from diffusers import (
    AudioLDM2Pipeline,
    AudioLDM2UNet2DConditionModel,
    AutoencoderKL,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import ClapFeatureExtractor, SpeechT5HifiGan, SpeechT5HifiGanConfig

from aved.config import EditConfig, MediaConfig, MelConfig, apply_preset
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
from aved.toyworld.scene import BACKGROUND_PHRASES, COLOURS, KINDS

TEXT_LENGTH = 16  # tokens; the longest caption is 8 words + specials
GPT2_NEW_TOKENS = 8
# HiFi-GAN's init std; transformers' 0.01 leaves the output ≈ 0, where the spectral losses' log has no slope
VOCODER_INIT_STD = 0.05


def media_config() -> MediaConfig:
    """How the engine reads a ToyWorld clip: the `toyworld` preset's media settings."""
    return apply_preset(EditConfig(), "toyworld").media


def vocabulary() -> tuple[str, ...]:
    """Every word a ToyWorld caption can use, each one token in both tokenizers; longest first.

    BPE applies the earliest-listed merge first, so a short word's merges listed first would split longer words
    that contain it ("an" would cut "cyan" into "cy" + "an").
    """
    words = ["a", "an", "bouncing", *COLOURS, *KINDS]
    for phrase in BACKGROUND_PHRASES.values():
        words += phrase.split()
    return tuple(sorted(dict.fromkeys(words), key=len, reverse=True))


def video_unet() -> UNet2DConditionModel:
    """Three levels (32², 16², 8² on a grid's latent); cross-attention at 16² and 8² with 32-dim heads."""
    return UNet2DConditionModel(
        block_out_channels=(16, 32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(1, 1, 2),  # diffusers' name for the number of heads
        use_linear_projection=True,
        norm_num_groups=16,
    )


def video_vae() -> AutoencoderKL:
    """Factor-4, purely convolutional (no mid attention, so a grid encodes like its cells), 4 latent channels."""
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 64),
        layers_per_block=1,
        norm_num_groups=16,
        latent_channels=4,
        sample_size=128,
        mid_block_add_attention=False,
    )


def audio_unet() -> AudioLDM2UNet2DConditionModel:
    """Two levels (26×8, 13×4); the coarse level attends to the GPT-2 (16-d) and T5 (32-d) streams, 32-dim heads."""
    return AudioLDM2UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=16,
        out_channels=16,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
        attention_head_dim=2,  # diffusers' name for the number of heads: 32-dim heads at 64 channels
        norm_num_groups=16,
    )


def audio_vae() -> AutoencoderKL:
    """Factor-8 mel VAE with 16 latent channels: [B, 1, 208, 64] → [B, 16, 26, 8]."""
    return AutoencoderKL(
        in_channels=1,
        out_channels=1,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(16, 32, 32, 32),
        layers_per_block=1,
        norm_num_groups=16,
        latent_channels=16,
        sample_size=256,
        mid_block_add_attention=False,
    )


def audio_vocoder(mel: MelConfig) -> SpeechT5HifiGan:
    """HiFi-GAN generator, log-mel [B, frames, bins] → waveform [B, frames·hop]; upsampling ×5·4·4·2 = hop 160.

    Each transposed convolution's kernel is twice its stride (the first: 2·5 + 1, as (kernel − stride) must be
    even), so a frame maps to exactly `hop` samples.
    """
    rates = (5, 4, 4, 2)
    if math.prod(rates) != mel.hop_length:
        raise ValueError(f"the vocoder upsamples by {math.prod(rates)}, the mel hop is {mel.hop_length}")
    config = SpeechT5HifiGanConfig(
        model_in_dim=mel.n_mels,
        sampling_rate=mel.sample_rate,
        upsample_initial_channel=128,
        upsample_rates=list(rates),
        upsample_kernel_sizes=[2 * r + r % 2 for r in rates],
        resblock_kernel_sizes=[3, 7, 11],
        resblock_dilation_sizes=[[1, 3, 5]] * 3,
        normalize_before=True,
        initializer_range=VOCODER_INIT_STD,
    )
    return SpeechT5HifiGan(config)


def video_pipeline(seed: int) -> StableDiffusionPipeline:
    """A freshly initialised (seeded) ToyWorld frame prior."""
    torch.manual_seed(seed)
    tokenizer = tiny_clip_tokenizer(vocabulary(), TEXT_LENGTH)
    return StableDiffusionPipeline(
        vae=video_vae(),
        text_encoder=tiny_clip_text_encoder(tokenizer),
        tokenizer=tokenizer,
        unet=video_unet(),
        scheduler=sd_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def audio_pipeline(seed: int) -> AudioLDM2Pipeline:
    """A freshly initialised (seeded) ToyWorld sound prior, without its vocoder (training adds it last)."""
    torch.manual_seed(seed)
    tokenizer = tiny_roberta_tokenizer()
    tokenizer_2 = tiny_t5_tokenizer(vocabulary(), TEXT_LENGTH)
    # GPT-2 reads [sos, CLAP, eos, sos, T5 (≤ TEXT_LENGTH), eos] and then its own generated tokens.
    positions = TEXT_LENGTH + 4 + GPT2_NEW_TOKENS + 1
    return AudioLDM2Pipeline(
        vae=audio_vae(),
        text_encoder=tiny_clap_text_encoder(tokenizer),
        text_encoder_2=tiny_t5_encoder(tokenizer_2),
        projection_model=tiny_projection(),
        language_model=tiny_gpt2(max_new_tokens=GPT2_NEW_TOKENS, n_positions=positions),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        feature_extractor=ClapFeatureExtractor(),
        unet=audio_unet(),
        scheduler=audioldm2_scheduler(),
        vocoder=None,
    )
