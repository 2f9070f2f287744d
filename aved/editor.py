"""The editor: owns the latents, the optimiser and the schedule; runs cross-modal delta denoising (DESIGN §2)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from aved.attention import AttentionStore, capture_attention, select_layers
from aved.codec import PreparedClip, decode_audio, decode_frames, encode_audio, encode_frames
from aved.config import EditConfig
from aved.errors import AvedError
from aved.losses import cfg_combine, dds_direction, dds_loss, preservation_loss, sync_loss
from aved.losses.preservation import pool_mask
from aved.losses.sync import audio_segments, video_segments
from aved.media.frames import invert_permutation, permute_cells, shuffle_permutation, unpack_grids
from aved.priors import AudioLDM2Prior, DiffusionPrior, StableDiffusionPrior
from aved.relevance import edit_token_positions, layer_shape, random_mask_like, relevance_map, relevance_mask
from aved.sampling import ddim_denoise

StepCallback = Callable[[int, dict[str, float]], None]
_UNCOND, _SRC, _TRG = 0, 1, 2  # rows of each modality's Condition


@dataclass
class EditResult:
    """What an edit produced; the library writes none of it to disk."""

    source: PreparedClip
    frames: np.ndarray  # [F, s, s, 3] uint8
    audio: np.ndarray  # [N] float32
    sample_rate: int
    fps: float
    z_video: torch.Tensor | None
    z_audio: torch.Tensor | None
    history: dict[str, list[float]] = field(default_factory=dict)
    relevance_video: np.ndarray | None = None  # [F, h, w] in [0, 1], mean over steps, latent resolution
    relevance_audio: np.ndarray | None = None  # [T, M] in [0, 1], mean over steps, latent resolution

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps


@dataclass
class BranchOutput:
    """One modality at one step: the DDS direction, relevance and features, all in the step's layout."""

    delta: torch.Tensor
    scores: torch.Tensor  # [B, h, w] relevance S = max(S_src, S_trg)
    trg_features: list[torch.Tensor]  # [B, C, h_l, w_l], with gradient to z
    src_features: list[torch.Tensor]  # [B, C, h_l, w_l], detached


class ModalityBranch:
    """One prior seen by the editor: its conditions, edit tokens and captured layers; runs the UNet calls."""

    def __init__(
        self, prior: DiffusionPrior, source: str, target: str, config: EditConfig, cells: int, need_features: bool
    ):
        self.prior, self.config, self.cells = prior, config, cells
        self.cond = prior.encode_text(["", source, target])
        src_spans, trg_spans = prior.token_positions(source), prior.token_positions(target)
        self.src_tokens = edit_token_positions(src_spans, trg_spans)
        self.trg_tokens = edit_token_positions(trg_spans, src_spans)
        self.prob_layers = prior.relevance_layers()
        self.feature_layers = select_layers(prior.attention_layers(), list(config.model.feature_layers))
        if need_features and not self.feature_layers:
            raise AvedError(f"{prior.model_id}: no attention layers match {config.model.feature_layers}")
        self.store = AttentionStore()

    def capturing(self) -> contextlib.AbstractContextManager:
        """The capturing processors on this prior's UNet, for the span of an edit."""
        return capture_attention(self.prior.unet, self.store, self.prob_layers, self.feature_layers)

    def _call(self, z_t: torch.Tensor, t: torch.Tensor, rows: list[int], features: bool) -> tuple:
        """ε̂ for each row-block of z_t, with the attention recorded by the capturing processors."""
        count = z_t.shape[0] // len(rows)
        cond = self.cond.take([r for r in rows for _ in range(count)])
        self.store.record_features = features
        eps = self.prior.predict_noise(z_t, t, cond)
        probs, feats = self.store.take()
        return eps.split(count), probs, feats

    def run(
        self, z_src: torch.Tensor, z_trg: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, need_features: bool
    ) -> BranchOutput:
        """DDS direction, relevance and features for latents already in the step's layout (inside `capturing`)."""
        alpha_bar = self.prior.alphas_cumprod[t]
        z_src_t = alpha_bar.sqrt() * z_src + (1 - alpha_bar).sqrt() * noise  # one ε shared by both branches
        z_trg_t = alpha_bar.sqrt() * z_trg + (1 - alpha_bar).sqrt() * noise
        count = z_src.shape[0]
        if need_features:
            # Three branches without gradient, then the target-cond branch once, with gradient: its ε̂ is reused.
            with torch.no_grad():
                (eps_src_u, eps_src_c, eps_trg_u), probs_a, feats_a = self._call(
                    torch.cat([z_src_t, z_src_t, z_trg_t.detach()]), t, [_UNCOND, _SRC, _UNCOND], True
                )
            (eps_trg_c,), probs_b, feats_b = self._call(z_trg_t, t, [_TRG], True)
            eps_trg_c = eps_trg_c.detach()
            trg_probs = [probs_b[n] for n in self.prob_layers]
        else:
            with torch.no_grad():
                (eps_src_u, eps_src_c, eps_trg_u, eps_trg_c), probs_a, feats_a = self._call(
                    torch.cat([z_src_t, z_src_t, z_trg_t, z_trg_t]), t, [_UNCOND, _SRC, _UNCOND, _TRG], False
                )
            trg_probs = [probs_a[n][3 * count :] for n in self.prob_layers]
        src_probs = [probs_a[n][count : 2 * count] for n in self.prob_layers]  # the source-cond rows
        guidance = self.config.guidance_scale
        delta = dds_direction(cfg_combine(eps_src_u, eps_src_c, guidance), cfg_combine(eps_trg_u, eps_trg_c, guidance))
        size = tuple(z_src.shape[-2:])
        scores = torch.maximum(
            relevance_map(src_probs, self.src_tokens, size, self.cells, count, z_src.device),
            relevance_map(trg_probs, self.trg_tokens, size, self.cells, count, z_src.device),
        )
        trg_features, src_features = [], []
        if need_features:
            trg_features = [_to_spatial(feats_b[n], size) for n in self.feature_layers]
            src_features = [_to_spatial(feats_a[n][count : 2 * count], size) for n in self.feature_layers]
        return BranchOutput(delta, scores, trg_features, src_features)


def _to_spatial(features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[B, Q, C] attention output → [B, C, h_l, w_l] on the latent's grid."""
    h, w = layer_shape(features.shape[1], size)
    return features.transpose(1, 2).reshape(features.shape[0], features.shape[2], h, w)


@dataclass(frozen=True)
class Terms:
    """Which parts of the objective a mode uses."""

    video: bool
    audio: bool
    pres: bool
    sync: bool
    random_relevance: bool = False


def mode_terms(config: EditConfig) -> Terms:
    """The loss terms and modalities each mode optimises (DESIGN §2, modes)."""
    w = config.weights
    pres, sync = w.pres > 0, w.sync > 0
    return {
        "aved": Terms(True, True, pres, sync),
        "random-relevance": Terms(True, True, pres, sync, random_relevance=True),
        "independent": Terms(True, True, pres, False),
        "video-only": Terms(True, False, pres, False),
        "audio-only": Terms(False, True, pres, False),
        "dds": Terms(True, True, False, False),
    }[config.mode]


@dataclass
class EditState:
    """One edit in progress: each modality's source and edited latents and branch, keyed "v" and "a"."""

    terms: Terms
    num_frames: int
    branches: dict[str, ModalityBranch]
    z_src: dict[str, torch.Tensor]
    z: dict[str, torch.Tensor]  # what the optimiser moves
    streams: dict[str, torch.Generator]  # "time", "video", "audio"
    gain: float | None  # the source waveform's normalisation, undone when the sound is decoded

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Every branch's capturing processors, installed for the span of the `with` block."""
        with contextlib.ExitStack() as stack:
            for branch in self.branches.values():
                stack.enter_context(branch.capturing())
            yield


@dataclass
class StepLosses:
    """One step's loss terms (tensors with gradient to the state's z), relevance S per modality, and timestep."""

    losses: dict[str, torch.Tensor]
    scores: dict[str, torch.Tensor]
    t: int


class Editor:
    """Cross-modal delta denoising of z_v (frame grids) and z_a (log-mel) from a source to a target prompt."""

    def __init__(self, video: StableDiffusionPrior | None, audio: AudioLDM2Prior | None, config: EditConfig):
        self.video, self.audio, self.config = video, audio, config.validate()

    def _timestep(self, prior: DiffusionPrior, generator: torch.Generator) -> torch.Tensor:
        high = min(self.config.t_max, prior.num_train_timesteps - 1)
        t = torch.randint(self.config.t_min, high + 1, (1,), generator=generator, device=generator.device)
        return t.to(prior.device)

    def start(self, source: PreparedClip, generator: torch.Generator) -> EditState:
        """Encode the source, build each modality's branch and draw the random streams: an edit at step 0."""
        cfg = self.config
        terms = mode_terms(cfg)
        n = cfg.media.grid
        z_src, branches, gain = {}, {}, None
        if terms.video:
            z_src["v"] = encode_frames(self.video, source.frames, n)
            branches["v"] = ModalityBranch(self.video, *cfg.prompts.video(), cfg, n, terms.pres or terms.sync)
        if terms.audio:
            z_src["a"], gain = encode_audio(self.audio, source.audio, source.sample_rate, cfg.media)
            branches["a"] = ModalityBranch(self.audio, *cfg.prompts.audio(), cfg, 1, terms.pres or terms.sync)
        # Independent streams: what one modality draws (data-dependent patch samples) never shifts the other's noise.
        streams = {name: _child_generator(generator) for name in ("time", "video", "audio")}
        return EditState(
            terms=terms,
            num_frames=len(source.frames),
            branches=branches,
            z_src=z_src,
            z={m: z.clone().requires_grad_(True) for m, z in z_src.items()},
            streams=streams,
            gain=gain,
        )

    def step_losses(self, state: EditState) -> StepLosses:
        """Draw a timestep and evaluate the mode's loss terms at the state's latents (inside `state.capturing()`)."""
        cfg, terms = self.config, state.terms
        t = self._timestep(self.video if terms.video else self.audio, state.streams["time"])
        losses: dict[str, torch.Tensor] = {}
        scores: dict[str, torch.Tensor] = {}
        segments: dict[str, list[torch.Tensor]] = {"v": [], "a": []}
        if terms.video:
            video_losses, segments["v"], scores["v"] = self._video_step(state, t)
            losses.update(video_losses)
        if terms.audio:
            audio_losses, segments["a"], scores["a"] = self._audio_step(state, t)
            losses.update(audio_losses)
        if terms.sync and segments["v"] and segments["a"]:
            losses["sync"] = sync_loss(segments["v"], segments["a"], cfg.sync.temperature)
        return StepLosses(losses, scores, int(t))

    def run(
        self,
        source: PreparedClip,
        generator: torch.Generator,
        callback: StepCallback | None = None,
        progress: bool = True,
    ) -> EditResult:
        cfg = self.config
        if cfg.mode == "sdedit":
            return self._sdedit(source, generator, progress)
        state = self.start(source, generator)
        optimizer = torch.optim.SGD(list(state.z.values()), lr=cfg.lr)
        schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
        history: dict[str, list[float]] = {}
        mean_rel: dict[str, torch.Tensor] = {}
        steps = tqdm(range(cfg.steps), desc=f"edit ({cfg.mode})", disable=not progress, dynamic_ncols=True)
        with state.capturing():
            for step in steps:
                out = self.step_losses(state)
                for m, scores in out.scores.items():
                    mean_rel[m] = _running_mean(mean_rel.get(m), scores, step)
                total = _weighted_total(out.losses, cfg)
                optimizer.zero_grad(set_to_none=True)
                if total.requires_grad:  # every weight can be zero, e.g. in an ablation
                    total.backward()
                    optimizer.step()
                record = {k: float(v.detach()) for k, v in out.losses.items()}
                record.update(total=float(total.detach()), t=out.t, lr=optimizer.param_groups[0]["lr"])
                schedule.step()
                for key, value in record.items():
                    history.setdefault(key, []).append(value)
                steps.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k not in ("lr",)}, refresh=False)
                if callback is not None:
                    callback(step, record)

        frames = source.frames
        audio, rate = source.audio, source.sample_rate
        z_v, z_a = state.z.get("v"), state.z.get("a")
        if z_v is not None:
            frames = decode_frames(self.video, z_v.detach(), cfg.media.grid, state.num_frames)
        if z_a is not None:
            samples = round(source.duration * self.audio.sample_rate)
            audio, rate = decode_audio(self.audio, z_a.detach(), samples, state.gain), self.audio.sample_rate
        return EditResult(
            source=source,
            frames=frames,
            audio=audio,
            sample_rate=rate,
            fps=source.fps,
            z_video=None if z_v is None else z_v.detach(),
            z_audio=None if z_a is None else z_a.detach(),
            history=history,
            relevance_video=mean_rel["v"].cpu().numpy() if "v" in mean_rel else None,
            relevance_audio=mean_rel["a"].cpu().numpy() if "a" in mean_rel else None,
        )

    def _relevant(self, scores: torch.Tensor, tau: float, terms: Terms, generator: torch.Generator) -> torch.Tensor:
        mask = relevance_mask(scores, self.config.relevance.method, tau)
        return random_mask_like(mask, generator) if terms.random_relevance else mask

    def _branch_losses(
        self, suffix: str, z: torch.Tensor, out: BranchOutput, tau: float, terms: Terms, generator: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """L_dds and L_pres of one modality, and its relevant mask (both modalities share this)."""
        relevant = self._relevant(out.scores, tau, terms, generator)
        losses = {f"dds_{suffix}": dds_loss(z, out.delta), f"relevant_{suffix}": relevant.float().mean().detach()}
        if terms.pres:
            losses[f"pres_{suffix}"] = preservation_loss(
                out.trg_features, out.src_features, ~relevant, generator, **_pres_kwargs(self.config)
            )
        return losses, relevant

    def _video_step(
        self, state: EditState, t: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Video terms in a freshly shuffled grid layout; returns losses, sync segments, unshuffled S [F, h, w]."""
        cfg, n, terms, num_frames = self.config, self.config.media.grid, state.terms, state.num_frames
        z, generator = state.z["v"], state.streams["video"]
        perm = shuffle_permutation(num_frames, n, generator).to(z.device)
        inverse = invert_permutation(perm)
        to_frames = lambda x: unpack_grids(permute_cells(x, n, inverse), n, num_frames)  # noqa: E731
        z_trg = permute_cells(z, n, perm)
        out = state.branches["v"].run(
            permute_cells(state.z_src["v"], n, perm),
            z_trg,
            t.to(z.device),
            _randn(z_trg, generator),
            terms.pres or terms.sync,
        )
        losses, relevant = self._branch_losses("v", z_trg, out, cfg.relevance.tau_video, terms, generator)
        segments = []
        if terms.sync:
            frame_relevant = to_frames(relevant[:, None].float())[:, 0] > 0.5
            for features in out.trg_features:
                if features.shape[-2] % n or features.shape[-1] % n:
                    continue  # a layer too coarse to split into frame cells
                cells = to_frames(features)
                segments.append(video_segments(cells, pool_mask(frame_relevant, cells.shape[-2:])))
        return losses, segments, to_frames(out.scores[:, None])[:, 0].detach()

    def _audio_step(
        self, state: EditState, t: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Audio terms; returns losses, sync segments (one per video frame), S [T, M]."""
        cfg, terms = self.config, state.terms
        z, generator = state.z["a"], state.streams["audio"]
        out = state.branches["a"].run(
            state.z_src["a"], z, t.to(z.device), _randn(z, generator), terms.pres or terms.sync
        )
        losses, relevant = self._branch_losses("a", z, out, cfg.relevance.tau_audio, terms, generator)
        segments = [
            audio_segments(
                f[0],
                pool_mask(relevant, f.shape[-2:])[0],
                cfg.media.mel.duration,
                state.num_frames,
                cfg.media.fps,
            )
            for f in (out.trg_features if terms.sync else [])
        ]
        return losses, segments, out.scores[0].detach()

    @torch.no_grad()
    def _sdedit(self, source: PreparedClip, generator: torch.Generator, progress: bool) -> EditResult:
        """SDEdit baseline: noise each source latent to t0 = strength·T, then DDIM-denoise with the target prompt."""
        cfg, n = self.config, self.config.media.grid
        z_v_src = encode_frames(self.video, source.frames, n)
        z_v = self._denoise(self.video, z_v_src, cfg.prompts.video()[1], generator, progress, "sdedit video")
        z_a_src, gain = encode_audio(self.audio, source.audio, source.sample_rate, cfg.media)
        z_a = self._denoise(self.audio, z_a_src, cfg.prompts.audio()[1], generator, progress, "sdedit audio")
        return EditResult(
            source=source,
            frames=decode_frames(self.video, z_v, n, len(source.frames)),
            audio=decode_audio(self.audio, z_a, round(source.duration * self.audio.sample_rate), gain),
            sample_rate=self.audio.sample_rate,
            fps=source.fps,
            z_video=z_v,
            z_audio=z_a,
        )

    def _denoise(self, prior, z, prompt: str, generator: torch.Generator, progress: bool, desc: str) -> torch.Tensor:
        cfg = self.config
        prompts = [prompt] * z.shape[0]
        return ddim_denoise(
            prior, z, prompts, cfg.steps, cfg.guidance_scale, generator, cfg.sdedit_strength, progress, desc
        )


def _child_generator(parent: torch.Generator) -> torch.Generator:
    """A generator on the parent's device seeded by one draw from the parent."""
    seed = int(torch.randint(0, 2**62, (1,), generator=parent, device=parent.device))
    return torch.Generator(device=parent.device).manual_seed(seed)


def _randn(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, device=generator.device).to(like.device, like.dtype)


def _pres_kwargs(cfg: EditConfig) -> dict:
    p = cfg.preservation
    return {"patch_sizes": tuple(p.patch_sizes), "num_patches": p.num_patches, "temperature": p.temperature}


def _running_mean(mean: torch.Tensor | None, value: torch.Tensor, step: int) -> torch.Tensor:
    return value.clone() if mean is None else mean + (value - mean) / (step + 1)


def _weighted_total(losses: dict[str, torch.Tensor], cfg: EditConfig) -> torch.Tensor:
    """L = λ_dds·(L_dds_v + L_dds_a) + λ_pres·(L_pres_v + L_pres_a) + λ_sync·L_sync."""
    w = cfg.weights
    weights = {"dds_v": w.dds, "dds_a": w.dds, "pres_v": w.pres, "pres_a": w.pres, "sync": w.sync}
    return sum((weights[k] * v for k, v in losses.items() if k in weights), torch.zeros(()))
