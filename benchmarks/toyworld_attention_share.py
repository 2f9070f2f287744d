"""Do the ToyWorld frame prior's edit words attend to what the edit changes, on an absolute scale?

At the source latents, for the first tasks of a task set (identity skipped) and a few timesteps drawn as the editor
draws them, each position's cross-attention share of the edit words — the attention mass on the edit words' tokens
over the mass on all word tokens, times words/edit words, so 1 means "as much as an average word" — averaged over
draws, layers and both prompts; then, for several thresholds, IoU / recall / marked fraction against the truth of
toyworld_relevance.py (the object for kind/colour edits, the object and background for background edits).
No min–max normalisation: the scale is the softmax's own.

    python benchmarks/toyworld_attention_share.py [--tasks 16] [--timesteps 8] [--task-seed 1]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
import torch.nn.functional as F
from toyworld_relevance import add, frame_truth

from aved.codec import encode_frames, prepare_clip
from aved.config import EditConfig, apply_preset
from aved.editor import ModalityBranch
from aved.media.frames import unpack_grids
from aved.priors.load import load_video_prior
from aved.relevance import layer_shape
from aved.toyworld.tasks import task_set

THRESHOLDS = (0.8, 1.0, 1.2, 1.5)
SOURCE_ROW, TARGET_ROW = 1, 2  # the rows of a branch's Condition: unconditional, source, target


def word_positions(prior, prompt: str) -> list[int]:
    return sorted({p for _, positions in prior.token_positions(prompt) for p in positions})


def share_map(branch: ModalityBranch, prior, z: torch.Tensor, t: int, noise: torch.Tensor, words) -> torch.Tensor:
    """[B, h, w]: the edit words' share of the word tokens' attention, relative to an average word, at one draw."""
    alpha_bar = prior.alphas_cumprod[t]
    z_t = alpha_bar.sqrt() * z + (1 - alpha_bar).sqrt() * noise
    count, size = z.shape[0], tuple(z.shape[-2:])
    with torch.no_grad():
        cond = branch.cond.take([SOURCE_ROW] * count + [TARGET_ROW] * count)
        prior.predict_noise(torch.cat([z_t, z_t]), torch.tensor([t]), cond)
    probs, _ = branch.store.take()
    maps = []
    for name in branch.prob_layers:
        layer = probs[name].float()
        for rows, edit, all_words in (
            (layer[:count], branch.src_tokens, words[0]),
            (layer[count:], branch.trg_tokens, words[1]),
        ):
            share = layer_rows_share(rows, edit, all_words)
            h, w = layer_shape(share.shape[1], size)
            maps.append(F.interpolate(share.view(count, 1, h, w), size=size, mode="bilinear")[:, 0])
    return torch.stack(maps).mean(0)


def layer_rows_share(rows: torch.Tensor, edit: list[int], words: list[int]) -> torch.Tensor:
    """[B, Q]: mass on the edit tokens / mass on the word tokens, × |words| / |edit| (1 = an average word's)."""
    mass = rows[..., edit].sum(-1) / rows[..., words].sum(-1).clamp_min(1e-12)
    return mass * len(words) / max(len(edit), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--task-seed", type=int, default=1, help="1: not the bench's task set (seed 0)")
    args = parser.parse_args()
    config = apply_preset(EditConfig(), "toyworld")
    config.relevance.method = "fixed"  # the branches then record the cross-attention probabilities
    media, n = config.media, config.media.grid
    video = load_video_prior(config.model)
    generator = torch.Generator().manual_seed(0)
    tasks = [t for t in task_set(seed=args.task_seed, count=110, duration=media.span()) if t.edit_type != "identity"]
    stats = {"object edits": {}, "background edits": {}}
    for task in tasks[: args.tasks]:
        source = prepare_clip(task.source_clip(), media)
        z = encode_frames(video, source.frames, n)
        branch = ModalityBranch(video, task.source_prompt, task.target_prompt, config, n, False)
        words = (word_positions(video, task.source_prompt), word_positions(video, task.target_prompt))
        truth = frame_truth(task, source.frames, z.shape[-1] // n)
        shares = []
        with branch.capturing():
            for _ in range(args.timesteps):
                t = int(torch.randint(config.t_min, config.t_max + 1, (1,), generator=generator))
                shares.append(share_map(branch, video, z, t, torch.randn(z.shape, generator=generator), words))
        share = unpack_grids(torch.stack(shares).mean(0)[:, None], n, len(source.frames))[:, 0]
        share = F.adaptive_avg_pool2d(share[:, None], truth.shape[-2:])[:, 0]
        group = "background edits" if "background" in task.changed else "object edits"
        for threshold in THRESHOLDS:
            add(stats[group], f"share > {threshold}", share > threshold, truth)
        off = f"{share[~truth].mean():.2f}" if (~truth).any() else "—"
        print(f"{task.id:>24s}  share on the truth {share[truth].mean():.2f}, off it {off}")
    print(f"\n{args.tasks} tasks × {args.timesteps} timesteps, at the source")
    for group, table in stats.items():
        print(f"\n{group}\n{'threshold':>12s} {'IoU':>6s} {'recall':>7s} {'marked':>7s}")
        for name, entry in table.items():
            iou, recall, marked = (np.mean(entry[k]) for k in ("iou", "recall", "marked"))
            print(f"{name:>12s} {iou:6.3f} {recall:7.3f} {marked:7.3f}")


if __name__ == "__main__":
    main()
