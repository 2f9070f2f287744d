"""The ToyWorld bench's scores: every metric of one edited clip against its task's source and ground truth."""

from __future__ import annotations

import math

import numpy as np
import torch

from aved.codec import PreparedClip
from aved.config import MelConfig
from aved.media.mel import waveform_to_mel
from aved.metrics.av_align import av_align
from aved.toyworld.evaluate import frame_attributes
from aved.toyworld.render import trajectory
from aved.toyworld.scorers import (
    background_psnr,
    bounce_times,
    centroid,
    event_scores,
    object_mask,
    onset_timing,
    sound_events,
    visible_impacts,
)
from aved.toyworld.tasks import EditTask

VISUAL = ("kind", "colour", "background")
# metric → column title (arrow: which way is better)
TOYWORLD_METRICS = {
    "frame_target_acc": "target attr. acc. frames ↑",
    "sound_target_acc": "target kind acc. sound ↑",
    "frame_leak": "unwanted change frames ↓",
    "sound_leak": "unwanted change sound ↓",
    "trajectory_px": "trajectory err. px ↓",
    "background_psnr": "kept background PSNR vs source dB ↑",
    "bounce_recall": "bounce recall frames ↑",
    "bounce_precision": "bounce precision frames ↑",
    "bounce_f1": "bounce F1 frames ↑",
    "sound_recall": "sound-event recall ↑",
    "sound_precision": "sound-event precision ↑",
    "sound_f1": "sound-event F1 ↑",
    "sound_extra": "extra sound events / clip ↓",
    "onset_ms": "onset err. ms ↓",
    "onset_bias_ms": "onset bias ms (0 best)",
    "av_align": "AV-Align ↑",
    "gt_psnr": "PSNR vs truth dB ↑",
    "gt_mel_l1": "mel L1 vs truth ↓",
}
# Bumped when a metric changes meaning (2: background PSNR on kept backgrounds only, events, ceiling rows), so a
# folder scored by another version is not resumed into one table.
SCORER_VERSION = 2


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of two uint8 arrays."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def frame_metrics(
    task: EditTask, frames: np.ndarray, source: np.ndarray, truth: np.ndarray, impacts: np.ndarray, fps: float
) -> dict[str, float]:
    """Attribute accuracy and leakage, trajectory error, kept-background PSNR vs the source, visible bounces
    against the impacts, PSNR vs the truth. Background PSNR is left out where the edit changes the background."""
    changed = [a for a in VISUAL if a in task.changed] or list(VISUAL)  # identity: every attribute is a target
    kept = [a for a in VISUAL if a not in task.changed]
    hits, leaks, distances, psnrs = [], [], [], []
    for frame, original in zip(frames, source, strict=True):
        found = frame_attributes(frame)
        hits += [found[a] == getattr(task.target, a) for a in changed]
        leaks += [found[a] != getattr(task.source, a) for a in kept]
        mask, source_mask = object_mask(frame), object_mask(original)
        if mask.any() and source_mask.any():
            distances.append(float(np.hypot(*np.subtract(centroid(mask), centroid(source_mask)))))
        psnrs.append(background_psnr(frame, original, mask, source_mask))
    keeps_background = "background" not in task.changed and not np.isnan(psnrs).all()
    bounces = event_scores(bounce_times(frames, fps), visible_impacts(impacts, len(frames), fps))
    return {
        "frame_target_acc": _mean(hits),
        "frame_leak": _mean(leaks),
        "trajectory_px": _mean(distances),
        "background_psnr": float(np.nanmean(psnrs)) if keeps_background else math.nan,
        **{f"bounce_{name}": value for name, value in bounces.items()},
        "gt_psnr": _psnr(frames, truth),
    }


def sound_metrics(
    task: EditTask, audio: np.ndarray, rate: int, impacts: np.ndarray, truth_mel: torch.Tensor, mel_config: MelConfig
) -> dict[str, float]:
    """Target-kind accuracy and kind leakage of the sound events; recall, precision, F1 and extra events against
    the impacts; onset error and bias (found − true) of the matched events; mel L1 vs truth.

    A soundtrack with no event scores 0 accuracy and, where the sound should have stayed, full leakage.
    """
    events = sound_events(audio, rate)
    kinds = [kind for _, kind in events]
    if "kind" in task.changed:
        leak = math.nan
    else:
        leak = _mean([k != task.source.kind for k in kinds]) if kinds else 1.0
    found = np.asarray([onset for onset, _ in events])
    timing = onset_timing(found, impacts)
    mel, _ = waveform_to_mel(audio, rate, mel_config)
    return {
        "sound_target_acc": _mean([k == task.target.kind for k in kinds]) if kinds else 0.0,
        "sound_leak": leak,
        **{f"sound_{name}": value for name, value in event_scores(found, impacts).items()},
        "sound_extra": timing["extra"],
        "onset_ms": timing["onset_ms"],
        "onset_bias_ms": timing["onset_bias_ms"],
        "gt_mel_l1": float((mel - truth_mel).abs().mean()),
    }


def score_row(task: EditTask, source: PreparedClip, truth: PreparedClip, edited: PreparedClip, mel: MelConfig):
    """Every metric of one edited clip (frames at the engine's fps and size, sound at any rate)."""
    span = len(source.frames) / source.fps
    impacts = trajectory(task.source).impacts
    impacts = impacts[impacts < span]
    truth_mel = waveform_to_mel(truth.audio, truth.sample_rate, mel)[0]
    return {
        **frame_metrics(task, edited.frames, source.frames, truth.frames, impacts, edited.fps),
        **sound_metrics(task, edited.audio, edited.sample_rate, impacts, truth_mel, mel),
        "av_align": av_align(edited.frames, edited.fps, edited.audio, edited.sample_rate),
    }
