"""Does a ToyWorld frame VAE keep what the scorers read? Encode and decode held-out clips, compare attributes.

A frame prior cannot draw a kind its VAE cannot reconstruct, so this is the first check of a cheaper VAE design
(benchmarks/README.md, `toyworld_unet_cost.py`). For freshly rendered clips (a seed the training set does not
use) it packs the frames into grids as the engine does, passes them through the VAE (posterior mode) and prints,
per attribute, the fraction of frames where the decoded frame's kind / colour / background equals the source
frame's (the analytic scorers, no neural network).

    python benchmarks/toyworld_vae_fidelity.py [--video aved/toyworld/weights/video] [--clips 40]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from aved.codec import grids_to_frames
from aved.config import TOYWORLD_WEIGHTS
from aved.priors.stable_diffusion import StableDiffusionPrior
from aved.toyworld import models
from aved.toyworld.data import training_set
from aved.toyworld.evaluate import frame_attributes

HELD_OUT_SEED = 123  # the shipped priors were trained on seed 0's clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", default=str(TOYWORLD_WEIGHTS / "video"), help="a ToyWorld frame prior folder")
    parser.add_argument("--clips", type=int, default=40)
    args = parser.parse_args()

    media = models.media_config()
    prior = StableDiffusionPrior.from_pretrained(args.video)
    data = training_set(HELD_OUT_SEED, args.clips, media, progress=False)
    frames_per_clip = round(media.span() * media.fps)
    agree: dict[str, int] = {}
    count = 0
    for grids in data.grids:
        grids = grids.float()
        with torch.no_grad():
            decoded = prior.decode(prior.encode(grids))
        source = grids_to_frames(grids, media.grid, frames_per_clip)
        for before, after in zip(source, grids_to_frames(decoded, media.grid, frames_per_clip), strict=True):
            want, got = frame_attributes(before), frame_attributes(after)
            for name in want:
                agree[name] = agree.get(name, 0) + (want[name] == got[name])
            count += 1
    params = sum(p.numel() for p in prior.vae.parameters())
    latent = tuple(prior.encode(data.grids[0, :1].float()).shape[1:])
    print(f"{args.video}: VAE {params:,} parameters, grid latent {latent}, {count} held-out frames")
    print("decoded = source: " + ", ".join(f"{name} {hits / count:.3f}" for name, hits in agree.items()))


if __name__ == "__main__":
    main()
