"""aegan_lib.metrics.mode_coverage: the VEEGAN/PacGAN protocol on true, collapsed and empty
samplers."""

from __future__ import annotations

import math

import pytest
import torch

from aegan_lib import data, metrics

MIXTURES = [data.ring, data.grid]


@pytest.mark.parametrize("make", MIXTURES)
def test_true_samples_cover_every_mode(make):
    mixture = make()
    samples = mixture.sample(2500, generator=torch.Generator().manual_seed(0))
    score = metrics.mode_coverage(samples, mixture)
    modes = len(mixture.means)
    assert score["modes"] == modes
    assert score["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # ≈ 0.989
    assert metrics.true_sample_quality() == pytest.approx(0.98889, abs=1e-5)
    assert 0 <= score["kl"] < 0.02  # an even histogram: KL to uniform ≈ (K − 1) / (2n)
    assert len(score["counts"]) == modes and sum(score["counts"]) == 2500


@pytest.mark.parametrize("make", MIXTURES)
def test_collapsed_sampler_covers_one_mode(make):
    mixture = make()
    generator = torch.Generator().manual_seed(1)
    samples = mixture.means[3] + mixture.std * torch.randn(2500, 2, generator=generator)
    score = metrics.mode_coverage(samples, mixture)
    assert score["modes"] == 1
    assert score["high_quality"] == pytest.approx(0.989, abs=0.01)  # high quality, yet collapsed
    assert score["kl"] == pytest.approx(math.log(len(mixture.means)), rel=1e-6)
    assert score["counts"][3] == 2500


@pytest.mark.parametrize("make", MIXTURES)
def test_samples_far_from_every_mode_score_zero(make):
    mixture = make()
    far = torch.full((2500, 2), 10.0)
    score = metrics.mode_coverage(far, mixture)
    assert score["modes"] == 0 and score["high_quality"] == 0.0
    # halfway between neighbouring modes: the midpoint of each adjacent pair
    means = mixture.means
    pairs = torch.cdist(means, means).add(torch.eye(len(means)) * 100).argmin(dim=1)
    halfway = ((means + means[pairs]) / 2).repeat(100, 1)
    score = metrics.mode_coverage(halfway, mixture)
    assert score["modes"] == 0 and score["high_quality"] == 0.0


def test_threshold_is_three_sigma():
    ring = data.ring()
    inside = ring.means[:1] + torch.tensor([[0.0299, 0.0]])  # just within 3σ = 0.03
    outside = ring.means[:1] + torch.tensor([[0.0301, 0.0]])
    assert metrics.mode_coverage(inside, ring)["high_quality"] == 1.0
    assert metrics.mode_coverage(outside, ring)["high_quality"] == 0.0
    assert metrics.mode_coverage(outside, ring, threshold_stds=4.0)["high_quality"] == 1.0


def test_kl_by_hand_on_two_modes():
    ring = data.ring()
    samples = torch.cat([ring.means[0].repeat(3, 1), ring.means[1].repeat(1, 1)])
    # p̂ = (3/4, 1/4, 0, ...): KL = Σ p̂ log(8 p̂)
    expected = 0.75 * math.log(8 * 0.75) + 0.25 * math.log(8 * 0.25)
    score = metrics.mode_coverage(samples, ring)
    assert score["kl"] == pytest.approx(expected, rel=1e-9)
    assert score["modes"] == 2 and score["counts"] == [3, 1, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("bad", [torch.zeros(10, 3), torch.zeros(10), torch.zeros(0, 2), torch.zeros(2, 5, 2)])
def test_wrong_sample_shape_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"expected samples shaped \(n, 2\)"):
        metrics.mode_coverage(bad, data.ring())


def test_non_finite_samples_and_wrong_mixture_are_errors():
    samples = torch.zeros(10, 2)
    samples[4, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        metrics.mode_coverage(samples, data.ring())
    with pytest.raises(TypeError, match="GaussianMixture2D"):
        metrics.mode_coverage(torch.zeros(10, 2), data.ring().means)


def test_accepts_samples_that_need_grad_or_another_dtype():
    ring = data.ring()
    samples = ring.sample(100, generator=torch.Generator().manual_seed(0)).double().requires_grad_()
    assert metrics.mode_coverage(samples, ring)["modes"] >= 7


def test_kl_to_uniform_matches_its_formula():
    counts = torch.tensor([3, 1, 0, 0])
    p = [0.75, 0.25]
    expected = sum(q * math.log(4 * q) for q in p)  # empty bins add nothing
    assert metrics.kl_to_uniform(counts) == pytest.approx(expected)
    assert metrics.kl_to_uniform(torch.tensor([5, 5, 5])) == 0.0
    assert metrics.kl_to_uniform(torch.tensor([0, 7, 0, 0, 0])) == pytest.approx(math.log(5))
