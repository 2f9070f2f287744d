"""AudioLDM2 as the sound prior: log-mel ↔ 8-channel latents, GPT-2 + T5 conditioning, HiFi-GAN vocoder."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import torch
from diffusers import AudioLDM2Pipeline

from aved.config import DEFAULT_AUDIO_MODEL, MelConfig
from aved.errors import AvedError
from aved.priors.base import Condition, DiffusionPrior, load_pipeline, word_token_positions

# AudioLDM2's UNet feeds encoder_hidden_states_1 (the T5 sequence) to the transformers at stream index > 1
# in each block (diffusers' AudioLDM2 blocks); lower indices see self-attention or the GPT-2 tokens.
_T5_STREAM_MIN_INDEX = 2


class AudioLDM2Prior(DiffusionPrior):
    """Frozen AudioLDM2 UNet + VAE + text stack + vocoder; inputs are log-mels [B, 1, frames, mel bins]."""

    pipeline: AudioLDM2Pipeline

    @classmethod
    def from_pretrained(
        cls,
        model_id: str = DEFAULT_AUDIO_MODEL,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        vocoder: str = "pipeline",
    ) -> AudioLDM2Prior:
        """Load the pipeline; vocoder "griffin-lim" leaves its vocoder out and inverts mels by iteration."""
        extra = {"vocoder": None} if vocoder == "griffin-lim" or _saved_without_vocoder(model_id) else {}
        pipeline = load_pipeline(AudioLDM2Pipeline, model_id, "audio", "--audio-model", dtype=dtype, **extra)
        pipeline.set_progress_bar_config(disable=True)
        return cls(pipeline.to(device), model_id)

    @property
    def sample_rate(self) -> int:
        vocoder = self.pipeline.vocoder
        return MelConfig().sample_rate if vocoder is None else vocoder.config.sampling_rate

    @property
    def mel_frames_per_latent(self) -> int:
        """Mel frames per latent frame (the VAE's downsampling along time)."""
        return self.pipeline.vae_scale_factor

    def check_mel_frames(self, frames: int) -> None:
        """The mel window must pass the VAE and the UNet's downsamplings whole (10.24 s = 1024 frames does)."""
        multiple = self.pipeline.vae_scale_factor * self.unet_factor
        if frames % multiple:
            raise AvedError(
                f"an audio window of {frames} mel frames does not fit {self.model_id}: media.mel.duration must be "
                f"a multiple of {multiple} frames ({multiple * 0.01:g} s at hop 160), e.g. 10.24"
            )

    @torch.no_grad()
    def encode_text(self, prompts: list[str]) -> Condition:
        # Each prompt is encoded alone, as the pipeline would for one prompt: batching them would put T5 padding
        # inside the sequence GPT-2 continues, changing the generated tokens. T5 rows are then right-padded
        # (masked out) to one length.
        rows = [
            self.pipeline.encode_prompt([p], self.device, num_waveforms_per_prompt=1, do_classifier_free_guidance=False)
            for p in prompts
        ]
        length = max(embeds.shape[1] for embeds, _, _ in rows)
        pad = lambda x: torch.nn.functional.pad(x, (0, 0) * (x.ndim - 2) + (0, length - x.shape[1]))  # noqa: E731
        return Condition(
            {
                "encoder_hidden_states": torch.cat([generated for _, _, generated in rows]),
                "encoder_hidden_states_1": torch.cat([pad(embeds) for embeds, _, _ in rows]),
                "encoder_attention_mask_1": torch.cat([pad(mask) for _, mask, _ in rows]),
            }
        )

    @torch.no_grad()
    def mel_to_waveform(self, mel: torch.Tensor) -> torch.Tensor:
        """[B, 1, frames, bins] log-mel → [B, frames·hop] waveform at `sample_rate`, float32."""
        vocoder = self.pipeline.vocoder
        if vocoder is None:
            return griffin_lim(mel)
        return vocoder(mel[:, 0].to(vocoder.device, vocoder.dtype)).float()

    def relevance_layers(self) -> list[str]:
        names = []
        blocks = [(f"down_blocks.{i}", b) for i, b in enumerate(self.unet.down_blocks)]
        blocks += [("mid_block", self.unet.mid_block)]
        blocks += [(f"up_blocks.{i}", b) for i, b in enumerate(self.unet.up_blocks)]
        for prefix, block in blocks:
            streams = getattr(block, "cross_attention_dim", None)
            if not hasattr(block, "attentions") or not streams:
                continue
            for k, transformer in enumerate(block.attentions):
                if k % len(streams) >= _T5_STREAM_MIN_INDEX and streams[k % len(streams)] is not None:
                    names += [
                        f"{prefix}.attentions.{k}.transformer_blocks.{j}.attn2.processor"
                        for j in range(len(transformer.transformer_blocks))
                    ]
        return names

    def token_positions(self, prompt: str) -> list[tuple[str, list[int]]]:
        tokenizer = self.pipeline.tokenizer_2
        encoded = tokenizer(prompt, return_offsets_mapping=True, truncation=True, max_length=tokenizer.model_max_length)
        return word_token_positions(prompt, encoded["offset_mapping"])


def _saved_without_vocoder(model_id: str) -> bool:
    """A local pipeline folder saved with vocoder None (it can only decode with Griffin-Lim)."""
    index = Path(model_id) / "model_index.json"
    if not index.is_file():
        return False
    return json.loads(index.read_text()).get("vocoder") == [None, None]


def griffin_lim(mel: torch.Tensor, config: MelConfig | None = None, iterations: int = 32) -> torch.Tensor:
    """[B, 1, frames, bins] log-mel (aved.media.mel's front end) → [B, frames·hop] waveform by Griffin-Lim."""
    config = config or MelConfig()
    magnitude = np.exp(mel[:, 0].float().cpu().numpy()).transpose(0, 2, 1)  # [B, bins, frames]
    stft = librosa.feature.inverse.mel_to_stft(
        magnitude, sr=config.sample_rate, n_fft=config.n_fft, power=1.0, fmin=config.fmin, fmax=config.fmax
    )
    # log_mel's frame k is centred on sample k·hop + hop/2; librosa's (center=True) on k·hop.
    shift = config.hop_length // 2
    waves = librosa.griffinlim(
        stft,
        n_iter=iterations,
        hop_length=config.hop_length,
        win_length=config.win_length,
        n_fft=config.n_fft,
        random_state=0,
    )[..., shift:]
    waves = np.pad(waves, [(0, 0)] * (waves.ndim - 1) + [(0, mel.shape[2] * config.hop_length - waves.shape[-1])])
    return torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)).to(mel.device)
