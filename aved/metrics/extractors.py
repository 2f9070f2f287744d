"""Feature extractors for the model-based metrics: each owns one frozen transformers model, loaded once, run batched.

Extractors return float32 CPU tensors, one row per input, unit L2 norm for embeddings; the metrics themselves are
pure functions of these features (`aved.metrics.scores`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import librosa
import numpy as np
import torch
from transformers import (
    AutoFeatureExtractor,
    AutoImageProcessor,
    AutoTokenizer,
    ClapModel,
    CLIPModel,
    ViTModel,
)

from aved.devices import resolve_device
from aved.errors import AvedError

T = TypeVar("T")


def load_pretrained(load: Callable[..., T], model_id: str, kind: str, field: str, **kwargs) -> T:
    """`load(model_id, **kwargs)` (a `from_pretrained`), failing with one line that says how to get the model."""
    try:
        return load(model_id, **kwargs)
    except (OSError, ValueError) as err:
        local = Path(model_id).expanduser()
        if model_id.startswith((os.sep, ".", "~")) or local.exists():
            what = f"folder: {_first_sentence(err)}" if local.is_dir() else "no such folder"
            raise AvedError(
                f"cannot load the {kind} metric model '{model_id}' ({what}); pass a hub id or "
                f"a transformers folder (config.json, model.safetensors, tokenizer/preprocessor files) with "
                f"--{field}-model PATH (MetricModels({field}=PATH) in Python)"
            ) from None
        raise AvedError(
            f"cannot load the {kind} metric model '{model_id}' ({_first_sentence(err)}). Fetch it on a machine with "
            f"internet (`hf download {model_id}`, then copy the cache or folder here), or pass a local transformers "
            f"folder with --{field}-model PATH (MetricModels({field}=PATH) in Python)"
        ) from None


def _first_sentence(err: BaseException) -> str:
    # Hub errors run to several sentences of advice about URLs; the first one says what failed.
    text = " ".join(str(err).split()) or type(err).__name__
    return text.split(". ")[0].rstrip(".")[:200]


def _frozen(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    return model.requires_grad_(False).eval().to(device)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1).cpu()


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise AvedError(f"frames must be a uint8 array [N, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    return frames


class _ImageModel:
    """Shared image path: PIL-backend preprocessing (the reference resize, whether or not torchvision is present)."""

    def __init__(self, model_id: str, kind: str, field: str, device: torch.device, dtype: torch.dtype, batch_size: int):
        self.model_id, self.device, self.dtype, self.batch_size = model_id, resolve_device(device), dtype, batch_size
        self.image_processor = load_pretrained(AutoImageProcessor.from_pretrained, model_id, kind, field, backend="pil")

    def _pixels(self, frames: np.ndarray) -> torch.Tensor:
        # channels_last is stated, not guessed: a tiny frame (e.g. 3 rows) would otherwise read as channels-first.
        inputs = self.image_processor(images=list(frames), return_tensors="pt", input_data_format="channels_last")
        return inputs["pixel_values"].to(self.device, self.dtype)


class ClipExtractor(_ImageModel):
    """CLIP (Radford et al. 2021) text and image embeddings; default `openai/clip-vit-large-patch14`."""

    def __init__(
        self,
        model_id: str = "openai/clip-vit-large-patch14",
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        batch_size: int = 32,
    ):
        super().__init__(model_id, "CLIP", "clip", device, dtype, batch_size)
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, model_id, "CLIP", "clip")
        model = load_pretrained(CLIPModel.from_pretrained, model_id, "CLIP", "clip", dtype=dtype)
        self.model = _frozen(model, self.device)

    @torch.inference_mode()
    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit text embeddings [N, D]; prompts longer than CLIP's 77 tokens are cut."""
        out = []
        for part in _batches(len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[part]), padding=True, truncation=True, return_tensors="pt")
            out.append(_unit(self.model.get_text_features(**tokens.to(self.device)).pooler_output))
        return torch.cat(out)

    @torch.inference_mode()
    def image_features(self, frames: np.ndarray) -> torch.Tensor:
        """Unit image embeddings [N, D] of uint8 RGB frames [N, H, W, 3]."""
        frames = _check_frames(frames)
        out = [
            _unit(self.model.get_image_features(pixel_values=self._pixels(frames[part])).pooler_output)
            for part in _batches(len(frames), self.batch_size)
        ]
        return torch.cat(out)


class DinoExtractor(_ImageModel):
    """DINO ViT (Caron et al. 2021) CLS tokens of the last layer; default `facebook/dino-vitb16`."""

    def __init__(
        self,
        model_id: str = "facebook/dino-vitb16",
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        batch_size: int = 32,
    ):
        super().__init__(model_id, "DINO", "dino", device, dtype, batch_size)
        # The DINO checkpoints have no trained pooler; the CLS token after the final layer norm is the feature.
        model = load_pretrained(
            ViTModel.from_pretrained, model_id, "DINO", "dino", dtype=dtype, add_pooling_layer=False
        )
        self.model = _frozen(model, self.device)

    @torch.inference_mode()
    def image_features(self, frames: np.ndarray) -> torch.Tensor:
        """Unit CLS-token features [N, D] of uint8 RGB frames [N, H, W, 3]."""
        frames = _check_frames(frames)
        out = [
            _unit(self.model(pixel_values=self._pixels(frames[part])).last_hidden_state[:, 0])
            for part in _batches(len(frames), self.batch_size)
        ]
        return torch.cat(out)


class ClapExtractor:
    """CLAP (Wu et al. 2023) text and audio embeddings and HTSAT stage features; default `laion/clap-htsat-unfused`.

    Audio is resampled to the feature extractor's rate (48 kHz) and cut to its window (10 s, the start is kept):
    the extractor would otherwise crop longer audio at random, and metrics must be deterministic.
    """

    def __init__(
        self,
        model_id: str = "laion/clap-htsat-unfused",
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        batch_size: int = 8,
    ):
        self.model_id, self.device, self.dtype, self.batch_size = model_id, resolve_device(device), dtype, batch_size
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, model_id, "CLAP", "clap")
        self.feature_extractor = load_pretrained(AutoFeatureExtractor.from_pretrained, model_id, "CLAP", "clap")
        model = load_pretrained(ClapModel.from_pretrained, model_id, "CLAP", "clap", dtype=dtype)
        self.model = _frozen(model, self.device)

    @property
    def sample_rate(self) -> int:
        return int(self.feature_extractor.sampling_rate)

    def _inputs(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> dict[str, torch.Tensor]:
        rate, limit = self.sample_rate, int(self.feature_extractor.nb_max_samples)
        clips = []
        for waveform in waveforms:
            y = np.asarray(waveform, dtype=np.float32)
            if y.ndim != 1 or len(y) == 0:
                raise AvedError(f"audio must be a non-empty mono waveform [N], got shape {list(y.shape)}")
            if sample_rate != rate:
                y = librosa.resample(y, orig_sr=sample_rate, target_sr=rate)
            clips.append(y[:limit])
        inputs = self.feature_extractor(clips, sampling_rate=rate, return_tensors="pt")
        # Nothing is longer than the window now; the "fusion" extractor flags one clip at random when none is,
        # which would make fused checkpoints non-deterministic.
        inputs["is_longer"] = torch.zeros_like(inputs["is_longer"], dtype=torch.bool)
        return {
            k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device) for k, v in inputs.items()
        }

    @torch.inference_mode()
    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit text embeddings [N, D]."""
        out = []
        for part in _batches(len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[part]), padding=True, truncation=True, return_tensors="pt")
            out.append(_unit(self.model.get_text_features(**tokens.to(self.device)).pooler_output))
        return torch.cat(out)

    @torch.inference_mode()
    def audio_features(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> torch.Tensor:
        """Unit audio embeddings [N, D] of mono waveforms at `sample_rate`."""
        out = []
        for part in _batches(len(waveforms), self.batch_size):
            inputs = self._inputs(waveforms[part], sample_rate)
            out.append(_unit(self.model.get_audio_features(**inputs).pooler_output))
        return torch.cat(out)

    @torch.inference_mode()
    def audio_layers(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> list[torch.Tensor]:
        """Output of every HTSAT stage, before its patch merging (4 stages in CLAP): [N, C_l, H_l, W_l] per stage."""
        layers: list[list[torch.Tensor]] = []
        for part in _batches(len(waveforms), self.batch_size):
            inputs = self._inputs(waveforms[part], sample_rate)
            out = self.model.audio_model.audio_encoder(
                **inputs, output_hidden_states=True, output_hidden_states_before_downsampling=True
            )
            # hidden_states[0] is the patch embedding, not a stage.
            layers.append([h.float().cpu() for h in out.hidden_states[1:]])
        return [torch.cat(stage) for stage in zip(*layers, strict=True)]
