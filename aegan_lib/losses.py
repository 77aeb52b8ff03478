"""Losses as pure functions. Adversarial losses take discriminator logits, never probabilities.

`softplus(-a) = -log σ(a)` and `softplus(a) = -log(1 - σ(a))`, computed without ever forming
σ(a), so they stay finite for logits of ±100 and run under `torch.autocast`.

Taught in: chapter 1 (reconstruction), chapter 2 (adversarial losses).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


__all__ = [
    "reconstruction_mse", "reconstruction_bce", "gan_d_loss", "gan_g_loss", "gan_g_loss_saturating",
    "hinge_d_loss", "hinge_g_loss", "r1_penalty", "ADVERSARIAL_LOSSES"
]


def _same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: expected matching shapes; got {tuple(a.shape)} and {tuple(b.shape)}")


def reconstruction_mse(reconstruction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error (1 / (N·D)) Σᵢ ‖xᵢ − x̂ᵢ‖², averaged over every element.

    Taught in: chapter 1, "One reconstruction loss".
    """
    _same_shape(reconstruction, target, "reconstruction_mse")
    return (reconstruction - target).pow(2).mean()


def reconstruction_bce(logits: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy for data in [-1, 1], from the decoder's logits a.

    Pixels are read as probabilities t = (x + 1) / 2 and the decoder predicts p = σ(a):
    −(1 / (N·D)) Σ [t log p + (1 − t) log(1 − p)]. The image the decoder stands for is
    2σ(a) − 1 = tanh(a / 2).

    Taught in: chapter 1, "One reconstruction loss".
    """
    _same_shape(logits, target, "reconstruction_bce")
    return F.binary_cross_entropy_with_logits(logits, (target + 1) / 2)


def gan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's loss −E[log D(x)] − E[log(1 − D(G(z)))], on logits.

    Taught in: chapter 2, "Part 1 — train D".
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_g_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss −E[log D(G(z))], on logits.

    Taught in: chapter 2, "Part 2 — train G".
    """
    return F.softplus(-fake_logits).mean()


def gan_g_loss_saturating(fake_logits: Tensor) -> Tensor:
    """The minimax generator loss E[log(1 − D(G(z)))]: its gradient vanishes when D wins.

    Shown in chapter 2 to explain why the non-saturating loss is used instead.
    """
    return -F.softplus(fake_logits).mean()


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge discriminator loss E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017).

    Taught in: chapter 3, exercise 1 (the hinge loss on the grid).
    """
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_g_loss(fake_logits: Tensor) -> Tensor:
    """Hinge generator loss −E[D(G(z))]."""
    return -fake_logits.mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 = ½ · (1/N) Σᵢ ‖∇ₓ D(xᵢ)‖²: the squared gradient of D's logits at real data.

    Mescheder et al. (2018) add γ·R1 to D's loss: it stops D from growing steep walls around
    the real data, which is what otherwise makes it oscillate and drop modes. `real` must
    require grad and `real_logits` must come from it; N is the number of logits, so with
    packing (one logit per m samples) or an ensemble it is still the average per D input.
    The graph is kept (create_graph) so that D's update differentiates through the penalty.

    Taught in: chapter 3, "Making it sharp".
    """
    if not real.requires_grad:
        raise ValueError("r1_penalty needs the gradient with respect to the real batch: call "
                         "real.requires_grad_(True) before the discriminator's forward pass")
    (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return 0.5 * gradient.pow(2).sum() / real_logits.numel()


# name → (discriminator loss, generator loss); GAN(loss=...) picks a pair from here.
ADVERSARIAL_LOSSES = {
    "nonsaturating": (gan_d_loss, gan_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
}
