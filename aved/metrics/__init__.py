"""Evaluation metrics of docs/design.md §3: AV-Align, CLIP-T, CLAP, DINO, LPAPS, Obj-V and Obj-A.

`Scorer` loads the models that the chosen metrics need, once, and scores (source, edited) clip pairs; the
metrics themselves are the pure functions of `aved.metrics.av_align` and `aved.metrics.scores`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from aved.devices import resolve_device
from aved.errors import AvedError, warn
from aved.media.clip import Clip
from aved.metrics.av_align import audio_peaks, av_align, flow_magnitudes, match_peaks, peak_iou, video_peaks
from aved.metrics.extractors import ClapExtractor, ClipExtractor, DinoExtractor
from aved.metrics.scores import (
    AUDIO_TEMPLATE,
    IMAGE_TEMPLATE,
    clap_score,
    clip_t,
    cosine_matrix,
    dino_similarity,
    lpaps,
    match_frames,
    zero_shot_top1,
)

__all__ = [
    "AUDIO_TEMPLATE",
    "IMAGE_TEMPLATE",
    "METRICS",
    "ClapExtractor",
    "ClipExtractor",
    "DinoExtractor",
    "MetricModels",
    "Scorer",
    "audio_peaks",
    "av_align",
    "clap_score",
    "clip_t",
    "cosine_matrix",
    "dino_similarity",
    "flow_magnitudes",
    "lpaps",
    "match_frames",
    "match_peaks",
    "peak_iou",
    "video_peaks",
    "zero_shot_top1",
]

METRICS = ("av_align", "clip_t", "clap", "dino", "lpaps", "obj_v", "obj_a")
PAIRED_METRICS = ("dino", "lpaps")  # the metrics that compare the edit with its source
SOURCE_AUDIO_METRICS = ("lpaps",)  # the metrics that read the source's sound as well as the edit's
_NEEDS = {"clip_t": "clip", "obj_v": "clip", "clap": "clap", "lpaps": "clap", "obj_a": "clap", "dino": "dino"}


@dataclass
class MetricModels:
    """Checkpoints (hub ids or local transformers folders) of the model-based metrics, and where to run them."""

    clip: str = "openai/clip-vit-large-patch14"
    clap: str = "laion/clap-htsat-unfused"
    dino: str = "facebook/dino-vitb16"
    device: str = "auto"  # auto → cuda if available else cpu


class Scorer:
    """Scores an edit (source clip, edited clip, prompts) with the chosen metrics, loading each model once.

    obj_v / obj_a need the benchmark's category names and the target category; without them they are left out
    when the scorer runs every metric (the default), and are an error when they were asked for by name.
    """

    def __init__(self, metrics: Sequence[str] = METRICS, models: MetricModels | None = None):
        metrics = tuple(metrics)
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise AvedError(f"unknown metric(s) {', '.join(map(repr, unknown))}; choose from {', '.join(METRICS)}")
        self.metrics = tuple(m for m in METRICS if m in metrics)
        self.strict_objects = set(self.metrics) != set(METRICS)
        self.models = models or MetricModels()
        device = resolve_device(self.models.device)
        needed = {_NEEDS[m] for m in self.metrics if m in _NEEDS}
        self.clip = ClipExtractor(self.models.clip, device) if "clip" in needed else None
        self.clap = ClapExtractor(self.models.clap, device) if "clap" in needed else None
        self.dino = DinoExtractor(self.models.dino, device) if "dino" in needed else None
        # Per-scorer cache: a benchmark scores hundreds of clips against the same category list.
        self._labels: dict[tuple[str, tuple[str, ...]], torch.Tensor] = {}

    def score(
        self,
        source: Clip,
        edited: Clip,
        source_prompt: str,
        target_prompt: str,
        categories: Sequence[str] | None = None,
        target_category: str | None = None,
    ) -> dict[str, float]:
        """The chosen metrics of one edit, in METRICS order (AV-Align of the edited clip; LPAPS lower = closer).

        Every metric of docs/design.md §3 looks at the target prompt only; `source_prompt` is part of the edit's record.
        """
        chosen = set(self.metrics) - self._skipped_objects(categories, target_category)
        if chosen & set(PAIRED_METRICS):
            _warn_if_unpaired(source, edited)
        out: dict[str, float] = {}
        if "av_align" in chosen:
            out["av_align"] = av_align(edited.frames, edited.fps, _audio(edited, "av_align"), edited.sample_rate)
        if chosen & {"clip_t", "obj_v"}:
            frames = self.clip.image_features(edited.frames)
            if "clip_t" in chosen:
                out["clip_t"] = clip_t(self.clip.text_features([target_prompt]), frames)
            if "obj_v" in chosen:
                labels = self._label_features("clip", IMAGE_TEMPLATE, categories)
                out["obj_v"] = zero_shot_top1(frames, labels, categories, target_category)
        if chosen & {"clap", "obj_a"}:
            audio = self.clap.audio_features([_audio(edited, "clap and obj_a")], edited.sample_rate)
            if "clap" in chosen:
                out["clap"] = clap_score(self.clap.text_features([target_prompt]), audio)
            if "obj_a" in chosen:
                labels = self._label_features("clap", AUDIO_TEMPLATE, categories)
                out["obj_a"] = zero_shot_top1(audio, labels, categories, target_category)
        if "dino" in chosen:
            index = match_frames(len(source.frames), source.fps, len(edited.frames), edited.fps)
            out["dino"] = dino_similarity(
                self.dino.image_features(source.frames[index]), self.dino.image_features(edited.frames)
            )
        if "lpaps" in chosen:
            layers = [
                self.clap.audio_layers([_audio(c, "lpaps", role)], c.sample_rate)
                for c, role in ((source, "source"), (edited, "edited"))
            ]
            out["lpaps"] = lpaps(*layers)
        return {name: out[name] for name in self.metrics if name in out}

    def _skipped_objects(self, categories: Sequence[str] | None, target: str | None) -> set[str]:
        asked = {m for m in self.metrics if m in ("obj_v", "obj_a")}
        if not asked:
            return set()
        if not categories or target is None:
            if self.strict_objects:
                verb = "needs" if len(asked) == 1 else "need"
                raise AvedError(f"{' and '.join(sorted(asked))} {verb} the category names and the target category")
            return asked
        if target not in categories:
            raise AvedError(f"target category {target!r} is not one of the {len(categories)} category names")
        return set()

    def _label_features(self, family: str, template: str, categories: Sequence[str]) -> torch.Tensor:
        key = (family, tuple(categories))
        if key not in self._labels:
            extractor = self.clip if family == "clip" else self.clap
            self._labels[key] = extractor.text_features([template.format(c) for c in categories])
        return self._labels[key]


def _audio(clip: Clip, metric: str, role: str = "edited") -> np.ndarray:
    if clip.audio is None or clip.sample_rate is None or len(clip.audio) == 0:
        raise AvedError(f"{metric} needs audio, and the {role} clip has no audio track")
    return clip.audio


def _warn_if_unpaired(source: Clip, edited: Clip) -> None:
    """The paired metrics compare frame with frame and sound with sound: say when the two clips do not line up."""
    differences = []
    if abs(source.duration - edited.duration) > 1 / min(source.fps, edited.fps):
        differences.append(f"length {source.duration:.2f} s vs {edited.duration:.2f} s")
    if abs(source.fps - edited.fps) > 1e-3:
        differences.append(f"{source.fps:g} vs {edited.fps:g} fps")
    if source.frames.shape[1:3] != edited.frames.shape[1:3]:
        (h1, w1), (h2, w2) = source.frames.shape[1:3], edited.frames.shape[1:3]
        differences.append(f"{w1}×{h1} vs {w2}×{h2} px")
    if differences:
        paired = " and ".join(PAIRED_METRICS)
        warn(f"the source and edited clips differ ({'; '.join(differences)}): {paired} compare them as they are")
