"""The editor: owns the latents, the optimiser and the schedule; runs cross-modal delta denoising
(docs/design.md §2)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from aved.attention import AttentionStore, capture_attention, select_layers
from aved.codec import PreparedClip, audio_windows, decode_audio, decode_frames, encode_audio, encode_frames
from aved.config import EditConfig
from aved.errors import AvedError
from aved.losses import cfg_combine, dds_direction
from aved.losses.objective import ModalityView, Objective
from aved.losses.sync import audio_segments, video_segments
from aved.media.frames import (
    composite_frames,
    invert_permutation,
    pack_grids,
    permute_cells,
    shuffle_permutation,
    unpack_grids,
)
from aved.media.windows import WindowLayout, merge_windows, split_windows
from aved.modes import Mode, get_mode
from aved.priors import AudioLDM2Prior, DiffusionPrior, StableDiffusionPrior
from aved.progress import bar_disable
from aved.relevance import (
    composite_alpha,
    delta_relevance,
    edit_token_positions,
    latent_regions,
    layer_shape,
    relevance_map,
    relevance_mask,
    shuffle_positions,
    single_edits,
    windowed_delta_relevance,
)
from aved.result import EditResult, diverged
from aved.schedule import annealed_step_sizes, annealed_timesteps, ddpm_step_weights, random_timestep

# (step, that step's record) → True to stop the edit after this step (diffusers' callback_on_step_end)
StepCallback = Callable[[int, dict[str, float]], bool | None]
_UNCOND, _SRC, _TRG = 0, 1, 2  # rows of each modality's Condition
# SD and AudioLDM2 latents stay within a few units; an edit that takes one past this many times its source's largest
# value has left the prior's range (lr = 1e30 gives finite latents of 1e30 and black frames).
DIVERGED_FACTOR = 1e3


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
        self,
        prior: DiffusionPrior,
        source: str,
        target: str,
        config: EditConfig,
        grid: int,
        need_features: bool,
        split: bool = False,
    ):
        self.prior, self.config, self.grid = prior, config, grid  # grid: cells per side of a packed grid
        # split: the target's changes made one at a time (aved.relevance.single_edits) get rows of their own, which
        # the held delta relevance reads; an edit of one change reads the target's own row.
        singles = single_edits(source, target) if split else [target]
        extra = singles if len(singles) > 1 else []
        self.cond = prior.encode_text(["", source, target, *extra])
        self.single_rows = [_TRG + 1 + i for i in range(len(extra))] or [_TRG]
        src_spans, trg_spans = prior.token_positions(source), prior.token_positions(target)
        self.src_tokens = edit_token_positions(src_spans, trg_spans)
        self.trg_tokens = edit_token_positions(trg_spans, src_spans)
        # The delta relevance reads no attention: the cross-attention layers keep PyTorch's fused kernel then.
        self.prob_layers = prior.relevance_layers() if config.relevance.method != "delta" else []
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
        self,
        z_src: torch.Tensor,
        z_trg: torch.Tensor,
        t: torch.Tensor,
        noise: torch.Tensor,
        need_features: bool,
        target_row: int = _TRG,
    ) -> BranchOutput:
        """DDS direction, relevance and features for latents already in the step's layout (inside `capturing`), toward
        the condition in `target_row` (the target's; a single change's for the held relevance)."""
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
            (eps_trg_c,), probs_b, feats_b = self._call(z_trg_t, t, [target_row], True)
            eps_trg_c = eps_trg_c.detach()
            trg_probs = [probs_b[n] for n in self.prob_layers]
        else:
            with torch.no_grad():
                (eps_src_u, eps_src_c, eps_trg_u, eps_trg_c), probs_a, feats_a = self._call(
                    torch.cat([z_src_t, z_src_t, z_trg_t, z_trg_t]), t, [_UNCOND, _SRC, _UNCOND, target_row], False
                )
            trg_probs = [probs_a[n][3 * count :] for n in self.prob_layers]
        src_probs = [probs_a[n][count : 2 * count] for n in self.prob_layers]  # the source-cond rows
        guidance = self.config.guidance_scale
        delta = dds_direction(cfg_combine(eps_src_u, eps_src_c, guidance), cfg_combine(eps_trg_u, eps_trg_c, guidance))
        size = tuple(z_src.shape[-2:])
        scores = torch.maximum(
            relevance_map(src_probs, self.src_tokens, size, self.grid, count, z_src.device),
            relevance_map(trg_probs, self.trg_tokens, size, self.grid, count, z_src.device),
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


@dataclass
class EditState:
    """One edit in progress: each modality's source and edited latents and branch, keyed "v" and "a"."""

    mode: Mode
    objective: Objective
    num_frames: int
    branches: dict[str, ModalityBranch]
    z_src: dict[str, torch.Tensor]
    z: dict[str, torch.Tensor]  # what the optimiser moves
    streams: dict[str, torch.Generator]  # "time", "video", "audio"
    gain: float | None  # the source waveform's normalisation, undone when the sound is decoded
    delta_magnitude: dict[str, torch.Tensor] = field(default_factory=dict)  # delta relevance: mean |δ| so far
    delta_count: dict[str, int] = field(default_factory=dict)  # how many |δ| each mean holds
    # The delta relevance estimated before the first step (relevance.estimate_timesteps_*), which every step reads
    held_relevance: dict[str, torch.Tensor] = field(default_factory=dict)
    frame_regions: torch.Tensor | None = None  # [F, h, w] k-means region labels of each source frame's latent
    steps_done: int = 0
    timesteps: torch.Tensor | None = None  # the annealed schedule's t_k, drawn at the start; None: one draw a step
    bounds: dict[str, float] = field(default_factory=dict)  # |z| past which an edit has diverged, per modality
    audio_windows: WindowLayout | None = None  # the audio prior's windows over the sound (one for a short sound)

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Every branch's capturing processors, installed for the span of the `with` block."""
        with contextlib.ExitStack() as stack:
            for branch in self.branches.values():
                stack.enter_context(branch.capturing())
            yield


@dataclass
class StepLosses:
    """One step's loss terms (tensors with gradient to the state's z), relevance per modality (in the latent's
    layout, video as frames), what the objective keeps (1 − relevance, in each z's own layout: grids), diagnostics
    beside the losses, and the timestep."""

    losses: dict[str, torch.Tensor]
    relevance: dict[str, torch.Tensor]
    keep: dict[str, torch.Tensor]
    diagnostics: dict[str, float]
    t: int


class Editor:
    """Cross-modal delta denoising of z_v (frame grids) and z_a (log-mel) from a source to a target prompt."""

    def __init__(self, video: StableDiffusionPrior | None, audio: AudioLDM2Prior | None, config: EditConfig):
        self.video, self.audio, self.config = video, audio, config  # validated by its caller (aved.api.edit)

    def _prior(self, mode: Mode) -> DiffusionPrior:
        """The prior whose timesteps the step draws (both priors share one t)."""
        return self.video if mode.video else self.audio

    def _t_max(self, prior: DiffusionPrior) -> int:
        return min(self.config.t_max, prior.num_train_timesteps - 1)

    def _timestep(self, state: EditState) -> torch.Tensor:
        prior = self._prior(state.mode)
        if state.timesteps is not None:
            return state.timesteps[state.steps_done : state.steps_done + 1].to(prior.device)
        return random_timestep(self.config.t_min, self._t_max(prior), state.streams["time"]).to(prior.device)

    def step_sizes(self, state: EditState) -> list[float] | None:
        """The annealed schedule's step size for every step; None for the random schedule (lr·γ^k). One SGD step
        moves both latents, so the weights come from the prior the timesteps are drawn for (the video's in `aved`
        mode); the sound priors' β schedules (ToyWorld's, AudioLDM2's: 0.0015–0.0195) are not SD's (0.00085–0.012),
        so the sound's steps follow the frames' proportions, not its own."""
        if state.timesteps is None:
            return None
        weights = ddpm_step_weights(self._prior(state.mode).alphas_cumprod, state.timesteps)
        return annealed_step_sizes(self.config.lr, self.config.step_gain, weights)

    def start(self, source: PreparedClip, generator: torch.Generator, progress: bool = True) -> EditState:
        """Encode the source, build each modality's branch and draw the random streams: an edit at step 0."""
        cfg = self.config
        mode = get_mode(cfg.mode)
        if mode.engine != "dds":
            raise AvedError(f"mode {mode.name} is not a DDS edit (its engine: {mode.engine}); run it with aved.edit")
        objective = Objective(cfg, pres=mode.pres, sync=mode.sync)
        features = objective.needs_features
        n = cfg.media.grid
        z_src, branches, gain = {}, {}, None
        if mode.video:
            z_src["v"] = encode_frames(self.video, source.frames, n, progress=progress)
            split = cfg.relevance.split_video and cfg.relevance.held("v") and objective.pres
            branches["v"] = ModalityBranch(self.video, *cfg.prompts.video(), cfg, n, features, split)
        windows = None
        if mode.audio:
            z_src["a"], gain = encode_audio(self.audio, source.audio, source.sample_rate, cfg.media)
            windows = audio_windows(self.audio, cfg.media, len(source.audio) / source.sample_rate)
            if features and windows.count > 1:
                raise AvedError(
                    f"the v1 feature terms (preservation.form patchnce, sync.form infonce) take one audio window; "
                    f"this sound needs {windows.count} (use the default forms, or a duration up to "
                    f"{cfg.media.mel.duration:g} s)"
                )
            branches["a"] = ModalityBranch(self.audio, *cfg.prompts.audio(), cfg, 1, features)
        # Independent streams: what one modality draws (data-dependent patch samples) never shifts the other's noise.
        streams = {name: _child_generator(generator) for name in ("time", "video", "audio")}
        timesteps = None
        if cfg.schedule == "annealed":
            t_max = self._t_max(self._prior(mode))
            timesteps = annealed_timesteps(cfg.steps, min(cfg.t_min, t_max), t_max, streams["time"])
        state = EditState(
            timesteps=timesteps,
            bounds={m: DIVERGED_FACTOR * max(1.0, float(z.abs().max())) for m, z in z_src.items()},
            mode=mode,
            objective=objective,
            num_frames=len(source.frames),
            branches=branches,
            z_src=z_src,
            z={m: z.clone().requires_grad_(True) for m, z in z_src.items()},
            streams=streams,
            gain=gain,
            audio_windows=windows,
        )
        if mode.video and cfg.relevance.frame_regions:
            state.frame_regions = latent_regions(self._frames(state, z_src["v"]), cfg.relevance.frame_regions)
        self._estimate_relevance(state)
        return state

    def _estimate_relevance(self, state: EditState) -> None:
        """`relevance.estimate_timesteps_*`: the delta relevance of the mean |δ| over those timesteps at the source (z =
        z_src, each with its own noise draw), before the first step; then held for the whole edit. Where the frame
        edit is split (`relevance.split_video`), each single change's relevance is made so and the maximum held.
        Modes without preservation have no use for it; the streams are left as they were, so every mode draws the
        same noise and timesteps for its steps."""
        rel = self.config.relevance
        if not state.objective.pres:
            return
        views = {"v": (self._video_view, self.video), "a": (self._audio_view, self.audio)}
        held = {}
        with torch.no_grad(), state.capturing():
            for m, (view, prior) in views.items():
                if m not in state.z or not rel.held(m):
                    continue
                maps, stream = [], state.streams["video" if m == "v" else "audio"]
                drawn = stream.get_state()
                for row in state.branches[m].single_rows:
                    # Every change on the same draws.
                    stream.set_state(drawn)
                    state.delta_magnitude.pop(m, None)
                    state.delta_count.pop(m, None)
                    for value in rel.estimate_timesteps(m):
                        view(state, torch.tensor([value]).to(prior.device), row)
                    maps.append(self._delta_relevance(state, m, state.delta_magnitude[m]))
                held[m] = torch.stack(maps).amax(0)
                # The edit then draws what a mode that estimates nothing (dds, aved-no-pres) draws, so paired rows
                # differ by their terms, not their noise; the estimate shares its draws with the first steps'.
                stream.set_state(drawn)
        state.held_relevance = held

    def step_losses(self, state: EditState) -> StepLosses:
        """Draw a timestep, run the branches and let the objective name the loss terms (inside `state.capturing()`)."""
        t = self._timestep(state)
        views: dict[str, ModalityView] = {}
        if state.mode.video:
            views["v"] = self._video_view(state, t)
        if state.mode.audio:
            views["a"] = self._audio_view(state, t)
        state.steps_done += 1
        losses = state.objective.losses(views)
        diagnostics = {f"relevant_{m}": float((v.relevance > 0.5).float().mean()) for m, v in views.items()}
        relevance = {
            m: self._frames(state, v.relevance[:, None])[:, 0] if m == "v" else v.relevance[0] for m, v in views.items()
        }
        keep = {m: v.keep.detach() for m, v in views.items()}
        return StepLosses(losses, {m: r.detach() for m, r in relevance.items()}, keep, diagnostics, int(t))

    def _frames(self, state: EditState, grids: torch.Tensor) -> torch.Tensor:
        return unpack_grids(grids, self.config.media.grid, state.num_frames)

    def run(
        self,
        source: PreparedClip,
        generator: torch.Generator,
        callback: StepCallback | None = None,
        progress: bool = True,
    ) -> EditResult:
        cfg = self.config
        state = self.start(source, generator, progress)
        optimizer = torch.optim.SGD(list(state.z.values()), lr=cfg.lr)
        schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
        sizes = self.step_sizes(state)
        history: dict[str, list[float]] = {}
        mean_rel: dict[str, torch.Tensor] = {}
        steps = tqdm(range(cfg.steps), desc=f"edit ({cfg.mode})", disable=bar_disable(progress), dynamic_ncols=True)
        with state.capturing():
            for step in steps:
                if sizes is not None:
                    optimizer.param_groups[0]["lr"] = sizes[step]
                out = self.step_losses(state)
                for m, scores in out.relevance.items():
                    mean_rel[m] = _running_mean(mean_rel.get(m), scores, step)
                lr = optimizer.param_groups[0]["lr"]
                grads, weights = state.objective.gradients(out.losses, state.z, lr, out.keep)
                for m, z in state.z.items():
                    z.grad = grads[m]
                optimizer.step()
                record = {k: float(v.detach()) for k, v in out.losses.items()}
                _check_diverged(state, record, step)
                record.update(out.diagnostics)
                record.update(weights)
                record.update(t=out.t, lr=lr)
                schedule.step()
                for key, value in record.items():
                    history.setdefault(key, []).append(value)
                steps.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k not in ("lr",)}, refresh=False)
                if callback is not None and callback(step, record) is True:
                    break  # the caller stopped the edit: the result holds the steps done

        frames, decoded = source.frames, None
        audio, rate = source.audio, source.sample_rate
        z_v, z_a = state.z.get("v"), state.z.get("a")
        if z_v is not None:
            frames = decode_frames(self.video, z_v.detach(), cfg.media.grid, state.num_frames, progress=progress)
            if state.objective.pres and cfg.preservation.composite > 0:
                decoded = frames
                frames = self._composite(state, source.frames, decoded, mean_rel["v"], progress)
        if z_a is not None:
            samples = round(source.duration * self.audio.sample_rate)
            audio = decode_audio(self.audio, z_a.detach(), samples, state.gain, state.audio_windows)
            rate = self.audio.sample_rate
        return EditResult(
            source=source,
            frames=frames,
            decoded_frames=decoded,
            audio=audio,
            sample_rate=rate,
            fps=source.fps,
            z_video=None if z_v is None else z_v.detach(),
            z_audio=None if z_a is None else z_a.detach(),
            history=history,
            relevance_video=mean_rel["v"].cpu().numpy() if "v" in mean_rel else None,
            relevance_audio=mean_rel["a"].cpu().numpy() if "a" in mean_rel else None,
        )

    def _composite(
        self, state: EditState, source: np.ndarray, frames: np.ndarray, relevance: torch.Tensor, progress: bool
    ) -> np.ndarray:
        """The decoded frames over the source's pixels where the edit neither reaches nor visibly moved them
        (`preservation.composite`, aved.relevance.composite_alpha)."""
        cfg = self.config
        decoded_source = decode_frames(
            self.video, state.z_src["v"], cfg.media.grid, state.num_frames, progress=progress
        )
        alpha = composite_alpha(relevance, frames, decoded_source, cfg.preservation.composite)
        return composite_frames(frames, source, alpha)

    def _relevance(self, state: EditState, m: str, delta: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """How far each position is the edit's to change, [B, h, w] in [0, 1], in the latent's own layout; the
        video's delta relevance is computed frame by frame, so no window reaches into a neighbouring frame, and a
        long sound's window by window (each normalised as the prior sees it alone), then cross-faded."""
        cfg = self.config
        if cfg.relevance.method == "delta":
            if m in state.held_relevance:
                relevance = state.held_relevance[m]
            else:
                count = state.delta_count.get(m, 0)
                magnitude = _running_mean(state.delta_magnitude.get(m), delta.detach().abs(), count)
                state.delta_magnitude[m], state.delta_count[m] = magnitude, count + 1
                relevance = self._delta_relevance(state, m, magnitude)
        else:
            tau = cfg.relevance.tau_video if m == "v" else cfg.relevance.tau_audio
            relevance = relevance_mask(scores, cfg.relevance.method, tau).float()
        if state.mode.random_relevance:
            relevance = shuffle_positions(relevance, state.streams["video" if m == "v" else "audio"])
        return relevance

    def _delta_relevance(self, state: EditState, m: str, magnitude: torch.Tensor) -> torch.Tensor:
        """The delta relevance of a mean |δ| in the latent's own layout: the frames' frame by frame, pooled over the
        source's regions; the sound's window by window."""
        rel, grid = self.config.relevance, self.config.media.grid
        if m == "v":
            frames = self._frames(state, magnitude)
            per_frame = delta_relevance(frames, 1, rel.tau_video, rel.reach_video, state.frame_regions, rel.tau_regions)
            return pack_grids(per_frame[:, None], grid)[:, 0]
        # one window for a short sound: then this is the window's own delta relevance
        return windowed_delta_relevance(magnitude, state.audio_windows, rel.tau_audio, rel.reach_audio)

    def _video_view(self, state: EditState, t: torch.Tensor, target_row: int = _TRG) -> ModalityView:
        """The video branch in a freshly shuffled grid layout, handed to the objective in the unshuffled one."""
        n, num_frames = self.config.media.grid, state.num_frames
        z, generator = state.z["v"], state.streams["video"]
        perm = shuffle_permutation(num_frames, n, generator).to(z.device)
        inverse = invert_permutation(perm)
        out = state.branches["v"].run(
            permute_cells(state.z_src["v"], n, perm),
            permute_cells(z, n, perm),
            t.to(z.device),
            _randn(z, generator),
            state.objective.needs_features,
            target_row,
        )
        unshuffle = lambda x: permute_cells(x, n, inverse)  # noqa: E731
        delta, scores = unshuffle(out.delta), unshuffle(out.scores[:, None])[:, 0]
        relevance = self._relevance(state, "v", delta, scores)
        # Features of a layer too coarse to split into frame cells cannot be unshuffled; the v1 terms skip it.
        whole = [i for i, f in enumerate(out.trg_features) if not (f.shape[-2] % n or f.shape[-1] % n)]
        to_frames = lambda x: self._frames(state, x)  # noqa: E731
        return ModalityView(
            z=z,
            z_src=state.z_src["v"],
            delta=delta,
            relevance=relevance,
            t=int(t),
            trg_features=[unshuffle(out.trg_features[i]) for i in whole],
            src_features=[unshuffle(out.src_features[i]) for i in whole],
            segments=lambda f, mask: video_segments(to_frames(f), to_frames(mask[:, None].float())[:, 0] > 0.5),
            frames=to_frames,
            generator=generator,
        )

    def _audio_view(self, state: EditState, t: torch.Tensor, target_row: int = _TRG) -> ModalityView:
        """The audio branch, handed to the objective; v1 sync segments are one per video frame."""
        cfg = self.config
        z, generator, windows = state.z["a"], state.streams["audio"], state.audio_windows
        noise = _randn(z, generator)  # one draw over the whole sound: the windows share it on their overlaps
        if windows.count == 1:
            out = state.branches["a"].run(
                state.z_src["a"], z, t.to(z.device), noise, state.objective.needs_features, target_row
            )
            delta, scores = out.delta, out.scores
        else:
            # Every window in one UNet call at the same timestep; what they return is merged into the long layout.
            split = [split_windows(x, windows) for x in (state.z_src["a"], z.detach(), noise)]
            out = state.branches["a"].run(*split[:2], t.to(z.device), split[2], False, target_row)
            delta = merge_windows(out.delta, windows)
            scores = merge_windows(out.scores, windows)
        relevance = self._relevance(state, "a", delta, scores)
        return ModalityView(
            z=z,
            z_src=state.z_src["a"],
            delta=delta,
            relevance=relevance,
            t=int(t),
            trg_features=out.trg_features,
            src_features=out.src_features,
            segments=lambda f, mask: audio_segments(
                f[0], mask[0], cfg.media.mel.duration, state.num_frames, cfg.media.fps
            ),
            generator=generator,
        )


def _check_diverged(state: EditState, losses: dict[str, float], step: int) -> None:
    """Stop at the first step whose update leaves a latent (or a loss) non-finite or far out of range."""
    bad = diverged(state.z, state.bounds)
    bad += [name for name, value in losses.items() if not np.isfinite(value)]
    if bad:
        raise AvedError(
            f"the edit diverged at step {step + 1}: {', '.join(bad)} no longer finite or in range "
            "(check lr and the weights)"
        )


def _child_generator(parent: torch.Generator) -> torch.Generator:
    """A generator on the parent's device seeded by one draw from the parent."""
    seed = int(torch.randint(0, 2**62, (1,), generator=parent, device=parent.device))
    return torch.Generator(device=parent.device).manual_seed(seed)


def _randn(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, device=generator.device).to(like.device, like.dtype)


def _running_mean(mean: torch.Tensor | None, value: torch.Tensor, step: int) -> torch.Tensor:
    return value.clone() if mean is None else mean + (value - mean) / (step + 1)
