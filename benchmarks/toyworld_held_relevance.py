"""The frame relevance an `aved` edit holds, on the object and on the background, per ToyWorld edit type.

For the first tasks of a ToyWorld task set (identity skipped), the editor's own estimate before the first step
(`Editor.start`: relevance.estimate_timesteps_video, the preset's regions and reach) with the frame edit split into its
single changes (`relevance.split_video`, the default) and not. Prints, per edit type, the mean held relevance over
the latent cells of the object and of the background (from the analytic object mask of the source frames, a cell
is the object's where it covers half of it): what the anchor frees (1) and holds (0). An edit that changes the
background should free it; one that keeps it should not.

    python benchmarks/toyworld_held_relevance.py [--tasks 56] [--task-seed 1]
"""

from __future__ import annotations

import argparse
import copy
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
import torch.nn.functional as F
from toyworld_relevance import object_pixels

from aved.codec import prepare_clip
from aved.config import EditConfig, apply_preset
from aved.editor import Editor
from aved.media.frames import unpack_grids
from aved.priors.load import load_audio_prior, load_video_prior
from aved.toyworld.tasks import task_set


def object_cells(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[F, h, w] bool: latent cells at least half covered by the source frame's object."""
    return (F.adaptive_avg_pool2d(object_pixels(frames), size)[:, 0] >= 0.5).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=56)
    parser.add_argument("--task-seed", type=int, default=0)
    args = parser.parse_args()

    config = apply_preset(EditConfig(), "toyworld")
    config.media.duration = 2.0
    video, audio = load_video_prior(config.model), load_audio_prior(config.model)
    tasks = [t for t in task_set(args.task_seed, args.tasks, duration=2.0) if t.edit_type != "identity"]
    table: dict[str, list[list[float]]] = {}
    for task in tasks:
        clip = prepare_clip(task.source_clip(), config.media)
        row = []
        for split in (False, True):
            run = copy.deepcopy(config)
            run.prompts.source, run.prompts.target = task.source_prompt, task.target_prompt
            run.relevance.split_video = split
            editor = Editor(video, audio, run)
            state = editor.start(clip, torch.Generator().manual_seed(run.seed), progress=False)
            grids = state.held_relevance["v"][:, None]
            held = unpack_grids(grids, run.media.grid, state.num_frames)[:, 0].cpu().numpy()
            obj = object_cells(clip.frames, held.shape[-2:])
            row += [float(held[obj].mean()) if obj.any() else float("nan"), float(held[~obj].mean())]
        table.setdefault(task.edit_type, []).append(row)
    print(f"task seed {args.task_seed}, {len(tasks)} tasks: mean held frame relevance (0 held, 1 free)")
    print(f"{'edit type':24s} {'n':>3s}  {'unsplit obj':>11s} {'unsplit bg':>10s}  {'split obj':>9s} {'split bg':>8s}")
    for edit_type, rows in table.items():
        o, b, so, sb = np.nanmean(np.array(rows), 0)
        print(f"{edit_type:24s} {len(rows):3d}  {o:11.2f} {b:10.2f}  {so:9.2f} {sb:8.2f}")


if __name__ == "__main__":
    main()
