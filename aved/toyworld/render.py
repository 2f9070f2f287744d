"""Deterministic rendering of a scene: one object bouncing over a background, sounding at each impact.

Choice: impacts fall on the engine's 4 fps frame grid (multiples of IMPACT_GRID_S) and at least two grid steps
apart, and the render fps is a multiple of 4. So the frames the engine samples (k / 4 s) show the object
squashed on the ground at every impact and in the air between two impacts: no bounce is lost by sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from aved.media.clip import Clip
from aved.toyworld.scene import BACKGROUNDS, COLOURS, IMPACT_GRID_S, Scene

GRAVITY = 2.8  # frame heights / s²: the highest arc (1.25 s) rises 0.55 of the frame
GAP_STEPS = (2, 3, 4, 5)  # time between impacts, in IMPACT_GRID_S steps (0.5 .. 1.25 s)
FLOOR = 0.93  # ground line, fraction of the frame height from the top
BOTTOM_EXTENT = 0.075  # every shape reaches this far (frame fraction) below its area centroid
SQUASH = (1.3, 0.7)  # x and y scale of the object on the ground at an impact
MARGIN = 0.18  # centroid x stays in [MARGIN, 1 - MARGIN]
MAX_LOUDNESS = 0.8  # peak amplitude of the fastest possible impact
SUBPIXEL_BITS = 4  # cv2 fixed-point vertex precision (1/16 px)


@dataclass(frozen=True)
class Trajectory:
    """Object motion at the render frames, in frame fractions, and the impacts; depends on the seed only."""

    times: np.ndarray  # [T] s, k / fps
    x: np.ndarray  # [T] area-centroid x, fraction of the width
    y: np.ndarray  # [T] area-centroid y, fraction of the height (0 = top)
    squash: np.ndarray  # [T] bool, object on the ground (squashed) in this frame
    impacts: np.ndarray  # [I] s, impact times inside the clip
    speeds: np.ndarray  # [I] impact speed / fastest possible impact speed, in (0, 1]


# ----------------------------------------------------------------------------------------------- motion


def impact_schedule(seed: int, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Impact times on the 4 fps grid with one virtual impact before 0 and one after the end, and arrival speeds."""
    rng = np.random.default_rng([seed, 1])
    first = int(rng.integers(1, 4))
    steps = [first - int(rng.choice([gap for gap in GAP_STEPS if gap > first])), first]
    while steps[-1] * IMPACT_GRID_S < duration:
        steps.append(steps[-1] + int(rng.choice(GAP_STEPS)))
    times = np.asarray(steps, dtype=np.float64) * IMPACT_GRID_S
    speeds = np.diff(times) / (max(GAP_STEPS) * IMPACT_GRID_S)  # arrival speed g·gap/2, normalised
    return times, np.concatenate([[0.0], speeds])


def horizontal_path(seed: int, times: np.ndarray) -> np.ndarray:
    """Constant-speed drift reflected at the side margins."""
    rng = np.random.default_rng([seed, 2])
    span = 1.0 - 2 * MARGIN
    start = rng.uniform(0.0, span)
    velocity = rng.uniform(0.08, 0.2) * rng.choice((-1.0, 1.0))
    phase = np.mod(start + velocity * times, 2 * span)
    return MARGIN + np.where(phase > span, 2 * span - phase, phase)


def trajectory(scene: Scene) -> Trajectory:
    """Positions per render frame and impact times; the same for every kind, colour and background."""
    schedule, speeds = impact_schedule(scene.seed, scene.duration)
    times = np.arange(scene.num_frames) / scene.fps
    arc = np.clip(np.searchsorted(schedule, times, side="right") - 1, 0, len(schedule) - 2)
    start, end = schedule[arc], schedule[arc + 1]
    height = 0.5 * GRAVITY * (times - start) * (end - times)
    inside = (schedule >= 0) & (schedule < scene.duration - 1e-9)
    impacts = schedule[inside]
    squash = np.isclose(times[:, None], impacts[None, :], atol=1e-6).any(axis=1)
    rest = FLOOR - BOTTOM_EXTENT
    y = np.where(squash, FLOOR - SQUASH[1] * BOTTOM_EXTENT, rest - height)
    return Trajectory(times, horizontal_path(scene.seed, times), y, squash, impacts, speeds[inside])


# ----------------------------------------------------------------------------------------------- pictures


def _outline(kind: str) -> np.ndarray:
    """Shape outline in unit coordinates (x right, y down), symmetric in x."""
    if kind == "ball":
        angle = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)
    if kind == "bell":
        return np.array([(-0.3, -1), (0.3, -1), (0.5, 0.3), (1, 0.75), (1, 1), (-1, 1), (-1, 0.75), (-0.5, 0.3)])
    if kind == "drum":
        return np.array([(-1, -0.6), (1, -0.6), (1, 0.6), (-1, 0.6)])
    if kind == "bird":
        return np.array([(-1, -0.6), (0, 0.0), (1, -0.6), (1, -0.15), (0, 0.45), (-1, -0.15)])
    raise ValueError(kind)


def _polygon_centroid(points: np.ndarray) -> np.ndarray:
    """Area centroid of a simple polygon (shoelace)."""
    x, y = points[:, 0], points[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    return np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6 * area)


@lru_cache(maxsize=8)
def shape(kind: str) -> np.ndarray:
    """Outline with its area centroid at 0 and its lowest point BOTTOM_EXTENT below, in frame fractions."""
    points = _outline(kind).astype(np.float64)
    points = points - _polygon_centroid(points)
    return points * (BOTTOM_EXTENT / points[:, 1].max())


def object_alpha(kind: str, x: float, y: float, squash: bool, size: int) -> np.ndarray:
    """Anti-aliased coverage [size, size] in [0, 1] of the object with its centroid at (x, y)."""
    points = shape(kind) * (np.array(SQUASH) if squash else 1.0) + np.array([x, y])
    fixed = np.round(points * size * (1 << SUBPIXEL_BITS) - (1 << SUBPIXEL_BITS) / 2).astype(np.int32)
    canvas = np.zeros((size, size), dtype=np.uint8)
    cv2.fillPoly(canvas, [fixed], 255, lineType=cv2.LINE_AA, shift=SUBPIXEL_BITS)
    return canvas.astype(np.float32) / 255.0


def background_image(background: str, seed: int, size: int) -> np.ndarray:
    """The static background [size, size, 3] float32: gradient, luminance noise, stars; texture seeded."""
    top, bottom, noise, stars = BACKGROUNDS[background]
    rng = np.random.default_rng([seed, 3])
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    image = (1 - ramp) * np.asarray(top, np.float32) + ramp * np.asarray(bottom, np.float32)
    image = np.broadcast_to(image, (size, size, 3)).copy()
    if noise:
        image += rng.uniform(-noise, noise, (size, size, 1)).astype(np.float32)
    if stars:
        lit = rng.random((size, size)) < stars
        image[lit] = rng.uniform(170, 255, (int(lit.sum()), 1)).astype(np.float32)
    return np.clip(image, 0, 255)


def render_frames(scene: Scene, path: Trajectory) -> np.ndarray:
    """[T, size, size, 3] uint8 frames."""
    backdrop = background_image(scene.background, scene.seed, scene.size)
    colour = np.asarray(COLOURS[scene.colour], np.float32)
    frames = np.empty((len(path.times), scene.size, scene.size, 3), dtype=np.uint8)
    for k in range(len(path.times)):
        alpha = object_alpha(scene.kind, path.x[k], path.y[k], bool(path.squash[k]), scene.size)[..., None]
        frames[k] = np.round(backdrop * (1 - alpha) + colour * alpha).astype(np.uint8)
    return frames


# ----------------------------------------------------------------------------------------------- sounds


def _attack(t: np.ndarray) -> np.ndarray:
    """1 ms linear fade-in, so every kind starts at the impact sample."""
    return np.clip(t / 0.001, 0.0, 1.0)


def impact_sound(kind: str, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One impact's sound, peak 1: ball thud, bell ring, drum noise burst, bird chirp."""
    if kind == "ball":
        t = np.arange(int(0.25 * sample_rate)) / sample_rate
        freq = 70.0 + 50.0 * np.exp(-t / 0.03)
        phase = 2 * np.pi * np.cumsum(freq) / sample_rate
        wave = (np.sin(phase) + 0.3 * np.sin(2 * phase)) * np.exp(-t / 0.06)
    elif kind == "bell":
        t = np.arange(int(0.6 * sample_rate)) / sample_rate
        wave = (np.sin(2 * np.pi * 1200 * t) + 0.35 * np.sin(2 * np.pi * 1810 * t)) * np.exp(-t / 0.12)
    elif kind == "drum":
        t = np.arange(int(0.2 * sample_rate)) / sample_rate
        wave = rng.standard_normal(len(t)) * np.exp(-t / 0.035)
    elif kind == "bird":
        t = np.arange(int(0.1 * sample_rate)) / sample_rate
        phase = 2 * np.pi * (3000.0 * t + 0.5 * (2000.0 / 0.08) * t**2)
        wave = np.sin(phase) * np.exp(-t / 0.04)
    else:
        raise ValueError(kind)
    wave = wave * _attack(t)
    return (wave / np.abs(wave).max()).astype(np.float32)


def render_audio(scene: Scene, path: Trajectory) -> np.ndarray:
    """[N] float32 mono soundtrack: the kind's sound at every impact, amplitude ∝ impact speed."""
    out = np.zeros(scene.num_samples, dtype=np.float32)
    for index, (when, speed) in enumerate(zip(path.impacts, path.speeds, strict=True)):
        sound = impact_sound(scene.kind, scene.sample_rate, np.random.default_rng([scene.seed, 4, index]))
        start = round(when * scene.sample_rate)
        stop = min(len(out), start + len(sound))
        out[start:stop] += np.float32(MAX_LOUDNESS * speed) * sound[: stop - start]
    return np.clip(out, -1.0, 1.0)


def render(scene: Scene) -> Clip:
    """Frames (uint8, k / fps) and soundtrack (float32 mono) of a scene; deterministic."""
    path = trajectory(scene)
    return Clip(
        frames=render_frames(scene, path),
        times=path.times.copy(),
        fps=float(scene.fps),
        audio=render_audio(scene, path),
        sample_rate=scene.sample_rate,
    )
