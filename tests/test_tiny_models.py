"""Tests for the tiny in-code Stable Diffusion and AudioLDM2 pipelines."""

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from diffusers import AudioLDM2Pipeline, StableDiffusionPipeline  # noqa: E402
from transformers import (  # noqa: E402
    GPT2LMHeadModel,
    RobertaTokenizer,
    RobertaTokenizerFast,
    T5Tokenizer,
    T5TokenizerFast,
)

from aved.priors.tiny import tiny_audioldm2, tiny_stable_diffusion, write_tiny_models  # noqa: E402


def _folder_size(path: Path) -> int:
    """Return the total size in bytes of all files below ``path``."""
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _assert_same_weights(loaded: torch.nn.Module, built: torch.nn.Module) -> None:
    """Assert two modules have identical state dicts."""
    loaded_state, built_state = loaded.state_dict(), built.state_dict()
    assert loaded_state.keys() == built_state.keys()
    for name, tensor in built_state.items():
        assert torch.equal(loaded_state[name], tensor), name


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write the tiny models once for the whole module."""
    return write_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def sd(written: dict[str, Path]) -> StableDiffusionPipeline:
    """Load the written tiny Stable Diffusion pipeline."""
    pipe = StableDiffusionPipeline.from_pretrained(written["sd"], use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def audioldm2(written: dict[str, Path]) -> AudioLDM2Pipeline:
    """Load the written tiny AudioLDM2 pipeline."""
    pipe = AudioLDM2Pipeline.from_pretrained(written["audioldm2"], use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_written_layout_and_size(written: dict[str, Path]) -> None:
    """Both folders exist, hold only safetensors weights and stay small."""
    assert set(written) == {"sd", "audioldm2"}
    for name, path in written.items():
        assert path.is_dir() and path.name == name
        assert (path / "model_index.json").is_file()
        assert not list(path.rglob("*.bin")) and not list(path.rglob("*.pt"))
        assert (path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
        assert (path / "vae" / "diffusion_pytorch_model.safetensors").is_file()
        assert (path / "text_encoder" / "model.safetensors").is_file()
    assert not [p for p in written["sd"].parent.iterdir() if p.name.startswith(".")]
    sizes = {name: _folder_size(path) for name, path in written.items()}
    print(
        {name: f"{size / 1e6:.2f} MB" for name, size in sizes.items()},
        f"total {sum(sizes.values()) / 1e6:.2f} MB",
    )
    assert sum(sizes.values()) < 16e6


def test_rewrite_replaces_existing(tmp_path: Path) -> None:
    """Writing twice into the same directory replaces the folders and leaves no temporaries."""
    first = write_tiny_models(tmp_path)
    (first["sd"] / "stale.txt").write_text("old")
    second = write_tiny_models(tmp_path, prediction_type="v_prediction")
    assert first == second
    assert not (second["sd"] / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audioldm2", "sd"]
    config = json.loads((second["sd"] / "scheduler" / "scheduler_config.json").read_text())
    assert config["prediction_type"] == "v_prediction"


def test_sd_loads_same_weights(sd: StableDiffusionPipeline) -> None:
    """The loaded SD pipeline carries exactly the deterministic built weights."""
    built = tiny_stable_diffusion()
    for name in ("unet", "vae", "text_encoder"):
        _assert_same_weights(getattr(sd, name), getattr(built, name))
    assert sd.safety_checker is None
    assert sd.scheduler.config.prediction_type == "epsilon"
    assert sd.vae_scale_factor == 8
    unet_modules = dict(sd.unet.named_modules())
    assert "up_blocks.0.attentions.0.transformer_blocks.0.attn1" in unet_modules
    assert "up_blocks.0.attentions.0.transformer_blocks.0.attn2" in unet_modules


def test_audioldm2_loads_same_classes_and_weights(audioldm2: AudioLDM2Pipeline) -> None:
    """The loaded AudioLDM2 pipeline has the expected classes and exactly the built weights."""
    built = tiny_audioldm2()
    for name in (
        "unet",
        "vae",
        "text_encoder",
        "text_encoder_2",
        "language_model",
        "projection_model",
        "vocoder",
    ):
        _assert_same_weights(getattr(audioldm2, name), getattr(built, name))
    assert isinstance(audioldm2.tokenizer, (RobertaTokenizer, RobertaTokenizerFast))
    assert isinstance(audioldm2.tokenizer_2, (T5Tokenizer, T5TokenizerFast))
    assert isinstance(audioldm2.language_model, GPT2LMHeadModel)
    assert audioldm2.language_model.config.max_new_tokens == 8
    assert audioldm2.tokenizer.model_max_length == 77
    assert audioldm2.tokenizer_2.model_max_length == 128
    assert audioldm2.vae_scale_factor == 4


@pytest.mark.parametrize(
    ("pipe", "attribute", "prompt"),
    [
        ("sd", "tokenizer", "a cat meowing"),
        ("audioldm2", "tokenizer", "a dog barking"),
        ("audioldm2", "tokenizer_2", "a dog barking"),
    ],
)
def test_tokenizers_round_trip(pipe: str, attribute: str, prompt: str, request: pytest.FixtureRequest):
    """Prompts tokenize without unknown ids and decode back to the same text."""
    tokenizer = getattr(request.getfixturevalue(pipe), attribute)
    ids = tokenizer(prompt).input_ids
    content = [token for token in ids if token not in tokenizer.all_special_ids]
    assert len(content) >= 3
    assert tokenizer.unk_token_id not in content
    assert tokenizer.decode(ids, skip_special_tokens=True).strip() == prompt


def test_vae_spatial_factors(sd: StableDiffusionPipeline, audioldm2: AudioLDM2Pipeline) -> None:
    """The SD VAE downsamples by 8 and the mel VAE maps [1,1,1024,64] to [1,8,256,16]."""
    with torch.no_grad():
        image_latents = sd.vae.encode(torch.zeros(1, 3, 128, 128)).latent_dist.mean
        mel_latents = audioldm2.vae.encode(torch.zeros(1, 1, 1024, 64)).latent_dist.mean
    assert image_latents.shape == (1, 4, 16, 16)
    assert mel_latents.shape == (1, 8, 256, 16)


def test_sd_runs_end_to_end(sd: StableDiffusionPipeline) -> None:
    """Two DDIM steps at 64x64 produce a finite image."""
    settings = {"height": 64, "width": 64, "num_inference_steps": 2, "output_type": "np"}
    output = sd("a cat meowing", generator=torch.Generator().manual_seed(0), **settings)
    assert output.images.shape == (1, 64, 64, 3)
    assert np.isfinite(output.images).all()


def test_audioldm2_runs_end_to_end(audioldm2: AudioLDM2Pipeline) -> None:
    """Two DDIM steps for one second give frames * 160 finite samples."""
    generator = torch.Generator().manual_seed(0)
    output = audioldm2("a dog barking", audio_length_in_s=1.0, num_inference_steps=2, generator=generator)
    frames = 100
    assert output.audios.shape == (1, frames * 160)
    assert np.isfinite(output.audios).all()
