"""A fixed, seeded set of edit tasks whose ground-truth targets are rendered from the source's own motion."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from aved.media.clip import Clip
from aved.toyworld.render import render
from aved.toyworld.scene import BACKGROUNDS, COLOURS, KINDS, Scene, caption

# Edit type → the attributes it changes; "identity" is the control (target = source).
EDIT_TYPES = {
    "kind": ("kind",),
    "colour": ("colour",),
    "background": ("background",),
    "kind+colour": ("kind", "colour"),
    "kind+background": ("kind", "background"),
    "colour+background": ("colour", "background"),
    "kind+colour+background": ("kind", "colour", "background"),
    "identity": (),
}
VOCABULARIES = {"kind": KINDS, "colour": COLOURS, "background": BACKGROUNDS}


@dataclass(frozen=True)
class EditTask:
    """One edit: the source scene, the target scene (same seed, so same motion and impact times), prompts."""

    id: str
    edit_type: str
    source: Scene
    target: Scene

    @property
    def source_prompt(self) -> str:
        """Caption of the source clip."""
        return caption(self.source)

    @property
    def target_prompt(self) -> str:
        """Caption of the ground-truth target clip."""
        return caption(self.target)

    @property
    def changed(self) -> tuple[str, ...]:
        """Attributes the edit changes."""
        return EDIT_TYPES[self.edit_type]

    def source_clip(self) -> Clip:
        """Render the source clip."""
        return render(self.source)

    def target_clip(self) -> Clip:
        """Render the ground-truth target clip."""
        return render(self.target)


def _pick(rng: np.random.Generator, vocabulary: dict, exclude: str | None = None) -> str:
    """A uniformly drawn vocabulary entry other than `exclude`."""
    names = [name for name in vocabulary if name != exclude]
    return names[int(rng.integers(len(names)))]


def make_task(index: int, edit_type: str, rng: np.random.Generator, **scene_fields) -> EditTask:
    """Draw a source scene and change the edit type's attributes to other values."""
    source = Scene(
        background=_pick(rng, BACKGROUNDS),
        kind=_pick(rng, KINDS),
        colour=_pick(rng, COLOURS),
        seed=int(rng.integers(2**31)),
        **scene_fields,
    )
    changes = {name: _pick(rng, VOCABULARIES[name], getattr(source, name)) for name in EDIT_TYPES[edit_type]}
    target = dataclasses.replace(source, **changes)
    return EditTask(id=f"{index:03d}-{edit_type}", edit_type=edit_type, source=source, target=target)


def task_set(seed: int = 0, count: int = 110, **scene_fields) -> list[EditTask]:
    """`count` tasks cycling through every edit type; the same list for the same arguments."""
    rng = np.random.default_rng([seed, 5])
    types = list(EDIT_TYPES)
    return [make_task(i, types[i % len(types)], rng, **scene_fields) for i in range(count)]
