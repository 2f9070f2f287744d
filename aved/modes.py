"""The editing modes: which modalities each edits, which terms of the objective it uses, and which engine runs it.

The one table of modes; the config validates against it, the API and the bench runners load the priors it names,
and the editor builds the objective from it.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("dds", "sdedit")  # the DDS optimisation (aved/editor.py) or SDEdit sampling (aved/sdedit.py)


@dataclass(frozen=True)
class Mode:
    """One mode: the modalities it edits, whether the preservation and timing terms may run, its engine."""

    name: str
    video: bool
    audio: bool
    pres: bool = True  # the preservation term, where its weight is > 0
    sync: bool = True  # the timing terms, each where its weight is > 0: sync (the sound) and motion (the frames)
    random_relevance: bool = False  # the relevance shuffled over positions (the ablation: same mass, no place)
    engine: str = "dds"
    half_of: str | None = None  # the two-modality mode this one is one half of, bit for bit
    summary: str = ""


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("aved", True, True, summary="both modalities, preservation, sync and motion (the method)"),
        Mode("independent", True, True, sync=False, summary="both modalities, no sync or motion term"),
        Mode("video-only", True, False, sync=False, half_of="independent", summary="the frames alone"),
        Mode("audio-only", False, True, sync=False, half_of="independent", summary="the sound alone"),
        Mode("dds", True, True, pres=False, sync=False, summary="plain delta denoising on both"),
        Mode("sdedit", True, True, pres=False, sync=False, engine="sdedit", summary="SDEdit, the sampling baseline"),
        Mode("random-relevance", True, True, random_relevance=True, summary="aved with the relevance shuffled"),
    )
}
MODE_NAMES = tuple(MODES)

# Ablations of the v2 objective (docs/design.md §2b), rows of the ToyWorld bench: `aved` with one term or the
# compositing off, or in its v1 form, or its relevance as it was (the mean |δ| over the steps so far, per position
# where the ToyWorld preset pools it by region, or the sound's widened in time like the frames', or a frame edit's
# changes not split, or the frames' anchor scaled to DDS's whole pull, or their relevance estimated where the
# sound's is), as config overrides.
# `aved` without its sync and motion terms is `independent`.
ABLATIONS: dict[str, dict[str, object]] = {
    "aved-no-pres": {"weights.pres": 0.0},
    "aved-no-motion": {"weights.motion": 0.0},
    "aved-no-composite": {"preservation.composite": 0.0},
    "aved-sync-v1": {"sync.form": "infonce"},
    "aved-running-relevance": {"relevance.estimate_timesteps_video": (), "relevance.estimate_timesteps_audio": ()},
    "aved-no-regions": {"relevance.frame_regions": 0},
    "aved-widened-sound": {"relevance.reach_audio": 1},
    "aved-unsplit": {"relevance.split_video": False},
    "aved-whole-pull": {"preservation.kept_pull_video": False},
    # config.MID_NOISE_ESTIMATE, written out: aved.config imports this module
    "aved-low-estimate": {"relevance.estimate_timesteps_video": (200, 400, 600)},
}
DEFAULT_ABLATIONS = (
    "aved-no-pres",
    "aved-no-motion",
    "aved-no-composite",
)  # in every bench by default: one row per term beside DDS


def get_mode(name: str) -> Mode:
    """The mode called `name` (KeyError naming the known ones otherwise; the config validates names first)."""
    try:
        return MODES[name]
    except KeyError:
        raise KeyError(f"unknown mode {name!r} (one of {', '.join(MODE_NAMES)})") from None
