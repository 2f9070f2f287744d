"""What one ToyWorld UNet call costs: forward and forward+backward time at the editor's batch, per block too.

The ToyWorld bench is UNet-bound (benchmarks/README.md), so its wall time follows these figures. The UNets are
built by `aved.toyworld.models` with seeded random weights (time does not depend on weight values) at the batch
one `aved` step sends: every grid of the clip in 4 rows (source and target branch, each with and without the
prompt) for the frames, 4 rows for the sound. The latent shapes come from the VAEs the same module builds, so a
candidate architecture is measured by editing `models.py` and running this again. Medians of `--repeats` calls,
one thread, interleaved so that a busy machine slows every row alike.

    python benchmarks/toyworld_unet_cost.py [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import torch

from aved.media.frames import num_grids
from aved.toyworld import models

ROWS_PER_GRID = 4  # source/target branch × conditional/unconditional


@torch.no_grad()
def latent_shape(vae, pixels: tuple[int, int]) -> tuple[int, ...]:
    """[C, h, w] of the VAE's latent for one input of `pixels` (encoded, not recomputed from its config)."""
    x = torch.zeros(1, vae.config.in_channels, *pixels)
    return tuple(vae.encode(x).latent_dist.mode().shape[1:])


def inputs(kind: str, unet, vae, batch: int) -> tuple[torch.Tensor, dict]:
    """Seeded latents and text states of the widths the UNet reads."""
    media = models.media_config()
    generator = torch.Generator().manual_seed(0)
    if kind == "video":
        side = media.frame_size * media.grid
        z = torch.randn(batch, *latent_shape(vae, (side, side)), generator=generator)
        width = unet.config.cross_attention_dim
        return z, {"encoder_hidden_states": torch.randn(batch, models.TEXT_LENGTH, width, generator=generator)}
    z = torch.randn(batch, *latent_shape(vae, (media.mel.num_frames, media.mel.n_mels)), generator=generator)
    gpt2, t5 = unet.config.cross_attention_dim[0][1:]
    return z, {
        "encoder_hidden_states": torch.randn(batch, models.GPT2_NEW_TOKENS, gpt2, generator=generator),
        "encoder_hidden_states_1": torch.randn(batch, models.TEXT_LENGTH, t5, generator=generator),
        "encoder_attention_mask_1": torch.ones(batch, models.TEXT_LENGTH, dtype=torch.long),
    }


def block_names(unet) -> list[str]:
    return [
        *(f"down_blocks.{i}" for i in range(len(unet.down_blocks))),
        "mid_block",
        *(f"up_blocks.{i}" for i in range(len(unet.up_blocks))),
    ]


def timed_call(unet, z: torch.Tensor, kwargs: dict, backward: bool) -> float:
    """Seconds for one ε-prediction (and, with `backward`, the gradient to the latent)."""
    z = z.clone().requires_grad_(backward)
    t = torch.full((z.shape[0],), 500)
    started = time.perf_counter()
    with torch.set_grad_enabled(backward):
        out = unet(z, t, return_dict=False, **kwargs)[0]
        if backward:
            out.square().mean().backward()
    return time.perf_counter() - started


def block_times(unet, z: torch.Tensor, kwargs: dict, repeats: int) -> dict[str, float]:
    """Forward seconds spent in each top-level block, mean over `repeats` calls (forward hooks, no autograd)."""
    spent: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    handles = []
    for name in block_names(unet):
        block = unet.get_submodule(name)
        handles.append(
            block.register_forward_pre_hook(lambda m, a, n=name: started.__setitem__(n, time.perf_counter()))
        )
        handles.append(
            block.register_forward_hook(
                lambda m, a, o, n=name: spent.__setitem__(n, spent[n] + time.perf_counter() - started[n])
            )
        )
    try:
        for _ in range(repeats):
            timed_call(unet, z, kwargs, backward=False)
    finally:
        for handle in handles:
            handle.remove()
    return {name: spent[name] / repeats for name in block_names(unet)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    media = models.media_config()
    grids = num_grids(round(media.span() * media.fps), media.grid)

    torch.manual_seed(0)
    cases = {
        "video": (models.video_unet(), models.video_vae(), grids * ROWS_PER_GRID),
        "audio": (models.audio_unet(), models.audio_vae(), ROWS_PER_GRID),
    }
    prepared = {}
    for kind, (unet, vae, batch) in cases.items():
        unet.eval().requires_grad_(False)
        z, kwargs = inputs(kind, unet, vae, batch)
        timed_call(unet, z, kwargs, backward=True)  # warm-up
        prepared[kind] = (unet, z, kwargs)

    times: dict[tuple[str, bool], list[float]] = defaultdict(list)
    for _ in range(args.repeats):
        for kind, (unet, z, kwargs) in prepared.items():
            for backward in (False, True):
                times[kind, backward].append(timed_call(unet, z, kwargs, backward))

    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'UNet':<6} {'latent':<16} {'params':>9} {'fwd ms':>8} {'fwd+bwd ms':>11}")
    for kind, (unet, z, _) in prepared.items():
        params = sum(p.numel() for p in unet.parameters())
        fwd, both = (1e3 * statistics.median(times[kind, b]) for b in (False, True))
        print(f"{kind:<6} {str(list(z.shape)):<16} {params:>9,} {fwd:>8.1f} {both:>11.1f}")
    for kind, (unet, z, kwargs) in prepared.items():
        spent = block_times(unet, z, kwargs, args.repeats)
        total = sum(spent.values())
        print(f"\n{kind} forward by block (ms, share of the blocks' total)")
        for name, seconds in spent.items():
            print(f"  {name:<14} {1e3 * seconds:7.1f}  {seconds / total:5.0%}")


if __name__ == "__main__":
    main()
