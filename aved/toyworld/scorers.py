"""Analytic scorers (no neural nets) of toyworld clips: object mask, colour, kind and background per frame;
sound events (onsets) and their kinds per soundtrack; background PSNR; clip-level accuracies.

The rules read frames at any size (the engine resizes to 256 px) and are meant to tolerate imperfect, edited
frames and audio: the background model is estimated from the frame itself (per-row median), the object is the
largest connected blob of pixels far from it, and sound kinds come from coarse spectral features.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from aved.media.frames import nearest_frames, sample_times
from aved.toyworld.scene import BACKGROUNDS, COLOURS, Scene

MASK_DISTANCE = 55.0  # RGB distance from the row's background colour that makes a pixel an object pixel
PSNR_CAP = 100.0  # dB, reported for identical backgrounds
ENVELOPE_WINDOW_S = 0.016  # energy envelope box window (longer than one period of a 70 Hz thud)
ENVELOPE_HOP_S = 0.001
ONSET_RISE_DB = 10.0  # an onset is a rise of this much above the minimum of the last ONSET_LOOKBACK_S
ONSET_LOOKBACK_S = 0.03
ONSET_FLOOR_DB = 45.0  # ignore energy this far below the loudest point
ONSET_REFRACTORY_S = 0.1
EVENT_WINDOW_S = 0.12  # analysis window after an onset
ONSET_TOLERANCE_S = 0.05
BOUNCE_PROMINENCE = 1 / 64  # frame heights the lowest point must sit below both neighbours (truth: ≥ 0.08)


# ----------------------------------------------------------------------------------------------- frames


def row_background(frame: np.ndarray) -> np.ndarray:
    """Per-row median colour [H, 1, 3]: the background model (the object never fills half a row)."""
    return np.median(frame.astype(np.float32), axis=1, keepdims=True)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected blob of a bool mask (empty stays empty)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(mask, dtype=bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def object_mask(frame: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Bool [H, W] mask of the object: the largest blob far (in RGB) from the background.

    `background` is a reference background image of the same size (e.g. the clean render); without it the
    frame's own per-row median is the background, which needs nothing but the frame.
    """
    reference = row_background(frame) if background is None else np.asarray(background, np.float32)
    distance = np.linalg.norm(frame.astype(np.float32) - reference, axis=-1)
    # Opening removes specks (stars, noise) that would otherwise join the object's blob and stretch its box.
    width = max(3, round(min(frame.shape[:2]) / 64)) | 1
    kernel = np.ones((width, width), np.uint8)
    return largest_component(cv2.morphologyEx((distance > MASK_DISTANCE).astype(np.uint8), cv2.MORPH_OPEN, kernel))


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) pixel centroid of a mask (pixel centres at integer coordinates); NaN if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return math.nan, math.nan
    return float(xs.mean()), float(ys.mean())


def nearest_name(value: np.ndarray, palette: dict[str, np.ndarray]) -> str:
    """Name of the palette entry nearest to `value` (Euclidean)."""
    names = list(palette)
    table = np.asarray([palette[name] for name in names], np.float32)
    return names[int(np.argmin(np.linalg.norm(table - np.asarray(value, np.float32), axis=1)))]


def frame_colour(frame: np.ndarray, mask: np.ndarray) -> str | None:
    """Palette colour nearest to the median colour of the masked pixels; None if the mask is empty."""
    if not mask.any():
        return None
    median = np.median(frame[mask].astype(np.float32), axis=0)
    return nearest_name(median, {name: np.asarray(rgb) for name, rgb in COLOURS.items()})


def shape_features(mask: np.ndarray) -> dict[str, float]:
    """Fill ratio of the bounding box and mean row width of the top third over the bottom third."""
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    box = mask[top : bottom + 1, left : right + 1]
    widths = box.sum(axis=1).astype(np.float64)
    third = max(1, len(widths) // 3)
    return {
        "fill": float(box.mean()),
        "taper": float(widths[:third].mean() / max(widths[-third:].mean(), 1.0)),
        "aspect": float(box.shape[1] / box.shape[0]),
    }


def kind_from_shape(features: dict[str, float]) -> str:
    """Kind from shape features: bell narrows to the top, drum fills its box, bird (chevron) fills little."""
    if features["taper"] < 0.65:
        return "bell"
    if features["fill"] > 0.9:
        return "drum"
    return "bird" if features["fill"] < 0.6 else "ball"


def frame_kind(mask: np.ndarray) -> str | None:
    """Kind whose shape the mask has; None if the mask is too small to tell (under 12 pixels)."""
    if mask.sum() < 12:
        return None
    return kind_from_shape(shape_features(mask))


def background_colours() -> dict[str, np.ndarray]:
    """Mean RGB of each background (the middle of its gradient)."""
    return {
        name: (np.asarray(top, np.float32) + np.asarray(bottom, np.float32)) / 2
        for name, (top, bottom, *_) in BACKGROUNDS.items()
    }


def background_kind(frame: np.ndarray, mask: np.ndarray | None = None) -> str:
    """Background whose mean colour is nearest to the median colour outside the object."""
    mask = object_mask(frame) if mask is None else mask
    outside = frame[~mask].astype(np.float32)
    return nearest_name(np.median(outside, axis=0), background_colours())


def background_psnr(
    frame_a: np.ndarray, frame_b: np.ndarray, mask_a: np.ndarray | None = None, mask_b: np.ndarray | None = None
) -> float:
    """PSNR (dB, capped at PSNR_CAP) of two frames over the pixels outside both object masks.

    The union of the masks is grown by size/64 px so the objects' anti-aliased rims do not count.
    """
    mask_a = object_mask(frame_a) if mask_a is None else mask_a
    mask_b = object_mask(frame_b) if mask_b is None else mask_b
    margin = max(1, round(min(frame_a.shape[:2]) / 64))
    union = cv2.dilate((mask_a | mask_b).astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    keep = union == 0
    if not keep.any():
        return math.nan
    error = frame_a[keep].astype(np.float64) - frame_b[keep].astype(np.float64)
    mse = float(np.mean(error**2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * math.log10(255.0**2 / mse))


# ----------------------------------------------------------------------------------------------- sounds


def energy_envelope(waveform: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, dB) of the mean power over a centred ENVELOPE_WINDOW_S box, every ENVELOPE_HOP_S."""
    window = max(1, round(ENVELOPE_WINDOW_S * sample_rate))
    hop = max(1, round(ENVELOPE_HOP_S * sample_rate))
    power = np.convolve(np.asarray(waveform, np.float64) ** 2, np.ones(window) / window, mode="same")
    return np.arange(0, len(power), hop) / sample_rate, 10 * np.log10(power[::hop] + 1e-12)


def onsets(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """Onset times (s): where the energy rises ONSET_RISE_DB above its recent minimum, above the floor."""
    times, level = energy_envelope(waveform, sample_rate)
    if len(level) == 0:
        return np.zeros(0)
    lookback = max(1, round(ONSET_LOOKBACK_S / ENVELOPE_HOP_S))
    padded = np.concatenate([np.full(lookback, level.min()), level])
    recent = np.lib.stride_tricks.sliding_window_view(padded, lookback)[: len(level)].min(axis=1)
    candidate = (level - recent > ONSET_RISE_DB) & (level > level.max() - ONSET_FLOOR_DB)
    found: list[float] = []
    for t in times[candidate]:
        if not found or t - found[-1] >= ONSET_REFRACTORY_S:
            found.append(float(t))
    return np.asarray([refine_onset(waveform, sample_rate, t) for t in found])


def refine_onset(waveform: np.ndarray, sample_rate: int, coarse: float) -> float:
    """First sample near a coarse onset whose magnitude reaches a quarter of the event's peak."""
    lo = max(0, round((coarse - ENVELOPE_WINDOW_S) * sample_rate))
    hi = min(len(waveform), round((coarse + ENVELOPE_WINDOW_S + 0.02) * sample_rate))
    level = np.abs(np.asarray(waveform[lo:hi], np.float64))
    if len(level) == 0 or level.max() == 0:
        return coarse
    return (lo + int(np.argmax(level >= 0.25 * level.max()))) / sample_rate


def event_features(segment: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Spectral features of one event: peak frequency, flatness, centroid, chirp slope (Hz/s), decay (s)."""
    windowed = segment * np.hanning(len(segment))
    spectrum = np.abs(np.fft.rfft(windowed, n=max(4096, len(segment)))) ** 2
    freqs = np.fft.rfftfreq(max(4096, len(segment)), 1 / sample_rate)
    band = (freqs >= 40) & (freqs <= min(7500, sample_rate / 2))
    power, f = spectrum[band], freqs[band]
    bands = np.array([chunk.mean() for chunk in np.array_split(power, 64)]) + 1e-20
    halves = np.array_split(segment, 2)
    peaks = [_peak_frequency(half, sample_rate) for half in halves]
    level = np.abs(segment)
    return {
        "peak_hz": float(f[np.argmax(power)]),
        "flatness": float(np.exp(np.mean(np.log(bands))) / bands.mean()),
        "centroid_hz": float((f * power).sum() / max(power.sum(), 1e-20)),
        "slope_hz_per_s": float((peaks[1] - peaks[0]) / (len(segment) / 2 / sample_rate)),
        "decay_s": float(np.argmax(level < level.max() * 0.1) / sample_rate) if level.max() > 0 else 0.0,
    }


def _peak_frequency(segment: np.ndarray, sample_rate: int) -> float:
    """Frequency (Hz) of the strongest spectral peak above 40 Hz."""
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=4096))
    freqs = np.fft.rfftfreq(4096, 1 / sample_rate)
    spectrum[freqs < 40] = 0
    return float(freqs[np.argmax(spectrum)])


def kind_from_sound(features: dict[str, float]) -> str:
    """Kind from event features: drum is noise (flat), ball is low, bird is high (chirp), bell in between."""
    if features["flatness"] > 0.25:
        return "drum"
    if features["peak_hz"] < 400:
        return "ball"
    if features["peak_hz"] > 2500:
        return "bird"
    return "bell"


def sound_events(waveform: np.ndarray, sample_rate: int) -> list[tuple[float, str]]:
    """(onset s, kind) of every sound event; each event is analysed up to the next onset (at most 120 ms)."""
    waveform = np.asarray(waveform, np.float64)
    starts = onsets(waveform, sample_rate)
    events = []
    for index, start in enumerate(starts):
        stop = start + EVENT_WINDOW_S
        if index + 1 < len(starts):
            stop = min(stop, starts[index + 1] - 0.005)
        segment = waveform[round(start * sample_rate) : round(stop * sample_rate)]
        if len(segment) >= 64:
            events.append((float(start), kind_from_sound(event_features(segment, sample_rate))))
    return events


def match_onsets(found: np.ndarray, truth: np.ndarray, tolerance: float = ONSET_TOLERANCE_S) -> list[tuple[int, int]]:
    """Greedy one-to-one (found index, truth index) pairs within `tolerance`, nearest first."""
    pairs = sorted(
        (abs(f - t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth) if abs(f - t) <= tolerance
    )
    used_found, used_truth, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
            out.append((i, j))
    return out


def event_scores(found: np.ndarray, truth: np.ndarray, tolerance: float = ONSET_TOLERANCE_S) -> dict[str, float]:
    """Recall, precision and F1 of found event times against true ones, matched one-to-one within `tolerance`.

    F1 = 2·matches / (found + true); with no true and no found event every score is 1.
    """
    matches = len(match_onsets(np.asarray(found), np.asarray(truth), tolerance))
    total = len(found) + len(truth)
    return {
        "recall": matches / len(truth) if len(truth) else float(len(found) == 0),
        "precision": matches / len(found) if len(found) else float(len(truth) == 0),
        "f1": 2 * matches / total if total else 1.0,
    }


def onset_timing(found: np.ndarray, truth: np.ndarray, tolerance: float = ONSET_TOLERANCE_S) -> dict[str, float]:
    """Onset error and bias (found − true, ms) over the one-to-one matched events (NaN with none), and the
    events found beyond the matched ones (`extra`) and the true ones left unmatched (`missing`)."""
    found, truth = np.asarray(found), np.asarray(truth)
    pairs = match_onsets(found, truth, tolerance)
    signed = np.asarray([1000 * (found[i] - truth[j]) for i, j in pairs])
    return {
        "onset_ms": float(np.abs(signed).mean()) if pairs else math.nan,
        "onset_bias_ms": float(signed.mean()) if pairs else math.nan,
        "extra": float(len(found) - len(pairs)),
        "missing": float(len(truth) - len(pairs)),
    }


def bounce_times(frames: np.ndarray, fps: float) -> np.ndarray:
    """Times (s) of the frames where the object is lowest between its neighbours: the visible bounces.

    An impact frame shows the object on the ground and the frames either side in the air, so a bounce is a frame
    whose object centroid sits BOUNCE_PROMINENCE below both neighbours'. First and last frames have one
    neighbour and are never bounces; a frame without an object is none and breaks its neighbours' test.
    """
    heights = np.asarray([centroid(object_mask(frame))[1] for frame in frames]) / frames.shape[1]
    inner = heights[1:-1]
    with np.errstate(invalid="ignore"):
        lowest = (inner - heights[:-2] >= BOUNCE_PROMINENCE) & (inner - heights[2:] >= BOUNCE_PROMINENCE)
    return (np.nonzero(lowest)[0] + 1) / fps


def visible_impacts(impacts: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """The impacts a bounce can show: those on a frame with a neighbour either side."""
    impacts = np.asarray(impacts)
    half_frame = 0.5 / fps
    return impacts[(impacts > half_frame) & (impacts < (num_frames - 1) / fps - half_frame)]


# ----------------------------------------------------------------------------------------------- clips


def engine_frames(frames: np.ndarray, times: np.ndarray, fps: float = 4.0) -> np.ndarray:
    """The frames the engine samples at `fps` (the last frame shown at each k / fps)."""
    duration = float(times[-1]) + (float(times[1] - times[0]) if len(times) > 1 else 1.0)
    return frames[nearest_frames(times, sample_times(duration, fps))]


def frame_scores(frames: np.ndarray, scene: Scene) -> dict[str, float]:
    """Fractions of frames whose kind, colour and background are the scene's."""
    kinds, colours, backgrounds = [], [], []
    for frame in frames:
        mask = object_mask(frame)
        kinds.append(frame_kind(mask) == scene.kind)
        colours.append(frame_colour(frame, mask) == scene.colour)
        backgrounds.append(background_kind(frame, mask) == scene.background)
    return {
        "kind_accuracy": float(np.mean(kinds)),
        "colour_accuracy": float(np.mean(colours)),
        "background_accuracy": float(np.mean(backgrounds)),
    }


def sound_scores(waveform: np.ndarray, sample_rate: int, impacts: np.ndarray, kind: str) -> dict[str, float]:
    """Onset recall/precision within 50 ms of the true impacts and the kind accuracy of the matched events."""
    events = sound_events(waveform, sample_rate)
    found = np.asarray([onset for onset, _ in events])
    pairs = match_onsets(found, np.asarray(impacts))
    return {
        "onset_recall": len(pairs) / len(impacts) if len(impacts) else 1.0,
        "onset_precision": len(pairs) / len(found) if len(found) else float(len(impacts) == 0),
        "event_kind_accuracy": float(np.mean([events[i][1] == kind for i, _ in pairs])) if pairs else 0.0,
    }


def clip_scores(
    frames: np.ndarray,
    times: np.ndarray,
    audio: np.ndarray,
    sample_rate: int,
    scene: Scene,
    impacts: np.ndarray,
    fps: float = 4.0,
) -> dict[str, float]:
    """Frame scores on the frames sampled at `fps` plus sound scores against the true impact times."""
    return {
        **frame_scores(engine_frames(frames, times, fps), scene),
        **sound_scores(audio, sample_rate, impacts, scene.kind),
    }
