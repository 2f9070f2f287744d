"""Training data for the ToyWorld priors, made by the engine's own front end from freshly rendered scenes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from aved.codec import frames_to_grids, prepare_clip
from aved.config import MediaConfig
from aved.media.frames import pack_grids, resize_center_crop
from aved.media.mel import front_end_waveform, log_mel
from aved.progress import bar_disable
from aved.toyworld.render import background_image, render
from aved.toyworld.scene import BACKGROUNDS, COLOURS, KINDS, Scene, caption

OBJECT_THRESHOLD = 24.0  # max-channel RGB difference from the bare background that marks an object pixel


@dataclass
class TrainingSet:
    """Per clip: its caption, its frame grids and object masks (as the engine packs them) and its log-mel."""

    captions: list[str]
    grids: torch.Tensor  # [N, G, 3, n·s, n·s] float16 in [−1, 1]
    masks: torch.Tensor  # [N, G, 1, n·s, n·s] bool, object pixels
    mels: torch.Tensor  # [N, 1, frames, bins] float32 log-mel
    waveforms: torch.Tensor  # [N, frames·hop] float32: the normalised sound each mel was taken of

    def __len__(self) -> int:
        return len(self.captions)


def random_scene(rng: np.random.Generator, duration: float) -> Scene:
    """A scene with every attribute drawn uniformly."""
    pick = lambda vocabulary: list(vocabulary)[int(rng.integers(len(vocabulary)))]  # noqa: E731
    return Scene(
        background=pick(BACKGROUNDS),
        kind=pick(KINDS),
        colour=pick(COLOURS),
        seed=int(rng.integers(2**31)),
        duration=duration,
    )


def object_masks(scene: Scene, frames: np.ndarray) -> np.ndarray:
    """[F, s, s] bool: where the engine's frames differ from the bare background at the same size."""
    backdrop = background_image(scene.background, scene.seed, scene.size).round().astype(np.uint8)
    backdrop = resize_center_crop(backdrop[None], frames.shape[1])[0].astype(np.float32)
    return np.abs(frames.astype(np.float32) - backdrop).max(axis=-1) > OBJECT_THRESHOLD


def training_set(seed: int, count: int, media: MediaConfig, progress: bool = True) -> TrainingSet:
    """Render `count` random scenes and pass each through the engine's clip preparation, grid packing and mel."""
    rng = np.random.default_rng([seed, 7])
    captions, grids, masks, mels, waves = [], [], [], [], []
    for _ in tqdm(range(count), desc="render training clips", disable=bar_disable(progress), dynamic_ncols=True):
        scene = random_scene(rng, media.span())
        clip = prepare_clip(render(scene), media)
        captions.append(caption(scene))
        grids.append(frames_to_grids(clip.frames, media.grid).half())
        mask = torch.from_numpy(object_masks(scene, clip.frames)).float()[:, None]
        masks.append(pack_grids(mask, media.grid) > 0.5)
        wave = torch.from_numpy(front_end_waveform(clip.audio, clip.sample_rate, media.mel)[0])
        mels.append(log_mel(wave[None], media.mel)[:, : media.mel.num_frames])
        waves.append(wave[: media.mel.num_frames * media.mel.hop_length])
    return TrainingSet(captions, torch.stack(grids), torch.stack(masks), torch.stack(mels), torch.stack(waves))
