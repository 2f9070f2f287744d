"""The edit's schedules: the annealed timesteps and DDPM step weights against an independent unrolling."""

import math

import numpy as np
import pytest
import torch

from aved.schedule import annealed_step_sizes, annealed_timesteps, ddpm_step_weights


def _scaled_linear_alphas(steps=1000, start=0.00085, end=0.012):
    betas = torch.linspace(start**0.5, end**0.5, steps, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


def test_annealed_timesteps_fall_one_per_stratum_and_repeat_with_the_seed():
    draws = [annealed_timesteps(25, 50, 950, torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    t = draws[0]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    assert (t[1:] < t[:-1]).all() and t.max() <= 950 and t.min() >= 50
    edges = np.linspace(950, 50, 26)
    assert all(edges[k + 1] - 0.5 <= int(t[k]) <= edges[k] + 0.5 for k in range(25))


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
