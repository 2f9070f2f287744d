"""How well the relevance masks (S > τ, Otsu, or the `delta` relevance) find what a ToyWorld edit should change.

For the first tasks of the ToyWorld task set (identity tasks skipped), at the start of an edit (z_trg = z_src) and
a few timesteps drawn as the editor draws them, it computes the editor's relevance S for each modality and
compares the mask with the truth (the `delta` relevance from the mean |δ| over the draws, per frame, marked
where it is ≥ 0.5, for several τ and reaches):

- frames: the object (when kind or colour changes) and/or the background (when it changes), from the analytic
  object mask of the source frames, max-pooled to latent cells;
- sound: the latent cells where the source's log-mel is within 30 dB of its peak (the soundtrack is the object
  alone), when the kind changes; otherwise nothing should be relevant, and only the covered fraction is shown.

Prints, per modality and threshold, the mean IoU with the truth, the recall, and the fraction of cells marked
(and the fraction the truth covers, for scale); then, per edit type, the frames' mean |δ| inside the object and
well away from it (≥ 2 cells), and the lowest region's mean score over the top region's (what
`relevance.tau_regions` is held to; a frame's value, averaged over the clip): whether δ itself tells a background
edit from an edit that must keep the background.

    python benchmarks/toyworld_relevance.py [--tasks 24] [--timesteps 4] [--task-seed 1]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
import torch.nn.functional as F

from aved.codec import encode_audio, encode_frames, prepare_clip
from aved.config import EditConfig, apply_preset
from aved.editor import ModalityBranch
from aved.media.frames import unpack_grids
from aved.media.mel import waveform_to_mel
from aved.priors.load import load_audio_prior, load_video_prior
from aved.relevance import delta_relevance, delta_scores, latent_regions, region_ratios, relevance_mask
from aved.toyworld.scorers import object_mask
from aved.toyworld.tasks import task_set

TAUS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DELTA_TAUS = (0.25, 0.5, 1.0)
DELTA_REACHES = (0, 1, 2)
MEL_FLOOR_DB = 30.0
FAR_CELLS = 2


def object_pixels(frames: np.ndarray) -> torch.Tensor:
    """[F, 1, H, W] float: the analytic object mask of each source frame."""
    return torch.from_numpy(np.stack([object_mask(f) for f in frames])).float()[:, None]


def frame_truth(task, frames: np.ndarray, size: int) -> torch.Tensor:
    """[F, size, size] bool: latent cells the edit should touch."""
    pooled = F.adaptive_max_pool2d(object_pixels(frames), size)[:, 0] > 0
    truth = torch.zeros_like(pooled)
    if {"kind", "colour"} & set(task.changed):
        truth |= pooled
    if "background" in task.changed:
        truth |= ~pooled
    return truth


def sound_truth(task, mel: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[T, M] bool: latent cells holding the object's sound when the kind changes, else none."""
    loud = (mel[0, 0] > mel.max() - MEL_FLOOR_DB * np.log(10) / 10).float()[None, None]
    pooled = F.adaptive_max_pool2d(loud, size)[0, 0] > 0
    return pooled if "kind" in task.changed else torch.zeros_like(pooled)


def scores_of(
    branch: ModalityBranch, z: torch.Tensor, t: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(S, |δ|) of one draw at z_trg = z_src."""
    noise = torch.randn(z.shape, generator=generator)
    with torch.no_grad():
        out = branch.run(z, z.clone(), torch.tensor([t]), noise, need_features=False)
    return out.scores, out.delta.abs()


def object_and_far(frames: np.ndarray, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[F, size, size] bool: cells mostly inside the object, and cells at least FAR_CELLS from any object cell."""
    objects = object_pixels(frames)
    inside = F.adaptive_avg_pool2d(objects, size)[:, 0] > 0.5
    touched = F.adaptive_max_pool2d(objects, size)
    near = F.max_pool2d(touched, 2 * FAR_CELLS + 1, stride=1, padding=FAR_CELLS)[:, 0] > 0
    return inside, ~near


def delta_masks(
    magnitude: torch.Tensor, grid: int, regions: torch.Tensor | None = None, tau_regions: float = 0.5
) -> dict[str, torch.Tensor]:
    """The `delta` relevance from the mean |δ| of the draws, marked where it is ≥ 0.5, for several τ and reaches;
    with `regions` (the source frames' k-means labels) also pooled by region at `tau_regions`
    (`relevance.frame_regions`)."""
    out = {}
    for tau in DELTA_TAUS:
        for reach in DELTA_REACHES:
            out[f"δ τ{tau} r{reach}"] = delta_relevance(magnitude, grid, tau, reach) >= 0.5
            if regions is not None:
                out[f"δ τ{tau} r{reach} +reg"] = (
                    delta_relevance(magnitude, grid, tau, reach, regions, tau_regions) >= 0.5
                )
    return out


def masks(scores: torch.Tensor) -> dict[str, torch.Tensor]:
    out = {f"tau {tau:.1f}": relevance_mask(scores, "fixed", tau) for tau in TAUS}
    out["otsu"] = relevance_mask(scores, "otsu", 0.0)
    return out


def add(stats: dict, name: str, mask: torch.Tensor, truth: torch.Tensor) -> None:
    union = (mask | truth).sum().item()
    entry = stats.setdefault(name, {"iou": [], "recall": [], "marked": [], "truth": []})
    entry["marked"].append(mask.float().mean().item())
    entry["truth"].append(truth.float().mean().item())
    if truth.any():
        entry["iou"].append((mask & truth).sum().item() / union)
        entry["recall"].append((mask & truth).sum().item() / truth.sum().item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=24)
    parser.add_argument("--timesteps", type=int, default=4)
    parser.add_argument("--task-seed", type=int, default=1, help="1: not the bench's task set (seed 0)")
    args = parser.parse_args()
    config = apply_preset(EditConfig(), "toyworld")
    config.relevance.method = "fixed"  # the branches then record the cross-attention S; δ they return anyway
    media, n = config.media, config.media.grid
    video, audio = load_video_prior(config.model), load_audio_prior(config.model)
    generator = torch.Generator().manual_seed(0)
    tasks = task_set(seed=args.task_seed, count=110, duration=media.span())
    tasks = [t for t in tasks if t.edit_type != "identity"][: args.tasks]
    stats = {"frames, object edits": {}, "frames, background edits": {}, "sound": {}}
    by_type: dict[str, list[tuple[float, float]]] = {}
    for task in tasks:
        source = prepare_clip(task.source_clip(), media)
        z_v = encode_frames(video, source.frames, n)
        z_a, _ = encode_audio(audio, source.audio, source.sample_rate, media)
        mel, _ = waveform_to_mel(source.audio, source.sample_rate, media.mel)
        v_branch = ModalityBranch(video, task.source_prompt, task.target_prompt, config, n, False)
        a_branch = ModalityBranch(audio, task.source_prompt, task.target_prompt, config, 1, False)
        v_truth = frame_truth(task, source.frames, z_v.shape[-1] // n)
        a_truth = sound_truth(task, mel, tuple(z_a.shape[-2:]))
        group = "frames, background edits" if "background" in task.changed else "frames, object edits"
        v_delta, a_delta = [], []
        with v_branch.capturing(), a_branch.capturing():  # once per task, as the editor does once per edit
            for _ in range(args.timesteps):
                t = int(torch.randint(config.t_min, config.t_max + 1, (1,), generator=generator))
                v_scores, v_magnitude = scores_of(v_branch, z_v, t, generator)
                v_scores = unpack_grids(v_scores[:, None], n, len(source.frames))[:, 0]
                v_delta.append(unpack_grids(v_magnitude, n, len(source.frames)))
                a_scores, a_magnitude = scores_of(a_branch, z_a, t, generator)
                a_delta.append(a_magnitude)
                for name, mask in masks(v_scores).items():
                    add(stats[group], name, mask, v_truth)
                for name, mask in masks(a_scores[0]).items():
                    add(stats["sound"], name, mask, a_truth)
        # The delta relevance is a mean over the edit's steps: here over the draws, once per task.
        v_magnitude = torch.stack(v_delta).mean(0)
        regions = latent_regions(unpack_grids(z_v, n, len(source.frames)), config.relevance.frame_regions)
        for name, mask in delta_masks(v_magnitude, 1, regions, config.relevance.tau_regions).items():
            add(stats[group], name, mask, v_truth)
        inside, far = object_and_far(source.frames, v_magnitude.shape[-1])
        per_cell = v_magnitude.mean(1)
        ratios = region_ratios(delta_scores(v_magnitude, 1, config.relevance.reach_video), regions)
        lowest = float(np.mean([float(r.min()) for _, r in ratios]))
        if inside.any() and far.any():
            by_type.setdefault(task.edit_type, []).append(
                (per_cell[inside].mean().item(), per_cell[far].mean().item(), lowest)
            )
        for name, mask in delta_masks(torch.stack(a_delta).mean(0), 1).items():
            add(stats["sound"], name, mask[0], a_truth)
    print(f"{len(tasks)} tasks × {args.timesteps} timesteps, relevance at the start of the edit")
    for modality, table in stats.items():
        print(f"\n{modality} (the truth covers {np.mean(table['otsu']['truth']):.3f} of the cells)")
        print(f"{'threshold':>10s} {'IoU':>6s} {'recall':>7s} {'marked':>7s}")
        for name, entry in table.items():
            iou = np.mean(entry["iou"]) if entry["iou"] else float("nan")
            recall = np.mean(entry["recall"]) if entry["recall"] else float("nan")
            print(f"{name:>10s} {iou:6.3f} {recall:7.3f} {np.mean(entry['marked']):7.3f}")
    print(f"\nframes' mean |δ| by edit type: in the object, ≥ {FAR_CELLS} cells from it, and their ratio per task;")
    print(f"the lowest region's score over the top region's (relevance.tau_regions = {config.relevance.tau_regions})")
    print(f"{'edit type':>24s} {'tasks':>5s} {'object':>7s} {'far':>7s} {'far/object':>11s} {'lowest/top region':>24s}")
    for edit_type, values in by_type.items():
        inside_mean, far_mean, _ = np.mean(np.array(values), 0)
        ratio = np.median([away / on for on, away, _ in values])
        lowest = np.array([v[2] for v in values])
        spread = f"{np.median(lowest):.2f} ({lowest.min():.2f}–{lowest.max():.2f})"
        print(f"{edit_type:>24s} {len(values):5d} {inside_mean:7.3f} {far_mean:7.3f} {ratio:11.2f} {spread:>24s}")


if __name__ == "__main__":
    main()
