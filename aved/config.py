"""Typed configuration: every constant of the pipeline is a field here and is saved beside every output."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aved.errors import AvedError
from aved.modes import MODE_NAMES

DEFAULT_VIDEO_MODEL = "stabilityai/stable-diffusion-2-1-base"
DEFAULT_AUDIO_MODEL = "cvssp/audioldm2-large"
TOYWORLD_WEIGHTS = Path(__file__).resolve().parent / "toyworld" / "weights"
# A preset names both priors, the media settings they were trained for and the step size that suits them;
# explicit options still override it. The loss weights are fractions of DDS's pull and need no preset.
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "toyworld": {
        "model.video": str(TOYWORLD_WEIGHTS / "video"),
        "model.audio": str(TOYWORLD_WEIGHTS / "audio"),
        "media.fps": 4.0,
        "media.frame_size": 64,
        "media.grid": 2,
        "media.mel.duration": 2.08,  # 208 mel frames: a multiple of the factor-8 VAE × the 2-level UNet
        # v1's step: at the public DDS step (0.05) and at 0.2 DDS reached 0.50–0.53 frame target accuracy against
        # 0.63 at 1.0 on 16 tasks — these small priors need the longer walk (benchmarks/README.md, objective v2).
        "lr": 1.0,
        # One object on one background: a background edit's |δ| is patchy over the background (benchmarks/README.md,
        # "A relevance held and pooled"), its region is not.
        "relevance.frame_regions": 2,
    },
}
# The sound's held-relevance timesteps, and --fast's for the frames too (RelevanceConfig.estimate_timesteps_*).
MID_NOISE_ESTIMATE = (200, 400, 600)
# `--fast`: the annealed schedule (aved/schedule.py) in 25 steps instead of 200 random ones; what it costs and
# keeps is measured in benchmarks/README.md ("Fast edits"). It sits above the model preset, below --config.
FAST_PRESET: dict[str, Any] = {
    "steps": 25,
    "schedule": "annealed",
    "step_gain": 1.0,
    # The schedule's first steps sit at timesteps where the ToyWorld frame prior cannot place the object (one step at
    # t ≈ 940 moved it 7–19 px); the held relevance (relevance.estimate_timesteps_*) confines DDS there (trajectory
    # error 8.4 → 4.4 px on the 110 tasks, benchmarks/README.md "The first step redraws the object"). Widened by a
    # latent cell each way, it still let that first step move the object by up to a cell (4.4 px; unwidened 2.8 px).
    "relevance.reach_video": 0,
    # The frames' relevance estimated and DDS confined as the sound's, their anchor against DDS's whole pull, as
    # before the 200-step defaults moved (2026-12-04): at those, 25 annealed steps' large steps in (600, 800] ran
    # unconfined and the trajectory error rose 1.6 ± 0.7 px (4.0 → 5.7) for +0.007 ± 0.024 frame accuracy (110
    # tasks; benchmarks/README.md "The frames' relevance estimated higher").
    "relevance.estimate_timesteps_video": MID_NOISE_ESTIMATE,
    "preservation.kept_pull_video": False,
}
VOCODERS = ("pipeline", "griffin-lim")
# The public DDS and CDS code take SGD steps of lr 0.1 on 2000·(z·δ).sum()/(H·W): every latent element moves by
# 0.1·2000/(H·W)·δ, on SD 2.1-base's 64×64 latent 0.0488·δ. Our DDS step is lr·δ per element whatever the latent's
# size (scale-free), and its default is that step.
PUBLIC_DDS_STEP = 0.1 * 2000 / (64 * 64)
RELEVANCE_METHODS = ("delta", "fixed", "otsu")
# Fields an older config.json may name, and what holds their setting now (a loaded file is refused, not guessed at)
RENAMED_FIELDS = {
    "relevance.estimate_timesteps": "relevance.estimate_timesteps_video and relevance.estimate_timesteps_audio "
    "(one per modality since 2026-12-04; older edits also ran with preservation.kept_pull_video = false)",
}
PRESERVATION_FORMS = ("anchor", "patchnce")
SYNC_FORMS = ("timing", "infonce")
DTYPES = ("float32", "float16", "bfloat16")
# Bounds past which an edit cannot be meant: they stop a typo (steps=1e20, frame_size=100000: a 224 GiB grid)
# before any work, with the field named.
MAX_STEPS = 100_000
MAX_GUIDANCE = 100.0
MAX_TIMESTEP = 1000
MAX_FPS = 120.0
MAX_GRID = 8
MAX_GRID_SIDE = 4096  # px of one packed grid image: 16× SD 2.1-base's 512² in pixels
MAX_WEIGHT = 100.0
SCHEDULES = ("random", "annealed")


@dataclass
class MelConfig:
    """The STFT/mel settings AudioLDM2 was trained with; 10.24 s at hop 160 is 1024 frames."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 160
    win_length: int = 1024
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float = 8000.0
    clamp: float = 1e-5
    duration: float = 10.24

    @property
    def num_samples(self) -> int:
        """Samples in one padded/cropped window."""
        return round(self.duration * self.sample_rate)

    @property
    def num_frames(self) -> int:
        """Mel frames in one window."""
        return self.num_samples // self.hop_length


@dataclass
class MediaConfig:
    """How a clip becomes prior inputs (docs/design.md §1)."""

    fps: float = 4.0
    start: float = 0.0
    # Seconds from `start`: exactly that much (an error past the clip's end); None: what the clip has, up to one
    # audio window (the paper's 10 s clips); 0: the whole clip. Past a window: overlapping ones (docs/design.md §6).
    duration: float | None = None
    window_overlap: float = 0.25  # of a window, at least, shared with the next one on a long sound
    frame_size: int = 256
    grid: int = 2
    mel: MelConfig = field(default_factory=MelConfig)

    def span(self) -> float | None:
        """Seconds an edit takes from `start` at most: `duration`, one audio window's whole frames when it is None
        (10 s for AudioLDM2's 10.24 s at 4 fps), None for the whole clip (0)."""
        if self.duration is None:
            from aved.media.frames import sample_times

            return len(sample_times(self.mel.duration, self.fps)) / self.fps
        return self.duration or None


@dataclass
class PromptConfig:
    """Source and target text; per-modality prompts override the shared ones where given."""

    source: str = ""
    target: str = ""
    video_source: str | None = None
    video_target: str | None = None
    audio_source: str | None = None
    audio_target: str | None = None

    def video(self) -> tuple[str, str]:
        return self.video_source or self.source, self.video_target or self.target

    def audio(self) -> tuple[str, str]:
        return self.audio_source or self.source, self.audio_target or self.target


@dataclass
class WeightsConfig:
    """λ_dds, and ρ of every other term: its pull on each latent as a fraction of DDS's (docs/design.md §2b rule 1)."""

    dds: float = 1.0
    pres: float = 0.3
    sync: float = 0.3
    # Measured on the ToyWorld priors only (benchmarks/README.md, "A motion term"): 0.5 against 0.3 −0.9 px on task
    # seed 0, against none −2.7 px on seed 1, frame accuracy inside the noise; 1 held kind edits' old shapes.
    motion: float = 0.5


@dataclass
class RelevanceConfig:
    """How far each position is the edit's to change (docs/design.md §2.4, §2b): `delta` from where the prompts' noise
    predictions differ (soft), `fixed`/`otsu` from the edit words' cross-attention S, thresholded."""

    method: str = "delta"
    # fixed/otsu: relevant ⇔ S > τ; delta: fully relevant from τ of the cell's largest |δ| (DiffEdit binarises at 0.5)
    tau_video: float = 0.5
    tau_audio: float = 0.5
    # delta only: latent positions each way |δ| is averaged over and the relevant region widened by, so an edited
    # object may change its outline. The sound's is 0: widened in time, the relevance freed the silence beside each
    # event and DDS filled it (ToyWorld bench, 110 tasks: sound-event F1 0.971 at 1, 0.986 at 0, +0.024 ± 0.019 over
    # `independent`; benchmarks/README.md "The sound's relevance unwidened").
    reach_video: int = 1
    reach_audio: int = 0
    # delta only (the attention methods ignore it and the reaches), per modality. Given: |δ| over these timesteps at
    # the source, before the first step, in modes that preserve; that relevance then holds for the whole edit, and at
    # steps above these timesteps (where the prior cannot tell where the object is) each DDS direction is confined to
    # it (δ·r). Empty: |δ| is averaged over the edit's steps as they go, which follows the edit's own drift (ToyWorld,
    # 200 steps: sound-event F1 0.81 → 0.91 on 12 kind edits with it held, benchmarks/README.md "A relevance held and
    # pooled"). The frames' sit higher: at t = 200, 400 a smooth background's |δ| (ToyWorld's grass gradient) leaves
    # bands a background edit never frees (with the anchor's kept pull, +0.088 ± 0.072 frame accuracy on the 55
    # background edits, benchmarks/README.md "What holds a background edit"); the sound's at 600/800 lost events
    # (with the kept pull on both modalities, sound-event F1 −0.052 ± 0.039).
    estimate_timesteps_video: tuple[int, ...] = (600, 800)
    estimate_timesteps_audio: tuple[int, ...] = MID_NOISE_ESTIMATE
    # delta only: each frame's source latent split into this many k-means regions, and a region wholly relevant where
    # its mean score reaches τ of the top region's, so a background edit frees the whole background, not its patches
    # where |δ| peaks. 0: off (positions alone). Meant for scenes of few flat regions (ToyWorld: one object on one
    # background, preset 2); a photograph's regions are not objects.
    frame_regions: int = 0
    # frame_regions only: the τ a region's mean score is held to against the top region's. A background change's
    # |δ| peaks on the object, not the background it names (ToyWorld, 110 + 56 tasks on task seeds 0 and 1: the
    # background region's mean over the top region's is 0.22–0.84, q10 0.33, where the change is the background's;
    # 0.07–0.35, q90 0.15, where it is the object's), so τ_video's 0.5 left a third of background changes held.
    tau_regions: float = 0.2
    # delta, held only: a frame edit that makes several word-level changes (aved.relevance.single_edits) takes the
    # maximum of each change's relevance made alone, so its strongest change (an object's colour) cannot hide a
    # weaker one (the background) under one min–max normalised map (ToyWorld, 28 tasks: the background's relevance on
    # edits that change it beside the object 0.33–0.47 → 0.78–0.87; benchmarks/README.md "One relevance per change").
    # The sound's is not split: a change that names no sound (a background) would have its own |δ|, noise, scaled up.
    split_video: bool = True

    def estimate_timesteps(self, m: str) -> tuple[int, ...]:
        """Modality m's ("v" or "a") `estimate_timesteps_*`."""
        return {"v": self.estimate_timesteps_video, "a": self.estimate_timesteps_audio}[m]

    def held(self, m: str) -> bool:
        """Whether modality m's relevance is estimated before the edit and held (`estimate_timesteps_*`, delta only)."""
        return self.method == "delta" and bool(self.estimate_timesteps(m))


@dataclass
class PreservationConfig:
    """What the edit words do not name stays: `anchor` (v2, latents held to the source's by 1 − relevance) or
    `patchnce` (v1, docs/design.md §2.6: PatchNCE on attention features at irrelevant positions, with the fields
    below)."""

    form: str = "anchor"
    # The decoded frames composited over the source's pixels (aved.relevance.composite_alpha): a pixel that is neither
    # relevant nor moved by the edit by this fraction of full range keeps the source's in proportion; 0: off. The frame
    # decoder spreads an edited object's cells over the whole picture (ToyWorld: kept background 1.2 dB below the
    # source via the VAEs), which no latent term can hold. 0.1 measured on ToyWorld (benchmarks/README.md,
    # "Compositing over the source"); where the edit moved a pixel past it (a background edit beside an object edit,
    # carried by the decoder) the change stands.
    composite: float = 0.1
    # anchor only, per modality: True, its λ is ρ·‖(1 − r)⊙∇L_dds‖/‖∇L_pres‖, a fraction of DDS's pull where it
    # keeps; False, of DDS's whole pull. On a background edit that whole pull is the relevant region's, and an anchor
    # scaled to it held positions of r high but < 1 against the edit (ToyWorld tasks 050, 058, 012: 4.5–6.1 dB PSNR
    # vs truth, 14.6–18.9 with the frames' anchor off; benchmarks/README.md "What holds a background edit"). The
    # sound's stays whole: with it and the frames' estimate timesteps on the sound too, sound-event F1 fell 0.052.
    kept_pull_video: bool = True
    kept_pull_audio: bool = False
    num_patches: int = 256
    patch_sizes: tuple[int, ...] = (1, 2)
    temperature: float = 0.07

    def kept_pull(self, m: str) -> bool:
        """Modality m's ("v" or "a") `kept_pull_*`: whether its anchor's λ is scaled to DDS's pull where it keeps."""
        return self.form == "anchor" and {"v": self.kept_pull_video, "a": self.kept_pull_audio}[m]


@dataclass
class SyncConfig:
    """Timing: `timing` (v2, the sound's latent flux envelope correlated with the source's, which is in sync) or
    `infonce` (v1, docs/design.md §2.6: InfoNCE between the modalities' temporal self-similarity, with the
    temperature)."""

    form: str = "timing"
    temperature: float = 0.1


@dataclass
class ModelConfig:
    """Which priors, where, at what precision; the feature layers read for the contrastive terms."""

    video: str = DEFAULT_VIDEO_MODEL
    audio: str = DEFAULT_AUDIO_MODEL
    device: str = "auto"
    dtype: str = "float32"
    feature_layers: tuple[str, ...] = ("up_blocks.*.attn1",)
    vocoder: str = "pipeline"  # the audio pipeline's own vocoder, or griffin-lim (the mel inverted by iteration)
    compile: bool = False  # torch.compile the UNet calls (CUDA graphs on a GPU); the first steps pay the compile


@dataclass
class EditConfig:
    """Everything that determines an edit; `config.json` beside every output is this, resolved."""

    prompts: PromptConfig = field(default_factory=PromptConfig)
    mode: str = "aved"
    steps: int = 200
    schedule: str = "random"  # random: t ~ U[t_min, t_max], step lr·lr_decay^k; annealed: see aved/schedule.py
    lr: float = PUBLIC_DDS_STEP
    lr_decay: float = 0.99  # random schedule only
    step_gain: float = 1.0  # annealed schedule only: the mean step is lr·step_gain, spread as DDPM's steps
    guidance_scale: float = 7.5
    t_min: int = 50
    t_max: int = 950
    seed: int = 0
    sdedit_strength: float = 0.6  # sdedit only: noise to t0 = strength·T, then denoise with the target prompt
    media: MediaConfig = field(default_factory=MediaConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    relevance: RelevanceConfig = field(default_factory=RelevanceConfig)
    preservation: PreservationConfig = field(default_factory=PreservationConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    model: ModelConfig = field(default_factory=ModelConfig)

    def validate(self) -> EditConfig:
        """Raise AvedError on values no edit can run with (every number finite and in its FIELD_RANGES); return self."""
        for key, value in _numeric_fields(self):
            _check_range(key, value)
        checks = [
            _one_of("mode", self.mode, MODE_NAMES),
            _one_of("schedule", self.schedule, SCHEDULES),
            (self.t_min <= self.t_max, f"need t_min ≤ t_max, got {self.t_min}, {self.t_max}"),
            (
                self.schedule != "annealed" or (self.t_min >= 1 and self.steps <= self.t_max - self.t_min + 1),
                f"the annealed schedule needs t_min ≥ 1 and steps ≤ t_max − t_min + 1 (one timestep each), got "
                f"steps {self.steps}, t_min {self.t_min}, t_max {self.t_max}",
            ),
            _one_of("relevance.method", self.relevance.method, RELEVANCE_METHODS),
            _one_of("preservation.form", self.preservation.form, PRESERVATION_FORMS),
            _one_of("sync.form", self.sync.form, SYNC_FORMS),
            (
                self.media.grid * self.media.frame_size <= MAX_GRID_SIDE,
                f"media.grid × media.frame_size must be at most {MAX_GRID_SIDE} px (one grid image), got "
                f"{self.media.grid} × {self.media.frame_size}",
            ),
            (
                self.relevance.method != "delta" or min(self.relevance.tau_video, self.relevance.tau_audio) > 0,
                "relevance.tau_video and relevance.tau_audio must be above 0 for the delta relevance",
            ),
            (bool(self.preservation.patch_sizes), "preservation.patch_sizes needs at least one size"),
            (
                self.media.mel.fmin < self.media.mel.fmax <= self.media.mel.sample_rate / 2,
                f"need media.mel.fmin < fmax ≤ sample_rate / 2, got {self.media.mel.fmin}, {self.media.mel.fmax}",
            ),
            (
                max(self.media.mel.hop_length, self.media.mel.win_length) <= self.media.mel.n_fft,
                "media.mel.hop_length and win_length must be at most n_fft",
            ),
            _one_of("model.dtype", self.model.dtype, DTYPES),
            (
                bool(re.fullmatch(r"auto|(cpu|cuda|mps|xpu)(:\d+)?", self.model.device)),
                f"model.device must be auto, cpu, cuda, cuda:N, mps or xpu, got '{self.model.device}'",
            ),
            _one_of("model.vocoder", self.model.vocoder, VOCODERS),
        ]
        for ok, message in checks:
            if not ok:
                raise AvedError(message)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Every number of EditConfig, by dotted name: (low, high, low included, high included). `validate` checks each
# field against its range and refuses a numeric field that has none, so a new field cannot slip past. The bounds
# are sanity limits (an audio rate up to 192 kHz, FFTs up to 2^16, 512 mel bins, a seed that fits int64), not advice.
INF = math.inf
FIELD_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "steps": (1, MAX_STEPS, True, True),
    "lr": (0, INF, False, False),
    "lr_decay": (0, 1, False, True),
    "step_gain": (0, MAX_WEIGHT, False, True),
    "guidance_scale": (0, MAX_GUIDANCE, True, True),
    "t_min": (0, MAX_TIMESTEP, True, True),
    "t_max": (0, MAX_TIMESTEP, True, True),
    "seed": (0, 2**63 - 1, True, True),
    "sdedit_strength": (0, 1, False, True),
    "media.fps": (0, MAX_FPS, False, True),
    "media.start": (0, INF, True, False),
    "media.duration": (0, INF, True, False),
    "media.window_overlap": (0, 0.75, False, True),
    "media.frame_size": (8, MAX_GRID_SIDE, True, True),
    "media.grid": (1, MAX_GRID, True, True),
    "media.mel.sample_rate": (1000, 192000, True, True),
    "media.mel.n_fft": (16, 65536, True, True),
    "media.mel.hop_length": (1, 65536, True, True),
    "media.mel.win_length": (1, 65536, True, True),
    "media.mel.n_mels": (1, 512, True, True),
    "media.mel.fmin": (0, INF, True, False),
    "media.mel.fmax": (0, INF, False, False),
    "media.mel.clamp": (0, 1, False, False),
    "media.mel.duration": (0, INF, False, False),
    "weights.dds": (0, MAX_WEIGHT, True, True),
    "weights.pres": (0, MAX_WEIGHT, True, True),
    "weights.sync": (0, MAX_WEIGHT, True, True),
    "weights.motion": (0, MAX_WEIGHT, True, True),
    "relevance.tau_video": (0, 1, True, True),
    "relevance.tau_audio": (0, 1, True, True),
    "relevance.reach_video": (0, 8, True, True),
    "relevance.reach_audio": (0, 8, True, True),
    "relevance.estimate_timesteps_video": (1, MAX_TIMESTEP - 1, True, True),
    "relevance.estimate_timesteps_audio": (1, MAX_TIMESTEP - 1, True, True),
    "relevance.frame_regions": (0, 64, True, True),
    "relevance.tau_regions": (0, 1, True, True),
    "preservation.composite": (0, 1, True, True),
    "preservation.num_patches": (1, 65536, True, True),
    "preservation.patch_sizes": (1, 64, True, True),
    "preservation.temperature": (0, MAX_WEIGHT, False, True),
    "sync.temperature": (0, MAX_WEIGHT, False, True),
}


def _numeric_fields(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, value) of every int/float field (each item of a tuple field), depth first."""
    for f in dataclasses.fields(obj):
        value, key = getattr(obj, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            yield from _numeric_fields(value, key + ".")
        elif isinstance(value, tuple):
            yield from ((key, v) for v in value if isinstance(v, numbers.Real) and not isinstance(v, bool))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            yield key, value


def _check_range(key: str, value: float) -> None:
    """One-line AvedError unless `value` is finite (ints: whole) and inside FIELD_RANGES[key]."""
    if key not in FIELD_RANGES:
        raise AvedError(f"{key}: a numeric config field without a range in FIELD_RANGES (a bug)")
    low, high, low_in, high_in = FIELD_RANGES[key]
    interval = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
    inside = math.isfinite(value) and (low <= value if low_in else low < value)
    inside = inside and (value <= high if high_in else value < high)
    if not inside:
        kind = "an integer" if isinstance(value, numbers.Integral) else "a finite number"
        raise AvedError(f"{key} must be {kind} in {interval}, got {value}")


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> tuple[bool, str]:
    """A validation check: `value` is one of `choices`, else the message that names them."""
    return value in choices, f"{name} must be one of {', '.join(choices)}, got '{value}'"


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Convert a JSON value or a command-line string to the field's declared type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [h for h in typing.get_args(hint) if h is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(value, options[0], key)
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        if isinstance(value, str) and not value.strip():
            return ()
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(_coerce(v.strip() if isinstance(v, str) else v, inner, key) for v in items)
    try:
        if hint is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if hint in (int, float, str):
            if hint is int and isinstance(value, float | str) and float(value) != int(float(value)):
                raise ValueError(value)
            return hint(float(value)) if hint is int else hint(value)
    except (TypeError, ValueError, OverflowError):
        raise AvedError(f"{key}: expected {hint.__name__}, got {value!r}") from None
    return value


def _assign(obj: Any, key: str, parts: list[str], value: Any) -> None:
    hints = typing.get_type_hints(type(obj))
    name = parts[0]
    if key in RENAMED_FIELDS:
        raise AvedError(f"config field '{key}' is now {RENAMED_FIELDS[key]}")
    if name not in hints:
        known = ", ".join(sorted(hints))
        raise AvedError(f"unknown config field '{key}' (fields here: {known})")
    if len(parts) == 1:
        if dataclasses.is_dataclass(hints[name]):
            if not isinstance(value, dict):
                raise AvedError(f"{key}: expected a mapping of fields")
            for sub, sub_value in value.items():
                _assign(getattr(obj, name), f"{key}.{sub}", [sub], sub_value)
        else:
            setattr(obj, name, _coerce(value, hints[name], key))
        return
    child = getattr(obj, name)
    if not dataclasses.is_dataclass(child):
        raise AvedError(f"unknown config field '{key}': '{name}' has no sub-fields")
    _assign(child, key, parts[1:], value)


def apply_overrides(config: EditConfig, values: dict[str, Any]) -> EditConfig:
    """Set dotted fields (`relevance.tau_video`: 0.5, or nested mappings) on `config`, checking names and types."""
    for key, value in values.items():
        _assign(config, key, key.split("."), value)
    return config


def apply_preset(config: EditConfig, name: str | None) -> EditConfig:
    """Apply MODEL_PRESETS[name] (nothing for None); a one-line error names the presets there are."""
    if name is None:
        return config
    if name not in MODEL_PRESETS:
        raise AvedError(f"unknown model preset '{name}', use one of {', '.join(MODEL_PRESETS)}")
    return apply_overrides(config, MODEL_PRESETS[name])


def parse_set(items: list[str]) -> dict[str, str]:
    """['a.b=1', …] → {'a.b': '1'}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AvedError(f"--set {item!r}: expected key=value, e.g. relevance.tau_video=0.7")
        out[key.strip()] = value.strip()
    return out


def read_json_object(path: str | Path, missing: str) -> dict[str, Any]:
    """A JSON file holding one object; one-line AvedErrors for a missing (`missing`), unreadable or other file."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise AvedError(missing) from None
    except (OSError, json.JSONDecodeError) as err:
        raise AvedError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, dict):
        raise AvedError(f"{path}: expected a JSON object")
    return data


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A JSON config file (as written beside outputs) → nested mapping."""
    data = read_json_object(path, f"{path}: no such config file")
    for key in ("versions", "models", "run"):  # what an output's config.json adds to the config
        data.pop(key, None)
    return data
