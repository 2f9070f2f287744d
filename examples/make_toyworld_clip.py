"""Render examples/toyworld.mp4: a ToyWorld scene (a red ball bouncing on grass, 2 s) for the README's first edit."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from aved.media.clip import write_clip
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from aved.media.clip import write_clip
from aved.toyworld.render import render, trajectory
from aved.toyworld.scene import Scene, caption

SCENE = Scene(background="grass", kind="ball", colour="red", seed=4, duration=2.0)


def main() -> None:
    out = Path(__file__).resolve().parent / "toyworld.mp4"
    clip = render(SCENE)
    write_clip(out, clip.frames, clip.fps, clip.audio, clip.sample_rate)
    impacts = ", ".join(f"{t:.2f}" for t in trajectory(SCENE).impacts)
    print(f"wrote {out}: '{caption(SCENE)}', impacts at {impacts} s")


if __name__ == "__main__":
    main()
