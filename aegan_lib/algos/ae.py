"""The autoencoder: encoder → bottleneck code → decoder, trained on one reconstruction loss.

Taught in: chapter 1.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import losses, nets
from ..runtime import evaluating
from .base import Algorithm, adam, check_codes, check_same_shape

__all__ = ["RECONSTRUCTIONS", "AE"]


RECONSTRUCTIONS = ("mse", "bce")


class AE(Algorithm):
    """An autoencoder with one optimizer over encoder and decoder together.

    Args:
        encoder: data (N, ...) → codes (N, latent_dim).
        decoder: codes → data. With `reconstruction="mse"` it ends in tanh (data in [-1, 1]);
            with `"bce"` it returns logits (build it with `output="logits"`).
        lr, betas: Adam's learning rate and betas (named as in every algorithm).
        reconstruction: "mse" or "bce" (see `aegan_lib.losses`).
        noise_std: > 0 makes it a denoising autoencoder: the encoder sees x + noise_std·ε,
            the loss compares the output with the clean x.

    Taught in: chapter 1, "The library version" and "Denoising".
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, lr: float = 1e-3,
                 reconstruction: str = "mse", noise_std: float = 0.0, betas=(0.9, 0.999)):
        super().__init__()
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"expected reconstruction in {RECONSTRUCTIONS}; got {reconstruction!r}")
        if noise_std < 0:
            raise ValueError(f"expected noise_std >= 0; got {noise_std}")
        if lr <= 0:
            raise ValueError(f"expected a positive learning rate; got {lr}")
        self.encoder = encoder
        self.decoder = decoder
        latent_dim = nets.input_features(decoder)
        if reconstruction == "bce" and nets.output_range(decoder) is not None:
            raise ValueError("a BCE reconstruction needs a decoder that returns logits; "
                             "build it with nets.decoder(..., output='logits')")
        self.reconstruction = reconstruction
        self.noise_std = float(noise_std)
        self.opt = adam(list(encoder.parameters()) + list(decoder.parameters()), lr=lr, betas=betas)
        self.optimizers = {"autoencoder": self.opt}
        self.config = {"lr": lr, "betas": list(betas), "reconstruction": reconstruction,
                       "noise_std": float(noise_std), "latent_dim": latent_dim}

    @property
    def data_range(self):
        return (-1.0, 1.0) if self.reconstruction == "bce" else nets.output_range(self.decoder)

    def reconstruction_loss(self, decoded: Tensor, target: Tensor) -> Tensor:
        check_same_shape(decoded, target, "the decoder's output")
        if self.reconstruction == "bce":
            return losses.reconstruction_bce(decoded, target)
        return losses.reconstruction_mse(decoded, target)

    def step(self, x: Tensor) -> dict[str, Tensor]:
        corrupted = x + self.noise_std * torch.randn_like(x) if self.noise_std > 0 else x
        self.opt.zero_grad(set_to_none=True)
        code = self.encoder(corrupted)
        check_codes(code, self.config["latent_dim"])
        loss = self.reconstruction_loss(self.decoder(code), x)
        loss.backward()
        self.opt.step()
        return {"reconstruction": loss.detach()}

    def encode(self, x: Tensor) -> Tensor:
        """Codes for x, in eval mode without gradients."""
        with evaluating(self):
            return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Data for codes z (always in the data's range, also for a BCE decoder)."""
        with evaluating(self):
            decoded = self.decoder(z)
            return torch.tanh(decoded / 2) if self.reconstruction == "bce" else decoded

    def reconstruct(self, x: Tensor) -> Tensor:
        """decode(encode(x))."""
        return self.decode(self.encode(x))
