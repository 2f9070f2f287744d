"""`edit()`: the Python entry point; reads the clip, loads the priors a mode needs, runs the editor."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from aved.codec import prepare_clip, read_source
from aved.config import EditConfig
from aved.editor import Editor, EditResult, StepCallback
from aved.errors import AvedError, warn
from aved.media.clip import Clip
from aved.priors import AudioLDM2Prior, StableDiffusionPrior
from aved.priors.load import load_audio_prior, load_video_prior


def edit(
    clip: str | Path | Clip,
    source: str | None = None,
    target: str | None = None,
    config: EditConfig | None = None,
    *,
    video_prior: StableDiffusionPrior | None = None,
    audio_prior: AudioLDM2Prior | None = None,
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
    progress: bool = True,
) -> EditResult:
    """Edit `clip` from the `source` to the `target` prompt; returns frames, waveform, losses and relevance maps."""
    config = copy.deepcopy(config) if config is not None else EditConfig()
    if source is not None:
        config.prompts.source = source
    if target is not None:
        config.prompts.target = target
    config.validate()
    needs_video = config.mode != "audio-only"
    needs_audio = config.mode != "video-only"
    for name, (src, trg), needed in (
        ("video", config.prompts.video(), needs_video),
        ("audio", config.prompts.audio(), needs_audio),
    ):
        if needed and not (src.strip() and trg.strip()):
            raise AvedError(f"the {name} edit needs both a source and a target prompt")
        if needed and src.strip() == trg.strip():
            warn(f"the {name} source and target prompts are the same ('{src.strip()}'): the {name} will stay as it is")
    media = config.media
    if not isinstance(clip, Clip):
        clip = read_source(clip, media, need_audio=needs_audio)
    prepared = prepare_clip(clip, media, need_audio=needs_audio)
    if needs_video and video_prior is None:
        video_prior = load_video_prior(config.model)
    if needs_audio and audio_prior is None:
        audio_prior = load_audio_prior(config.model)
    if generator is None:
        device = (video_prior or audio_prior).device
        generator = torch.Generator(device=device).manual_seed(config.seed)
    return Editor(video_prior, audio_prior, config).run(prepared, generator, callback=callback, progress=progress)
