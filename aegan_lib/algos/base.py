"""What every algorithm object shares: its nets as submodules, its optimizers, its config.

An algorithm is an `nn.Module` so that `algo.to(device)` and `algo.state_dict()` cover every
net and buffer it owns; the optimizers live in `self.optimizers` (saved beside it by
`aegan_lib.checkpoint`); `self.config` is a plain dict of the hyperparameters.

Taught in: chapter 1, "The library version".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .. import nets
from ..runtime import evaluating


__all__ = [
    "LR_SCHEDULES", "Algorithm", "Generative", "EncoderGenerator", "adam", "frozen",
    "check_latent_dim", "check_code_size", "check_codes", "check_same_shape"
]


#: Learning-rate schedules `fit` applies over a run (`aegan_lib.train.learning_rate_factor`).
LR_SCHEDULES = ("constant", "linear", "cosine")


class Algorithm(nn.Module):
    """Base class: subclasses build nets and optimizers and write `step(x) -> dict`."""

    #: The batch size `fit` uses when it is not given one (`make` sets a recipe's own).
    batch_size: int = 64
    #: How `fit` scales every optimizer's learning rate over the run (one of LR_SCHEDULES).
    lr_schedule: str = "constant"

    #: Hyperparameters as a plain dict (stored in checkpoints and compared on resume).
    config: dict
    #: Name → optimizer, in the order `step` uses them.
    optimizers: dict[str, torch.optim.Optimizer]

    def step(self, x: Tensor) -> dict[str, Tensor]:
        """One training step on a batch; returns detached scalar tensors (no host sync)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def data_range(self) -> tuple[float, float] | None:
        """The range the training data must lie in (the generator/decoder's output range)."""
        return None

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())

    def use_lr_schedule(self, lr_schedule: str) -> None:
        """Check and set the schedule `fit` applies; a decaying one enters `self.config`.

        Call it after `self.config` is built. The config carries it only when it is not
        "constant", so checkpoints written before schedules existed still resume.
        """
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"expected lr_schedule in {LR_SCHEDULES}; got {lr_schedule!r}")
        self.lr_schedule = lr_schedule
        if lr_schedule != "constant":
            self.config["lr_schedule"] = lr_schedule


class Generative(Algorithm):
    """An algorithm with a generator G: noise z ~ N(0, I) of size `latent_dim` → data.

    Subclasses set `self.generator` and `self.latent_dim`; sampling is shared.
    """

    generator: nn.Module
    latent_dim: int

    @property
    def data_range(self) -> tuple[float, float] | None:
        return nets.output_range(self.generator)

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples G(z), z ~ N(0, I), in eval mode; `generator` is a torch.Generator for the noise."""
        with evaluating(self.generator):
            return self.generator(self.noise(n, generator))


class EncoderGenerator(Generative):
    """A generator with an encoder E: data → codes of size `latent_dim` (AEGAN, BiGAN)."""

    encoder: nn.Module

    def encode(self, x: Tensor) -> Tensor:
        """Codes E(x), in eval mode without gradients."""
        with evaluating(self.encoder):
            return self.encoder(x)

    def decode(self, code: Tensor) -> Tensor:
        """G(code), in eval mode without gradients."""
        with evaluating(self.generator):
            return self.generator(code)

    def reconstruct(self, x: Tensor) -> Tensor:
        """G(E(x)), in eval mode without gradients."""
        return self.decode(self.encode(x))


# Devices whose Adam has a fused kernel in this torch: CUDA always (torch >= 2.0), the CPU from 2.4.
_FUSED_ADAM_DEVICES = {"cuda", "cpu"} if tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 4) else {"cuda"}


def adam(params, lr: float, betas=(0.5, 0.999)) -> torch.optim.Adam:
    """Adam, fused into one kernel per step when the parameters' device has one (CUDA, CPU).

    The fused kernel updates every parameter tensor in one pass instead of ~10 small ops per
    tensor: on the small nets of this book that was about a third of a GAN step on the CPU
    (`bench/bench_gan_loop.py`). It rounds differently from the per-tensor Adam in the last bits,
    so runs are reproducible with the library, not bit-identical to `torch.optim.Adam(...)`.
    """
    params = list(params)
    devices = {p.device.type for p in params}
    fused = bool(params) and devices <= _FUSED_ADAM_DEVICES and all(p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), fused=fused or None)


@contextlib.contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """Stop gradients flowing into `net`'s parameters while another net's loss passes through it.

    The G step backpropagates through D; freezing D there skips computing gradients G's
    optimizer never uses and keeps D's `.grad` free of G's loss.
    """
    params = list(net.parameters())  # collected once: the module tree is walked per call otherwise
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def check_latent_dim(net: nn.Module, latent_dim: int, role: str) -> None:
    """Fail early, with both numbers, when a net's input width is not the latent size."""
    if not isinstance(latent_dim, int) or latent_dim <= 0:
        raise ValueError(f"expected a positive int latent_dim; got {latent_dim!r}")
    expected = nets.input_features(net)
    if expected is not None and expected != latent_dim:
        raise ValueError(f"the {role} takes {expected}-dimensional input but latent_dim={latent_dim}; "
                         "build it with the same latent size")


def check_code_size(encoder: nn.Module, latent_dim: int) -> None:
    """Fail early, with both numbers, when an encoder's code is not the generator's input size."""
    code_size = nets.output_features(encoder)
    if code_size is not None and code_size != latent_dim:
        raise ValueError(f"the encoder outputs {code_size}-dimensional codes but latent_dim={latent_dim}; "
                         "build the encoder with the same latent size as the generator")


def check_codes(codes: Tensor, latent_dim: int | None, what: str = "the encoder outputs") -> None:
    """Fail inside a step, with both numbers, when codes are not (N, latent_dim) (shapes are
    known on the host: no device sync). None means the size is not known up front."""
    if latent_dim is not None and tuple(codes.shape[1:]) != (latent_dim,):
        size = f"{codes.shape[1]}-dimensional codes" if codes.ndim == 2 else f"codes shaped {tuple(codes.shape[1:])}"
        raise ValueError(f"{what} {size} but latent_dim={latent_dim}; build both nets with the same "
                         "latent size (nets.encoder(data_shape, latent_dim), nets.decoder(latent_dim, data_shape))")


def check_same_shape(produced: Tensor, target: Tensor, what: str) -> None:
    """Compare per-sample shapes (known on the host: no device sync)."""
    if produced.shape[1:] != target.shape[1:]:
        raise ValueError(f"{what} has per-sample shape {tuple(produced.shape[1:])} but the data has "
                         f"{tuple(target.shape[1:])}; size the net from the data's shape")
