"""The objective: branch outputs → named loss terms, and the scale-free weights that combine their gradients
(docs/design.md §2b). The editor hands each modality's view in; it owns no loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from aved.config import EditConfig
from aved.losses.dds import dds_loss
from aved.losses.motion import motion_loss
from aved.losses.preservation import anchor_loss, pool_mask, preservation_loss
from aved.losses.sync import sync_loss
from aved.losses.timing import audio_rows, timing_loss

# A term whose gradient is below this fraction of DDS's pull is at rest (rounding, not an edit to undo): it gets
# no weight, where ρ·‖∇L_dds‖/‖∇L_k‖ would blow its rounding noise up to a full pull.
REST_RATIO = 1e-6


@dataclass
class ModalityView:
    """One modality at one step, in its latent's own layout, as the objective reads it."""

    z: torch.Tensor  # the edited latent, with gradient
    z_src: torch.Tensor
    delta: torch.Tensor  # DDS direction ε̂_trg − ε̂_src
    relevance: torch.Tensor  # [B, h, w] in [0, 1]: how far each position is the edit's to change
    t: int  # the step's timestep
    trg_features: list[torch.Tensor] = field(default_factory=list)  # v1 terms only: [B, C, h_l, w_l]
    src_features: list[torch.Tensor] = field(default_factory=list)
    segments: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None  # v1 sync: (features, mask) → [K, C]
    frames: Callable[[torch.Tensor], torch.Tensor] | None = None  # video: grid latents → per-frame [F, C, h, w]
    generator: torch.Generator | None = None  # this modality's stream, for the v1 PatchNCE's patch draws

    @property
    def keep(self) -> torch.Tensor:
        """1 − relevance: how far each position is the anchor's to hold."""
        return 1 - self.relevance


class Objective:
    """L = λ_dds·Σ_m L_dds_m + Σ_k λ_k·L_k with λ_k = ρ_k·‖∇L_dds_m‖/‖∇L_k,m‖ per modality m
    (docs/design.md §2b rule 1); the frames' anchor's ρ·‖(1 − r)⊙∇L_dds_v‖/‖∇L_pres_v‖ (`preservation.kept_pull_*`).

    v2 terms: `pres_m`, the latent anchor ½Σ(1 − r)(z − z_src)² with r the `delta` relevance; `sync`, the sound's
    latent flux envelope held to the source's (2 − 2·corr); `motion_v`, where the frames change held to the
    source's. v1 forms (PatchNCE, cross-modal InfoNCE) by config. Where the relevance is estimated before the edit
    (`relevance.estimate_timesteps_*`), DDS's direction is confined to it at steps above those timesteps: δ·r.
    """

    def __init__(self, config: EditConfig, pres: bool, sync: bool):
        """`pres`/`sync`: whether the mode uses the term; a term whose weight is 0 is off either way."""
        w = config.weights
        self.config, self.pres, self.sync = config, pres and w.pres > 0, sync and w.sync > 0
        self.motion = sync and w.motion > 0

    @property
    def needs_features(self) -> bool:
        """Whether any term in use reads the UNets' attention features (only the v1 forms do)."""
        cfg = self.config
        return (self.pres and cfg.preservation.form == "patchnce") or (self.sync and cfg.sync.form == "infonce")

    def fractions(self) -> dict[str, float]:
        """ρ_k of each term family: its pull as a fraction of DDS's."""
        w = self.config.weights
        return {"pres": w.pres, "sync": w.sync, "motion": w.motion}

    def losses(self, views: dict[str, ModalityView]) -> dict[str, torch.Tensor]:
        """The named terms at this step: dds_m and pres_m per modality, sync across them, motion_v on the frames."""
        cfg = self.config
        out: dict[str, torch.Tensor] = {}
        rel = cfg.relevance
        for m, view in views.items():
            # Above the timesteps the relevance was estimated at, the prior cannot tell where the object is.
            confine = self.pres and rel.held(m) and view.t > max(rel.estimate_timesteps(m))
            out[f"dds_{m}"] = dds_loss(view.z, view.delta * view.relevance[:, None] if confine else view.delta)
            if self.pres and (self.config.preservation.form == "anchor" or view.trg_features):
                out[f"pres_{m}"] = self._preservation(view)
        if self.sync:
            if cfg.sync.form == "timing":
                # The sound's envelope only: holding the frames' envelope too moved the object (ToyWorld, +2 px
                # trajectory error on 8 tasks, benchmarks/README.md); where the object is stays the anchor's job.
                if "a" in views:
                    audio = views["a"]
                    out["sync"] = timing_loss(audio_rows(audio.z), audio_rows(audio.z_src))
            elif len(views) == 2 and (sync := self._sync_v1(views["v"], views["a"])) is not None:
                out["sync"] = sync
        if self.motion and "v" in views and (video := views["v"]).frames is not None:
            out["motion_v"] = motion_loss(video.frames(video.z), video.frames(video.z_src))
        return out

    def _preservation(self, view: ModalityView) -> torch.Tensor:
        p = self.config.preservation
        if p.form == "anchor":
            return anchor_loss(view.z, view.z_src, view.keep)
        return preservation_loss(
            view.trg_features,
            view.src_features,
            view.relevance < 0.5,
            view.generator,
            patch_sizes=tuple(p.patch_sizes),
            num_patches=p.num_patches,
            temperature=p.temperature,
        )

    def _sync_v1(self, video: ModalityView, audio: ModalityView) -> torch.Tensor | None:
        """docs/design.md §2's v1 form: InfoNCE between the two modalities' temporal self-similarity of relevant
        features (None where either modality has no feature layer to read)."""
        if not video.trg_features or not audio.trg_features:
            return None
        segments = {}
        for name, view in (("v", video), ("a", audio)):
            relevant = view.relevance > 0.5
            segments[name] = [view.segments(f, pool_mask(relevant, f.shape[-2:])) for f in view.trg_features]
        return sync_loss(segments["v"], segments["a"], self.config.sync.temperature)

    def gradients(
        self,
        losses: dict[str, torch.Tensor],
        latents: dict[str, torch.Tensor],
        step_size: float,
        keep: dict[str, torch.Tensor],
    ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """Each latent's combined gradient, and the realised λ of every term beside DDS on every latent it touches
        (0 where the term is at rest, so each step records the same keys). `keep`: each latent's 1 − relevance
        [B, h, w], which the anchor holds; where `preservation.kept_pull_*`, the anchor's λ is
        ρ·‖keep⊙∇L_dds‖/‖∇L_pres‖.

        A term is at rest where its gradient is below REST_RATIO of DDS's pull or not finite. The anchor's λ is also
        capped at 1/step_size: its gradient is keep·(z − z_src), so a larger λ would carry a kept position past the
        source in one step — a small drift would be answered by noise of DDS's size.
        """
        names = list(latents)
        dds_weight = self.config.weights.dds
        dds = {m: torch.zeros_like(latents[m]) for m in names}
        for m in names:
            if f"dds_{m}" in losses:
                dds[m] = dds_weight * _grads(losses[f"dds_{m}"], [latents[m]], keep_graph=True)[0]
        total = dict(dds)
        pull = {m: dds[m].norm() for m in names}
        preservation = self.config.preservation
        realised: dict[str, float] = {}
        fractions = self.fractions()
        others = [k for k in losses if _family(k) != "dds" and fractions.get(_family(k), 0) > 0]
        for i, key in enumerate(others):
            touched = term_latents(key, names)
            grads = _grads(losses[key], [latents[m] for m in touched], keep_graph=i < len(others) - 1)
            for m, grad in zip(touched, grads, strict=True):
                norm = grad.norm()
                moving = bool(torch.isfinite(norm)) and norm > REST_RATIO * pull[m] and norm > 0
                anchor = _family(key) == "pres" and preservation.form == "anchor"
                reference = (keep[m][:, None] * dds[m]).norm() if anchor and preservation.kept_pull(m) else pull[m]
                weight = fractions[_family(key)] * reference / norm if moving else norm.new_zeros(())
                if anchor:
                    weight = weight.clamp(max=1 / step_size)
                if moving:
                    total[m] = total[m] + weight * grad
                realised[lambda_key(key, m)] = float(weight)
        return total, realised


def _family(key: str) -> str:
    return key.split("_")[0]


def term_latents(key: str, names: list[str]) -> list[str]:
    """The latents a term reads: `pres_v` the video's, a term without a modality suffix (`sync`) every one."""
    own = [m for m in names if key.endswith(f"_{m}")]
    return own or list(names)


def lambda_key(key: str, m: str) -> str:
    """The history key of a term's realised λ on latent m: `lambda_pres_v`, `lambda_sync_a`."""
    return f"lambda_{key}" if key.endswith(f"_{m}") else f"lambda_{key}_{m}"


def _grads(loss: torch.Tensor, inputs: list[torch.Tensor], keep_graph: bool) -> list[torch.Tensor]:
    """∂loss/∂input for each input, zeros where the loss does not depend on it; `keep_graph` for a later term."""
    if not loss.requires_grad:
        return [torch.zeros_like(x) for x in inputs]
    grads = torch.autograd.grad(loss, inputs, allow_unused=True, retain_graph=keep_graph)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True)]
