"""Writing trained ToyWorld priors: both pipeline folders, the loss curves, samples and the model card, staged."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np

from aved import folders
from aved.config import MODEL_PRESETS
from aved.toyworld import models
from aved.toyworld.train import TrainConfig, TrainResult, VocoderResult

TRAIN_COMMAND = "aved toyworld train --out aved/toyworld/weights --seed {seed}"
VOCODER_HEADING = "## The vocoder"
VOCODER_CURVE = "loss_vocoder.png"
# decoder_scores field → (row title, digits)
DECODER_FIGURES = {
    "onset_bias_ms": ("onset bias (found − true), ms", 1),
    "onset_ms": ("onset error, ms", 1),
    "extra_events": ("extra events per clip", 2),
    "missing_events": ("missing events per clip", 2),
    "kind_accuracy": ("sound-kind accuracy", 3),
    "av_align": ("AV-Align (truth's frames)", 3),
}


def _figure(width: float, height: float):
    """A `Figure` of its own (saved with its savefig): pyplot's state and the global backend are left alone."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plot_training_losses(result: TrainResult, path: Path) -> None:
    """Loss per step of every phase (moving average over 50 steps on top of the raw curve)."""
    fig = _figure(12, 3.2)
    for index, (name, values) in enumerate(result.losses.items()):
        _plot_loss(fig.add_subplot(1, len(result.losses), index + 1), values, name.replace("_", " "))
    fig.savefig(path, dpi=90)


def _plot_loss(ax, values: list[float], title: str) -> None:
    """One phase's loss per step on a log axis, its 50-step moving average on top."""
    values = np.asarray(values)
    ax.plot(values, alpha=0.3, lw=0.6)
    if len(values) >= 50:
        ax.plot(np.arange(49, len(values)), np.convolve(values, np.ones(50) / 50, mode="valid"), lw=1.2)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.set_yscale("log")


def plot_video_samples(result: TrainResult, path: Path) -> None:
    """One row per prompt: its sampled frames side by side."""
    scores = result.scores["video"]
    frames = scores.samples  # [P, K, s, s, 3]
    rows = [np.concatenate(list(group), axis=1) for group in frames]
    fig = _figure(frames.shape[1] * 0.9, len(rows) * 0.75)
    for index, (prompt, row) in enumerate(zip(scores.prompts, rows, strict=True)):
        ax = fig.add_subplot(len(rows), 1, index + 1)
        ax.imshow(row)
        ax.set_axis_off()
        ax.set_title(prompt, fontsize=7, loc="left", pad=1)
    fig.savefig(path, dpi=100)


def plot_audio_samples(result: TrainResult, path: Path) -> None:
    """One log-mel per sample (time → right, mel bins ↑), titled with its prompt."""
    scores = result.scores["audio"]
    mels = scores.samples  # [P, S, frames, bins]
    fig = _figure(mels.shape[1] * 3.2, len(mels) * 0.9)
    for p, prompt in enumerate(scores.prompts):
        for s in range(mels.shape[1]):
            ax = fig.add_subplot(len(mels), mels.shape[1], p * mels.shape[1] + s + 1)
            ax.imshow(mels[p, s].T, origin="lower", aspect="auto", cmap="magma", vmin=-11.5, vmax=2)
            ax.set_axis_off()
            ax.set_title(prompt, fontsize=6, loc="left", pad=1)
    fig.savefig(path, dpi=90)


def edit_settings() -> str:
    """The `toyworld` preset's settings beyond the media, as `key = value` text (the preset is their one place)."""
    preset = MODEL_PRESETS["toyworld"]
    return ", ".join(f"`{k} = {v}`" for k, v in preset.items() if not k.startswith(("model.", "media.")))


def model_card(result: TrainResult, figures: dict[str, dict[str, float]] | None = None) -> str:
    """MODEL_CARD.md: command, data, phases, times, sample accuracy; `figures` as for vocoder_section."""
    cfg = result.config
    total = sum(result.seconds.values())
    phases = "\n".join(
        f"| {name} | {getattr(cfg, name).steps} | {getattr(cfg, name).batch} | {getattr(cfg, name).lr:g} | "
        f"{np.mean(result.losses[name][-100:]):.4f} | {result.seconds[name] / 60:.1f} |"
        for name in ("video_vae", "video_unet", "audio_vae", "audio_unet", "vocoder")
    )
    sizes = "\n".join(
        f"| {name} | {type(module).__name__} | {sum(p.numel() for p in module.parameters()):,} |"
        for pipeline_name, pipeline in (("video", result.video), ("audio", result.audio))
        for name, module in ((f"{pipeline_name}/{k}", v) for k, v in pipeline.components.items())
        if hasattr(module, "parameters")
    )
    video, audio = result.scores["video"], result.scores["audio"]
    media = models.media_config()
    mel = media.mel
    vf, af = result.video.vae_scale_factor, result.audio.vae_scale_factor
    g, pixels = media.grid, media.frame_size * media.grid
    side = pixels // vf
    v_latent = f"{result.video.vae.config.latent_channels}×{side}×{side}"
    a_latent = f"{result.audio.vae.config.latent_channels}×{mel.num_frames // af}×{mel.n_mels // af}"
    v_attn = " and ".join(
        f"{side >> level}²"
        for level, kind in enumerate(result.video.unet.config.down_block_types)
        if kind.startswith("CrossAttn")
    )
    return f"""# ToyWorld priors

Two small latent diffusion models trained on ToyWorld renders (`aved.toyworld`), built from the same diffusers
classes as the real priors and loaded through the same `from_pretrained` path:

- `video/`: a `StableDiffusionPipeline` (CLIP text encoder with one token per caption word, factor-{vf} VAE, UNet
  with cross-attention at {v_attn}) over {g}×{g} grids of {media.frame_size} px frames, i.e. {pixels}² images
  → {v_latent} latents.
- `audio/`: an `AudioLDM2Pipeline` (T5 encoder with one token per word + CLAP/projection/GPT-2 stream, factor-{af}
  mel VAE, UNet) over {mel.duration:g} s log-mels ({mel.n_mels} bins, hop {mel.hop_length} → {mel.num_frames}
  frames) → {a_latent} latents, decoded to sound by its own HiFi-GAN vocoder (below).

Use them with `aved edit CLIP --model toyworld …` ({media.span():g} s at {media.fps:g} fps, {media.frame_size} px
frames, grid {media.grid}, a {mel.duration:g} s mel window). The preset also sets the edit's own settings for these
priors: {edit_settings()}.

## How they were made

```
{TRAIN_COMMAND.format(seed=cfg.seed)}
```

Seeded end to end (data, initialisation, batches, noise): the same command on the same machine gives the same
weights. Data: {cfg.clips} random scenes (background × kind × colour × motion seed), {media.span():g} s each, read
by the engine's own front end ({media.fps:g} fps, {media.frame_size} px, {g}×{g} grids; AudioLDM2 log-mel),
cells of the grids shuffled as the editor does. VAEs: L1 reconstruction with object pixels weighted
×{cfg.object_weight:g} (objects are ~3 % of a frame) and KL ×{cfg.kl_weight:g}; the latent scaling factor is 1/std
of the trained latents. UNets: ε-prediction, min-SNR-γ weighting (γ = {cfg.min_snr_gamma:g}), captions dropped to
"" with p = {cfg.uncond_prob:g} for classifier-free guidance, trained jointly with the text encoder they read (the
AudioLDM2 GPT-2 stream is recomputed from the current T5 every 100 steps). AdamW, linear warm-up then cosine
decay to 10 %.

| phase | steps | batch | peak lr | final loss (mean of last 100) | minutes |
| --- | --- | --- | --- | --- | --- |
{phases}

Total {total / 60:.1f} min on this repository's 2-core CPU machine (data {result.seconds["data"] / 60:.1f} min,
samples {result.seconds["samples"] / 60:.1f} min).

![loss curves](loss_curves.png)

| component | class | parameters |
| --- | --- | --- |
{sizes}

{vocoder_section(cfg, result.losses["vocoder"], result.seconds["vocoder"], figures)}
## What they draw

{len(video.prompts)} captions, 2 samples each (DDIM 25 steps, guidance 5, seed {cfg.seed}), scored by the
analytic ToyWorld scorers (no neural network):

- frames (per frame, 8 per caption): colour {video.accuracy["colour"]:.2f}, kind {video.accuracy["kind"]:.2f},
  background {video.accuracy["background"]:.2f} (chance 0.20, 0.25, 0.25);
- sound (per detected event, Griffin-Lim decoded): kind {audio.accuracy["kind"]:.2f} (chance 0.25); samples with
  at least one event: {audio.accuracy["has_events"]:.2f}.

![video samples](samples_video.png)

![audio samples](samples_audio.png)
"""


def vocoder_section(
    cfg: TrainConfig, losses: list[float], seconds: float, figures: dict[str, dict[str, float]] | None
) -> str:
    """The card's vocoder section: recipe, loss curve and, per decoder, the ground truths' sound through the VAE
    and that decoder scored against the impacts (`figures`: decoder name → toyworld.evaluate.decoder_scores)."""
    phase = cfg.vocoder
    resolutions = ", ".join(f"{n}/{h}" for n, h in cfg.vocoder_resolutions)
    text = f"""{VOCODER_HEADING}

`audio/vocoder` is a `SpeechT5HifiGan` (AudioLDM2's vocoder class: HiFi-GAN's generator, upsampling ×5·4·4·2 =
the mel hop), loaded by the same pipeline path. Retrain it alone, leaving every other weight bit for bit:

```
{TRAIN_COMMAND.format(seed=cfg.seed)} --only vocoder
```

Trained without a discriminator on the multi-resolution STFT loss (spectral convergence +
{cfg.vocoder_log_weight:g} × log-magnitude L1 at n_fft/hop {resolutions}, log floor 1e-2) of random
{cfg.vocoder_crop}-frame crops of the {cfg.clips} training clips; the input mel is the clip's own or, with
p = {cfg.vocoder_vae_prob:g}, its VAE round trip (what an edit decodes); inputs standardised per mel bin. AdamW,
{phase.steps} steps of batch {phase.batch}, peak lr {phase.lr:g}, final loss {np.mean(losses[-100:]):.3f},
{seconds / 60:.1f} min.

![vocoder loss]({VOCODER_CURVE})
"""
    if figures:
        names = list(figures)
        rows = "\n".join(
            f"| {title} | " + " | ".join(f"{figures[n][key]:.{digits}f}" for n in names) + " |"
            for key, (title, digits) in DECODER_FIGURES.items()
        )
        truth = next(iter(figures.values()))["truth_av_align"]
        text += f"""
The ground truths of the bench's task set (seed 0, {figures[names[0]].get("tasks", 110):.0f} tasks) through the
sound VAE and each decoder, scored by the analytic scorers against the true impacts (the rendered truth's own
AV-Align: {truth:.3f}):

| truth via the sound VAE and | {" | ".join(names)} |
| --- | {" | ".join("---" for _ in names)} |
{rows}
"""
    return text


def plot_curve(values: list[float], path: Path, title: str) -> None:
    """One phase's loss curve alone (as in plot_training_losses)."""
    fig = _figure(4, 3)
    _plot_loss(fig.add_subplot(1, 1, 1), values, title)
    fig.savefig(path, dpi=90)


def with_vocoder_section(card: str, section: str) -> str:
    """The card with its vocoder section replaced, or inserted before "## What they draw"."""
    if VOCODER_HEADING in card:
        start = card.index(VOCODER_HEADING)
        end = card.find("\n## ", start + len(VOCODER_HEADING))
        return card[:start] + section + ("\n" + card[end + 1 :] if end >= 0 else "")
    anchor = card.find("## What they draw")
    return card[:anchor] + section + "\n" + card[anchor:] if anchor >= 0 else card + "\n" + section


def write_vocoder(
    result: VocoderResult, out_dir: str | Path, figures: dict[str, dict[str, float]] | None = None
) -> Path:
    """Replace out_dir/audio/vocoder, the pipeline index, the card's vocoder section and its curve; staged."""
    target = Path(out_dir)
    with folders.replaced_folder(target) as staging:
        shutil.copytree(target, staging, dirs_exist_ok=True)
        shutil.rmtree(staging / "audio" / "vocoder", ignore_errors=True)
        result.audio.vocoder.save_pretrained(staging / "audio" / "vocoder", safe_serialization=True)
        index_path = staging / "audio" / "model_index.json"
        index = json.loads(index_path.read_text())
        index["vocoder"] = ["transformers", type(result.audio.vocoder).__name__]
        index_path.write_text(json.dumps(index, indent=2) + "\n")
        plot_curve(result.losses, staging / VOCODER_CURVE, "vocoder")
        section = vocoder_section(result.config, result.losses, result.seconds["vocoder"], figures)
        card = (staging / "MODEL_CARD.md").read_text()
        card = card.replace(
            "No vocoder: the prior turns mels into sound with Griffin-Lim (32 iterations).",
            "Decoded to sound by its own HiFi-GAN vocoder (below).",
        )
        (staging / "MODEL_CARD.md").write_text(with_vocoder_section(card, section))
        document_path = staging / "train_config.json"
        document = json.loads(document_path.read_text())
        document["config"]["vocoder"] = dataclasses.asdict(result.config)["vocoder"]
        for key in ("vocoder_crop", "vocoder_vae_prob", "vocoder_resolutions"):
            document["config"][key] = getattr(result.config, key)
        document["seconds"]["vocoder"] = result.seconds["vocoder"]
        if figures:
            document["scores"]["decoders"] = figures
        document_path.write_text(json.dumps(document, indent=2) + "\n")
    return target


def write_priors(result: TrainResult, out_dir: str | Path, figures: dict[str, dict[str, float]] | None = None) -> Path:
    """video/, audio/, MODEL_CARD.md, train_config.json and the plots into out_dir, replacing it whole."""
    target = Path(out_dir)
    with folders.replaced_folder(target) as staging:
        result.video.save_pretrained(staging / "video", safe_serialization=True)
        result.audio.save_pretrained(staging / "audio", safe_serialization=True)
        plot_training_losses(result, staging / "loss_curves.png")
        plot_video_samples(result, staging / "samples_video.png")
        plot_audio_samples(result, staging / "samples_audio.png")
        plot_curve(result.losses["vocoder"], staging / VOCODER_CURVE, "vocoder")
        (staging / "MODEL_CARD.md").write_text(model_card(result, figures))
        document = {
            "config": result.config_dict(),
            "seconds": result.seconds,
            "scores": {k: v.accuracy for k, v in result.scores.items()},
        }
        (staging / "train_config.json").write_text(json.dumps(document, indent=2) + "\n")
    return target
