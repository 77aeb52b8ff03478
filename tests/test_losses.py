"""aegan_lib.losses: each loss equals its formula on hand-computed numbers, stays finite, runs
under autocast, and refuses mismatched shapes."""

from __future__ import annotations

import math

import pytest
import torch

from aegan_lib import losses

REAL = [0.0, 2.0, -1.0]
FAKE = [1.0, -3.0]


def t(values):
    return torch.tensor(values, dtype=torch.float64)


def sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_reconstruction_mse_by_hand():
    reconstruction = t([[1.0, 1.0], [3.0, 3.0]])
    target = t([[1.0, 2.0], [3.0, -1.0]])
    # squared errors 0, 1, 0, 16 over 4 elements
    assert losses.reconstruction_mse(reconstruction, target).item() == pytest.approx(17 / 4)


def test_reconstruction_bce_by_hand():
    logits = [0.0, 2.0, -1.0]
    target = [-1.0, 0.0, 1.0]  # pixels in [-1, 1] → probabilities 0, 0.5, 1
    probs = [(x + 1) / 2 for x in target]
    expected = mean(-(p * math.log(sigmoid(a)) + (1 - p) * math.log(1 - sigmoid(a)))
                    for a, p in zip(logits, probs))
    assert losses.reconstruction_bce(t(logits), t(target)).item() == pytest.approx(expected, rel=1e-12)


def test_gan_d_loss_by_hand():
    # −E[log D(x)] − E[log(1 − D(G(z)))], D = σ(logit)
    expected = mean(-math.log(sigmoid(r)) for r in REAL) + mean(-math.log(1 - sigmoid(f)) for f in FAKE)
    assert losses.gan_d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected, rel=1e-12)


def test_gan_g_losses_by_hand():
    assert losses.gan_g_loss(t(REAL)).item() == pytest.approx(mean(-math.log(sigmoid(f)) for f in REAL), rel=1e-12)
    saturating = mean(math.log(1 - sigmoid(f)) for f in REAL)  # E[log(1 − D(G(z)))], minimised by G
    assert losses.gan_g_loss_saturating(t(REAL)).item() == pytest.approx(saturating, rel=1e-12)


def test_hinge_losses_by_hand():
    # E[max(0, 1 − r)] = mean(1, 0, 2) = 1;  E[max(0, 1 + f)] = mean(2, 0) = 1
    assert losses.hinge_d_loss(t(REAL), t(FAKE)).item() == pytest.approx(2.0)
    assert losses.hinge_g_loss(t(REAL)).item() == pytest.approx(-1 / 3)  # −E[D(G(z))]


def test_adversarial_losses_registry_maps_each_name_to_its_formulas():
    """What a GAN built with loss="hinge" or "nonsaturating" computes, checked by value."""
    assert set(losses.ADVERSARIAL_LOSSES) == {"nonsaturating", "hinge"}
    d_loss, g_loss = losses.ADVERSARIAL_LOSSES["hinge"]
    assert d_loss(t(REAL), t(FAKE)).item() == pytest.approx(2.0)
    assert g_loss(t(REAL)).item() == pytest.approx(-1 / 3)
    d_loss, g_loss = losses.ADVERSARIAL_LOSSES["nonsaturating"]
    expected_d = mean(-math.log(sigmoid(r)) for r in REAL) + mean(-math.log(1 - sigmoid(f)) for f in FAKE)
    assert d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert g_loss(t(REAL)).item() == pytest.approx(mean(-math.log(sigmoid(f)) for f in REAL), rel=1e-12)


def _all_losses(real, fake, target):
    return {
        "gan_d_loss": losses.gan_d_loss(real, fake),
        "gan_g_loss": losses.gan_g_loss(fake),
        "gan_g_loss_saturating": losses.gan_g_loss_saturating(fake),
        "hinge_d_loss": losses.hinge_d_loss(real, fake),
        "hinge_g_loss": losses.hinge_g_loss(fake),
        "reconstruction_bce": losses.reconstruction_bce(real, target),
        "reconstruction_mse": losses.reconstruction_mse(real, target),
    }


def test_finite_for_extreme_logits_with_finite_gradients():
    real = torch.tensor([100.0, -100.0, 100.0, -100.0], requires_grad=True)
    fake = torch.tensor([100.0, -100.0, -100.0, 100.0], requires_grad=True)
    target = torch.tensor([1.0, -1.0, -1.0, 1.0])
    values = _all_losses(real, fake, target)
    for name, value in values.items():
        assert torch.isfinite(value), name
        grads = torch.autograd.grad(value, [real, fake], allow_unused=True)
        assert all(g is None or torch.isfinite(g).all() for g in grads), name
    # The nonsaturating D loss with confidently wrong logits is ~100 per term, not inf.
    assert values["gan_d_loss"].item() == pytest.approx(100.0, rel=1e-3)


def test_runs_under_cpu_bf16_autocast():
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 1)
    x = torch.randn(8, 4)
    target = torch.rand(8, 1) * 2 - 1
    reference = _all_losses(layer(x), layer(x.flip(0)), target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        real, fake = layer(x), layer(x.flip(0))
        assert real.dtype == torch.bfloat16  # autocast is really on
        values = _all_losses(real, fake, target.to(torch.bfloat16))
    for name, value in values.items():
        assert torch.isfinite(value), name
        assert value.float().item() == pytest.approx(reference[name].item(), abs=0.05), name
        grad, = torch.autograd.grad(value.float(), layer.weight, retain_graph=True)  # and backpropagates
        assert torch.isfinite(grad).all(), name


@pytest.mark.parametrize("loss", [losses.reconstruction_mse, losses.reconstruction_bce])
def test_reconstruction_shape_mismatch_is_an_error(loss):
    with pytest.raises(ValueError, match=r"matching shapes; got \(4, 2\) and \(4, 1, 2\)"):
        loss(torch.zeros(4, 2), torch.zeros(4, 1, 2))
