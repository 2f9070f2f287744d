"""`edit()`: the Python entry point; reads the clip, loads the priors a mode needs, runs the mode's engine."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from diffusers import AudioLDM2Pipeline, StableDiffusionPipeline

from aved.codec import PreparedClip, prepare_clip, read_source
from aved.config import EditConfig
from aved.editor import Editor, StepCallback
from aved.errors import AvedError, warn
from aved.media.clip import Clip
from aved.modes import get_mode
from aved.priors import AudioLDM2Prior, StableDiffusionPrior
from aved.priors.base import DiffusionPrior
from aved.priors.load import load_audio_prior, load_video_prior
from aved.result import EditResult
from aved.sdedit import sdedit


def edit(
    clip: str | Path | Clip | PreparedClip,
    source: str | None = None,
    target: str | None = None,
    config: EditConfig | None = None,
    *,
    video_prior: StableDiffusionPrior | StableDiffusionPipeline | None = None,
    audio_prior: AudioLDM2Prior | AudioLDM2Pipeline | None = None,
    generator: torch.Generator | None = None,
    callback_on_step_end: StepCallback | None = None,
    progress: bool = True,
) -> EditResult:
    """Edit `clip` from the `source` to the `target` prompt; returns frames, waveform, losses and relevance maps.

    A prior may be given as a loaded diffusers pipeline (it is frozen in place). `callback_on_step_end(step,
    record)` is called after every optimisation step with that step's losses; returning True stops the edit there
    (the result holds the steps done). A PreparedClip is taken as already sampled and cropped for `config.media`.
    """
    config = copy.deepcopy(config) if config is not None else EditConfig()
    if source is not None:
        config.prompts.source = source
    if target is not None:
        config.prompts.target = target
    config.validate()
    mode = get_mode(config.mode)
    for name, (src, trg), needed in (
        ("video", config.prompts.video(), mode.video),
        ("audio", config.prompts.audio(), mode.audio),
    ):
        if needed and not (src.strip() and trg.strip()):
            raise AvedError(f"the {name} edit needs both a source and a target prompt")
        if needed and src.strip() == trg.strip():
            warn(f"the {name} source and target prompts are the same ('{src.strip()}'): the {name} will stay as it is")
    media = config.media
    if isinstance(clip, PreparedClip):
        prepared = clip
    else:
        if not isinstance(clip, Clip):
            clip = read_source(clip, media, need_audio=mode.audio)
        prepared = prepare_clip(clip, media, need_audio=mode.audio)
    video_prior = _as_prior(video_prior, StableDiffusionPipeline, StableDiffusionPrior) if mode.video else None
    audio_prior = _as_prior(audio_prior, AudioLDM2Pipeline, AudioLDM2Prior) if mode.audio else None
    if mode.video and video_prior is None:
        video_prior = load_video_prior(config.model)
    if mode.audio and audio_prior is None:
        audio_prior = load_audio_prior(config.model)
    if generator is None:
        device = (video_prior or audio_prior).device
        generator = torch.Generator(device=device).manual_seed(config.seed)
    if mode.engine == "sdedit":
        result = sdedit(video_prior, audio_prior, config, prepared, generator, progress, callback_on_step_end)
    else:
        editor = Editor(video_prior, audio_prior, config)
        result = editor.run(prepared, generator, callback=callback_on_step_end, progress=progress)
    result.models = {
        name: {"id": prior.model_id, "revision": prior.revision}
        for name, prior in (("video", video_prior), ("audio", audio_prior))
        if prior is not None
    }
    return result


def _as_prior(
    given: DiffusionPrior | None, pipeline_cls: type, prior_cls: type[DiffusionPrior]
) -> DiffusionPrior | None:
    """A prior as given, or one around a loaded pipeline of `pipeline_cls` (named by the folder it came from)."""
    if given is None or isinstance(given, DiffusionPrior):
        return given
    if isinstance(given, pipeline_cls):
        return prior_cls(given, str(given.config.get("_name_or_path") or type(given).__name__))
    raise AvedError(f"a {prior_cls.__name__} or a loaded {pipeline_cls.__name__} is needed, not {type(given).__name__}")
