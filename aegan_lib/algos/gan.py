"""The GAN: a generator and a discriminator, each with its own optimizer, updated in turn.

Taught in: chapter 2 (the step), chapter 3 (the recipe's levers).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from .. import losses
from ..runtime import evaluating
from .base import Generative, adam, check_latent_dim, check_same_shape, frozen


__all__ = ["pack", "GAN", "update_average"]


def pack(samples: Tensor, m: int) -> Tensor:
    """Concatenate each run of m consecutive samples into one D input (PacGAN, Lin et al. 2018).

    (N, F) → (N/m, m·F) for vectors, (N, C, H, W) → (N/m, m·C, H, W) for images. A packed
    discriminator judges m samples at once, so a generator that repeats itself is easy to spot.

    Taught in: chapter 3, "Making it sharp" (packing).
    """
    if samples.shape[0] % m:
        raise ValueError(f"a batch of {samples.shape[0]} cannot be packed in groups of {m}: "
                         f"use a batch size that is a multiple of pack={m}")
    return samples.reshape(samples.shape[0] // m, m * samples.shape[1], *samples.shape[2:])


class GAN(Generative):
    """Goodfellow et al.'s GAN with the non-saturating generator loss (or hinge), on logits.

    Args:
        generator: noise (N, latent_dim) → samples shaped like the data.
        discriminator: samples → one logit each (no Sigmoid); with `pack=m` it takes m
            samples concatenated (`pack`), e.g. 2·m features for 2D points.
        latent_dim: size of the noise vector z ~ N(0, I).
        lr_g, lr_d, betas: Adam settings, one optimizer per network.
        loss: "nonsaturating" or "hinge" (see `aegan_lib.losses.ADVERSARIAL_LOSSES`).
        r1_weight: γ of the R1 penalty γ·½‖∇ₓD(x)‖² on real data (`losses.r1_penalty`); 0: off.
        ema: decay β of an exponential moving average of G's weights, θ̄ ← βθ̄ + (1 − β)θ after
            every G update; `sample()` then uses the averaged generator. None: off.
        pack: m, the number of samples D scores together (PacGAN); 1 is the plain GAN.
        lr_schedule: "constant", "linear" (to 0) or "cosine" (to 0) over the run `fit` is
            asked for (`aegan_lib.train.learning_rate_factor`).

    Taught in: chapter 2, "The library's GAN"; chapter 3, "Making it sharp".
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 lr_g: float = 2e-4, lr_d: float = 2e-4, betas=(0.5, 0.999), loss: str = "nonsaturating",
                 r1_weight: float = 0.0, ema: float | None = None, pack: int = 1,
                 lr_schedule: str = "constant"):
        super().__init__()
        check_latent_dim(generator, latent_dim, "generator")
        if loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(f"expected loss in {tuple(losses.ADVERSARIAL_LOSSES)}; got {loss!r}")
        if not (isinstance(r1_weight, (int, float)) and r1_weight >= 0):
            raise ValueError(f"expected r1_weight ≥ 0 (0 switches R1 off); got {r1_weight!r}")
        if ema is not None and not (isinstance(ema, float) and 0.0 < ema < 1.0):
            raise ValueError(f"expected ema as a decay in (0, 1), e.g. 0.999, or None; got {ema!r}")
        if not (isinstance(pack, int) and pack >= 1):
            raise ValueError(f"expected pack as an int ≥ 1 (1 = plain GAN); got {pack!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_loss_fn, self.g_loss_fn = losses.ADVERSARIAL_LOSSES[loss]
        self.r1_weight = float(r1_weight)
        self.pack = pack
        self.ema_decay = ema
        # The averaged generator is a frozen copy: a submodule, so it is in the checkpoint, but
        # with requires_grad off, so no optimizer and no parameter count ever sees it.
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if ema is not None else None
        self.opt_g = adam(generator.parameters(), lr=lr_g, betas=betas)
        self.opt_d = adam(discriminator.parameters(), lr=lr_d, betas=betas)
        self.optimizers = {"generator": self.opt_g, "discriminator": self.opt_d}
        self.config = {"latent_dim": latent_dim, "lr_g": lr_g, "lr_d": lr_d,
                       "betas": list(betas), "loss": loss}
        # New options enter the config only when used, so older checkpoints still resume.
        for key, value, off in (("r1_weight", self.r1_weight, 0.0), ("ema", ema, None),
                                ("pack", pack, 1)):
            if value != off:
                self.config[key] = value
        self.use_lr_schedule(lr_schedule)

    def step(self, real: Tensor) -> dict[str, Tensor]:
        fake = self.generator(self.noise(real.shape[0]))
        check_same_shape(fake, real, "the generator's output")
        # R1 differentiates D's logits with respect to the real batch, so it
        # must track gradients.
        real = real.detach().requires_grad_(self.r1_weight > 0)

        # Part 1 — train D on real and fake. detach: D's update must not
        # move G.
        real_logits = self.discriminator(pack(real, self.pack))
        fake_logits = self.discriminator(pack(fake.detach(), self.pack))
        d_loss = self.d_loss_fn(real_logits, fake_logits)
        penalty = None
        d_objective = d_loss
        if self.r1_weight > 0:
            penalty = losses.r1_penalty(real_logits, real)
            d_objective = d_loss + self.r1_weight * penalty
        self.opt_d.zero_grad(set_to_none=True)
        d_objective.backward()
        self.opt_d.step()

        # Part 2 — train G through the *updated* D (a fresh forward, never
        # the logits above).
        with frozen(self.discriminator):
            fake_logits_after = self.discriminator(pack(fake, self.pack))
            g_loss = self.g_loss_fn(fake_logits_after)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()

        # Part 3 — move the averaged generator towards G (no gradient, no
        # host sync).
        if self.generator_ema is not None:
            update_average(self.generator_ema, self.generator, self.ema_decay)

        stats = {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            # D(x) and D(G(z)) as probabilities, before and after D's update
            # (the DCGAN tutorial's statistics).
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
            "d_fake_after": torch.sigmoid(fake_logits_after.detach()).mean(),
        }
        if penalty is not None:
            stats["r1"] = penalty.detach()
        return stats

    def sample(self, n: int, generator: torch.Generator | None = None, averaged: bool = True) -> Tensor:
        """n samples in eval mode; `generator` is a torch.Generator for the noise.

        With `ema` set, the averaged generator draws them unless `averaged=False`.
        """
        net = self.generator_ema if averaged and self.generator_ema is not None else self.generator
        with evaluating(net):
            return net(self.noise(n, generator))


@torch.no_grad()
def update_average(average: nn.Module, current: nn.Module, decay: float) -> None:
    """θ̄ ← decay·θ̄ + (1 − decay)·θ for every parameter; buffers (BatchNorm's statistics) copied.

    Taught in: chapter 3, "Making it sharp" (an average of G's weights).
    """
    averaged = list(average.parameters())
    torch._foreach_lerp_(averaged, [p.detach() for p in current.parameters()], 1.0 - decay)
    for buffer_average, buffer in zip(average.buffers(), current.buffers()):
        buffer_average.copy_(buffer)
