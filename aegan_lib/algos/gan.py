"""The GAN: a generator and a discriminator, each with its own optimizer, updated in turn.

Taught in: chapter 2.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import losses, nets
from ..runtime import evaluating
from .base import Algorithm, adam, check_latent_dim, check_same_shape, frozen


class GAN(Algorithm):
    """Goodfellow et al.'s GAN with the non-saturating generator loss (or hinge), on logits.

    Args:
        generator: noise (N, latent_dim) → samples shaped like the data.
        discriminator: samples → one logit each (no Sigmoid).
        latent_dim: size of the noise vector z ~ N(0, I).
        lr_g, lr_d, betas: Adam settings, one optimizer per network.
        loss: "nonsaturating" or "hinge" (see `aegan_lib.losses.ADVERSARIAL_LOSSES`).

    Taught in: chapter 2, "The library's GAN".
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 lr_g: float = 2e-4, lr_d: float = 2e-4, betas=(0.5, 0.999), loss: str = "nonsaturating"):
        super().__init__()
        check_latent_dim(generator, latent_dim, "generator")
        if loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(f"expected loss in {tuple(losses.ADVERSARIAL_LOSSES)}; got {loss!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_loss_fn, self.g_loss_fn = losses.ADVERSARIAL_LOSSES[loss]
        self.opt_g = adam(generator.parameters(), lr=lr_g, betas=betas)
        self.opt_d = adam(discriminator.parameters(), lr=lr_d, betas=betas)
        self.optimizers = {"generator": self.opt_g, "discriminator": self.opt_d}
        self.config = {"latent_dim": latent_dim, "lr_g": lr_g, "lr_d": lr_d,
                       "betas": list(betas), "loss": loss}

    @property
    def data_range(self):
        return nets.output_range(self.generator)

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    def step(self, real: Tensor) -> dict[str, Tensor]:
        fake = self.generator(self.noise(real.shape[0]))
        check_same_shape(fake, real, "the generator's output")

        # Part 1 — train D on real and fake. detach: D's update must not move G.
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake.detach())
        d_loss = self.d_loss_fn(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        # Part 2 — train G through the *updated* D (a fresh forward, never the logits above).
        with frozen(self.discriminator):
            fake_logits_after = self.discriminator(fake)
            g_loss = self.g_loss_fn(fake_logits_after)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()

        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            # D(x) and D(G(z)) as probabilities, before and after D's update (DCGAN tutorial's stats).
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
            "d_fake_after": torch.sigmoid(fake_logits_after.detach()).mean(),
        }

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples from the generator in eval mode; `generator` is a torch.Generator for the noise."""
        with evaluating(self.generator):
            return self.generator(self.noise(n, generator))
