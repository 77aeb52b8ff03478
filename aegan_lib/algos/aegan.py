"""The joint loop: a GAN whose generator is also the decoder of an autoencoder (AE-GAN / AEGAN).

One generator G (noise or code → data), one encoder E (data → code), an image discriminator D,
and optionally a latent discriminator D_z. G and E are trained together on

    adversarial loss + λ·‖x − G(E(x))‖²  [+ latent adversarial loss for E]  [+ μ·‖z − E(G(z))‖²]

so one class spans chapter 5's arms "GAN + recon" → "+ latent critic" → "+ latent recon" (the last
is the full AEGAN of Lazarou 2020).

Taught in: chapter 5.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from .. import losses, nets
from .base import EncoderGenerator, adam, check_code_size, check_codes, check_latent_dim, check_same_shape, frozen


__all__ = ["AEGAN"]


class AEGAN(EncoderGenerator):
    """A GAN and an autoencoder sharing one network: the generator G is the decoder.

    Args:
        encoder: data (N, ...) → codes (N, latent_dim).
        generator: codes/noise (N, latent_dim) → data; also decodes E(x).
        discriminator: data → one logit per sample (no Sigmoid).
        latent_dim: size of the code and of the noise z ~ N(0, I).
        latent_discriminator: codes → one logit per sample. Given: the latent critic is on
            (D_z tells prior samples z from codes E(x); E learns to fool it). None: off. It must
            not contain BatchNorm (batch statistics let it tell the two batches apart trivially
            and stop E's codes from matching the prior).
        reconstruction_weight: λ ≥ 0 in front of ‖x − G(E(x))‖² (0 turns the AE term off).
        latent_reconstruction_weight: μ ≥ 0 in front of ‖z − E(G(z))‖² (0 turns it off).
        adversarial_reconstructions: if True (Lazarou's choice), D also sees reconstructions
            G(E(x)) as fakes and D_z also sees E(G(z)) as fakes, and G/E are trained to fool
            both on them. False: D sees only G(z) and D_z only E(x).
        lr_g: Adam learning rate of G and E (one optimizer: they minimise one loss together).
        lr_d: Adam learning rate of D and D_z (one optimizer each).
        betas: Adam betas for every optimizer.
        loss: "nonsaturating" or "hinge" (see `aegan_lib.losses.ADVERSARIAL_LOSSES`).
        lr_schedule: "constant", "linear" (to 0) or "cosine" (to 0) over the run `fit` is
            asked for (`aegan_lib.train.learning_rate_factor`).

    With λ = 0, no latent critic and μ = 0 this is a plain GAN run through the joint loop's code
    path (the encoder gets no gradient): chapter 5's placebo arm.

    Taught in: chapter 5, "The library's AEGAN".
    """

    def __init__(self, encoder: nn.Module, generator: nn.Module, discriminator: nn.Module,
                 latent_dim: int, latent_discriminator: nn.Module | None = None,
                 reconstruction_weight: float = 1.0, latent_reconstruction_weight: float = 0.0,
                 adversarial_reconstructions: bool = False, lr_g: float = 2e-4, lr_d: float = 2e-4,
                 betas=(0.5, 0.999), loss: str = "nonsaturating", lr_schedule: str = "constant"):
        super().__init__()
        check_latent_dim(generator, latent_dim, "generator")
        check_code_size(encoder, latent_dim)
        for name, weight in (("reconstruction_weight", reconstruction_weight),
                             ("latent_reconstruction_weight", latent_reconstruction_weight)):
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not weight >= 0:
                raise ValueError(f"expected {name} to be a number >= 0 (a loss weight); got {weight!r}")
        if loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(f"expected loss in {tuple(losses.ADVERSARIAL_LOSSES)}; got {loss!r}")
        if latent_discriminator is not None:
            if not isinstance(latent_discriminator, nn.Module):
                raise TypeError("expected latent_discriminator to be an nn.Module or None; "
                                f"got {type(latent_discriminator).__name__}")
            if nets.has_batchnorm(latent_discriminator):
                raise ValueError("the latent discriminator contains BatchNorm; remove it: on codes, batch "
                                 "statistics tell a batch of prior samples from a batch of E(x) without "
                                 "looking at single codes, and the encoder stops learning to match the prior")
            check_latent_dim(latent_discriminator, latent_dim, "latent discriminator")
        self.encoder = encoder
        self.generator = generator
        self.discriminator = discriminator
        self.latent_discriminator = latent_discriminator
        self.latent_dim = latent_dim
        self.reconstruction_weight = float(reconstruction_weight)
        self.latent_reconstruction_weight = float(latent_reconstruction_weight)
        self.adversarial_reconstructions = bool(adversarial_reconstructions)
        self.d_loss_fn, self.g_loss_fn = losses.ADVERSARIAL_LOSSES[loss]

        # G and E minimise one loss together, so they share one optimizer; each critic has its own.
        self.opt_g = adam(list(generator.parameters()) + list(encoder.parameters()), lr=lr_g, betas=betas)
        self.opt_d = adam(discriminator.parameters(), lr=lr_d, betas=betas)
        self.optimizers = {"generator_encoder": self.opt_g, "discriminator": self.opt_d}
        if latent_discriminator is not None:
            self.opt_dz = adam(latent_discriminator.parameters(), lr=lr_d, betas=betas)
            self.optimizers["latent_discriminator"] = self.opt_dz
        self.config = {"latent_dim": latent_dim, "latent_critic": latent_discriminator is not None,
                       "reconstruction_weight": self.reconstruction_weight,
                       "latent_reconstruction_weight": self.latent_reconstruction_weight,
                       "adversarial_reconstructions": self.adversarial_reconstructions,
                       "lr_g": lr_g, "lr_d": lr_d, "betas": list(betas), "loss": loss}
        self.use_lr_schedule(lr_schedule)

    @property
    def critics(self) -> list[nn.Module]:
        """The discriminators (image, then latent when on): frozen during the G/E update."""
        return [net for net in (self.discriminator, self.latent_discriminator) if net is not None]

    def step(self, real: Tensor) -> dict[str, Tensor]:
        # Forward passes every part uses. G and E do not change until Part 3,
        # so these stay valid; the critics do change, so their outputs are
        # recomputed after their updates.
        z = self.noise(real.shape[0])
        fake = self.generator(z)  # G(z): a sample
        code = self.encoder(real)  # E(x): a code
        check_codes(code, self.latent_dim)
        reconstruction = self.generator(code)  # G(E(x)): a reconstruction
        check_same_shape(fake, real, "the generator's output")
        # What each critic is shown as "fake": G(z) and E(x), plus G(E(x))
        # and E(G(z)) in Lazarou's variant.
        with_codes_of_fakes = (self.adversarial_reconstructions
                               and self.latent_discriminator is not None)
        needs_code_of_fake = (with_codes_of_fakes
                              or self.latent_reconstruction_weight > 0)
        # E(G(z)), where a critic or the latent reconstruction needs it
        code_of_fake = self.encoder(fake) if needs_code_of_fake else None
        image_fakes = (torch.cat([fake, reconstruction])
                       if self.adversarial_reconstructions else fake)
        latent_fakes = (torch.cat([code, code_of_fake])
                        if with_codes_of_fakes else code)

        # Part 1 — train the image discriminator D: real x vs fakes G(z)
        # (and G(E(x))). detach: D's update must not move G or E.
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(image_fakes.detach())
        d_loss = self.d_loss_fn(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        stats = {
            "d_loss": d_loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()[:len(real)]).mean(),
        }

        # Part 2 — train the latent discriminator D_z: prior z vs codes E(x)
        # (and E(G(z))).
        if self.latent_discriminator is not None:
            prior_logits = self.latent_discriminator(z)
            code_logits = self.latent_discriminator(latent_fakes.detach())
            dz_loss = self.d_loss_fn(prior_logits, code_logits)
            self.opt_dz.zero_grad(set_to_none=True)
            dz_loss.backward()
            self.opt_dz.step()
            stats["dz_loss"] = dz_loss.detach()

        # Part 3 — train G and E together through the *updated*, frozen
        # critics (fresh forwards).
        with contextlib.ExitStack() as stack:
            for critic in self.critics:
                stack.enter_context(frozen(critic))
            adversarial = self.g_loss_fn(self.discriminator(image_fakes))
            reconstruction_loss = losses.reconstruction_mse(reconstruction, real)
            lam = self.reconstruction_weight  # λ in chapter 5
            g_loss = adversarial + lam * reconstruction_loss
            stats["g_adversarial"] = adversarial.detach()
            stats["reconstruction"] = reconstruction_loss.detach()
            if self.latent_discriminator is not None:
                latent_logits = self.latent_discriminator(latent_fakes)
                latent_adversarial = self.g_loss_fn(latent_logits)
                g_loss = g_loss + latent_adversarial
                stats["latent_adversarial"] = latent_adversarial.detach()
            if self.latent_reconstruction_weight > 0:
                latent_reconstruction_loss = losses.reconstruction_mse(
                    code_of_fake, z
                )
                mu = self.latent_reconstruction_weight  # μ in chapter 5
                g_loss = g_loss + mu * latent_reconstruction_loss
                stats["latent_reconstruction"] = (
                    latent_reconstruction_loss.detach()
                )
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
        stats["g_loss"] = g_loss.detach()
        return stats
