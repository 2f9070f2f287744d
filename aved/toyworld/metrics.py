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
    match_onsets,
    object_mask,
    onset_timing,
    sound_events,
    visible_impacts,
)
from aved.toyworld.tasks import EditTask

VISUAL = ("kind", "colour", "background")
BOUNDARY_S = 0.1  # an impact within this of a window boundary is "near" it (issue 19's ±0.1 s)
LEVEL_S = 0.05  # the RMS on either side of a point, for its level step; the trend's steps sit this far either side
LEVEL_BAR_DB = 1.0  # issue 19: no level jump at a boundary beyond this
AUDIBLE = 1e-2  # of a sound's peak (−40 dB): quieter, the codec's noise floor sets the level (benchmarks/README.md)
BOUNDARY_METRICS = {
    "sound_recall_near": "sound-event recall near window boundaries ↑",
    "sound_recall_far": "sound-event recall away from boundaries ↑",
    "onset_ms_near": "onset err. near boundaries ms ↓",
    "onset_ms_far": "onset err. away from boundaries ms ↓",
    "kind_acc_near": "kind acc. of events near boundaries ↑",
    "kind_acc_far": "kind acc. of events away from boundaries ↑",
    "boundary_jump_db": "level jump at boundaries dB ↓",
    "control_jump_db": "level jump midway between boundaries dB ↓",
}
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
    **BOUNDARY_METRICS,  # clips longer than the audio window only
}
# Bumped when a metric changes meaning (2: background PSNR on kept backgrounds only, events, ceiling rows; 3: mel
# L1 over a long clip's whole sound, the window-boundary scores; 4: the level jump inside kept hits' sound),
# so a folder scored by another version is not resumed into one table.
SCORER_VERSION = 4


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
    task: EditTask,
    audio: np.ndarray,
    rate: int,
    impacts: np.ndarray,
    truth_mel: torch.Tensor,
    mel_config: MelConfig,
    frames: int | None = None,
    events: list[tuple[float, str]] | None = None,
) -> dict[str, float]:
    """Target-kind accuracy and kind leakage of the sound events (`events`: sound_events of `audio`, found here when
    not given); recall, precision, F1 and extra events against the impacts; onset error and bias (found − true) of
    the matched events; mel L1 vs truth.

    A soundtrack with no event scores 0 accuracy and, where the sound should have stayed, full leakage.
    """
    events = sound_events(audio, rate) if events is None else events
    kinds = [kind for _, kind in events]
    if "kind" in task.changed:
        leak = math.nan
    else:
        leak = _mean([k != task.source.kind for k in kinds]) if kinds else 1.0
    found = np.asarray([onset for onset, _ in events])
    timing = onset_timing(found, impacts)
    mel, _ = waveform_to_mel(audio, rate, mel_config, frames)
    return {
        "sound_target_acc": _mean([k == task.target.kind for k in kinds]) if kinds else 0.0,
        "sound_leak": leak,
        **{f"sound_{name}": value for name, value in event_scores(found, impacts).items()},
        "sound_extra": timing["extra"],
        "onset_ms": timing["onset_ms"],
        "onset_bias_ms": timing["onset_bias_ms"],
        "gt_mel_l1": float((mel - truth_mel).abs().mean()),
    }


def level_step_db(audio: np.ndarray, rate: int, at: float) -> float:
    """20·log10 of the RMS in the LEVEL_S after `at` over the RMS in the LEVEL_S before it."""
    centre, width = round(at * rate), round(LEVEL_S * rate)
    before, after = audio[max(0, centre - width) : centre], audio[centre : centre + width]
    rms = [float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0 for x in (before, after)]
    return 20 * math.log10(max(rms[1], 1e-12) / max(rms[0], 1e-12))


def level_jump_db(audio: np.ndarray, rate: int, at: float) -> float:
    """The level step at `at` less the envelope's own trend there, the mean of the steps LEVEL_S either side (their
    RMS windows end where the step's begin): 0 on any steady decay or rise, the whole jump where the level leaps."""
    trend = (level_step_db(audio, rate, at - LEVEL_S) + level_step_db(audio, rate, at + LEVEL_S)) / 2
    return level_step_db(audio, rate, at) - trend


def boundary_metrics(
    task: EditTask,
    audio: np.ndarray,
    rate: int,
    truth: np.ndarray,
    truth_rate: int,
    impacts: np.ndarray,
    boundaries: list[float],
    events: list[tuple[float, str]] | None = None,
) -> dict[str, float]:
    """Recall, onset error and kind accuracy of the sound events (`events` as in sound_metrics) at impacts within
    BOUNDARY_S of a window boundary and at the others (NaN for an empty group or without boundaries), and the mean
    |level jump| of the edit at the boundaries inside the sound of a hit it kept, and midway between them
    (_mean_jump)."""
    out = dict.fromkeys(BOUNDARY_METRICS, math.nan)
    if not boundaries:
        return out
    events = sound_events(audio, rate) if events is None else events
    found = np.asarray([onset for onset, _ in events])
    near = np.asarray([min(abs(t - b) for b in boundaries) <= BOUNDARY_S for t in impacts], dtype=bool)
    for name, group in (("near", impacts[near]), ("far", impacts[~near])):
        if not len(group):
            continue
        pairs = match_onsets(found, group)
        out[f"sound_recall_{name}"] = len(pairs) / len(group)
        if pairs:
            out[f"onset_ms_{name}"] = float(np.mean([1000 * abs(found[i] - group[j]) for i, j in pairs]))
            out[f"kind_acc_{name}"] = float(np.mean([events[i][1] == task.target.kind for i, _ in pairs]))
    heard = impacts[[j for _, j in match_onsets(found, impacts)]]
    # The same measure midway between boundaries, where no two windows blend: only a seam makes the boundaries
    # worse than these.
    span = len(truth) / truth_rate
    edges = [0.0, *boundaries, span]
    controls = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    sounds = ((audio, rate), (truth, truth_rate))
    out["boundary_jump_db"] = _mean_jump(sounds, impacts, heard, found, boundaries)
    out["control_jump_db"] = _mean_jump(sounds, impacts, heard, found, controls)
    return out


def _mean_jump(
    sounds: tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]],
    impacts: np.ndarray,
    heard: np.ndarray,
    found: np.ndarray,
    points: list[float],
) -> float:
    """Mean |level jump| of the edit (sounds[0]; sounds[1] the truth) over the points inside the sound of a hit it
    kept: the last impact before one the edit matched (`heard`; a lost hit is the recall's business), no true or
    found onset within the four RMS windows (an onset there is an event, not a seam), both sounds audible in each."""
    reach, onsets = 2 * LEVEL_S, np.concatenate([impacts, found])
    jumps = []
    for at in points:
        before = impacts[impacts <= at - reach]
        if not len(before) or not np.isin(before.max(), heard) or np.any(np.abs(onsets - at) < reach):
            continue
        audible = True
        for sound, rate in sounds:
            floor = AUDIBLE * float(np.abs(sound).max(initial=0.0))
            edges = [round((at + k * LEVEL_S) * rate) for k in range(-2, 3)]
            blocks = [sound[max(0, a) : b] for a, b in zip(edges, edges[1:], strict=False)]
            audible = audible and all(len(s) and float(np.abs(s).max()) > floor for s in blocks)
        if audible:
            jumps.append(abs(level_jump_db(sounds[0][0], sounds[0][1], at)))
    return float(np.mean(jumps)) if jumps else math.nan


def score_row(
    task: EditTask,
    source: PreparedClip,
    truth: PreparedClip,
    edited: PreparedClip,
    mel: MelConfig,
    boundaries: list[float] = (),
):
    """Every metric of one edited clip (frames at the engine's fps and size, sound at any rate); `boundaries`: the
    audio windows' boundaries in seconds (none for a sound within one window)."""
    span = len(source.frames) / source.fps
    impacts = trajectory(task.source).impacts
    impacts = impacts[impacts < span]
    frames = mel_frames(span, mel)
    truth_mel = waveform_to_mel(truth.audio, truth.sample_rate, mel, frames)[0]
    events = sound_events(edited.audio, edited.sample_rate)  # once: both the sound and the boundary scores read them
    audio, rate = edited.audio, edited.sample_rate
    return {
        **frame_metrics(task, edited.frames, source.frames, truth.frames, impacts, edited.fps),
        **sound_metrics(task, audio, rate, impacts, truth_mel, mel, frames, events),
        "av_align": av_align(edited.frames, edited.fps, audio, rate),
        **boundary_metrics(task, audio, rate, truth.audio, truth.sample_rate, impacts, list(boundaries), events),
    }


def mel_frames(seconds: float, mel: MelConfig) -> int | None:
    """Mel frames to score a sound of `seconds` on: the prior's window (None) up to its length, all of it past it."""
    frames = math.ceil(round(seconds * mel.sample_rate) / mel.hop_length)
    return None if frames <= mel.num_frames else frames
