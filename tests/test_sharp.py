"""Chapter 3's levers ("Making it sharp"): R1, the generator average, learning-rate schedules,
standardised 2D nets and packing — each tied to its formula, and resumable bit for bit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import aegan_lib
from aegan_lib import algos, checkpoint as ckpt, data, losses, metrics, nets
from aegan_lib.algos import make
from aegan_lib.algos.factory import GAN_POINTS_RECIPE
from aegan_lib.algos.gan import pack, update_average
from aegan_lib.train import learning_rate_factor

from test_algos import _capture_gan_step

QUIET = {"progress": False}


# ================================================================= R1


def test_r1_penalty_by_hand():
    # D(x) = Σ x²: ∇ = 2x, so R1 = ½ · mean_i ‖2 xᵢ‖² = 2 · mean_i ‖xᵢ‖².
    x = torch.tensor([[1.0, 2.0], [0.0, -3.0]], requires_grad=True)
    logits = x.pow(2).sum(dim=1, keepdim=True)
    assert losses.r1_penalty(logits, x).item() == pytest.approx(2 * (5 + 9) / 2)
    # A linear D(x) = w·x: ∇ = w for every sample, R1 = ½‖w‖² whatever the batch.
    linear = nn.Linear(2, 1)
    x = torch.randn(7, 2, requires_grad=True)
    assert losses.r1_penalty(linear(x), x).item() == pytest.approx(0.5 * linear.weight.pow(2).sum().item())


def test_r1_penalty_per_logit_with_packing():
    # Two samples packed into one D input: the gradient of one logit covers both samples,
    # and the mean runs over the N/m logits.
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]], requires_grad=True)
    logits = pack(x, 2).pow(2).sum(dim=1, keepdim=True)  # D(u) = ‖u‖² on packed u
    assert losses.r1_penalty(logits, x).item() == pytest.approx(0.5 * (4 * 2 + 4 * 4) / 2)


def test_r1_penalty_needs_a_real_batch_that_tracks_gradients():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="requires_grad_"):
        losses.r1_penalty(x.sum(dim=1, keepdim=True), x)


def test_gan_with_r1_applies_the_gradient_of_d_loss_plus_gamma_r1(make_gan, monkeypatch):
    gamma = 3.0
    gan = make_gan((2,), latent_dim=3, lr_d=0.1, lr_g=0.1, hidden=(32,), r1_weight=gamma)
    real = data.ring().sample(64, generator=torch.Generator().manual_seed(0))
    gan.step(real)
    record = _capture_gan_step(gan, real, monkeypatch)
    (z,) = record["noise"]
    G0, D0 = record["g_before"], record["d_before"]
    x = real.clone().requires_grad_(True)
    real_logits = D0(x)
    d_loss = losses.gan_d_loss(real_logits, D0(G0(z).detach()))
    penalty = losses.r1_penalty(real_logits, x)
    intended = torch.autograd.grad(d_loss + gamma * penalty, list(D0.parameters()))
    torch.testing.assert_close(record["d_grads"], list(intended))
    without = torch.autograd.grad(losses.gan_d_loss(D0(real), D0(G0(z).detach())), list(D0.parameters()))
    assert not all(torch.allclose(a, b) for a, b in zip(record["d_grads"], without)), "R1 had no effect"
    assert record["out"]["r1"].item() == pytest.approx(penalty.item(), rel=1e-5)
    assert record["out"]["d_loss"].item() == pytest.approx(d_loss.item(), rel=1e-6)  # logged without R1


# ================================================================= packing


def test_pack_concatenates_consecutive_samples():
    x = torch.arange(12.0).reshape(6, 2)
    assert pack(x, 3).tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    images = torch.zeros(4, 1, 8, 8)
    assert pack(images, 2).shape == (2, 2, 8, 8)
    with pytest.raises(ValueError, match="multiple of pack=4"):
        pack(x, 4)


def test_packed_gan_scores_m_samples_per_logit(make_gan, monkeypatch):
    gan = make_gan((2,), latent_dim=2, hidden=(16,), pack=2)
    gan.discriminator = nets.discriminator((4,), hidden=(16,))
    gan.opt_d = algos.base.adam(gan.discriminator.parameters(), lr=1e-3)
    gan.optimizers["discriminator"] = gan.opt_d
    seen = []
    gan.discriminator.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    gan.step(torch.randn(8, 2))
    assert seen == [(4, 4), (4, 4), (4, 4)]  # real, fake for D's update, fake for G's


def test_make_builds_packed_discriminators():
    grid = data.grid()
    gan = make("gan", grid, pack=2)
    assert gan.pack == 2 and gan.config["pack"] == 2
    assert nets.input_features(gan.discriminator) == 4
    aegan_lib.fit(gan, grid, steps=2, batch_size=8, **QUIET)


# ================================================================= generator average


def test_update_average_is_the_ema_formula():
    average, current = nn.Linear(2, 1), nn.Linear(2, 1)
    before = [p.detach().clone() for p in average.parameters()]
    update_average(average, current, decay=0.9)
    for new, old, theta in zip(average.parameters(), before, current.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * theta.detach())


def test_gan_with_ema_samples_from_the_average_and_saves_it(make_gan, checkpoint_path):
    gan = make_gan((2,), latent_dim=2, hidden=(16,), ema=0.5)
    assert nets.count_parameters(gan) == nets.count_parameters(gan.generator, gan.discriminator)
    aegan_lib.fit(gan, data.ring(), steps=5, batch_size=16, checkpoint=checkpoint_path, **QUIET)
    z = torch.Generator().manual_seed(0)
    averaged = gan.sample(10, generator=z)
    raw = gan.sample(10, generator=torch.Generator().manual_seed(0), averaged=False)
    assert not torch.allclose(averaged, raw)
    state = ckpt.load(checkpoint_path)["algorithm"]
    assert any(key.startswith("generator_ema.") for key in state)
    with pytest.raises(ValueError, match="decay in \\(0, 1\\)"):
        make_gan((2,), ema=1.0)


# ================================================================= schedules


@pytest.mark.parametrize("schedule, expected", [
    ("constant", [1.0, 1.0, 1.0]),
    ("linear", [1.0, 0.75, 0.25]),
    ("cosine", [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5 * (1 + math.cos(3 * math.pi / 4))]),
])
def test_learning_rate_factor_formulas(schedule, expected):
    assert [learning_rate_factor(schedule, t, 4) for t in (0, 1, 3)] == pytest.approx(expected)


def test_fit_applies_the_schedule_to_every_optimizer(make_gan):
    gan = make_gan((2,), latent_dim=2, hidden=(8,), lr_g=1e-3, lr_d=2e-3, lr_schedule="linear")
    seen = []
    aegan_lib.fit(gan, data.ring(), steps=4, batch_size=8, **QUIET,
                  callback=lambda algo, step: seen.append([g["lr"] for o in algo.optimizers.values()
                                                          for g in o.param_groups]), callback_every=1)
    # After step t+1 the optimizers hold the rate they used for step t: base × (1 − t/4).
    flat = [rate for row in seen for rate in row]
    assert flat == pytest.approx([rate for f in (1.0, 0.75, 0.5, 0.25) for rate in (1e-3 * f, 2e-3 * f)])
    with pytest.raises(ValueError, match="lr_schedule in"):
        make_gan((2,), lr_schedule="step")


class _StopAt(Exception):
    pass


def test_a_sharp_gan_resumes_bit_exactly_mid_schedule(make_gan, checkpoint_path, assert_same):
    """Every lever on (R1, average, packing, linear decay): interrupted at step 10 of 20 and
    resumed into fresh objects equals the uninterrupted run (pitfall 4)."""
    options = {"r1_weight": 0.5, "ema": 0.9, "pack": 2, "lr_schedule": "linear", "hidden": (16,)}

    def build(seed):
        gan = make_gan((2,), latent_dim=2, seed=seed, **options)
        gan.discriminator = nets.discriminator((4,), hidden=(16,))
        gan.opt_d = algos.base.adam(gan.discriminator.parameters(), lr=2e-4)
        gan.optimizers["discriminator"] = gan.opt_d
        return gan

    def interrupt(algo, step):
        if step == 10:
            raise KeyboardInterrupt

    run = {"steps": 20, "batch_size": 16, "seed": 3, "log_every": 5, **QUIET}
    aegan_lib.seed_everything(7)
    whole = build(0)
    whole_history = aegan_lib.fit(whole, data.grid(), **run)
    aegan_lib.seed_everything(7)
    first = build(0)
    with pytest.raises(KeyboardInterrupt):
        aegan_lib.fit(first, data.grid(), checkpoint=checkpoint_path, callback=interrupt, callback_every=1, **run)
    assert ckpt.load(checkpoint_path)["step"] == 10
    resumed = build(99)
    resumed_history = aegan_lib.fit(resumed, data.grid(), checkpoint=checkpoint_path, **run)
    assert resumed_history == whole_history
    assert_same(resumed.state_dict(), whole.state_dict())
    with pytest.raises(ValueError, match="steps"):  # the schedule spans the run: another total is another run
        aegan_lib.fit(build(0), data.grid(), checkpoint=checkpoint_path, **{**run, "steps": 30})


# ================================================================= standardised data


def test_mixtures_know_their_scale():
    assert data.grid().scale == pytest.approx(math.sqrt(8 + 0.05 ** 2))
    assert data.ring().scale == pytest.approx(math.sqrt(0.5 + 0.01 ** 2))
    assert data.grid().center.tolist() == [0.0, 0.0]


def test_standardised_nets_see_unit_scale_and_return_data_units():
    grid = data.grid()
    gan = make("gan", grid)
    rescale_in = gan.discriminator[0]
    assert isinstance(rescale_in, nets.Rescale)
    inside = rescale_in(grid.sample(20000, generator=torch.Generator().manual_seed(0)))
    assert inside.std(dim=0).tolist() == pytest.approx([1.0, 1.0], abs=0.03)
    assert isinstance(gan.generator[-1], nets.Rescale)
    assert gan.generator[-1].scale.tolist() == pytest.approx([grid.scale] * 2)
    unscaled = make("gan", grid, standardize=False)
    assert not isinstance(unscaled.generator[-1], nets.Rescale)


def test_make_converts_gamma_from_standardised_units():
    gan = make("gan", data.grid(), r1_weight=0.1)
    assert gan.r1_weight == pytest.approx(0.1 * data.grid().scale ** 2)  # ∇ in data units is ∇_std / scale
    ring = make("gan", data.ring(), r1_weight=0.1)
    assert ring.r1_weight == pytest.approx(0.1 * data.ring().scale ** 2)


# ================================================================= the recipe


def test_make_gan_on_points_is_the_recipe_the_search_chose():
    path = Path(__file__).resolve().parents[1] / "results" / "sharp_gans" / "recipe.json"
    chosen = json.loads(path.read_text())["gan"]
    for key in ("batch_size", "lr", "lr_schedule", "r1_weight", "ema", "pack"):
        assert GAN_POINTS_RECIPE[key] == chosen[key], key
    assert list(GAN_POINTS_RECIPE["hidden"]) == chosen["hidden"]
    assert list(GAN_POINTS_RECIPE["betas"]) == chosen["betas"]
    gan = make("gan", data.ring())
    assert gan.batch_size == chosen["batch_size"] and gan.lr_schedule == chosen["lr_schedule"]
    widths = [m.out_features for m in gan.generator.modules() if isinstance(m, nn.Linear)]
    assert widths == [*chosen["hidden"], 2]


def test_fit_uses_the_algorithms_batch_size(make_gan):
    gan = make_gan((2,), latent_dim=2, hidden=(8,))
    gan.batch_size = 12
    seen = []
    gan.discriminator.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[0]))
    aegan_lib.fit(gan, data.ring(), steps=1, **QUIET)
    assert seen[0] == 12


def test_mode_coverage_reports_the_high_quality_kl():
    grid = data.grid()
    on_two_modes = grid.means[[0, 0, 0, 1]]
    between = torch.tensor([[1.0, 1.0]] * 4)
    result = metrics.mode_coverage(torch.cat([on_two_modes, between]), grid)
    # HQ histogram: 3 and 1 samples on two of 25 modes.
    expected = 0.75 * math.log(25 * 0.75) + 0.25 * math.log(25 * 0.25)
    assert result["kl_high_quality"] == pytest.approx(expected)
    assert math.isnan(metrics.mode_coverage(between, grid)["kl_high_quality"])


def test_sanity_rows_match_their_formulas():
    grid = data.grid()
    rows = metrics.sanity_scores(grid, seeds=range(4))
    assert rows["real"]["modes"] == 25
    assert rows["real"]["high_quality"] == pytest.approx(metrics.true_sample_quality(), abs=0.01)
    # Blurred by N(0, (3σ)²): each coordinate has variance 10σ², so P(‖ε‖ ≤ 3σ) = 1 − e^(−9/20).
    assert rows["blurred"]["high_quality"] == pytest.approx(1 - math.exp(-0.45), abs=0.02)
    assert rows["blurred"]["modes"] == 25
    # Uniform noise over the box "covers" most modes, almost never within 3σ.
    assert rows["uniform"]["modes"] >= 20 and rows["uniform"]["high_quality"] < 0.05
    # Narrow: each coordinate has standard deviation σ/2, so P(‖ε‖ ≤ 3σ) = 1 − e^(−18): above
    # the real data's own HQ, which is why a generator above the real row is not better.
    assert rows["narrow"]["high_quality"] == pytest.approx(1 - math.exp(-18), abs=1e-4)
    assert rows["narrow"]["high_quality"] > rows["real"]["high_quality"] and rows["narrow"]["modes"] == 25


def test_make_run_settings_reach_every_method_or_are_refused():
    assert make("aegan", data.ring(), batch_size=32).batch_size == 32
    assert make("latent_gan", data.ring(), batch_size=48).batch_size == 48
    assert not isinstance(make("aegan", data.ring(), standardize=False).encoder[0], nets.Rescale)
    with pytest.raises(ValueError, match="standardize applies to vectors"):
        make("aegan", data.digits(), standardize=True)
    with pytest.raises(ValueError, match="positive int batch_size"):
        make("gan", data.ring(), batch_size=0)
