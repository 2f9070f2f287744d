"""Cost of one aved editor step: UNet FLOPs, seconds per step and peak memory, tiny and full-size priors.

Full size means the real SD 2.1-base and AudioLDM2-large UNet architectures with random weights (timing does not
depend on weight values, docs/design.md §5); the VAEs, text encoders and vocoder stay tiny but emit the widths those
UNets expect. Nothing is downloaded.

    .venv/bin/python benchmarks/bench_step.py [--sizes tiny,toyworld,full] [--steps N] [--device auto|cpu|cuda]
                                              [--dtype float32|float16|bfloat16] [--mode aved]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import math
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import diffusers
import numpy as np
import torch
from diffusers import (
    AudioLDM2Pipeline,
    AudioLDM2ProjectionModel,
    AudioLDM2UNet2DConditionModel,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    ClapFeatureExtractor,
    CLIPTextConfig,
    CLIPTextModel,
    GPT2Config,
    GPT2LMHeadModel,
    T5Config,
    T5EncoderModel,
)

from aved.codec import PreparedClip, encode_audio, encode_frames, prepare_clip, read_source
from aved.config import DTYPES, FAST_PRESET, EditConfig, apply_preset
from aved.devices import resolve_device
from aved.editor import Editor
from aved.media.frames import sample_times
from aved.modes import MODES
from aved.priors import AudioLDM2Prior, DiffusionPrior, StableDiffusionPrior
from aved.priors.load import load_audio_prior, load_video_prior
from aved.priors.tiny import (
    audioldm2_scheduler,
    sd_scheduler,
    tiny_audioldm2,
    tiny_audioldm2_vae,
    tiny_clap_text_encoder,
    tiny_clip_tokenizer,
    tiny_roberta_tokenizer,
    tiny_sd_vae,
    tiny_stable_diffusion,
    tiny_t5_tokenizer,
    tiny_vocoder,
)

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "examples" / "bounce.mp4"
PROMPTS = ("a cat meowing", "a dog barking")
DEFAULT_STEPS = {"tiny": 5, "full": 2, "toyworld": 12}
TOY_CLIP = ROOT / "examples" / "toyworld.mp4"  # the README's edit, for --sizes toyworld
TOY_PROMPTS = ("a red ball bouncing on grass", "a yellow bell bouncing on grass")
CLIP_STEPS = (EditConfig().steps, FAST_PRESET["steps"])  # the default schedule's steps and --fast's, per clip
FORWARD_REPEATS = {"tiny": 3, "toyworld": 5, "full": 1, "cuda": 10}  # timed forwards (median) after the counted one
BACKWARD_FORWARDS = 1.0  # input-gradient backward ≈ one forward of matmul/conv work (weights are frozen)
aten = torch.ops.aten


# ---------------------------------------------------------------- full-size pipelines (real UNets, random weights)


def sd21_base_unet() -> UNet2DConditionModel:
    """The stabilityai/stable-diffusion-2-1-base UNet architecture (865.9 M parameters)."""
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2,
        attention_head_dim=(5, 10, 20, 20),
        cross_attention_dim=1024,
        use_linear_projection=True,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    ).eval()


def audioldm2_large_unet() -> AudioLDM2UNet2DConditionModel:
    """The cvssp/audioldm2-large UNet architecture (718.0 M parameters; see benchmarks/README.md for the source)."""
    torch.manual_seed(0)
    return AudioLDM2UNet2DConditionModel(
        sample_size=256,
        in_channels=8,
        out_channels=8,
        block_out_channels=(128, 256, 384, 640),
        layers_per_block=2,
        attention_head_dim=8,
        transformer_layers_per_block=2,
        cross_attention_dim=([None, 768, 1024, None],) * 4,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * 3,
        up_block_types=("CrossAttnUpBlock2D",) * 3 + ("UpBlock2D",),
    ).eval()


def clip_text_encoder_1024(vocab_size: int, bos: int, eos: int, pad: int) -> CLIPTextModel:
    """One OpenCLIP-H sized text layer (hidden 1024), so embeddings have SD 2.1's cross-attention width."""
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=1,
        num_attention_heads=16,
        max_position_embeddings=77,
        projection_dim=1024,
        hidden_act="gelu",
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    return CLIPTextModel(config).eval()


def full_stable_diffusion() -> StableDiffusionPipeline:
    """SD 2.1-base UNet with a tiny VAE (factor 8) and a one-layer 1024-wide CLIP text encoder."""
    tokenizer = tiny_clip_tokenizer()
    special = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    encoder = clip_text_encoder_1024(len(tokenizer), *special)
    return StableDiffusionPipeline(
        vae=tiny_sd_vae(),
        text_encoder=encoder,
        tokenizer=tokenizer,
        unet=sd21_base_unet(),
        scheduler=sd_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def gpt2_768() -> GPT2LMHeadModel:
    """One GPT-2 base sized layer (n_embd 768): the width of AudioLDM2-large's first cross-attention stream."""
    torch.manual_seed(0)
    # 141 positions: [sos, CLAP, eos, sos, T5 (≤ 128), eos] + 8 generated tokens (see aved.priors.tiny.tiny_gpt2)
    special = {"bos_token_id": 63, "eos_token_id": 63}
    config = GPT2Config(vocab_size=64, n_embd=768, n_head=12, n_layer=1, n_positions=141, **special)
    config.max_new_tokens = 8
    return GPT2LMHeadModel(config).eval()


def t5_1024(vocab_size: int, pad: int, eos: int) -> T5EncoderModel:
    """One Flan-T5-large sized encoder layer (d_model 1024): the width of the second cross-attention stream."""
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=vocab_size,
        d_model=1024,
        d_ff=2816,
        d_kv=64,
        num_heads=16,
        num_layers=1,
        feed_forward_proj="gated-gelu",
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
    )
    return T5EncoderModel(config).eval()


def full_audioldm2() -> AudioLDM2Pipeline:
    """AudioLDM2-large UNet with tiny VAE, CLAP and vocoder, and one-layer GPT-2 (768) and T5 (1024) encoders."""
    tokenizer, tokenizer_2 = tiny_roberta_tokenizer(), tiny_t5_tokenizer()
    clap = tiny_clap_text_encoder(tokenizer)
    torch.manual_seed(0)
    projection = AudioLDM2ProjectionModel(
        text_encoder_dim=clap.config.projection_dim, text_encoder_1_dim=1024, langauge_model_dim=768
    ).eval()
    return AudioLDM2Pipeline(
        vae=tiny_audioldm2_vae(),
        text_encoder=clap,
        text_encoder_2=t5_1024(len(tokenizer_2), tokenizer_2.pad_token_id, tokenizer_2.eos_token_id),
        projection_model=projection,
        language_model=gpt2_768(),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        feature_extractor=ClapFeatureExtractor(),
        unet=audioldm2_large_unet(),
        scheduler=audioldm2_scheduler(),
        vocoder=tiny_vocoder(),
    )


def build_priors(size: str, device: str, dtype: torch.dtype) -> tuple[StableDiffusionPrior, AudioLDM2Prior]:
    """Both priors at `size`, in memory, on `device` in `dtype`."""
    if size == "toyworld":
        model = apply_preset(EditConfig(), "toyworld").model
        model.device, model.dtype = device, str(dtype).removeprefix("torch.")
        return load_video_prior(model), load_audio_prior(model)
    if size == "tiny":
        video = StableDiffusionPrior(tiny_stable_diffusion(), "random:tiny-sd")
        audio = AudioLDM2Prior(tiny_audioldm2(), "random:tiny-audioldm2")
    else:
        video = StableDiffusionPrior(full_stable_diffusion(), "random:sd-2.1-base")
        audio = AudioLDM2Prior(full_audioldm2(), "random:audioldm2-large")
    for prior in (video, audio):
        prior.pipeline.to(device=device, dtype=dtype)
        prior.pipeline.set_progress_bar_config(disable=True)
    return video, audio


# ---------------------------------------------------------------- measuring


def flop_counter_mode() -> FlopCounterMode:
    """torch's FLOP counter, also counting CPU fused attention (its registry has only the CUDA kernels)."""

    def forward(q, k, v, *args, out_shape=None, **kwargs) -> int:
        return flop_counter.sdpa_flop_count(q, k, v)

    def backward(grad, q, k, v, *args, out_shape=None, **kwargs) -> int:
        return flop_counter.sdpa_backward_flop_count(grad, q, k, v)

    mapping = {
        aten._scaled_dot_product_flash_attention_for_cpu: forward,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: backward,
    }
    return FlopCounterMode(display=False, custom_mapping=mapping)


def synchronize(device: str) -> None:
    """Wait for queued device work, so that wall-clock time covers it."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak_memory(device: str) -> None:
    """Start a fresh high-water mark where the device keeps one."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib(device: str) -> float:
    """GPU: max allocated since the last reset; CPU: the process's peak resident set size so far."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


@dataclass
class Forward:
    """One batch-1 UNet forward of one prior."""

    modality: str
    unet: str
    params_m: float
    latent: tuple[int, ...]
    flops: int
    seconds: float


def unet_forward(prior: DiffusionPrior, modality: str, latent: tuple[int, ...], repeats: int) -> Forward:
    """Count the FLOPs of one ε-prediction on `latent` (which also warms up), then time `repeats` more (median)."""
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(latent, generator=generator).to(prior.device)
    cond = prior.encode_text([PROMPTS[1]])
    t = torch.tensor([500], device=prior.device)
    times = []
    with torch.no_grad():
        with flop_counter_mode() as counter:
            prior.predict_noise(z, t, cond)
        for _ in range(repeats):
            synchronize(str(prior.device))
            start = time.perf_counter()
            prior.predict_noise(z, t, cond)
            synchronize(str(prior.device))
            times.append(time.perf_counter() - start)
    params = sum(p.numel() for p in prior.unet.parameters()) / 1e6
    flops, seconds = counter.get_total_flops(), statistics.median(times)
    return Forward(modality, type(prior.unet).__name__, params, latent, flops, seconds)


class StepLimitExceeded(Exception):
    """The warm-up step alone took longer than allowed; the run stops there."""


class StepClock:
    """Editor step callback: wall time at the end of every step, and the FLOPs of step 0 (the warm-up step).

    Step 0 starts at the first UNet call, so the encoding before the loop is left out of its time and FLOPs; nothing
    before that call in a step does matrix work. A step 0 slower than `limit_s` stops the run.
    """

    def __init__(self, device: str, unets: list[torch.nn.Module], count: bool, limit_s: float, overhead: bool):
        self.device, self.limit_s, self.stamps = device, limit_s, []
        self.records: list[dict[str, float]] = []
        self.counter = flop_counter_mode() if count else None
        self.counting = False
        self.hooks = [unet.register_forward_pre_hook(self._start) for unet in unets]
        # Wall time inside UNet calls, per step: what a step costs beyond them is the engine's overhead.
        self.unet_seconds: list[float] = [0.0]
        self._entered: float | None = None
        # Off by default: the synchronisation around every call would slow a launch-bound GPU step it measures.
        self.timers = [unet.register_forward_pre_hook(self._enter) for unet in unets] if overhead else []
        self.timers += [unet.register_forward_hook(self._leave) for unet in unets] if overhead else []

    def _enter(self, module: torch.nn.Module, args: tuple) -> None:
        synchronize(self.device)
        self._entered = time.perf_counter()

    def _leave(self, module: torch.nn.Module, args: tuple, output) -> None:
        synchronize(self.device)
        self.unet_seconds[-1] += time.perf_counter() - self._entered

    def _start(self, module: torch.nn.Module, args: tuple) -> None:
        if not self.stamps:  # the first UNet call of step 0
            self.stamps.append(time.perf_counter())
            if self.counter is not None:
                self.counter.__enter__()
                self.counting = True

    def stop_counting(self) -> None:
        """Leave the FLOP counter (if inside it) and drop the hooks."""
        if self.counting:
            self.counter.__exit__(None, None, None)
            self.counting = False
        for hook in self.hooks:
            hook.remove()
        self.hooks = []

    def __call__(self, step: int, record: dict[str, float]) -> None:
        synchronize(self.device)
        self.stop_counting()
        self.stamps.append(time.perf_counter())
        self.records.append(record)
        self.unet_seconds.append(0.0)
        if step == 0 and self.warmup_seconds() > self.limit_s:
            raise StepLimitExceeded

    def warmup_seconds(self) -> float | None:
        """Duration of step 0, from its first UNet call (None if it never ended)."""
        return self.stamps[1] - self.stamps[0] if len(self.stamps) > 1 else None

    def step_seconds(self) -> list[float]:
        """Durations of the steps after the first (warm-up) one."""
        return [b - a for a, b in zip(self.stamps[1:], self.stamps[2:], strict=False)]

    def nonfinite(self) -> list[str]:
        """Loss terms that were NaN or infinite at some step (a sign of a broken step, not just a slow one)."""
        return sorted({k for r in self.records for k, v in r.items() if not math.isfinite(v)})

    def overhead(self) -> float | None:
        """Wall time of the steps after the warm-up over the time spent inside their UNet calls."""
        inside = sum(self.unet_seconds[1 : len(self.stamps) - 1])
        return sum(self.step_seconds()) / inside if inside else None

    def remove_timers(self) -> None:
        for hook in self.timers:
            hook.remove()
        self.timers = []

    def step_flops(self) -> int | None:
        """All FLOPs of step 0, or None when not counted."""
        return None if self.counter is None else self.counter.get_total_flops()


@dataclass
class StepRun:
    """The editor's per-step cost for one size."""

    seconds: list[float] = field(default_factory=list)
    warmup_s: float | None = None
    peak_gib: float = float("nan")
    flops: int | None = None
    overhead: float | None = None  # step wall time / wall time inside its UNet calls
    note: str = ""


def load_clip(config: EditConfig, size: str) -> PreparedClip:
    """The example clip cut to the configured span (4 frames at 4 fps: one 2×2 grid), repeated end to end when the
    span is longer than its 5 s (a 10 s clip is 10 grids); toyworld: the README's clip."""
    whole = dataclasses.replace(config.media, duration=0.0)  # all of it, repeated below to the span asked
    clip = prepare_clip(read_source(TOY_CLIP if size == "toyworld" else CLIP, whole), whole)
    wanted = len(sample_times(config.media.span(), config.media.fps))
    if len(clip.frames) >= wanted:
        return clip
    repeats = -(-wanted // len(clip.frames))
    frames = np.concatenate([clip.frames] * repeats)[:wanted]
    audio = np.tile(clip.audio, repeats)[: round(wanted / clip.fps * clip.sample_rate)]
    return PreparedClip(frames, clip.fps, audio, clip.sample_rate)


def edit_config(mode: str, steps: int, size: str, duration: float = 1.0, fps: float = 4.0) -> EditConfig:
    """⌈duration·fps / 4⌉ grids of 2×2 frames of 256 px (default one: 1 s at 4 fps) and the 10.24 s mel window;
    toyworld: the README's edit, as `aved edit --model toyworld` runs it."""
    if size == "toyworld":
        config = apply_preset(EditConfig(mode=mode, steps=steps), "toyworld")
        config.prompts.source, config.prompts.target = TOY_PROMPTS
        return config.validate()
    config = EditConfig(mode=mode, steps=steps)
    config.prompts.source, config.prompts.target = PROMPTS
    config.media.fps, config.media.duration, config.media.frame_size, config.media.grid = fps, duration, 256, 2
    return config.validate()


def forward_latents(config: EditConfig, size: str, video: StableDiffusionPrior, audio: AudioLDM2Prior) -> tuple:
    """The shapes of one grid's latent and of the sound's, as this size's edit encodes them."""
    source = load_clip(config, size)
    z_v = encode_frames(video, source.frames, config.media.grid)
    z_a, _ = encode_audio(audio, source.audio, source.sample_rate, config.media)
    return (1, *z_v.shape[1:]), tuple(z_a.shape)


def run_editor(
    video: StableDiffusionPrior,
    audio: AudioLDM2Prior,
    args: argparse.Namespace,
    steps: int,
    size: str,
) -> StepRun:
    """Run the real Editor for `steps` steps, timing each; FLOPs are counted during the first (warm-up) step."""
    config = edit_config(args.mode, steps, size, args.duration, args.fps)
    count, limit_s = not args.no_step_flops, args.max_step_seconds
    source = load_clip(config, size)
    device = str(video.device)
    clock = StepClock(device, [video.unet, audio.unet], count, limit_s, args.overhead)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    gc.collect()
    reset_peak_memory(device)
    note = ""
    try:
        Editor(video, audio, config).run(source, generator, callback=clock, progress=False)
    except StepLimitExceeded:
        note = f"stopped after the warm-up step ({clock.warmup_seconds():.0f} s > --max-step-seconds)"
    finally:
        clock.stop_counting()
        clock.remove_timers()
    if clock.nonfinite():
        note = "; ".join(filter(None, [note, f"non-finite losses: {', '.join(clock.nonfinite())}"]))
    peak = peak_memory_gib(device)
    return StepRun(clock.step_seconds(), clock.warmup_seconds(), peak, clock.step_flops(), clock.overhead(), note)


def estimated_step_seconds(forwards: list[Forward]) -> float:
    """A rough step time from single forwards: 4 forwards + a backward (≈ 2 forwards of wall time) per prior."""
    return 6 * sum(f.seconds for f in forwards)


def measure_size(size: str, device: str, dtype: torch.dtype, args: argparse.Namespace) -> tuple[list[Forward], StepRun]:
    """Build one size's priors, measure their UNet forwards, then the editor step (unless it would be too slow)."""
    start = time.perf_counter()
    video, audio = build_priors(size, device, dtype)
    if args.compile:
        video, audio = video.compile(), audio.compile()
    print(f"[{size}] built priors in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    repeats = FORWARD_REPEATS["cuda" if device.startswith("cuda") else size]
    latents = forward_latents(edit_config(args.mode, 2, size, args.duration, args.fps), size, video, audio)
    forwards = [
        unet_forward(video, "video", latents[0], repeats),
        unet_forward(audio, "audio", latents[1], repeats),
    ]
    steps = args.steps or DEFAULT_STEPS[size]
    estimate = estimated_step_seconds(forwards)
    if estimate > args.max_step_seconds:
        run = StepRun(note=f"editor step skipped: ~{estimate:.0f} s estimated > --max-step-seconds; forwards only")
    else:
        print(f"[{size}] editor: {steps} steps, ~{estimate:.0f} s each (estimate)", file=sys.stderr, flush=True)
        run = run_editor(video, audio, args, steps, size)
    del video, audio
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return forwards, run


# ---------------------------------------------------------------- reporting


def device_name(device: str) -> str:
    """Human-readable accelerator or CPU model, with the thread count on CPU."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = names[0] if names else model
    return f"{model}, {torch.get_num_threads()} threads"


def environment(device: str, dtype: str, mode: str) -> str:
    """One line: date, device, library versions, dtype, mode, and the load average (other jobs skew CPU timings)."""
    today = datetime.date.today().isoformat()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{today} · device {device} ({device_name(device)}) · torch {torch.__version__} · "
        f"diffusers {diffusers.__version__} · dtype {dtype} · mode {mode} · python {platform.python_version()} · "
        f"load avg {load}"
    )


def gflop(value: float | None) -> str:
    """FLOPs as GFLOP with sensible precision, '—' when absent."""
    if value is None:
        return "—"
    return f"{value / 1e9:,.1f}" if value >= 1e10 else f"{value / 1e9:.3f}"


def model_flops(forward_flops: float) -> float:
    """docs/design.md §5's per-step FLOPs for a prior whose forward costs `forward_flops`: 4 forwards + a backward."""
    return (4 + BACKWARD_FORWARDS) * forward_flops


def modality_row(size: str, f: Forward) -> list[str]:
    """One prior's UNet forward."""
    latent = "×".join(map(str, f.latent))
    head = [size, f.modality, f"{f.unet} {f.params_m:.0f}M", latent, gflop(f.flops), f"{f.seconds:.2f}"]
    return head + [gflop(model_flops(f.flops)), "", "", "", "", ""]


def step_row(size: str, forwards: list[Forward], run: StepRun) -> list[str]:
    """The whole editor step (both priors): FLOPs modelled and counted, time, rate, peak memory."""
    forward_sum = sum(f.flops for f in forwards)
    seconds = statistics.mean(run.seconds) if run.seconds else run.warmup_s
    if run.seconds:
        cell = f"{seconds:.2f} (n={len(run.seconds)}, min {min(run.seconds):.2f})"
    else:
        cell = "—" if seconds is None else f"{seconds:.1f} (warm-up only)"
    equivalents = f"{run.flops / forward_sum:.2f}×" if run.flops else "—"
    rate = f"{run.flops / seconds / 1e9:,.0f}" if run.flops and seconds else "—"
    peak = "—" if seconds is None else f"{run.peak_gib:.2f}"
    head = [size, "step (both)", "", "", "", "", gflop(model_flops(forward_sum)), gflop(run.flops)]
    return head + [equivalents, cell, rate, peak]


def size_rows(size: str, forwards: list[Forward], run: StepRun) -> list[list[str]]:
    """Table rows for one size: one per modality (its UNet forward), then the whole editor step."""
    return [modality_row(size, f) for f in forwards] + [step_row(size, forwards, run)]


def render(rows: list[list[str]]) -> str:
    """A Markdown table, columns padded to width."""
    header = [
        "size",
        "modality",
        "UNet",
        "latent",
        "GFLOP/fwd",
        "s/fwd",
        "model GFLOP/step",
        "measured GFLOP/step",
        "fwd-equiv",
        "s/step",
        "GFLOP/s",
        "peak GiB",
    ]
    table = [header] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def notes(device: str, results: dict[str, tuple[list[Forward], StepRun]]) -> list[str]:
    """Footnotes: what the columns mean, plus anything skipped."""
    memory = "torch.cuda.max_memory_allocated" if device.startswith("cuda") else "process peak RSS (ru_maxrss) so far"
    lines = [
        "GFLOP/fwd: one batch-1 UNet ε-prediction (torch FlopCounterMode + CPU fused attention); s/fwd: median.",
        f"model GFLOP/step: docs/design.md §5, 4 forwards + backward ≈ {4 + BACKWARD_FORWARDS:g} forwards per prior.",
        "measured GFLOP/step: FlopCounterMode over all of editor step 0 (both priors, backward, losses).",
        "fwd-equiv: measured GFLOP/step / (video + audio GFLOP/fwd); docs/design.md §5 assumes ~5.5.",
        f"s/step: mean over the steps after one warm-up step; GFLOP/s: measured GFLOP/step / s/step; peak: {memory}.",
    ]
    for size, (_, run) in results.items():
        if run.seconds:
            per_step = statistics.mean(run.seconds)
            clip = ", ".join(f"{steps * per_step:.1f} s at {steps} steps" for steps in CLIP_STEPS)
            lines.append(f"{size}: per clip (steps × s/step, encoding and decoding aside): {clip}")
        if run.overhead is not None:
            lines.append(f"{size}: engine overhead: a step takes {run.overhead:.3f}× the time inside its UNet calls")
    lines += [f"{size}: {run.note}" for size, (_, run) in results.items() if run.note]
    return lines


# ---------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,full", help="comma-separated subset of tiny,toyworld,full")
    parser.add_argument("--steps", type=int, default=None, help="editor steps incl. 1 warm-up (tiny 5, full 2)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--dtype", default="float32", choices=DTYPES)
    parser.add_argument("--mode", default="aved", choices=[m.name for m in MODES.values() if m.engine == "dds"])
    parser.add_argument("--max-step-seconds", type=float, default=240.0, help="skip an editor run estimated slower")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds of the 5 s example clip to edit")
    parser.add_argument("--fps", type=float, default=4.0, help="frames per second (4 per 2×2 grid)")
    parser.add_argument("--no-step-flops", action="store_true", help="do not count FLOPs during the warm-up step")
    parser.add_argument("--compile", action="store_true", help="torch.compile both UNets (as aved edit --compile)")
    parser.add_argument(
        "--overhead", action="store_true", help="also time every UNet call: the engine overhead (synchronises)"
    )
    args = parser.parse_args(argv)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if not args.sizes or set(args.sizes) - set(DEFAULT_STEPS):
        parser.error(f"--sizes: choose from {', '.join(DEFAULT_STEPS)}")
    if args.steps is not None and args.steps < 2:
        parser.error("--steps: at least 2 (one warm-up step and one timed step)")
    return args


def main(argv: list[str] | None = None) -> None:
    """Measure each requested size and print the environment and one table."""
    args = parse_args(argv)
    device, dtype = str(resolve_device(args.device)), getattr(torch, args.dtype)
    print(environment(device, args.dtype, args.mode))
    frames = len(sample_times(args.duration, args.fps))
    grids = -(-frames // 4)
    print(
        f"clip: {CLIP.relative_to(ROOT)} → {frames} frames @ {args.fps:g} fps "
        f"({grids} 2×2 grids of 256 px) + 10.24 s mel; toyworld: the README's edit ({TOY_CLIP.relative_to(ROOT)})\n"
    )
    results = {size: measure_size(size, device, dtype, args) for size in args.sizes}
    rows = [row for size, (forwards, run) in results.items() for row in size_rows(size, forwards, run)]
    print(render(rows))
    print("\n" + "\n".join(f"- {line}" for line in notes(device, results)))


if __name__ == "__main__":
    main()
