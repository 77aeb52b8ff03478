"""The latent GAN: an autoencoder first, then a GAN whose "data" are the autoencoder's codes.

This is what the seed post's step "use the AE's decoder to decode the generator's output"
only makes sense as: G produces *codes*, and the frozen decoder turns them into images
(Achlioptas et al. 2018, "Learning Representations and Generative Models for 3D Point Clouds").

Taught in: chapter 4.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor, nn

from .. import nets
from ..runtime import evaluating
from .ae import AE
from .base import Algorithm, check_codes, check_latent_dim
from .gan import GAN


__all__ = ["LatentGAN", "CodeMixture"]


class LatentGAN(Algorithm):
    """Phase 1: train an autoencoder. Phase 2: freeze it and train a GAN on its codes.

    Args:
        encoder: data (N, ...) → codes (N, latent_dim).
        decoder: codes → data (ends in tanh for images in [-1, 1]).
        generator: noise (N, noise_dim) → codes (N, latent_dim).
        discriminator: codes → one logit each (an MLP without BatchNorm: it stops latent
            critics training).
        latent_dim, noise_dim: code size and noise size.
        pretrain_steps: the first `pretrain_steps` calls of `step` train the autoencoder;
            every later call is a GAN step on codes.
        lr_ae: Adam learning rate of the autoencoder (`algos.AE`).
        lr_g, lr_d, betas, loss: the code-space GAN's settings (`algos.GAN`).
        lr_schedule: "constant", "linear" (to 0) or "cosine" (to 0) over the whole run `fit` is
            asked for, both phases (`aegan_lib.train.learning_rate_factor`).

    `step` returns the same keys in both phases (`fit` averages them over each logging
    interval): "reconstruction" (the autoencoder's loss) and the GAN's "d_loss", "g_loss", "d_real", "d_fake",
    "d_fake_after". The phase that is not running reports 0 for its keys, so choose a
    `log_every` that divides `pretrain_steps` if you plot them (no logged row then mixes phases).

    Taught in: chapter 4, "The library's LatentGAN".
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, generator: nn.Module,
                 discriminator: nn.Module, latent_dim: int, noise_dim: int, pretrain_steps: int = 2000,
                 lr_ae: float = 1e-3, lr_g: float = 2e-4, lr_d: float = 2e-4, betas=(0.5, 0.999),
                 loss: str = "nonsaturating", lr_schedule: str = "constant"):
        super().__init__()
        check_latent_dim(decoder, latent_dim, "decoder")
        check_latent_dim(discriminator, latent_dim, "discriminator")
        check_latent_dim(generator, noise_dim, "generator")
        if not isinstance(pretrain_steps, int) or pretrain_steps < 0:
            raise ValueError(f"expected a non-negative int pretrain_steps; got {pretrain_steps!r}")
        with evaluating(generator):  # one dry run: G must produce codes, not images
            produced = generator(torch.zeros(2, noise_dim, device=nets.device_of(generator)))
        if tuple(produced.shape[1:]) != (latent_dim,):
            raise ValueError(f"the generator outputs shape {tuple(produced.shape[1:])} per sample but a latent GAN's "
                             f"generator must produce codes of size latent_dim={latent_dim}; build it as "
                             f"nets.generator(noise_dim, (latent_dim,))")
        self.ae = AE(encoder, decoder, lr=lr_ae)
        self.gan = GAN(generator, discriminator, noise_dim, lr_g=lr_g, lr_d=lr_d, betas=betas, loss=loss)
        self.latent_dim, self.noise_dim, self.pretrain_steps = latent_dim, noise_dim, pretrain_steps
        # A Python int (no host sync to read it); saved in state_dict via get_extra_state.
        self.steps_done = 0
        self.optimizers = {"autoencoder": self.ae.opt, "generator": self.gan.opt_g,
                           "discriminator": self.gan.opt_d}
        self.config = {"latent_dim": latent_dim, "noise_dim": noise_dim, "pretrain_steps": pretrain_steps,
                       "lr_ae": lr_ae, "lr_g": lr_g, "lr_d": lr_d, "betas": list(betas), "loss": loss}
        self.use_lr_schedule(lr_schedule)

    # The four nets, by the names the paper uses (they live inside self.ae and self.gan).
    @property
    def encoder(self) -> nn.Module:
        return self.ae.encoder

    @property
    def decoder(self) -> nn.Module:
        return self.ae.decoder

    @property
    def generator(self) -> nn.Module:
        return self.gan.generator

    @property
    def discriminator(self) -> nn.Module:
        return self.gan.discriminator

    @property
    def data_range(self):
        return nets.output_range(self.decoder)

    @property
    def pretraining(self) -> bool:
        """True while `step` still trains the autoencoder."""
        return self.steps_done < self.pretrain_steps

    def step(self, x: Tensor) -> dict[str, Tensor]:
        zero = torch.zeros((), device=x.device)
        if self.pretraining:
            # Phase 1 — train the autoencoder on reconstruction (algos.AE's step: encoder + decoder).
            reconstruction = self.ae.step(x)["reconstruction"]
            gan_stats = dict.fromkeys(("d_loss", "g_loss", "d_real", "d_fake", "d_fake_after"), zero)
        else:
            # Phase 2 — the frozen encoder turns the batch into codes: the GAN's "real data".
            codes = self.ae.encode(x)  # eval mode, no_grad: the autoencoder never moves again
            check_codes(codes, self.latent_dim)
            # Part 1 — train D on real and fake codes; Part 2 — train G (algos.GAN's step).
            gan_stats = self.gan.step(codes)
            reconstruction = zero
        self.steps_done += 1
        return {"reconstruction": reconstruction, **gan_stats}

    def encode(self, x: Tensor) -> Tensor:
        """Codes for x (eval mode, no gradients)."""
        return self.ae.encode(x)

    def decode(self, codes: Tensor) -> Tensor:
        """Data for codes (eval mode, no gradients)."""
        return self.ae.decode(codes)

    def reconstruct(self, x: Tensor) -> Tensor:
        """decode(encode(x)): the ceiling on what decoded samples can look like."""
        return self.ae.reconstruct(x)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples: decoder(G(z)) in eval mode; `generator` is a torch.Generator for the noise.

        Warns while the GAN has not taken a step: `fit` with steps <= pretrain_steps trains only
        the autoencoder, and the samples then come from an untrained generator."""
        if self.steps_done <= self.pretrain_steps:
            warnings.warn(f"this LatentGAN has taken {self.steps_done} steps and pretrains its autoencoder for "
                          f"{self.pretrain_steps}: its GAN is untrained, so these samples are decoded noise. "
                          f"Fit it for more than {self.pretrain_steps} steps in total (or build it with a "
                          "smaller pretrain_steps)", stacklevel=2)
        with evaluating(self):
            return self.decoder(self.gan.generator(self.gan.noise(n, generator)))

    # The phase counter travels with state_dict(), so a resumed run continues in the right phase.
    def get_extra_state(self) -> dict:
        return {"steps_done": self.steps_done}

    def set_extra_state(self, state: dict) -> None:
        self.steps_done = int(state["steps_done"])



class CodeMixture:
    """The latent GAN's obvious rival: a Gaussian mixture fitted to the codes E(x), decoded.

    No GAN at all: scikit-learn's `GaussianMixture` (full covariances) is fitted to the codes
    of the training data, with the number of components chosen by BIC among `components`; a
    sample is the decoder applied to a draw from the mixture. If it scores as well as the latent
    GAN, the GAN in code space is not what makes the samples good.

    Taught in: chapter 4, "A baseline without a GAN".
    """

    def __init__(self, decoder: nn.Module, mixture, bic: dict[int, float]):
        self.decoder, self.mixture, self.bic = decoder, mixture, bic

    @property
    def components(self) -> int:
        return int(self.mixture.n_components)

    @classmethod
    def fit(cls, encoder: nn.Module, decoder: nn.Module, x: Tensor, components=(1, 2, 5, 10, 20),
            seed: int = 0) -> CodeMixture:
        """Encode x (eval mode), fit one mixture per candidate size, keep the lowest BIC."""
        from sklearn.mixture import GaussianMixture

        if not isinstance(x, Tensor) or x.ndim < 2 or len(x) < 2:
            raise ValueError(f"expected training data as a tensor (N, ...) with N ≥ 2; got {getattr(x, 'shape', x)!r}")
        with evaluating(encoder), torch.no_grad():
            codes = encoder(x).double().cpu().numpy()
        candidates = sorted({int(k) for k in components if 1 <= int(k) <= len(codes)})
        if not candidates:
            raise ValueError(f"expected component counts between 1 and {len(codes)}; got {components!r}")
        fitted = {k: GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-5).fit(codes)
                  for k in candidates}
        bic = {k: float(model.bic(codes)) for k, model in fitted.items()}
        return cls(decoder, fitted[min(bic, key=bic.get)], bic)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n decoded draws in random order; seeded from `generator` (reproducible)."""
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator).item()) if generator is not None else None
        self.mixture.random_state = seed
        codes, _ = self.mixture.sample(n)
        # scikit-learn returns the draws grouped by component (all of the first, then all of
        # the second, ...): shuffled, so that any first few samples (a figure's row) are a
        # fair look at the mixture rather than at one component.
        codes = codes[np.random.default_rng(seed).permutation(n)]
        device = nets.device_of(self.decoder)
        with evaluating(self.decoder), torch.no_grad():
            return self.decoder(torch.as_tensor(codes, dtype=torch.float32, device=device))
