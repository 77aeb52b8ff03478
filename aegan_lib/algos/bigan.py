"""BiGAN / ALI: a generator and an encoder trained against one discriminator of (x, z) pairs.

D sees two kinds of pairs: (x, E(x)) — a real sample with the encoder's code — and (G(z), z) —
a generated sample with the noise that made it. D learns to tell them apart; G and E learn
together to make the two joint distributions the same, which at the optimum makes E the
inverse of G (Donahue et al. 2017, "Adversarial Feature Learning"; Dumoulin et al. 2017,
"Adversarially Learned Inference"). No reconstruction loss appears anywhere: the encoder
learns only through D.

Taught in: chapter 5, "BiGAN/ALI: an encoder without a reconstruction"; chapter 6 measures it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import losses, nets
from .base import EncoderGenerator, adam, check_code_size, check_codes, check_latent_dim, check_same_shape, frozen


__all__ = ["JointDiscriminator", "BiGAN"]


class JointDiscriminator(nn.Module):
    """D(x, z) → one logit: features of x (flattened, or a convnet's), concatenated with z, then an MLP.

    Taught in: chapter 5, "BiGAN/ALI: an encoder without a reconstruction".
    """

    def __init__(self, data_shape, latent_dim: int, hidden=(256, 256)):
        super().__init__()
        shape = tuple(int(s) for s in data_shape)
        if nets.uses_convnets(shape):
            channels, height, width = shape
            self.data_features = nn.Sequential(
                nn.Conv2d(channels, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten())
            width_x = 64 * (height // 4) * (width // 4)
        else:
            self.data_features = nn.Flatten()
            width_x = 1
            for size in shape:
                width_x *= size
        self.latent_dim = latent_dim
        self.head = nets.mlp(width_x + latent_dim, 1, hidden)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        check_codes(z, self.latent_dim, what="the joint discriminator was given")
        return self.head(torch.cat([self.data_features(x), z], dim=1))


class BiGAN(EncoderGenerator):
    """BiGAN / ALI on logits: D judges (x, E(x)) against (G(z), z); G and E learn to fool it.

    Args:
        encoder: data (N, ...) → codes (N, latent_dim).
        generator: noise (N, latent_dim) → data.
        discriminator: a `JointDiscriminator` (or any module called as D(x, z) → (N, 1) logits).
        latent_dim: size of the code and of the noise z ~ N(0, I).
        lr_g: Adam learning rate of G and of E (one optimizer each).
        lr_d: Adam learning rate of D.
        betas: Adam betas for every optimizer.
        loss: "nonsaturating" or "hinge" (see `aegan_lib.losses.ADVERSARIAL_LOSSES`).
        lr_schedule: "constant", "linear" (to 0) or "cosine" (to 0) over the run `fit` is
            asked for (`aegan_lib.train.learning_rate_factor`).

    Taught in: chapter 5, "BiGAN/ALI: an encoder without a reconstruction".
    """

    def __init__(self, encoder: nn.Module, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 lr_g: float = 2e-4, lr_d: float = 2e-4, betas=(0.5, 0.999), loss: str = "nonsaturating",
                 lr_schedule: str = "constant"):
        super().__init__()
        check_latent_dim(generator, latent_dim, "generator")
        check_code_size(encoder, latent_dim)
        if loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(f"expected loss in {tuple(losses.ADVERSARIAL_LOSSES)}; got {loss!r}")
        self.encoder, self.generator, self.discriminator = encoder, generator, discriminator
        self.latent_dim = latent_dim
        self.d_loss_fn, _ = losses.ADVERSARIAL_LOSSES[loss]
        self.opt_e = adam(encoder.parameters(), lr=lr_g, betas=betas)
        self.opt_g = adam(generator.parameters(), lr=lr_g, betas=betas)
        self.opt_d = adam(discriminator.parameters(), lr=lr_d, betas=betas)
        self.optimizers = {"encoder": self.opt_e, "generator": self.opt_g, "discriminator": self.opt_d}
        self.config = {"latent_dim": latent_dim, "lr_g": lr_g, "lr_d": lr_d, "betas": list(betas), "loss": loss}
        self.use_lr_schedule(lr_schedule)

    def step(self, real: Tensor) -> dict[str, Tensor]:
        z = self.noise(real.shape[0])
        fake = self.generator(z)
        check_same_shape(fake, real, "the generator's output")
        code = self.encoder(real)

        # Part 1 — train D: (x, E(x)) is "real", (G(z), z) is "fake". detach: D's update must
        # move neither G nor E.
        real_pair_logits = self.discriminator(real, code.detach())
        fake_pair_logits = self.discriminator(fake.detach(), z)
        d_loss = self.d_loss_fn(real_pair_logits, fake_pair_logits)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        # Part 2 — train G and E together through the *updated* D, labels swapped: G wants its
        # pairs called real, E wants the data's pairs called fake. One loss, two optimizers.
        with frozen(self.discriminator):
            real_pair_after = self.discriminator(real, code)
            fake_pair_after = self.discriminator(fake, z)
            ge_loss = self.d_loss_fn(fake_pair_after, real_pair_after)
            self.opt_g.zero_grad(set_to_none=True)
            self.opt_e.zero_grad(set_to_none=True)
            ge_loss.backward()
            self.opt_g.step()
            self.opt_e.step()

        return {
            "d_loss": d_loss.detach(),
            "ge_loss": ge_loss.detach(),
            # D's probability that a pair is (x, E(x)), before its update, for each kind of pair.
            "d_real_pair": torch.sigmoid(real_pair_logits.detach()).mean(),
            "d_fake_pair": torch.sigmoid(fake_pair_logits.detach()).mean(),
        }
