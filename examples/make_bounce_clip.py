"""Render examples/bounce.mp4: a ball bouncing under gravity, with a thud at every floor contact."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    from aved.media.clip import write_clip
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from aved.media.clip import write_clip

WIDTH, HEIGHT, FPS, SECONDS, SAMPLE_RATE = 320, 240, 24, 5.0, 44100
FLOOR_Y = 200  # top of the grass strip, in pixels
CHANNEL_GAINS = (1.0, 0.8)  # left, right: slightly different so a downmix is not a no-op


@dataclass(frozen=True)
class Ball:
    radius: float = 14.0
    start_x: float = 40.0
    start_y: float = 40.0  # centre height at t = 0, released at rest
    speed_x: float = 48.0  # px/s, constant drift to the right
    gravity: float = 900.0  # px/s^2 (y grows downwards)
    restitution: float = 0.75  # vertical speed kept at each bounce
    rest_below: float = 0.15  # s: flights shorter than this are not drawn; the ball then lies still
    colour: tuple[int, int, int] = (225, 60, 40)


def impacts(ball: Ball, seconds: float) -> tuple[list[float], list[float]]:
    """Times (s) and downward speeds (px/s) of the floor contacts, solved in closed form."""
    drop = FLOOR_Y - ball.radius - ball.start_y
    t = math.sqrt(2 * drop / ball.gravity)
    speed = ball.gravity * t
    times, speeds = [], []
    while t < seconds:
        times.append(t)
        speeds.append(speed)
        speed *= ball.restitution
        flight = 2 * speed / ball.gravity
        if flight < ball.rest_below:
            break
        t += flight
    return times, speeds


def ball_centre(ball: Ball, t: float, times: list[float], speeds: list[float]) -> tuple[float, float]:
    """Centre (x, y) at time t: free fall before the first contact, parabolic hops after each one."""
    x = ball.start_x + ball.speed_x * t
    floor_centre = FLOOR_Y - ball.radius
    if t < times[0]:
        return x, ball.start_y + 0.5 * ball.gravity * t * t
    last = max(i for i, contact in enumerate(times) if contact <= t)
    up = speeds[last] * ball.restitution
    if last == len(times) - 1 and 2 * up / ball.gravity < ball.rest_below:
        return x, floor_centre
    dt = t - times[last]
    return x, floor_centre - (up * dt - 0.5 * ball.gravity * dt * dt)


def background() -> np.ndarray:
    """Sky gradient over a striped grass strip, [H, W, 3] float."""
    rows = np.linspace(0.0, 1.0, FLOOR_Y)[:, None]
    sky = (1 - rows) * np.array([70, 130, 215]) + rows * np.array([185, 215, 245])
    image = np.empty((HEIGHT, WIDTH, 3))
    image[:FLOOR_Y] = sky[:, None, :]
    stripes = (np.arange(WIDTH) // 20) % 2
    grass = np.where(stripes[None, :, None], [70, 150, 60], [60, 135, 52])
    image[FLOOR_Y:] = grass
    return image


def render_frame(base: np.ndarray, ball: Ball, x: float, y: float) -> np.ndarray:
    """Ball (antialiased, lit from the top-left) and its contact shadow over the background."""
    image = base.copy()
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    # The shadow shrinks and fades as the ball rises.
    height_above = (FLOOR_Y - ball.radius) - y
    spread = ball.radius * (1.2 - 0.4 * min(height_above / 150, 1))
    ellipse = ((xx - x) / spread) ** 2 + ((yy - FLOOR_Y - 3) / (spread * 0.3)) ** 2
    shadow = np.clip(1.5 - ellipse, 0, 1) * 0.45 * (1 - 0.6 * min(height_above / 150, 1))
    image *= 1 - shadow[..., None]
    distance = np.hypot(xx - x, yy - y)
    coverage = np.clip(ball.radius + 0.5 - distance, 0, 1)[..., None]
    light = np.clip(1.25 - np.hypot(xx - x + 5, yy - y + 5) / (1.6 * ball.radius), 0.55, 1.25)
    shaded = np.clip(np.array(ball.colour) * light[..., None], 0, 255)
    image = image * (1 - coverage) + shaded * coverage
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def thud(rng: np.random.Generator, strength: float) -> np.ndarray:
    """0.3 s mono impact: a decaying ~120 Hz body (pitch sagging slightly) plus a short low-passed click."""
    t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
    frequency = 120 * (1 + 0.25 * np.exp(-t / 0.02))
    body = np.sin(2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE) * np.exp(-t / 0.07)
    noise = rng.standard_normal(len(t))
    smoothed = np.convolve(noise, np.ones(8) / 8, mode="same")  # a crude low-pass takes the hiss out
    click = smoothed * np.exp(-t / 0.004)
    return strength * (0.8 * body + 0.5 * click)


def soundtrack(times: list[float], speeds: list[float], seed: int) -> np.ndarray:
    """[N, 2] float32: one thud per contact, louder for faster impacts."""
    rng = np.random.default_rng(seed)
    mono = np.zeros(int(round(SECONDS * SAMPLE_RATE)))
    for t, speed in zip(times, speeds, strict=True):
        sound = thud(rng, speed / speeds[0])
        start = int(round(t * SAMPLE_RATE))
        end = min(len(mono), start + len(sound))
        mono[start:end] += sound[: end - start]
    mono *= 0.8 / np.max(np.abs(mono))
    return np.stack([mono * gain for gain in CHANNEL_GAINS], axis=1).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("bounce.mp4"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the click noise in the thuds")
    args = parser.parse_args(argv)

    ball = Ball()
    times, speeds = impacts(ball, SECONDS)
    base = background()
    frame_count = int(round(SECONDS * FPS))
    frames = np.stack(
        [render_frame(base, ball, *ball_centre(ball, i / FPS, times, speeds)) for i in range(frame_count)]
    )
    write_clip(args.out, frames, FPS, soundtrack(times, speeds, args.seed), SAMPLE_RATE)

    meta = {
        "impacts_s": [round(t, 4) for t in times],
        "impact_frames": [round(t * FPS) for t in times],
        "impact_speeds_px_s": [round(v, 1) for v in speeds],
        "fps": FPS,
        "duration_s": SECONDS,
        "width": WIDTH,
        "height": HEIGHT,
        "sample_rate": SAMPLE_RATE,
        "channel_gains": list(CHANNEL_GAINS),
        "floor_y_px": FLOOR_Y,
        "seed": args.seed,
    }
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) and {args.out.with_suffix('.json')}")
    print("impacts (s): " + ", ".join(f"{t:.3f}" for t in times))


if __name__ == "__main__":
    main()
