"""Shared fixtures: tiny random priors written once per session and loaded through `from_pretrained`."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

EXAMPLE_CLIP = Path(__file__).resolve().parent.parent / "examples" / "bounce.mp4"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Folders 'sd' and 'audioldm2' of tiny random diffusers models (ε-prediction)."""
    from aved.priors.tiny import write_tiny_models

    return write_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def video_prior(tiny_models):
    from aved.priors import StableDiffusionPrior

    return StableDiffusionPrior.from_pretrained(str(tiny_models["sd"]))


@pytest.fixture(scope="session")
def audio_prior(tiny_models):
    from aved.priors import AudioLDM2Prior

    return AudioLDM2Prior.from_pretrained(str(tiny_models["audioldm2"]))


@pytest.fixture(scope="session")
def example_clip() -> Path:
    assert EXAMPLE_CLIP.exists(), "examples/bounce.mp4 is missing: run examples/make_bounce_clip.py"
    return EXAMPLE_CLIP


@pytest.fixture(scope="session")
def tiny_metric_models(tmp_path_factory) -> dict[str, Path]:
    """Folders 'clip', 'clap' and 'dino' of tiny random transformers models."""
    from aved.metrics.tiny import write_tiny_metric_models

    return write_tiny_metric_models(tmp_path_factory.mktemp("tiny_metrics"))
