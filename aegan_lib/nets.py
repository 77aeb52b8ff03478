"""Network builders sized from the data shape and the latent size.

MLPs for 2D points and 8×8 digits; small strided convnets for 28×28 images (MNIST). Every
discriminator returns raw logits, one per sample (no Sigmoid: the losses take logits). A
decoder/generator for images ends in tanh, matching data scaled to [-1, 1].

Taught in: chapter 1, "The library version" (encoders, decoders); chapter 2 (discriminators).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "OUTPUTS", "mlp", "uses_convnets", "encoder", "decoder", "generator", "discriminator",
    "Rescale", "standardizing", "input_features", "output_features", "has_batchnorm", "device_of",
    "output_range", "count_parameters", "fingerprint"
]


OUTPUTS = ("tanh", "linear", "logits")


def mlp(in_features: int, out_features: int, hidden: Sequence[int] = (256, 256),
        negative_slope: float = 0.2, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers with LeakyReLU between them (and optional dropout); no final activation."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.LeakyReLU(negative_slope)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def _check_shape(data_shape) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in data_shape)
    except (TypeError, ValueError):  # e.g. data_shape=2 instead of (2,)
        raise TypeError(f"expected data_shape as a tuple of ints, (features,) or (channels, height, "
                        f"width), e.g. (2,) or (1, 28, 28); got {data_shape!r}") from None
    if len(shape) not in (1, 3) or min(shape) <= 0:
        raise ValueError(f"expected data_shape (features,) or (channels, height, width); got {data_shape!r}")
    return shape


def _uses_conv(shape: tuple[int, ...]) -> bool:
    # Convolutions pay off from 28×28 up; 8×8 digits and 2D points are faster and just as good with MLPs.
    return len(shape) == 3 and shape[1] >= 16 and shape[1] % 4 == 0 and shape[2] % 4 == 0


def uses_convnets(data_shape) -> bool:
    """Whether the builders here make convnets for this data shape (28×28 and up) or MLPs."""
    return _uses_conv(_check_shape(data_shape))


def _output_layer(output: str) -> list[nn.Module]:
    if output not in OUTPUTS:
        raise ValueError(f"expected output in {OUTPUTS}; got {output!r}")
    return [nn.Tanh()] if output == "tanh" else []


def encoder(data_shape, latent_dim: int, hidden: Sequence[int] = (256, 128)) -> nn.Sequential:
    """Data (N, *data_shape) → codes (N, latent_dim): an MLP, or a convnet for 28×28-sized images."""
    shape = _check_shape(data_shape)
    if latent_dim <= 0:
        raise ValueError(f"expected a positive latent_dim; got {latent_dim}")
    if _uses_conv(shape):
        channels, height, width = shape
        return nn.Sequential(
            nn.Conv2d(channels, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(64 * (height // 4) * (width // 4), latent_dim),
        )
    return nn.Sequential(nn.Flatten(), mlp(math.prod(shape), latent_dim, hidden))


def decoder(latent_dim: int, data_shape, hidden: Sequence[int] = (128, 256),
            output: str | None = None) -> nn.Sequential:
    """Codes (N, latent_dim) → data (N, *data_shape). Also serves as a GAN generator.

    `output` defaults to "tanh" for images (data in [-1, 1]) and "linear" for vectors such as
    2D points; "logits" leaves the pre-activation for a BCE reconstruction loss.
    """
    shape = _check_shape(data_shape)
    if latent_dim <= 0:
        raise ValueError(f"expected a positive latent_dim; got {latent_dim}")
    output = output or ("tanh" if len(shape) == 3 else "linear")
    if _uses_conv(shape):
        channels, height, width = shape
        return nn.Sequential(
            nn.Linear(latent_dim, 64 * (height // 4) * (width // 4)), nn.ReLU(),
            nn.Unflatten(1, (64, height // 4, width // 4)),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 4, stride=2, padding=1),
            *_output_layer(output),
        )
    return nn.Sequential(mlp(latent_dim, math.prod(shape), hidden), nn.Unflatten(1, shape),
                         *_output_layer(output))


def generator(latent_dim: int, data_shape, hidden: Sequence[int] = (128, 256),
              output: str | None = None) -> nn.Sequential:
    """A GAN generator: noise (N, latent_dim) → samples. The same network as `decoder`."""
    return decoder(latent_dim, data_shape, hidden, output)


def discriminator(data_shape, hidden: Sequence[int] = (256, 128), dropout: float = 0.0) -> nn.Sequential:
    """Data (N, *data_shape) → one logit per sample, shaped (N, 1). No Sigmoid: losses take logits."""
    shape = _check_shape(data_shape)
    if _uses_conv(shape):
        channels, height, width = shape
        return nn.Sequential(
            nn.Conv2d(channels, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(64 * (height // 4) * (width // 4), 1),
        )
    return nn.Sequential(nn.Flatten(), mlp(math.prod(shape), 1, hidden, dropout=dropout))


class Rescale(nn.Module):
    """y = x · scale + shift, with fixed (non-trained) scale and shift stored as buffers.

    `make` puts one at the end of a 2D generator (standardised units → data units) and one at
    the start of its discriminator (data units → standardised units), so the nets work on
    standardised numbers while data, samples and metrics stay in the data's own units. As
    buffers, scale and shift move with `.to(device)` and live in the checkpoint.

    Taught in: chapter 3, "Making it sharp" (standardised data).
    """

    def __init__(self, scale, shift=0.0):
        super().__init__()
        scale = torch.as_tensor(scale, dtype=torch.float32)
        if not torch.isfinite(scale).all() or (scale == 0).any():
            raise ValueError(f"expected a finite, non-zero scale; got {scale.tolist()}")
        self.register_buffer("scale", scale)
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"scale={self.scale.tolist()}, shift={self.shift.tolist()}"


def standardizing(net: nn.Module, scale, shift=0.0, role: str = "generator") -> nn.Sequential:
    """Wrap a net so it works in standardised units: z = (x − shift) / scale.

    role="generator": the net's outputs are standardised numbers, mapped back to data units.
    role="discriminator": data-unit inputs are standardised before the net sees them.

    Taught in: chapter 3, "Making it sharp" (standardised data).
    """
    scale = torch.as_tensor(scale, dtype=torch.float32)
    shift = torch.as_tensor(shift, dtype=torch.float32)
    if role == "generator":
        return nn.Sequential(net, Rescale(scale, shift))
    if role == "discriminator":
        return nn.Sequential(Rescale(1.0 / scale, -shift / scale), net)
    raise ValueError(f"expected role 'generator' or 'discriminator'; got {role!r}")


def input_features(net: nn.Module) -> int | None:
    """The input width of a net whose first weight layer is Linear (None when it is not)."""
    for module in net.modules():
        if isinstance(module, nn.Linear):
            return module.in_features
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            return None
    return None


def output_features(net: nn.Module) -> int | None:
    """The output width of a net whose last weight layer is Linear (None when it is not).

    Taught in: chapter 5, "The library's AEGAN" (the encoder's code size is checked up front).
    """
    last = None
    for module in net.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            last = module
    return last.out_features if isinstance(last, nn.Linear) else None


def has_batchnorm(net: nn.Module) -> bool:
    """True when any submodule is a BatchNorm layer (1d, 2d, 3d, lazy or synchronised).

    Taught in: chapter 5, "The library's AEGAN" (no BatchNorm in a latent discriminator).
    """
    return any(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in net.modules())


def device_of(net: nn.Module):
    """The device of a net's parameters (the CPU for a net without any)."""
    parameter = next(net.parameters(), None)
    return parameter.device if parameter is not None else "cpu"


def output_range(net: nn.Module) -> tuple[float, float] | None:
    """The range of a net's outputs when its last module bounds it (Tanh, Sigmoid), else None."""
    last = list(net.modules())[-1]
    if isinstance(last, nn.Tanh):
        return (-1.0, 1.0)
    if isinstance(last, nn.Sigmoid):
        return (0.0, 1.0)
    return None


def count_parameters(*nets: nn.Module) -> int:
    """Total number of trainable parameters."""
    return sum(p.numel() for net in nets for p in net.parameters() if p.requires_grad)


def fingerprint(net: nn.Module) -> dict:
    """What a checkpoint must match to load into `net`: every parameter's and buffer's name and
    shape, and the class of its last module (Tanh, Sigmoid, Linear...), which has no weights but
    decides what the net outputs.

    Taught in: the appendix, "Runs you can trust: fit".
    """
    shapes = {name: list(value.shape) for name, value in net.state_dict().items()}
    reshaping = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Flatten, nn.Unflatten, nn.Identity)
    computing = [module for module in net.modules() if not isinstance(module, reshaping)]
    return {"tensors": shapes, "last_module": type(computing[-1]).__name__ if computing else type(net).__name__}

