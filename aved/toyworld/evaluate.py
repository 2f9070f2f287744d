"""Does a trained ToyWorld prior draw what its caption says (seeded samples), and does its sound decoder keep the
events (the ground truths through the VAE and the decoder)? Scored by the analytic scorers."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from aved.codec import encode_audio, grids_to_frames, prepare_clip
from aved.config import MediaConfig
from aved.metrics.av_align import av_align
from aved.priors.audioldm2 import AudioLDM2Prior, griffin_lim
from aved.priors.stable_diffusion import StableDiffusionPrior
from aved.sampling import ddim_denoise
from aved.toyworld.render import trajectory
from aved.toyworld.scene import BACKGROUNDS, COLOURS, KINDS, Scene, caption
from aved.toyworld.scorers import (
    background_kind,
    frame_colour,
    frame_kind,
    match_onsets,
    object_mask,
    onset_timing,
    sound_events,
)
from aved.toyworld.tasks import EditTask, task_set

SAMPLE_STEPS = 25
SAMPLE_GUIDANCE = 5.0
SAMPLES_PER_PROMPT = 2


@dataclass
class PriorScores:
    """Accuracy of each attribute over the sampled frames (video) or sound events (audio), with the samples."""

    accuracy: dict[str, float]
    prompts: list[str]
    samples: np.ndarray  # video: [P, S·F, s, s, 3] uint8 frames; audio: [P, S, frames, bins] log-mel
    waveforms: np.ndarray | None = None  # audio: [P, S, N] at 16 kHz

    def summary(self) -> str:
        return ", ".join(f"{name} {value:.2f}" for name, value in self.accuracy.items())


def sample_scenes(count: int, seed: int) -> list[Scene]:
    """`count` distinct (colour, kind, background) scenes in a seeded order, spread over every value."""
    combos = list(itertools.product(BACKGROUNDS, KINDS, COLOURS))
    order = np.random.default_rng([seed, 11]).permutation(len(combos))[:count]
    return [Scene(background=combos[i][0], kind=combos[i][1], colour=combos[i][2]) for i in order]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def sample_frames(prior: StableDiffusionPrior, prompts: list[str], media: MediaConfig, seed: int) -> np.ndarray:
    """[P, S·n², s, s, 3] uint8: SAMPLES_PER_PROMPT generated grids per prompt, split into their cells."""
    side = media.frame_size * media.grid // prior.spatial_factor
    rows = [p for p in prompts for _ in range(SAMPLES_PER_PROMPT)]
    shape = (len(rows), prior.unet.config.in_channels, side, side)
    z = ddim_denoise(prior, torch.zeros(shape), rows, SAMPLE_STEPS, SAMPLE_GUIDANCE, _generator(seed))
    per_grid = media.grid**2
    frames = grids_to_frames(prior.decode(z), media.grid, len(rows) * per_grid)
    return frames.reshape(len(prompts), SAMPLES_PER_PROMPT * per_grid, *frames.shape[1:])


def sample_mels(prior: AudioLDM2Prior, prompts: list[str], media: MediaConfig, seed: int) -> torch.Tensor:
    """[P·S, 1, frames, bins] generated log-mels, SAMPLES_PER_PROMPT per prompt."""
    factor = prior.pipeline.vae_scale_factor
    rows = [p for p in prompts for _ in range(SAMPLES_PER_PROMPT)]
    shape = (len(rows), prior.unet.config.in_channels, media.mel.num_frames // factor, media.mel.n_mels // factor)
    z = ddim_denoise(prior, torch.zeros(shape), rows, SAMPLE_STEPS, SAMPLE_GUIDANCE, _generator(seed))
    with torch.no_grad():
        return prior.decode(z)


def frame_attributes(frame: np.ndarray) -> dict[str, str | None]:
    """Kind, colour and background the scorers read in one frame."""
    mask = object_mask(frame)
    return {"kind": frame_kind(mask), "colour": frame_colour(frame, mask), "background": background_kind(frame, mask)}


def score_video_prior(prior: StableDiffusionPrior, media: MediaConfig, count: int, seed: int) -> PriorScores:
    """Fraction of sampled frames whose kind, colour and background match their prompt."""
    scenes = sample_scenes(count, seed)
    prompts = [caption(scene) for scene in scenes]
    frames = sample_frames(prior, prompts, media, seed)
    hits = {"colour": [], "kind": [], "background": []}
    for scene, group in zip(scenes, frames, strict=True):
        for frame in group:
            found = frame_attributes(frame)
            for name in hits:
                hits[name].append(found[name] == getattr(scene, name))
    return PriorScores({name: float(np.mean(v)) for name, v in hits.items()}, prompts, frames)


def score_audio_prior(prior: AudioLDM2Prior, media: MediaConfig, count: int, seed: int) -> PriorScores:
    """Fraction of sampled sound events (Griffin-Lim decoded) whose kind matches the prompt, and of samples with
    any event."""
    scenes = sample_scenes(count, seed)
    prompts = [caption(scene) for scene in scenes]
    mels = sample_mels(prior, prompts, media, seed)
    # Griffin-Lim, whatever the prior's vocoder: this scores the UNet's samples, not a decoder trained on clean mels
    waves = griffin_lim(mels, media.mel).cpu().numpy()
    kinds, heard = [], []
    for i, wave in enumerate(waves):
        events = sound_events(wave, prior.sample_rate)
        heard.append(bool(events))
        kinds += [kind == scenes[i // SAMPLES_PER_PROMPT].kind for _, kind in events]
    accuracy = {"kind": float(np.mean(kinds)) if kinds else 0.0, "has_events": float(np.mean(heard))}
    shape = (len(prompts), SAMPLES_PER_PROMPT)
    return PriorScores(
        accuracy, prompts, mels[:, 0].cpu().numpy().reshape(*shape, *mels.shape[2:]), waves.reshape(*shape, -1)
    )


def decoder_scores(
    prior: AudioLDM2Prior,
    decode: Callable[[torch.Tensor], torch.Tensor],
    tasks: list[EditTask],
    media: MediaConfig,
) -> dict[str, float]:
    """The ground truths' sound through the sound VAE and `decode` (mel → waveform), scored against the impacts.

    Means over tasks of the onset bias (found − true, ms) and error of the matched events, extra and missing
    events per clip, the kind accuracy of the matched events and AV-Align with the truth's frames; `truth_av_align`
    is the rendered truth's own AV-Align.
    """
    rows = []
    for task in tasks:
        truth = prepare_clip(task.target_clip(), media)
        impacts = trajectory(task.target).impacts
        impacts = impacts[impacts < truth.duration]
        with torch.no_grad():
            z, gain = encode_audio(prior, truth.audio, truth.sample_rate, media)
            wave = decode(prior.decode(z))[0].cpu().numpy()[: round(truth.duration * prior.sample_rate)] / gain
        events = sound_events(wave, prior.sample_rate)
        found = np.asarray([onset for onset, _ in events])
        pairs = match_onsets(found, impacts)
        timing = onset_timing(found, impacts)
        rows.append(
            {
                "onset_bias_ms": timing["onset_bias_ms"],
                "onset_ms": timing["onset_ms"],
                "extra_events": timing["extra"],
                "missing_events": timing["missing"],
                "kind_accuracy": np.mean([events[i][1] == task.target.kind for i, _ in pairs]) if pairs else 0.0,
                "av_align": av_align(truth.frames, truth.fps, wave, prior.sample_rate),
                "truth_av_align": av_align(truth.frames, truth.fps, truth.audio, truth.sample_rate),
            }
        )
    return {name: float(np.nanmean([row[name] for row in rows])) for name in rows[0]}


def decoder_figures(prior: AudioLDM2Prior, media: MediaConfig, count: int = 110, seed: int = 0) -> dict:
    """decoder_scores of the prior's own vocoder and of Griffin-Lim on the bench's task set, with its size."""
    tasks = task_set(seed=seed, count=count, duration=media.span())
    decoders = {"vocoder": prior.mel_to_waveform, "Griffin-Lim": lambda mel: griffin_lim(mel, media.mel)}
    return {name: {**decoder_scores(prior, decode, tasks, media), "tasks": count} for name, decode in decoders.items()}
