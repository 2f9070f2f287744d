"""Training the two ToyWorld priors: each VAE first, then its UNet jointly with the text encoder it reads, and
last the sound prior's vocoder on the mels its VAE decodes.

One seeded function, `train_priors`, returns both pipelines, their loss curves and sample scores; the CLI
writes them. `train_vocoder_only` trains the vocoder alone on a saved sound prior, leaving the rest bit for bit.
Steps, not wall time, bound every phase, so two runs with one seed give the same weights.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from diffusers import AudioLDM2Pipeline, AutoencoderKL, StableDiffusionPipeline
from tqdm.auto import tqdm
from transformers import SpeechT5HifiGan

from aved.config import MelConfig
from aved.media.frames import num_grids, permute_cells, shuffle_permutation, unpack_grids
from aved.priors.audioldm2 import AudioLDM2Prior
from aved.priors.base import Condition
from aved.priors.stable_diffusion import StableDiffusionPrior
from aved.progress import bar_disable
from aved.toyworld import models
from aved.toyworld.data import TrainingSet, training_set
from aved.toyworld.evaluate import PriorScores, score_audio_prior, score_video_prior

# Magnitude floor of the vocoder loss's log term: 60–80 dB under an event (the scorers look 45 dB down). Lower
# floors let the silence between events outweigh the events and the fresh network collapses to zero output.
STFT_FLOOR = 1e-2

logger = logging.getLogger(__name__)


@dataclass
class PhaseConfig:
    """One optimisation phase: steps, batch, peak learning rate (linear warm-up, cosine decay to 10 %)."""

    steps: int
    batch: int
    lr: float
    warmup: int = 100


@dataclass
class TrainConfig:
    """Everything that determines the shipped ToyWorld weights; saved in the model card."""

    seed: int = 0
    clips: int = 2000
    video_vae: PhaseConfig = field(default_factory=lambda: PhaseConfig(steps=1800, batch=16, lr=2e-3))  # frames
    audio_vae: PhaseConfig = field(default_factory=lambda: PhaseConfig(steps=600, batch=8, lr=2e-3))
    video_unet: PhaseConfig = field(default_factory=lambda: PhaseConfig(steps=7000, batch=16, lr=1e-3))
    audio_unet: PhaseConfig = field(default_factory=lambda: PhaseConfig(steps=2400, batch=16, lr=1e-3))
    vocoder: PhaseConfig = field(default_factory=lambda: PhaseConfig(steps=3000, batch=8, lr=1e-3))
    vocoder_crop: int = 64  # mel frames per training crop (0.64 s)
    vocoder_vae_prob: float = 0.5  # share of crops whose input mel went through the VAE (what edits decode)
    # (n_fft, hop) of the multi-resolution STFT loss; the 64-point one (4 ms) pins the attacks in time
    vocoder_resolutions: tuple[tuple[int, int], ...] = ((1024, 256), (512, 128), (256, 64), (128, 32), (64, 16))
    # At weight 1 the log term, whose empty bins far outnumber an event's few loud ones, drives a fresh network
    # to silence (measured: stuck at loss 6 for 600 steps); at 0.1 the convergence term leads (SC 5.0 → 1.9 in 300)
    vocoder_log_weight: float = 0.1
    object_weight: float = 20.0  # VAE reconstruction weight of object pixels (the object is ~3 % of a frame)
    kl_weight: float = 1e-6
    uncond_prob: float = 0.1  # caption dropped to "" for classifier-free guidance
    min_snr_gamma: float = 5.0
    sample_prompts: int = 16  # prompts scored after training, two samples each


@dataclass
class TrainResult:
    """The trained pipelines, per-phase loss curves, phase times (s) and sample scores."""

    video: StableDiffusionPipeline
    audio: AudioLDM2Pipeline
    losses: dict[str, list[float]]
    seconds: dict[str, float]
    scores: dict[str, PriorScores]
    config: TrainConfig

    def config_dict(self) -> dict:
        return asdict(self.config)


def lr_factor(step: int, phase: PhaseConfig) -> float:
    """Linear warm-up to 1, then cosine decay to 0.1 at the last step."""
    if step < phase.warmup:
        return (step + 1) / phase.warmup
    progress = (step - phase.warmup) / max(1, phase.steps - phase.warmup)
    return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))


def min_snr_weight(alpha_bar: torch.Tensor, gamma: float) -> torch.Tensor:
    """ε-loss weight min(SNR, γ)/SNR with SNR = ᾱ/(1−ᾱ) (Hang et al. 2023, eq. 7)."""
    snr = alpha_bar / (1 - alpha_bar)
    return snr.clamp(max=gamma) / snr


def _optimise(
    name: str,
    params: list[torch.nn.Parameter],
    phase: PhaseConfig,
    loss_fn: Callable[[int], torch.Tensor],
    progress: bool,
) -> list[float]:
    """AdamW over `params` for phase.steps steps of loss_fn(step); returns the loss per step."""
    optimizer = torch.optim.AdamW(params, lr=phase.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, phase))
    history = []
    bar = tqdm(range(phase.steps), desc=name, disable=bar_disable(progress), dynamic_ncols=True)
    for step in bar:
        loss = loss_fn(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        history.append(float(loss.detach()))
        if step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(history[-20:]):.4f}", refresh=False)
    return history


def train_vae(
    vae: AutoencoderKL,
    data: torch.Tensor,
    weights: torch.Tensor | None,
    phase: PhaseConfig,
    cfg: TrainConfig,
    generator: torch.Generator,
    name: str,
    progress: bool,
) -> list[float]:
    """Weighted L1 reconstruction + β·KL on random items of data [N, C, H, W]; sets the latent scaling factor."""
    vae.train().requires_grad_(True)

    def loss_fn(step: int) -> torch.Tensor:
        index = torch.randint(len(data), (phase.batch,), generator=generator)
        x = data[index].float()
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
        error = (vae.decode(z).sample - x).abs()
        if weights is not None:
            w = 1 + (cfg.object_weight - 1) * weights[index].float()
            error = error * w / w.mean()
        return error.mean() + cfg.kl_weight * posterior.kl().mean()

    history = _optimise(name, list(vae.parameters()), phase, loss_fn, progress)
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        sample = data[torch.randperm(len(data), generator=generator)[:64]].float()
        latents = torch.cat([vae.encode(chunk).latent_dist.mode() for chunk in sample.split(16)])
    vae.register_to_config(scaling_factor=float(1 / latents.std()))
    return history


@torch.no_grad()
def encode_all(prior_encode: Callable[[torch.Tensor], torch.Tensor], data: torch.Tensor, batch: int = 32):
    """Scaled latents of every item of data."""
    return torch.cat([prior_encode(chunk.float()) for chunk in data.split(batch)])


def train_unet(
    prior: StableDiffusionPrior | AudioLDM2Prior,
    text_encoder: torch.nn.Module,
    condition: Callable[[list[str]], Condition],
    latents: torch.Tensor,
    captions: list[str],
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    phase: PhaseConfig,
    cfg: TrainConfig,
    generator: torch.Generator,
    name: str,
    progress: bool,
) -> list[float]:
    """ε-prediction MSE (min-SNR weighted) on latents [N, ...] with captions dropped to "" at uncond_prob."""
    unet = prior.unet
    params = [*unet.parameters(), *text_encoder.parameters()]
    unet.train().requires_grad_(True)
    text_encoder.requires_grad_(True)  # kept in eval mode: T5's dropout would differ between the two streams
    alpha_bars = prior.alphas_cumprod

    def loss_fn(step: int) -> torch.Tensor:
        index = torch.randint(len(latents), (phase.batch,), generator=generator)
        z0 = augment(latents[index], generator)
        drop = torch.rand(phase.batch, generator=generator) < cfg.uncond_prob
        texts = ["" if dropped else captions[i] for i, dropped in zip(index.tolist(), drop.tolist(), strict=True)]
        t = torch.randint(prior.num_train_timesteps, (phase.batch,), generator=generator)
        noise = torch.randn(z0.shape, generator=generator)
        alpha_bar = alpha_bars[t].view(-1, *([1] * (z0.ndim - 1)))
        z_t = alpha_bar.sqrt() * z0 + (1 - alpha_bar).sqrt() * noise
        eps = prior.predict_noise(z_t, t, condition(texts))
        per_item = (eps - noise).pow(2).flatten(1).mean(1)
        return (min_snr_weight(alpha_bars[t], cfg.min_snr_gamma) * per_item).mean()

    history = _optimise(name, params, phase, loss_fn, progress)
    unet.eval().requires_grad_(False)
    text_encoder.requires_grad_(False)
    return history


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """|STFT| of [B, N] waveforms with a Hann window (smoothed by 1e-9 inside the root so 0 has a gradient)."""
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.view_as_real(torch.stft(x, n_fft, hop_length=hop, window=window, return_complex=True))
    return (spec.pow(2).sum(-1) + 1e-18).sqrt()


def multi_resolution_stft_loss(
    pred: torch.Tensor, target: torch.Tensor, resolutions: tuple[tuple[int, int], ...], log_weight: float = 1.0
) -> torch.Tensor:
    """Σ over resolutions of spectral convergence + log_weight · log-magnitude L1 (Yamamoto et al. 2020, eqs. 1–3).

    The convergence ratio is taken over the whole batch (a silent crop alone would divide by ≈ 0) on the raw
    magnitudes, whose slope does not vanish near silence; the log term floors both at STFT_FLOOR, below which
    a difference is inaudible to every scorer.
    """
    total = pred.new_zeros(())
    for n_fft, hop in resolutions:
        p, t = stft_magnitude(pred, n_fft, hop), stft_magnitude(target, n_fft, hop)
        log_error = (torch.log(t + STFT_FLOOR) - torch.log(p + STFT_FLOOR)).abs().mean()
        total = total + torch.linalg.norm(t - p) / torch.linalg.norm(t) + log_weight * log_error
    return total


def train_vocoder(
    vocoder: SpeechT5HifiGan,
    mels: torch.Tensor,
    vae_mels: torch.Tensor,
    waveforms: torch.Tensor,
    mel_config: MelConfig,
    cfg: TrainConfig,
    generator: torch.Generator,
    progress: bool,
) -> list[float]:
    """Multi-resolution STFT loss of the vocoder's output on random crops; no discriminator.

    Inputs are the true mels or, with p = vocoder_vae_prob, the same mels through the VAE (what edits decode),
    the target always the sound the mel was taken of: so the vocoder also learns where the VAE blurs.
    """
    phase, crop, hop = cfg.vocoder, cfg.vocoder_crop, mel_config.hop_length
    bins = mels[:, 0].reshape(-1, mels.shape[-1])
    # Standardised inputs: a raw log-mel is ≈ −11.5 wherever it is silent, which swamps a fresh network.
    vocoder.mean.copy_(bins.mean(0))
    vocoder.scale.copy_(bins.std(0).clamp(min=1e-3))  # a bin that never moves must not divide by 0
    vocoder.train().requires_grad_(True)

    def loss_fn(step: int) -> torch.Tensor:
        index = torch.randint(len(mels), (phase.batch,), generator=generator)
        start = torch.randint(mels.shape[2] - crop + 1, (phase.batch,), generator=generator)
        through_vae = torch.rand(phase.batch, generator=generator) < cfg.vocoder_vae_prob
        picks = list(zip(index.tolist(), start.tolist(), through_vae.tolist(), strict=True))
        x = torch.stack([(vae_mels if vae else mels)[i, 0, s : s + crop] for i, s, vae in picks])
        y = torch.stack([waveforms[i, s * hop : (s + crop) * hop] for i, s, _ in picks])
        return multi_resolution_stft_loss(vocoder(x), y, cfg.vocoder_resolutions, cfg.vocoder_log_weight)

    history = _optimise("vocoder", list(vocoder.parameters()), phase, loss_fn, progress)
    vocoder.eval().requires_grad_(False)
    return history


@torch.no_grad()
def vae_round_trip(prior: AudioLDM2Prior, mels: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """Every mel encoded (posterior mode) and decoded by the prior's VAE."""
    return torch.cat([prior.decode(prior.encode(chunk)) for chunk in mels.split(batch)])


def add_vocoder(audio: AudioLDM2Pipeline, data: TrainingSet, cfg: TrainConfig, progress: bool) -> list[float]:
    """Give `audio` a fresh (seeded) vocoder and train it on the training set's sounds, mels and VAE round trips.

    Its initialisation and batches draw from cfg.seed alone, so it comes out the same after a full training and
    after `train_vocoder_only` on the saved prior.
    """
    mel_config = models.media_config().mel
    torch.manual_seed(cfg.seed)
    audio.register_modules(vocoder=models.audio_vocoder(mel_config))
    vae_mels = vae_round_trip(AudioLDM2Prior(audio, "toyworld-audio"), data.mels)
    generator = torch.Generator().manual_seed(cfg.seed)
    return train_vocoder(audio.vocoder, data.mels, vae_mels, data.waveforms, mel_config, cfg, generator, progress)


def video_condition(pipeline: StableDiffusionPipeline) -> Callable[[list[str]], Condition]:
    """Captions → CLIP states with gradient, tokenised exactly as the pipeline's encode_prompt does."""

    def condition(texts: list[str]) -> Condition:
        ids = pipeline.tokenizer(
            texts,
            padding="max_length",
            max_length=pipeline.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        return Condition({"encoder_hidden_states": pipeline.text_encoder(ids)[0]})

    return condition


class AudioCondition:
    """Captions → the T5 stream with gradient, and the GPT-2 stream without.

    GPT-2 continues [CLAP, T5] through a frozen projection; running it per step would cost more than the UNet,
    so its output is cached per caption and recomputed every `refresh` calls as T5 trains. Captions of equal
    token length are encoded together: padding inside the sequence GPT-2 continues would change its output.
    """

    def __init__(self, pipeline: AudioLDM2Pipeline, captions: list[str], refresh: int = 100):
        self.pipeline, self.refresh, self.calls = pipeline, refresh, 0
        self.captions = sorted({"", *captions})
        self.generated: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def _update_cache(self) -> None:
        for text in self.captions:
            _, _, streams = self.pipeline.encode_prompt(
                [text], "cpu", num_waveforms_per_prompt=1, do_classifier_free_guidance=False
            )
            self.generated[text] = streams[0]

    def __call__(self, texts: list[str]) -> Condition:
        if self.calls % self.refresh == 0:
            self._update_cache()
        self.calls += 1
        tokenizer, encoder = self.pipeline.tokenizer_2, self.pipeline.text_encoder_2
        ids = [tokenizer(text).input_ids for text in texts]
        length = max(len(row) for row in ids)
        t5: list[torch.Tensor | None] = [None] * len(texts)
        mask = torch.zeros(len(texts), length, dtype=torch.long)
        for size in sorted({len(row) for row in ids}):
            rows = [i for i, row in enumerate(ids) if len(row) == size]
            group = torch.tensor([ids[i] for i in rows])
            states = encoder(group, attention_mask=torch.ones_like(group))[0]
            states = torch.nn.functional.pad(states, (0, 0, 0, length - size))
            for j, i in enumerate(rows):
                t5[i] = states[j]
                mask[i, :size] = 1
        return Condition(
            {
                "encoder_hidden_states": torch.stack([self.generated[text] for text in texts]),
                "encoder_hidden_states_1": torch.stack(t5),
                "encoder_attention_mask_1": mask,
            }
        )


def shuffle_cells(grid: int, frames: int) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """Augmentation: the editor's grid shuffle, applied per clip to its latent grids [B, G, C, h, w] → one grid."""

    def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = []
        for grids in batch:
            perm = shuffle_permutation(frames, grid, generator)
            pick = int(torch.randint(num_grids(frames, grid), (1,), generator=generator))
            out.append(permute_cells(grids, grid, perm)[pick])
        return torch.stack(out)

    return augment


def no_augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return batch


def train_priors(
    cfg: TrainConfig | None = None, progress: bool = True, log: Callable[[str], None] | None = None
) -> TrainResult:
    """Render data, train the video prior then the sound prior, score samples; nothing is written. Each phase's
    summary goes to `log` (default: the `aved.toyworld.train` logger, at info)."""
    cfg = cfg or TrainConfig()
    log = log or logger.info
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    media = models.media_config()
    seconds, losses = {}, {}

    started = time.perf_counter()
    data: TrainingSet = training_set(cfg.seed, cfg.clips, media, progress)
    seconds["data"] = time.perf_counter() - started
    log(f"data: {len(data)} clips, {data.grids.shape[1]} grids + a {tuple(data.mels.shape[2:])} mel each")

    video = models.video_pipeline(cfg.seed)
    video_prior = StableDiffusionPrior(video, "toyworld-video")
    started = time.perf_counter()
    grids, masks = data.grids.flatten(0, 1), data.masks.flatten(0, 1)
    to_frames = lambda x: unpack_grids(x, media.grid, len(x) * media.grid**2)  # noqa: E731  (the VAE is convolutional)
    losses["video_vae"] = train_vae(
        video.vae, to_frames(grids), to_frames(masks), cfg.video_vae, cfg, generator, "video VAE", progress
    )
    latents = encode_all(video_prior.encode, grids).unflatten(0, data.grids.shape[:2])
    seconds["video_vae"] = time.perf_counter() - started
    log(f"video VAE: final loss {np.mean(losses['video_vae'][-50:]):.4f} ({seconds['video_vae']:.0f} s)")

    started = time.perf_counter()
    losses["video_unet"] = train_unet(
        video_prior,
        video.text_encoder,
        video_condition(video),
        latents,
        data.captions,
        shuffle_cells(media.grid, round(media.span() * media.fps)),
        cfg.video_unet,
        cfg,
        generator,
        "video UNet",
        progress,
    )
    seconds["video_unet"] = time.perf_counter() - started
    log(f"video UNet: final loss {np.mean(losses['video_unet'][-100:]):.4f} ({seconds['video_unet']:.0f} s)")

    audio = models.audio_pipeline(cfg.seed)
    audio_prior = AudioLDM2Prior(audio, "toyworld-audio")
    started = time.perf_counter()
    losses["audio_vae"] = train_vae(audio.vae, data.mels, None, cfg.audio_vae, cfg, generator, "audio VAE", progress)
    mel_latents = encode_all(audio_prior.encode, data.mels)
    seconds["audio_vae"] = time.perf_counter() - started
    log(f"audio VAE: final loss {np.mean(losses['audio_vae'][-50:]):.4f} ({seconds['audio_vae']:.0f} s)")

    started = time.perf_counter()
    losses["audio_unet"] = train_unet(
        audio_prior,
        audio.text_encoder_2,
        AudioCondition(audio, data.captions),
        mel_latents,
        data.captions,
        no_augment,
        cfg.audio_unet,
        cfg,
        generator,
        "audio UNet",
        progress,
    )
    seconds["audio_unet"] = time.perf_counter() - started
    log(f"audio UNet: final loss {np.mean(losses['audio_unet'][-100:]):.4f} ({seconds['audio_unet']:.0f} s)")

    started = time.perf_counter()
    losses["vocoder"] = add_vocoder(audio, data, cfg, progress)
    seconds["vocoder"] = time.perf_counter() - started
    log(f"vocoder: final loss {np.mean(losses['vocoder'][-100:]):.4f} ({seconds['vocoder']:.0f} s)")

    started = time.perf_counter()
    scores = {
        "video": score_video_prior(video_prior, media, cfg.sample_prompts, cfg.seed),
        "audio": score_audio_prior(audio_prior, media, cfg.sample_prompts, cfg.seed),
    }
    seconds["samples"] = time.perf_counter() - started
    for name, score in scores.items():
        log(f"{name} samples: {score.summary()} ({seconds['samples']:.0f} s)")
    return TrainResult(video, audio, losses, seconds, scores, cfg)


@dataclass
class VocoderResult:
    """A vocoder retrained alone on a saved sound prior: the pipeline holding it, its loss curve, time (s)."""

    audio: AudioLDM2Pipeline
    losses: list[float]
    seconds: dict[str, float]
    config: TrainConfig


def train_vocoder_only(
    audio_dir: str, cfg: TrainConfig | None = None, progress: bool = True, log: Callable[[str], None] | None = None
) -> VocoderResult:
    """Load the sound prior at audio_dir, render the same training set, add a trained vocoder; nothing written.

    The clips are those the prior was trained on (the same seed); the vocoder's draws are its own (add_vocoder).
    """
    cfg = cfg or TrainConfig()
    log = log or logger.info
    audio = AudioLDM2Pipeline.from_pretrained(audio_dir, use_safetensors=True, vocoder=None)
    started = time.perf_counter()
    data = training_set(cfg.seed, cfg.clips, models.media_config(), progress)
    seconds = {"data": time.perf_counter() - started}
    log(f"data: {len(data)} clips ({seconds['data']:.0f} s)")
    started = time.perf_counter()
    losses = add_vocoder(audio, data, cfg, progress)
    seconds["vocoder"] = time.perf_counter() - started
    log(f"vocoder: final loss {np.mean(losses[-100:]):.4f} ({seconds['vocoder']:.0f} s)")
    return VocoderResult(audio, losses, seconds, cfg)
