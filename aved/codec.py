"""Clip ↔ prior latents: frames as n×n grids through the image VAE, sound as log-mel through the audio VAE."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from aved.config import MediaConfig
from aved.errors import AvedError, warn
from aved.media.clip import Clip, read_clip
from aved.media.frames import TIME_EPS, nearest_frames, pack_grids, resize_center_crop, sample_times, unpack_grids
from aved.media.mel import waveform_to_mel
from aved.media.windows import WindowLayout, merge_windows, split_windows, window_layout
from aved.priors import AudioLDM2Prior, StableDiffusionPrior
from aved.progress import bar_disable

# A track whose loudest sample is below this (−80 dBFS) holds no sound an edit could change: decoded silence, a
# muted recording. Editing it "succeeds" with noise the prior invents.
SILENT_PEAK = 1e-4
AUDIO_BATCH = 4  # audio windows per VAE call on a long sound: memory stays that of four windows


@dataclass(frozen=True)
class PreparedClip:
    """The source as the editor sees it: F square frames at `fps` and the matching stretch of sound."""

    frames: np.ndarray  # [F, s, s, 3] uint8
    fps: float
    audio: np.ndarray | None  # [N] float32 at `sample_rate`, N = F / fps seconds
    sample_rate: int | None

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps

    def as_clip(self) -> Clip:
        return Clip(self.frames, np.arange(len(self.frames)) / self.fps, self.fps, self.audio, self.sample_rate)


def read_source(path: str | os.PathLike, media: MediaConfig, need_audio: bool = True) -> Clip:
    """The window of `path` an edit uses (MediaConfig.span from media.start), sampled at media.fps and cropped to
    media.frame_size as it decodes."""
    return read_clip(
        path, start=media.start, duration=media.span(), require_audio=need_audio, fps=media.fps, size=media.frame_size
    )


def prepare_clip(clip: Clip, media: MediaConfig, need_audio: bool = True) -> PreparedClip:
    """Sample F = ⌊min(duration, max)·fps⌋ frames, square-crop them, and cut the sound to the same span (`media`
    as EditConfig.validate checked it); a media.duration longer than the clip is refused, not shortened."""
    if media.duration and clip.duration < media.duration - 1 / media.fps:
        raise AvedError(
            f"media.duration (--duration): {media.duration:g} s asked from {media.start:g} s, but the clip has "
            f"{clip.duration:.2f} s there; give at most that, or 'all' for the whole clip"
        )
    times = sample_times(clip.duration, media.fps, media.span())
    frames = resize_center_crop(clip.frames[nearest_frames(clip.times, times)], media.frame_size)
    span = len(times) / media.fps
    if clip.duration < span - TIME_EPS:
        warn(
            f"the clip lasts {clip.duration:.3f} s, less than one frame at {media.fps:g} fps: it is held for "
            f"{span:.3f} s and its sound padded with silence"
        )
    audio = None
    if clip.audio is not None:
        samples = round(span * clip.sample_rate)
        audio = np.pad(clip.audio[:samples], (0, max(0, samples - len(clip.audio)))).astype(np.float32)
        peak = float(np.abs(audio).max(initial=0.0))
        if need_audio and peak < SILENT_PEAK:
            raise AvedError(
                f"the sound track is silent (peak {peak:.1e}, below {SILENT_PEAK:g}): there is no sound to edit; "
                "edit the frames alone (mode video-only)"
            )
    elif need_audio:
        raise AvedError("the clip has no audio track, and this command needs one")
    return PreparedClip(frames, media.fps, audio, clip.sample_rate)


def frames_to_grids(frames: np.ndarray, n: int) -> torch.Tensor:
    """[F, s, s, 3] uint8 → [G, 3, n·s, n·s] float in [−1, 1]."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    return pack_grids(x, n)


def grids_to_frames(grids: torch.Tensor, n: int, num_frames: int) -> np.ndarray:
    """Inverse of `frames_to_grids`, rounding to uint8."""
    x = unpack_grids(grids.float().cpu(), n, num_frames)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def encode_frames(
    prior: StableDiffusionPrior, frames: np.ndarray, n: int, batch: int = 4, progress: bool = True
) -> torch.Tensor:
    """Frames → grid latents z_v [G, C, h, w] (float32); a bar (aved.progress) past one batch."""
    prior.check_grid(frames.shape[1], n)
    grids = frames_to_grids(frames, n)
    disable = len(grids) <= batch or bar_disable(progress)
    chunks = tqdm(grids.split(batch), desc="encode frames", leave=False, disable=disable)
    return torch.cat([prior.encode(chunk) for chunk in chunks])


@torch.no_grad()
def decode_frames(
    prior: StableDiffusionPrior, z_v: torch.Tensor, n: int, num_frames: int, batch: int = 4, progress: bool = True
):
    """Grid latents → [F, s, s, 3] uint8 frames; a bar (aved.progress) past one batch."""
    disable = len(z_v) <= batch or bar_disable(progress)
    chunks = tqdm(z_v.split(batch), desc="decode frames", leave=False, disable=disable)
    grids = torch.cat([prior.decode(chunk).cpu() for chunk in chunks])
    return grids_to_frames(grids, n, num_frames)


def audio_windows(prior: AudioLDM2Prior, media: MediaConfig, seconds: float) -> WindowLayout:
    """The audio prior's windows over `seconds` of sound, in latent frames: one window up to media.mel.duration,
    overlapping windows of that length beyond it (docs/design.md §6)."""
    factor = prior.mel_frames_per_latent
    window = media.mel.num_frames // factor
    frames = math.ceil(round(seconds * media.mel.sample_rate) / media.mel.hop_length)
    return window_layout(max(window, math.ceil(frames / factor)), window, media.window_overlap)


def window_boundaries(prior: AudioLDM2Prior, media: MediaConfig, seconds: float) -> list[float]:
    """Where one audio window hands over to the next (the middle of each overlap), in seconds; none for one."""
    windows = audio_windows(prior, media, seconds)
    frame = prior.mel_frames_per_latent * media.mel.hop_length / media.mel.sample_rate
    return [b * frame for b in windows.boundaries()]


@torch.no_grad()
def encode_audio(prior: AudioLDM2Prior, audio: np.ndarray, rate: int, media: MediaConfig) -> tuple[torch.Tensor, float]:
    """Waveform → (audio latent z_a [1, C, frames/f, bins/f], gain the front end applied); a sound longer than the
    prior's window is one long latent, its windows encoded alone and cross-faded over their overlaps."""
    prior.check_mel_frames(media.mel.num_frames)
    layout = audio_windows(prior, media, len(audio) / rate)
    if layout.count == 1:
        mel, gain = waveform_to_mel(audio, rate, media.mel)
        return prior.encode(mel), gain
    mel_layout = layout.stretched(prior.mel_frames_per_latent)
    mel, gain = waveform_to_mel(audio, rate, media.mel, frames=mel_layout.total)
    windows = split_windows(mel, mel_layout)
    return merge_windows(torch.cat([prior.encode(w) for w in windows.split(AUDIO_BATCH)]), layout), gain


@torch.no_grad()
def decode_audio(
    prior: AudioLDM2Prior, z_a: torch.Tensor, num_samples: int, gain: float, layout: WindowLayout | None = None
) -> np.ndarray:
    """Audio latent → waveform at the vocoder's rate, cut to `num_samples`, at the source's level; a long latent
    (its `layout`, audio_windows') is decoded window by window, the mels cross-faded, then vocoded whole."""
    if layout is None or layout.count == 1:
        mel = prior.decode(z_a)
    else:
        windows = torch.cat([prior.decode(w) for w in split_windows(z_a, layout).split(AUDIO_BATCH)])
        mel = merge_windows(windows, layout.stretched(prior.mel_frames_per_latent))
    waveform = prior.mel_to_waveform(mel)[0].float().cpu().numpy()
    if not np.isfinite(waveform).all():
        raise AvedError(
            f"the decoded sound is not finite (the VAE or vocoder overflowed at {prior.dtype}; try float32)"
        )
    return (waveform[:num_samples] / gain).astype(np.float32)


def reconstruct(
    source: PreparedClip, video: StableDiffusionPrior, audio: AudioLDM2Prior, media: MediaConfig, progress: bool = True
) -> PreparedClip:
    """Encode and decode the prepared clip through both priors: the ceiling of what a decoded edit can keep."""
    z_v = encode_frames(video, source.frames, media.grid, progress=progress)
    frames = decode_frames(video, z_v, media.grid, len(source.frames), progress=progress)
    z_a, gain = encode_audio(audio, source.audio, source.sample_rate, media)
    layout = audio_windows(audio, media, len(source.audio) / source.sample_rate)
    samples = round(source.duration * audio.sample_rate)
    waveform = decode_audio(audio, z_a, samples, gain, layout)
    return PreparedClip(frames, source.fps, waveform, audio.sample_rate)
