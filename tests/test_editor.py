"""The editor: DDS on an analytic prior, mode properties, determinism and gradients on the tiny priors."""

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from aved.codec import PreparedClip
from aved.config import EditConfig, apply_overrides
from aved.editor import Editor, ModalityBranch
from aved.priors import Condition

SMALL = {"media.frame_size": 32, "media.duration": 2.0, "media.mel.duration": 2.56, "steps": 2}


def _source(value=0, seconds=2.0, fps=4.0, seed=0):
    """A prepared clip: constant or random frames, and a click track."""
    rng = np.random.default_rng(seed)
    count = int(seconds * fps)
    frames = (
        np.full((count, 32, 32, 3), value, dtype=np.uint8)
        if value is not None
        else rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    )
    audio = np.zeros(int(seconds * 16000), dtype=np.float32)
    audio[::4000] = 1.0
    return PreparedClip(frames, fps, audio, 16000)


class PointPrior:
    """Exact ε-predictor for data concentrated at a prompt-dependent constant point μ_c: ε = (z_t − √ᾱ·μ_c)/σ."""

    def __init__(self, points: dict[str, float], audio: bool = False):
        self.points, self.audio, self.model_id, self.unet = points, audio, "analytic", None
        self.device = torch.device("cpu")
        self.alphas_cumprod = DDPMScheduler(
            beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012
        ).alphas_cumprod
        self.num_train_timesteps, self.sample_rate = 1000, 16000
        self.mel_frames_per_latent = 4  # its `encode` quarters the mel's frames

    def encode(self, x):
        return torch.zeros(1, 1, x.shape[2] // 4, 16) if self.audio else x[:, :1].clone()

    def decode(self, z):
        return z if self.audio else z.expand(-1, 3, -1, -1)

    def mel_to_waveform(self, mel):
        return torch.zeros(1, mel.shape[2] * 160)

    def encode_text(self, prompts):
        return Condition({"mu": torch.tensor([self.points[p] for p in prompts])})

    def predict_noise(self, z_t, t, cond):
        alpha_bar = self.alphas_cumprod[t]
        mu = cond.unet_kwargs["mu"].view(-1, *[1] * (z_t.ndim - 1))
        return (z_t - alpha_bar.sqrt() * mu) / (1 - alpha_bar).sqrt()

    def check_grid(self, frame_size, grid):
        """Any geometry works: the analytic prior has no VAE or UNet."""

    def check_mel_frames(self, frames):
        """Any window works."""

    def token_positions(self, prompt):
        return []

    def relevance_layers(self):
        return []

    def attention_layers(self):
        return []


def test_dds_on_an_analytic_prior_moves_the_source_point_to_the_target_point():
    # Frames of value 0 encode to z = −1: the data of "a red ball" sits at −1, that of "a blue ball" at −0.5.
    video = PointPrior({"": 0.0, "a red ball": -1.0, "a blue ball": -0.5})
    audio = PointPrior({"": 0.0, "a red ball": 0.0, "a blue ball": 0.5}, audio=True)
    config = apply_overrides(
        EditConfig(),
        {
            **SMALL,
            "mode": "dds",
            "steps": 60,
            "lr": 0.5,
            "lr_decay": 1.0,
            "guidance_scale": 1.0,
            "t_min": 200,
            "prompts.source": "a red ball",
            "prompts.target": "a blue ball",
        },
    )
    result = Editor(video, audio, config).run(_source(0), torch.Generator().manual_seed(0), progress=False)
    start_v, end_v = 0.5, (result.z_video - (-0.5)).abs().max().item()
    start_a, end_a = 0.5, (result.z_audio - 0.5).abs().max().item()
    assert end_v < 0.05 * start_v and end_a < 0.05 * start_a
    distances = np.array(result.history["dds_v"])
    assert distances[-10:].mean() < 0.01 * distances[:3].mean()


def _config(mode, **overrides):
    values = {**SMALL, "mode": mode, "prompts.source": "a red ball bouncing", "prompts.target": "a blue bell ringing"}
    return apply_overrides(EditConfig(), {**values, **overrides})


def test_equal_prompts_give_exactly_zero_dds_gradient(video_prior):
    config = _config("dds", **{"prompts.target": "a red ball bouncing"})
    branch = ModalityBranch(video_prior, "a red ball bouncing", "a red ball bouncing", config, 2, False)
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    with branch.capturing():
        out = branch.run(z, z.clone(), torch.tensor([500]), noise, need_features=False)
    assert torch.count_nonzero(out.delta) == 0
    different = ModalityBranch(video_prior, "a red ball bouncing", "a blue bell", config, 2, False)
    with different.capturing():
        assert torch.count_nonzero(different.run(z, z.clone(), torch.tensor([500]), noise, False).delta) > 0


def _run(mode, video_prior, audio_prior, source=None, seed=0, **overrides):
    editor = Editor(video_prior, audio_prior, _config(mode, **overrides))
    return editor.run(source or _source(None), torch.Generator().manual_seed(seed), progress=False)


def test_independent_is_video_only_and_audio_only_side_by_side(video_prior, audio_prior):
    """What lets the ToyWorld bench take both single-modality rows from one `independent` run."""
    source = _source(None)
    both = _run("independent", video_prior, audio_prior, source)
    video_only = _run("video-only", video_prior, audio_prior, source)
    audio_only = _run("audio-only", video_prior, audio_prior, source)
    assert torch.equal(both.z_video, video_only.z_video) and np.array_equal(both.frames, video_only.frames)
    assert torch.equal(both.z_audio, audio_only.z_audio) and np.array_equal(both.audio, audio_only.audio)
    # Without motion, v2's timing term is aved's only coupling, and it touches only the sound.
    timing_only = _run("aved", video_prior, audio_prior, source, **{"weights.motion": 0.0})
    assert torch.equal(both.z_video, timing_only.z_video) and not torch.equal(both.z_audio, timing_only.z_audio)
    coupled = _run("aved", video_prior, audio_prior, source)  # the motion term holds the frames' path too
    assert not torch.equal(both.z_video, coupled.z_video) and torch.equal(timing_only.z_audio, coupled.z_audio)


def test_video_only_and_audio_only_leave_the_other_modality_untouched(video_prior, audio_prior):
    source = _source(None)
    video_only = _run("video-only", video_prior, audio_prior, source)
    assert video_only.z_audio is None and video_only.audio is source.audio  # the source sound, bit for bit
    assert not np.array_equal(video_only.frames, source.frames)
    audio_only = _run("audio-only", video_prior, audio_prior, source)
    assert audio_only.z_video is None and audio_only.frames is source.frames
    assert audio_only.sample_rate == audio_prior.sample_rate


def test_independent_audio_update_does_not_depend_on_the_video(video_prior, audio_prior):
    a = _run("independent", video_prior, audio_prior, _source(None, seed=1))
    b = _run("independent", video_prior, audio_prior, _source(None, seed=2))
    assert not torch.equal(a.z_video, b.z_video)
    assert torch.equal(a.z_audio, b.z_audio)


def test_same_seed_same_latents_other_seed_other_latents(video_prior, audio_prior):
    a = _run("aved", video_prior, audio_prior, seed=3)
    b = _run("aved", video_prior, audio_prior, seed=3)
    c = _run("aved", video_prior, audio_prior, seed=4)
    assert torch.equal(a.z_video, b.z_video) and torch.equal(a.z_audio, b.z_audio)
    assert not torch.equal(a.z_video, c.z_video)


@pytest.mark.parametrize(("form", "on_video"), [("timing", False), ("infonce", True)])
def test_the_sync_term_pulls_on_the_sound_and_in_v1_also_on_the_frames(form, on_video, video_prior, audio_prior):
    """Once the edit has moved, L_sync has a gradient on z_a; v1's cross-modal InfoNCE also on z_v."""
    editor = Editor(video_prior, audio_prior, _config("aved", **{"sync.form": form}))
    state = editor.start(_source(None), torch.Generator().manual_seed(0))
    with torch.no_grad():
        for z in state.z.values():
            z.add_(0.1 * torch.randn(z.shape, generator=torch.Generator().manual_seed(3)))
    with state.capturing():
        losses = editor.step_losses(state).losses
    grad_v, grad_a = torch.autograd.grad(losses["sync"], [state.z["v"], state.z["a"]], allow_unused=True)
    assert grad_a.abs().max() > 0
    assert (grad_v is not None and grad_v.abs().max() > 0) == on_video


@pytest.mark.parametrize("forms", [{}, {"preservation.form": "patchnce", "sync.form": "infonce"}])
def test_a_run_step_is_start_step_losses_and_one_sgd_step(forms, video_prior, audio_prior):
    """`start` + `step_losses` + the objective's gradients are the editor's own step (loss_gradients.py uses them)."""
    source = _source(None)
    editor = Editor(video_prior, audio_prior, _config("aved", steps=1, lr=0.5, **forms))
    state = editor.start(source, torch.Generator().manual_seed(0))
    with state.capturing():
        out = editor.step_losses(state)
    assert set(out.losses) == {"dds_v", "pres_v", "dds_a", "pres_a", "sync", "motion_v"}
    grads, _ = state.objective.gradients(out.losses, state.z, 0.5, out.keep)
    result = _run("aved", video_prior, audio_prior, source, steps=1, lr=0.5, **forms)
    torch.testing.assert_close(result.z_video, state.z_src["v"] - 0.5 * grads["v"])
    torch.testing.assert_close(result.z_audio, state.z_src["a"] - 0.5 * grads["a"])


@pytest.mark.parametrize("mode", ["aved", "independent", "dds", "random-relevance"])
def test_every_mode_returns_the_source_duration(mode, video_prior, audio_prior):
    source = _source(None)
    result = _run(mode, video_prior, audio_prior, source)
    assert result.frames.shape == source.frames.shape and result.frames.dtype == np.uint8
    assert len(result.audio) == round(source.duration * result.sample_rate)
    assert np.isfinite(result.audio).all()
    assert len(result.history["dds_v"]) == 2
    assert result.relevance_video.shape == (8, 4, 4) and result.relevance_audio.shape == (64, 16)


def test_the_dds_engine_refuses_a_mode_of_another_engine(video_prior, audio_prior):
    from aved.errors import AvedError

    with pytest.raises(AvedError, match="sdedit is not a DDS edit"):
        _run("sdedit", video_prior, audio_prior)


def test_the_annealed_schedule_walks_down_in_time_at_its_step_sizes(video_prior, audio_prior):
    from aved.schedule import annealed_step_sizes, ddpm_step_weights

    result = _run("aved", video_prior, audio_prior, steps=6, schedule="annealed", step_gain=2.0)
    t = result.history["t"]
    assert all(a > b for a, b in zip(t, t[1:], strict=False)), t
    # the editor's wiring: the state's schedule is what ran, at the sizes the schedule functions give
    editor = Editor(video_prior, audio_prior, _config("aved", steps=6, schedule="annealed", step_gain=2.0))
    state = editor.start(_source(None), torch.Generator().manual_seed(0))
    assert state.timesteps.tolist() == t
    sizes = annealed_step_sizes(_config("aved").lr, 2.0, ddpm_step_weights(video_prior.alphas_cumprod, state.timesteps))
    assert result.history["lr"] == pytest.approx(sizes)
    assert sizes[0] > sizes[-1]  # high noise levels move further, as DDPM's steps do
