"""SDEdit (Meng et al. 2022), the sampling baseline: noise each source latent to t0 = strength·T, then DDIM-denoise
it with the target prompt (aved/sampling.py). The `sdedit` mode's engine; the DDS modes' is aved/editor.py."""

from __future__ import annotations

import math

import torch

from aved.codec import PreparedClip, audio_windows, decode_audio, decode_frames, encode_audio, encode_frames
from aved.config import EditConfig
from aved.errors import AvedError
from aved.media.windows import merge_windows, split_windows
from aved.priors import AudioLDM2Prior, DiffusionPrior, StableDiffusionPrior
from aved.result import EditResult, diverged
from aved.sampling import ddim_denoise


def sdedit(
    video: StableDiffusionPrior,
    audio: AudioLDM2Prior,
    config: EditConfig,
    source: PreparedClip,
    generator: torch.Generator,
    progress: bool = True,
    callback=None,
) -> EditResult:
    """Both modalities edited by SDEdit at `config.sdedit_strength` in `config.steps` DDIM steps; `callback(step,
    record)` after each DDIM step of the frames, then of the sound (True stops that pass)."""
    n = config.media.grid
    z_v_src = encode_frames(video, source.frames, n, progress=progress)
    z_v = _denoise(video, z_v_src, config.prompts.video()[1], config, generator, progress, "sdedit video", callback)
    z_a_src, gain = encode_audio(audio, source.audio, source.sample_rate, config.media)
    windows = audio_windows(audio, config.media, len(source.audio) / source.sample_rate)
    # A long sound's windows are denoised side by side and cross-faded back (their noises are not shared).
    z_a_windows = split_windows(z_a_src, windows)
    prompt = config.prompts.audio()[1]
    z_a = _denoise(audio, z_a_windows, prompt, config, generator, progress, "sdedit audio", callback)
    z_a = merge_windows(z_a, windows)
    bad = diverged({"v": z_v, "a": z_a}, {"v": math.inf, "a": math.inf})
    if bad:
        raise AvedError(f"the edit diverged: the {' and '.join(bad)} are not finite (check the config)")
    return EditResult(
        source=source,
        frames=decode_frames(video, z_v, n, len(source.frames), progress=progress),
        audio=decode_audio(audio, z_a, round(source.duration * audio.sample_rate), gain, windows),
        sample_rate=audio.sample_rate,
        fps=source.fps,
        z_video=z_v,
        z_audio=z_a,
    )


def _denoise(
    prior: DiffusionPrior,
    z: torch.Tensor,
    prompt: str,
    config: EditConfig,
    generator: torch.Generator,
    progress: bool,
    desc: str,
    callback=None,
) -> torch.Tensor:
    strength, prompts = config.sdedit_strength, [prompt] * z.shape[0]
    steps, guidance = config.steps, config.guidance_scale
    return ddim_denoise(prior, z, prompts, steps, guidance, generator, strength, progress, desc, callback)
