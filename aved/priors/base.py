"""What every frozen diffusion prior offers the editor: latents, text conditions, ε-predictions, attention names."""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline

from aved.errors import AvedError


@dataclass(frozen=True)
class Condition:
    """Text conditioning for a batch: the keyword tensors a prior's UNet takes, one row per prompt."""

    unet_kwargs: dict[str, torch.Tensor]

    def take(self, index: torch.Tensor | list[int]) -> Condition:
        """Rows `index` of every tensor (repeat a prompt per grid, pick branches)."""
        index = torch.as_tensor(index, dtype=torch.long)
        return Condition({k: v[index.to(v.device)] for k, v in self.unet_kwargs.items()})


# CUDA graphs where the device has them: the UNets are launch-bound (AudioLDM2-large: ≈ 4,500 launches a forward).
COMPILE_MODE = "reduce-overhead"
# Weight files that unpickle (and so can run code): refused, the folder needs safetensors.
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl"})


def v_to_eps(v: torch.Tensor, z_t: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    """ε = α_t·v + σ_t·z_t with α_t = √ᾱ_t, σ_t = √(1−ᾱ_t) (v-parameterisation, Salimans & Ho 2022 §4)."""
    return alpha_bar_t.sqrt() * v + (1 - alpha_bar_t).sqrt() * z_t


def broadcast_timesteps(t: torch.Tensor | int, batch: int, device: torch.device) -> torch.Tensor:
    """Timesteps as a [batch] long tensor on `device`."""
    t = torch.as_tensor(t, device=device, dtype=torch.long)
    return t.expand(batch) if t.ndim == 0 else t


def load_pipeline(
    pipeline_cls: type[DiffusionPipeline], model_id: str, kind: str, option: str, **kwargs
) -> DiffusionPipeline:
    """`pipeline_cls.from_pretrained(model_id, use_safetensors=True)`, failing with one line that says what to do."""
    local = Path(model_id).expanduser()
    is_local = local.exists() or model_id.startswith((os.sep, ".", "~"))
    if is_local:
        problem = local_folder_problem(local)
        if problem:
            raise AvedError(
                f"cannot load the {kind} model '{model_id}': {problem}; pass a diffusers folder with {option}, or a "
                "hub id (its weights downloaded on a machine with internet)"
            )
    try:
        return pipeline_cls.from_pretrained(model_id, use_safetensors=True, **kwargs)
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if is_local:
            raise AvedError(f"cannot load the {kind} model '{model_id}' ({reason[:200]})") from None
        raise AvedError(
            f"cannot load the {kind} model '{model_id}' ({reason[:200]}). If it is a hub id, fetch its weights "
            f"on a machine with internet (`hf download {model_id}`, then copy the cache or folder here), "
            f"or pass a local diffusers folder with {option} PATH (`aved tiny-models DIR` writes test-sized ones)"
        ) from None


def hub_revision(model_id: str) -> str | None:
    """The commit hash of hub checkpoint `model_id` in the local cache (its `snapshots/<commit>/` folder)."""
    if Path(model_id).expanduser().exists() or model_id.count("/") != 1:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, "model_index.json")
    if not isinstance(found, str):
        return None
    snapshot = Path(found).parent
    return snapshot.name if snapshot.parent.name == "snapshots" else None


def model_revisions(video: str, audio: str) -> dict[str, str]:
    """The hub commits of the two checkpoints as cached here, for those that are hub checkpoints (a run's identity:
    a resumed bench whose snapshot moved is another run)."""
    found = {"video": hub_revision(video), "audio": hub_revision(audio)}
    return {name: commit for name, commit in found.items() if commit is not None}


def local_folder_problem(folder: Path) -> str | None:
    """What keeps a local folder from being a loadable diffusers pipeline, in words; None when nothing does."""
    if not folder.exists():
        return "no such folder"
    if not folder.is_dir():
        return "a file, not a diffusers folder"
    index = folder / "model_index.json"
    if not index.is_file():
        return "not a diffusers pipeline folder (no model_index.json)"
    try:
        components = json.loads(index.read_text())
    except (OSError, json.JSONDecodeError) as err:
        return f"{index} is not readable JSON ({err})"
    for name, spec in components.items():
        if name.startswith("_") or not (isinstance(spec, list) and spec and spec[0]):
            continue
        part = folder / name
        if not part.is_dir():
            return f"model_index.json lists '{name}' but there is no {name}/ folder"
        files = {p.suffix for p in part.iterdir()}
        if files & PICKLE_SUFFIXES and ".safetensors" not in files:
            return (
                f"{name}/ holds only pickle weights ({', '.join(sorted(files & PICKLE_SUFFIXES))}), which aved does "
                "not load (they can run code); convert them to .safetensors"
            )
    return None


class DiffusionPrior(ABC):
    """A frozen latent diffusion model seen as: encode/decode, encode_text, predict_noise (ε), ᾱ_t, attention names."""

    pipeline: DiffusionPipeline

    def __init__(self, pipeline: DiffusionPipeline, model_id: str):
        self.pipeline = pipeline
        self.model_id = model_id
        self._denoiser: Callable[..., Any] | None = None  # the compiled UNet call, once `compile` ran
        for module in pipeline.components.values():
            if isinstance(module, torch.nn.Module):
                module.requires_grad_(False).eval()

    @property
    def revision(self) -> str | None:
        """The hub commit these weights came from, as cached here; None for a local folder or an unknown one."""
        return hub_revision(self.model_id)

    @property
    def unet(self) -> torch.nn.Module:
        return self.pipeline.unet

    @property
    def vae(self) -> torch.nn.Module:
        return self.pipeline.vae

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device  # ModelMixin.device walks every module: ms per call, per UNet call

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    @property
    def prediction_type(self) -> str:
        return self.pipeline.scheduler.config.prediction_type

    @property
    def num_train_timesteps(self) -> int:
        return self.pipeline.scheduler.config.num_train_timesteps

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """ᾱ_t for t = 0..T−1 (float32, on the prior's device)."""
        return self.pipeline.scheduler.alphas_cumprod.to(self.device, torch.float32)

    @property
    def scaling_factor(self) -> float:
        return self.vae.config.scaling_factor

    @property
    def unet_factor(self) -> int:
        """How many latent cells one cell of the UNet's coarsest level spans along a side."""
        return 2 ** (len(self.unet.config.block_out_channels) - 1)

    def to(self, device: torch.device | str) -> DiffusionPrior:
        self.pipeline.to(device)
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Data in the VAE's input range → scaled latent (posterior mode), float32."""
        posterior = self.vae.encode(x.to(self.device, self.vae.dtype)).latent_dist
        return posterior.mode().float() * self.scaling_factor

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latent → data in the VAE's output range, float32."""
        return self.vae.decode(z.to(self.device, self.vae.dtype) / self.scaling_factor).sample.float()

    @abstractmethod
    def encode_text(self, prompts: list[str]) -> Condition:
        """One condition row per prompt; rows of one call always have the same sequence lengths."""

    def compile(self, mode: str = COMPILE_MODE) -> DiffusionPrior:
        """Route ε-predictions through `torch.compile(unet)` (the UNet module itself is untouched)."""
        self._denoiser = torch.compile(self.unet, mode=mode, dynamic=False)
        return self

    def _call_unet(self, *args, **kwargs) -> torch.Tensor:
        if self._denoiser is None:
            return self.unet(*args, **kwargs)
        try:
            return self._denoiser(*args, **kwargs)
        except torch._dynamo.exc.TorchDynamoException as err:  # the compiler failed (inductor errors are wrapped)
            reason = " ".join(str(err).split()).split(". ")[0] or type(err).__name__
            raise AvedError(f"torch.compile does not work here ({reason}); run without --compile") from err

    def predict_noise(self, z_t: torch.Tensor, t: torch.Tensor | int, cond: Condition) -> torch.Tensor:
        """ε̂(z_t, t, c) in float32, converting a v-prediction model's output to ε."""
        t = broadcast_timesteps(t, z_t.shape[0], self.device)
        kwargs = {k: v.to(self.dtype) if v.is_floating_point() else v for k, v in cond.unet_kwargs.items()}
        out = self._call_unet(z_t.to(self.dtype), t, return_dict=False, **kwargs)[0].float()
        if self.prediction_type == "v_prediction":
            alpha_bar = self.alphas_cumprod[t].view(-1, *([1] * (z_t.ndim - 1)))
            return v_to_eps(out, z_t.float(), alpha_bar)
        if self.prediction_type != "epsilon":
            raise AvedError(f"{self.model_id}: prediction type '{self.prediction_type}' is not supported")
        return out

    def attention_layers(self) -> list[str]:
        """Names of every attention processor in the UNet (the keys `unet.set_attn_processor` takes)."""
        return list(self.unet.attn_processors)

    @abstractmethod
    def relevance_layers(self) -> list[str]:
        """Cross-attention processors whose keys are word tokens (used for prompt relevance)."""

    @abstractmethod
    def token_positions(self, prompt: str) -> list[tuple[str, list[int]]]:
        """Each word of `prompt` with the key positions of its tokens in the relevance layers' text sequence."""


def word_token_positions(prompt: str, offsets: list[tuple[int, int]], first: int = 0) -> list[tuple[str, list[int]]]:
    """Group token positions by the word (maximal alphanumeric run) their character offsets fall in."""
    words = [(m.group(0).lower(), m.start(), m.end()) for m in re.finditer(r"[A-Za-z0-9']+", prompt)]
    groups: list[tuple[str, list[int]]] = [(w, []) for w, _, _ in words]
    for position, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        for i, (_, w_start, w_end) in enumerate(words):
            if start < w_end and end > w_start:
                groups[i][1].append(position + first)
                break
    return [(w, p) for w, p in groups if p]
