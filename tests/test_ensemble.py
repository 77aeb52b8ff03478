"""aegan_lib.ensemble: S seeds as one model train like S single runs (chapter 3's sweeps)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import aegan_lib as ag
from aegan_lib import ensemble, metrics
from aegan_lib.algos import make


def _copy_member(single: nn.Module, members: nn.Module, j: int) -> None:
    """Member j of an ensemble MLP takes the weights of a single run's MLP."""
    linears = [m for m in single.modules() if isinstance(m, nn.Linear)]
    stacked = [m for m in members.modules() if isinstance(m, ensemble.EnsembleLinear)]
    assert len(linears) == len(stacked)
    with torch.no_grad():
        for linear, layer in zip(linears, stacked):
            layer.weight[j].copy_(linear.weight.T)  # EnsembleLinear computes x @ W, Linear x @ Wᵀ
            layer.bias[j, 0].copy_(linear.bias)


@pytest.mark.parametrize("options, member_gammas", [
    ({}, None), ({"pack": 2}, None), ({"ema": 0.9, "r1_weight": 1.0}, None),
    ({"r1_weight": 0.1}, [1.0, 0.1, 0.01]), ({"r1_weight": 0.01, "pack": 2}, [1.0, 0.01, 0.1])])
def test_a_member_takes_the_same_steps_as_a_single_run(options, member_gammas):
    """Same weights, same batches, same noise: member 1 of 3 follows make("gan")'s run step by step
    (member_gammas: each member its own R1 γ, member 1's being the single run's)."""
    grid = ag.data.grid()
    recipe = {"hidden": (16, 16), "batch_size": 8, **options}
    if member_gammas is not None:
        recipe["r1_weight"] = member_gammas
    ag.seed_everything(0)
    single = make("gan", grid, generator_hidden=recipe["hidden"], discriminator_hidden=recipe["hidden"],
                  **options)
    ag.seed_everything(1)
    algo, stacked = ensemble.gan([grid, grid, grid], **recipe)
    _copy_member(single.generator, algo.generator, 1)
    _copy_member(single.discriminator, algo.discriminator, 1)
    if algo.generator_ema is not None:
        algo.generator_ema.load_state_dict(algo.generator.state_dict())

    scale, center = grid.scale, grid.center
    generator = torch.Generator().manual_seed(3)
    for _ in range(5):
        batch = stacked.sample(8, generator=generator)  # standardised × each member's unit (8, 6)
        noise = torch.randn(8, 6, generator=generator)
        algo.noise = lambda n, generator=None, z=noise: z
        single.noise = lambda n, generator=None, z=noise[:, 2:4]: z
        out = algo.step(batch)
        single_out = single.step(batch[:, 2:4] / stacked.units[1] * scale + center)
    # Losses are means over members; compare member 1's weights and samples instead.
    z = torch.randn(50, 6)
    algo.noise = lambda n, generator=None: z
    single.noise = lambda n, generator=None: z[:, 2:4]
    ensemble_points = ensemble.member_samples(algo, stacked, 50)[1]
    assert torch.allclose(ensemble_points, single.sample(50), atol=1e-4), "member 1 drifted from the single run"
    assert set(out) == set(single_out)


def test_members_are_independent_and_trained_like_single_runs():
    """Statistics: 6 ring members after 400 steps land where 6 single runs of make("gan") land."""
    ring = ag.data.ring()
    recipe = {"hidden": (32, 32), "batch_size": 64}
    ag.seed_everything(0)
    algo, stacked = ensemble.gan([ring] * 6, **recipe)
    ag.fit(algo, stacked, steps=400, progress=False)
    member_hq = [metrics.mode_coverage(points, ring)["high_quality"]
                 for points in ensemble.member_samples(algo, stacked, 1000)]
    single_hq = []
    for seed in range(6):
        ag.seed_everything(seed)
        single = make("gan", ring, hidden=(32, 32), batch_size=64)
        ag.fit(single, ring, steps=400, seed=seed, progress=False)
        single_hq.append(metrics.mode_coverage(single.sample(1000), ring)["high_quality"])
    member_mean, single_mean = sum(member_hq) / 6, sum(single_hq) / 6
    assert len(set(round(h, 4) for h in member_hq)) > 1, "members should differ (different initial weights)"
    assert abs(member_mean - single_mean) < 0.15, (member_hq, single_hq)


def test_stacked_mixtures_are_standardised_per_member():
    stacked = ensemble.StackedMixtures([ag.data.ring(), ag.data.grid()])
    batch = stacked.sample(20000, generator=torch.Generator().manual_seed(0))
    assert batch.shape == (20000, 4)
    assert torch.allclose(batch.mean(0), torch.zeros(4), atol=0.03)
    assert torch.allclose(batch.std(0), torch.ones(4), atol=0.03)


def test_gamma_zero_cannot_share_an_ensemble_with_other_gammas():
    with pytest.raises(ValueError, match="Train γ = 0 members in an ensemble of their own"):
        ensemble.gan([ag.data.ring()] * 2, r1_weight=[0.0, 0.1])


def test_unstandardised_members_are_refused_not_ignored():
    with pytest.raises(ValueError, match="standardize=False is not supported"):
        ensemble.gan([ag.data.ring()], standardize=False)


def test_unknown_recipe_keys_are_named():
    with pytest.raises(ValueError, match=r"unknown recipe keys \['gamma'\]"):
        ensemble.gan([ag.data.ring()], gamma=0.1)


@pytest.mark.parametrize("method, options", [
    ("aegan", {"latent_critic": False, "latent_reconstruction_weight": 0.0}),
    ("aegan", {}),
    ("aegan", {"adversarial_reconstructions": True, "reconstruction_weight": 1.0}),
    ("bigan", {})])
def test_a_joint_loop_member_takes_the_same_steps_as_a_single_run(method, options):
    """Chapter 6's comparison on a GPU: member 1 of 3 of ensemble.joint follows make(method)."""
    grid = ag.data.grid()
    hidden = (16, 16)
    single_options = {key: value for key, value in options.items() if key != "latent_critic"}
    if options.get("latent_critic") is False:
        single_options["latent_discriminator"] = None
    ag.seed_everything(0)
    single = make(method, grid, hidden=hidden, batch_size=8, **single_options)
    ag.seed_everything(1)
    algo, stacked = ensemble.joint(method, [grid, grid, grid], hidden=hidden, batch_size=8, **options)
    roles = ["encoder", "generator", "discriminator"] + (["latent_discriminator"] if method == "aegan" else [])
    for role in roles:
        if getattr(single, role) is not None:
            _copy_member(getattr(single, role), getattr(algo, role), 1)
    assert (algo.latent_discriminator is None) == (single.latent_discriminator is None) if method == "aegan" else True

    scale, center = grid.scale, grid.center
    generator = torch.Generator().manual_seed(3)
    for _ in range(5):
        batch = stacked.sample(8, generator=generator)
        noise = torch.randn(8, 6, generator=generator)
        algo.noise = lambda n, generator=None, z=noise: z
        single.noise = lambda n, generator=None, z=noise[:, 2:4]: z
        out = algo.step(batch)
        single_out = single.step(batch[:, 2:4] * scale + center)
    z = torch.randn(50, 6)
    algo.noise = lambda n, generator=None: z
    single.noise = lambda n, generator=None: z[:, 2:4]
    assert torch.allclose(ensemble.member_samples(algo, stacked, 50)[1], single.sample(50), atol=1e-4)
    codes = algo.encode(stacked.sample(20, generator=torch.Generator().manual_seed(4)))
    assert codes.shape == (20, 6)
    assert set(out) == set(single_out)


def test_joint_refuses_unknown_methods_and_keys():
    with pytest.raises(ValueError, match="expected method 'aegan' or 'bigan'"):
        ensemble.joint("gan", [ag.data.ring()])
    with pytest.raises(ValueError, match=r"unknown keys \['latent_critic'\]"):
        ensemble.joint("bigan", [ag.data.ring()], latent_critic=True)
