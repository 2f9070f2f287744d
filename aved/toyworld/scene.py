"""Scene specs of the synthetic bouncing-object world, its vocabularies and its one-line captions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from aved.errors import AvedError

# The engine samples frames at 4 fps (MediaConfig.fps): impacts are placed on that grid, so every sampled
# sequence shows the object squashed on the ground at each impact and airborne between impacts.
IMPACT_GRID_S = 0.25

# Kind → (shape, sound) in words; the renderer and the scorers hold the numbers.
KINDS = {
    "ball": ("disc", "low thud near 100 Hz"),
    "bell": ("flared bell", "ringing tone near 1.2 kHz with a long decay"),
    "drum": ("wide rectangle", "broadband noise burst"),
    "bird": ("wing chevron", "fast upward chirp from 3 to 5 kHz"),
}

# Flat RGB object colours, far from one another and from every background (≥ 100 apart in RGB).
COLOURS = {
    "red": (225, 25, 30),
    "yellow": (250, 235, 25),
    "purple": (175, 40, 225),
    "cyan": (20, 235, 225),
    "orange": (255, 130, 0),
}

# Background → (top RGB, bottom RGB, noise amplitude, star density); linear vertical gradient top → bottom.
BACKGROUNDS = {
    "grass": ((70, 140, 50), (50, 115, 35), 10.0, 0.0),
    "sky": ((120, 170, 235), (185, 215, 245), 0.0, 0.0),
    "sand": ((215, 190, 140), (195, 165, 115), 6.0, 0.0),
    "night": ((10, 15, 45), (25, 30, 75), 3.0, 0.004),
}

# Caption wording: "a|an {colour} {kind} bouncing {phrase}" ("an" before a vowel).
BACKGROUND_PHRASES = {
    "grass": "on grass",
    "sky": "in the blue sky",
    "sand": "on sand",
    "night": "at night",
}


@dataclass(frozen=True)
class Scene:
    """One clip: what is shown (background, kind, colour) and how it moves and sounds (seed)."""

    background: str = "grass"
    kind: str = "ball"
    colour: str = "red"
    seed: int = 0
    duration: float = 4.0
    fps: float = 16.0
    size: int = 128
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        check_scene(self)

    @property
    def num_frames(self) -> int:
        """Rendered frames, at times k / fps."""
        return int(math.floor(self.duration * self.fps + 1e-6))

    @property
    def num_samples(self) -> int:
        """Audio samples."""
        return round(self.duration * self.sample_rate)


def check_scene(scene: Scene) -> None:
    """Raise AvedError if a field is out of its vocabulary or range."""
    for name, vocab in (("background", BACKGROUNDS), ("kind", KINDS), ("colour", COLOURS)):
        if getattr(scene, name) not in vocab:
            raise AvedError(f"toyworld: unknown {name} {getattr(scene, name)!r}, use one of {', '.join(vocab)}")
    per_impact = scene.fps * IMPACT_GRID_S
    if scene.fps <= 0 or abs(per_impact - round(per_impact)) > 1e-9:
        raise AvedError(f"toyworld: fps must be a positive multiple of {1 / IMPACT_GRID_S:g}, got {scene.fps}")
    if scene.duration < 1.0:
        raise AvedError(f"toyworld: duration must be at least 1 s, got {scene.duration}")
    if scene.size < 32:
        raise AvedError(f"toyworld: size must be at least 32 px, got {scene.size}")


def caption(scene: Scene) -> str:
    """The clip's one caption, used for both video and audio: 'a red ball bouncing on grass'."""
    article = "an" if scene.colour[0] in "aeiou" else "a"
    return f"{article} {scene.colour} {scene.kind} bouncing {BACKGROUND_PHRASES[scene.background]}"


def parse_caption(text: str) -> tuple[str, str, str]:
    """(colour, kind, background) named by a caption; AvedError if it is not one."""
    for background, phrase in BACKGROUND_PHRASES.items():
        head = text.strip().removesuffix(phrase)
        if head == text.strip():
            continue
        words = head.split()
        if len(words) == 4 and words[0] in ("a", "an") and words[3] == "bouncing":
            colour, kind = words[1], words[2]
            if colour in COLOURS and kind in KINDS:
                return colour, kind, background
    raise AvedError(f"toyworld: not a toyworld caption: {text!r}")
