"""Can the timing term tell the moments apart? Its envelope (latent flux) on the ToyWorld priors, against the truth.

The v2 sync term (`aved.losses.timing`) holds each modality's latent flux envelope — ‖x_{t+1} − x_t‖ over the
latent's time rows — correlated with the source's. That only keeps timing if the envelope marks the events and
stays put under a legitimate edit. For the first tasks of the ToyWorld task set it encodes the source and the
ground truth with the priors' VAEs and prints, per modality:

- **event AUC**: how well the source's audio envelope ranks the latent rows at the impacts (±1 row) above the
  others (0.5: it cannot tell event segments apart; 1: every impact row stands above every other row);
- **truth corr**: the correlation of the truth's envelope with the source's (what the term asks of an edit: the
  ideal edit should score near 1, or the term would block it);
- **moved corr**: the same for the source's own envelope circularly shifted by half an impact gap (an edit that
  moved every event: the term should score it low).

    python benchmarks/toyworld_timing.py [--tasks 32] [--task-seed 0]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from aved.codec import encode_audio, encode_frames, prepare_clip
from aved.config import EditConfig, apply_preset
from aved.losses.timing import audio_rows, frame_rows, latent_flux, standardize
from aved.media.frames import unpack_grids
from aved.priors.load import load_audio_prior, load_video_prior
from aved.toyworld.render import trajectory
from aved.toyworld.tasks import task_set

SHIFT_S = 0.25  # half the shortest gap between impacts (render.GAP_STEPS × IMPACT_GRID_S)


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((standardize(a) * standardize(b)).sum())


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a positive row > score of a negative row), ties counted half (Mann–Whitney U / n₊n₋)."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None]).mean()
    ties = (pos[:, None] == neg[None]).mean()
    return float(greater + 0.5 * ties)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--task-seed", type=int, default=0)
    args = parser.parse_args()
    config = apply_preset(EditConfig(), "toyworld")
    media = config.media
    video, audio = load_video_prior(config.model), load_audio_prior(config.model)
    figures: dict[str, list[float]] = {k: [] for k in ("auc_a", "truth_a", "moved_a", "truth_v", "moved_v")}
    with torch.no_grad():
        for task in task_set(seed=args.task_seed, count=args.tasks, duration=media.span()):
            source, truth = (prepare_clip(c, media) for c in (task.source_clip(), task.target_clip()))
            flux = {}
            for name, clip in (("source", source), ("truth", truth)):
                z_a, _ = encode_audio(audio, clip.audio, clip.sample_rate, media)
                z_v = encode_frames(video, clip.frames, media.grid)
                frames = unpack_grids(z_v, media.grid, len(clip.frames))
                flux[name] = (latent_flux(audio_rows(z_a)), latent_flux(frame_rows(frames)))
            (src_a, src_v), (trg_a, trg_v) = flux["source"], flux["truth"]
            row_s = media.mel.duration / (len(src_a) + 1)
            impacts = trajectory(task.source).impacts
            # flux[i] is the step from row i to row i + 1: an onset in row i + 1 shows at index i.
            onset_rows = {round(t / row_s) - 1 + d for t in impacts[impacts < media.span()] for d in (-1, 0, 1)}
            positive = np.isin(np.arange(len(src_a)), sorted(onset_rows))
            figures["auc_a"].append(auc(src_a.numpy(), positive))
            figures["truth_a"].append(correlation(trg_a, src_a))
            figures["moved_a"].append(correlation(torch.roll(src_a, max(1, round(SHIFT_S / row_s))), src_a))
            figures["truth_v"].append(correlation(trg_v, src_v))
            figures["moved_v"].append(correlation(torch.roll(src_v, max(1, round(SHIFT_S * media.fps))), src_v))
    mean = {k: np.nanmean(v) for k, v in figures.items()}
    print(f"{args.tasks} ToyWorld tasks (task seed {args.task_seed}), envelopes through the priors' VAEs")
    print(f"{'modality':<8} {'event AUC':>10} {'truth corr':>11} {'moved corr':>11}")
    print(f"{'audio':<8} {mean['auc_a']:>10.3f} {mean['truth_a']:>11.3f} {mean['moved_a']:>11.3f}")
    print(f"{'frames':<8} {'':>10} {mean['truth_v']:>11.3f} {mean['moved_v']:>11.3f}")


if __name__ == "__main__":
    main()
