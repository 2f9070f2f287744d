"""The edit's schedules: the annealed timesteps and DDPM step weights against an independent unrolling."""

import math

import numpy as np
import pytest
import torch

from aved.schedule import annealed_step_sizes, annealed_timesteps, ddpm_step_weights


def _scaled_linear_alphas(steps=1000, start=0.00085, end=0.012):
    betas = torch.linspace(start**0.5, end**0.5, steps, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


@pytest.mark.parametrize("steps, t_min, t_max", [(25, 50, 950), (7, 1, 7), (40, 10, 60)])
def test_annealed_timesteps_fall_one_per_stratum_and_repeat_with_the_seed(steps, t_min, t_max):
    draws = [annealed_timesteps(steps, t_min, t_max, torch.Generator().manual_seed(s)) for s in range(400)]
    assert torch.equal(draws[0], annealed_timesteps(steps, t_min, t_max, torch.Generator().manual_seed(0)))
    edges = np.linspace(t_max + 1, t_min, steps + 1)
    for t in draws:  # strictly decreasing, in range, each in its own stratum, for every seed
        assert (t[1:] < t[:-1]).all() and t.max() <= t_max and t.min() >= t_min
        assert all(edges[k + 1] - 1 <= int(t[k]) <= edges[k] for k in range(steps))
    if t_max - t_min + 1 > steps:
        assert len({tuple(t.tolist()) for t in draws}) > 1


def test_ddpm_step_weights_are_the_unrolled_ddpm_recursion():
    """At stride one, c_t must be |∂x₀/∂δ_t| of the edit-friendly DDPM difference d_{t−1} = d_t/√α_t −
    β_t/(√α_t·√(1−ᾱ_t))·δ_t (shared noise cancels), run down to x₀ (diffusers' t = 0 is itself one step: ÷ √ᾱ_0)."""
    abar = _scaled_linear_alphas()
    alphas = torch.cat([abar[:1], abar[1:] / abar[:-1]]).tolist()
    timesteps = torch.arange(30, 0, -1)
    weights = ddpm_step_weights(abar, timesteps)
    for k, t in enumerate(timesteps.tolist()):
        d = 0.0
        for s in range(t, 0, -1):
            unit = 1.0 if s == t else 0.0
            d = d / math.sqrt(alphas[s]) - (1 - alphas[s]) / (math.sqrt(alphas[s]) * math.sqrt(1 - abar[s])) * unit
        assert float(weights[k]) == pytest.approx(abs(d) / math.sqrt(abar[0]), rel=1e-9)


def test_annealed_step_sizes_keep_the_mean_step_and_the_proportions():
    weights = torch.tensor([4.0, 2.0, 1.0, 1.0], dtype=torch.float64)
    sizes = annealed_step_sizes(0.5, 2.0, weights)
    assert np.mean(sizes) == pytest.approx(1.0) and sizes[0] == pytest.approx(4 * sizes[2])


def test_the_annealed_schedule_is_refused_where_it_cannot_take_one_timestep_a_step():
    from aved.config import EditConfig, apply_overrides
    from aved.errors import AvedError

    for values in ({"steps": 30, "t_min": 10, "t_max": 30}, {"t_min": 0}):
        with pytest.raises(AvedError, match="annealed schedule needs"):
            apply_overrides(EditConfig(), {"schedule": "annealed", "steps": 25, **values}).validate()


def test_fast_sits_above_the_model_preset_and_below_explicit_flags(capsys):
    import json

    from cli_helpers import run_cli

    from aved.config import RelevanceConfig

    argv = ["edit", "x.mp4", "--model", "toyworld", "--source", "a", "--target", "b", "--out", "o", "--dry-run"]
    frames_default = list(RelevanceConfig().estimate_timesteps_video)
    plain = json.loads(run_cli(capsys, *argv)[1])
    assert plain["relevance"]["estimate_timesteps_video"] == frames_default
    code, out, _ = run_cli(capsys, *argv, "--fast")
    fast = json.loads(out)
    assert code == 0 and (fast["steps"], fast["schedule"], fast["lr"]) == (25, "annealed", 1.0)
    # --fast holds the frames' estimate where the sound's is, not at the 200-step default
    assert (
        fast["relevance"]["estimate_timesteps_video"] == fast["relevance"]["estimate_timesteps_audio"] != frames_default
    )
    assert not fast["preservation"]["kept_pull_video"] and plain["preservation"]["kept_pull_video"]
    code, out, _ = run_cli(capsys, *argv, "--fast", "--steps", "12", "--set", "relevance.estimate_timesteps_video=")
    assert json.loads(out)["steps"] == 12 and json.loads(out)["schedule"] == "annealed"
    assert json.loads(out)["relevance"]["estimate_timesteps_video"] == []  # `--set key=` empties a list


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"relevance.estimate_timesteps_audio": (0, 400)},
            r"relevance.estimate_timesteps_audio must be an integer in \[1, 999\]",
        ),
        ({"preservation.patch_sizes": ""}, "preservation.patch_sizes needs at least one size"),
        (
            {"relevance.estimate_timesteps": (200,)},
            "'relevance.estimate_timesteps' is now relevance.estimate_timesteps_video",
        ),
    ],
)
def test_a_relevance_estimate_or_an_empty_list_is_refused_where_it_cannot_work(values, message):
    from aved.config import EditConfig, apply_overrides
    from aved.errors import AvedError

    with pytest.raises(AvedError, match=message):
        apply_overrides(EditConfig(), values).validate()


def test_fast_with_an_attention_relevance_runs_without_the_estimate(video_prior, audio_prior):
    """The web app's --fast box is on by default beside its relevance menu: otsu or fixed must still edit."""
    from aved.config import FAST_PRESET, EditConfig, apply_overrides
    from aved.editor import Editor
    from tests.test_editor import SMALL, _source

    values = {**SMALL, **FAST_PRESET, "relevance.method": "otsu", "prompts.source": "a", "prompts.target": "b"}
    config = apply_overrides(EditConfig(), values).validate()
    state = Editor(video_prior, audio_prior, config).start(_source(None), torch.Generator().manual_seed(0))
    assert (
        not config.relevance.held("v")
        and not config.relevance.held("a")
        and not state.held_relevance
        and not state.delta_magnitude
    )


def test_a_compiler_failure_is_one_line_and_other_errors_pass_through(video_prior, monkeypatch):
    import torch._dynamo

    from aved.errors import AvedError

    z = torch.zeros(1, 4, 8, 8)
    cond = video_prior.encode_text(["a"])

    def broken(*args, **kwargs):
        raise torch._dynamo.exc.TorchDynamoException("no C compiler found")

    monkeypatch.setattr(video_prior, "_denoiser", broken)
    with pytest.raises(AvedError, match="torch.compile does not work here"):
        video_prior.predict_noise(z, 500, cond)
    monkeypatch.setattr(video_prior, "_denoiser", lambda *a, **k: (_ for _ in ()).throw(ValueError("shape")))
    with pytest.raises(ValueError, match="shape"):
        video_prior.predict_noise(z, 500, cond)
