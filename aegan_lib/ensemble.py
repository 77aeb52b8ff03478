"""Many seeds as one model: the 2D GAN of `make("gan")` trained for S seeds in one `fit`.

On a GPU the book's 2D nets are tiny: a step is a few hundred kernel launches that each take
microseconds, so one run leaves the GPU idle and ten runs in turn cost ten times one. Here
every layer holds S independent members (a leading member dimension, one batched matmul for
all of them), and the usual `GAN` and `fit` train all S at once.

Layout: a batch of the stacked data is (n, S·2) — member j's n points sit in columns 2j,
2j + 1 — so `GAN.step`, `pack`, `fit` and the checkpoints work unchanged. The nets work in
standardised units (each member's data divided by its mixture's `scale`), which is what
`make("gan")`'s nets do inside their `nets.Rescale` layers; `member_samples` returns data units.

Members may differ in R1's γ: member j's data is drawn in units c_j = √(Γ/γ_j) (its nets
undo c_j with fixed `nets.Rescale` layers, so they see exactly what a standardised run sees),
and one penalty weight Γ = max γ_j then acts as γ_j on member j, because a gradient in units
c_j is the standardised gradient divided by c_j. So a whole γ sweep is one model.

Why a member trains like a single run: the members share no parameter, Adam is elementwise,
and every loss is a mean over all S members, i.e. 1/S times the sum of the members' own losses.
Scaling a gradient by 1/S leaves Adam's update unchanged except through ε, so the ensemble's
Adam uses ε/S. `tests/test_ensemble.py` checks a member step against a single run's step.

Taught in: chapter 3, "Making it sharp" (many seeds at once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .algos.aegan import AEGAN
from .algos.bigan import BiGAN
from .algos.factory import GAN_POINTS_RECIPE
from .algos.gan import GAN
from .data import GaussianMixture2D
from .nets import Rescale


__all__ = [
    "EnsembleLinear", "EnsembleBatchNorm", "Maxout", "ToMembers", "FromMembers", "ensemble_mlp",
    "StackedMixtures", "gan", "EnsembleJointDiscriminator", "JOINT_SWITCHES", "joint",
    "member_samples"
]


class EnsembleLinear(nn.Module):
    """S independent linear layers: (S, n, in) → (S, n, out), one batched matmul.

    Each member is initialised like `nn.Linear` (weights and biases uniform in ±1/√in).
    """

    def __init__(self, members: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if self.bias is None:
            return torch.bmm(x, self.weight)
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        members, in_features, out_features = self.weight.shape
        return f"members={members}, in_features={in_features}, out_features={out_features}"


class EnsembleBatchNorm(nn.Module):
    """BatchNorm1d per member and feature, over each member's own batch: (S, n, F) → (S, n, F)."""

    def __init__(self, members: int, features: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(members * features)

    def forward(self, x: Tensor) -> Tensor:
        members, n, features = x.shape
        flat = x.transpose(0, 1).reshape(n, members * features)
        return self.norm(flat).reshape(n, members, features).transpose(0, 1)


class Maxout(nn.Module):
    """The maximum over `pieces` groups of features: (..., F·pieces) → (..., F)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (-1, self.pieces)).amax(dim=-1)


class ToMembers(nn.Module):
    """(n, m·S·F) stacked rows → (S, n, m·F): each member's columns, `pack` samples side by side."""

    def __init__(self, members: int, pack: int = 1):
        super().__init__()
        self.members, self.pack = members, pack

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        return x.reshape(n, self.pack, self.members, -1).permute(2, 0, 1, 3).reshape(self.members, n, -1)


class FromMembers(nn.Module):
    """(S, n, F) → (n, S·F): back to stacked rows."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(0, 1).reshape(x.shape[1], -1)


def ensemble_mlp(members: int, in_features: int, out_features: int, hidden: Sequence[int],
                 pack: int = 1, negative_slope: float = 0.2) -> nn.Sequential:
    """The MLP of `nets.mlp` (LeakyReLU between Linear layers), S members at once, on stacked rows."""
    layers: list[nn.Module] = [ToMembers(members, pack)]
    width = in_features * pack
    for size in hidden:
        layers += [EnsembleLinear(members, width, size), nn.LeakyReLU(negative_slope)]
        width = size
    layers += [EnsembleLinear(members, width, out_features), FromMembers()]
    return nn.Sequential(*layers)


class StackedMixtures(GaussianMixture2D):
    """S 2D mixtures sampled side by side, standardised: a batch is (n, S·2).

    Member j draws from mixture j divided by its scale (mean 0, standard deviation 1 per
    coordinate), times its `units` (1 unless members differ in γ, see `gan`); with
    `standardize=False` it draws in the mixtures' own units. All members' draws come from one
    random stream, so they are independent.
    """

    def __init__(self, mixtures: Sequence[GaussianMixture2D], device=None, units=None,
                 standardize: bool = True):
        if not mixtures or not all(isinstance(m, GaussianMixture2D) for m in mixtures):
            raise TypeError("expected a non-empty list of 2D mixtures (data.ring(), data.grid())")
        device = device if device is not None else mixtures[0].device
        units = [1.0] * len(mixtures) if units is None else [float(u) for u in units]
        if len(units) != len(mixtures) or min(units) <= 0:
            raise ValueError(f"expected one positive unit per mixture; got {units}")
        self.units = units
        self.standardize = standardize
        super().__init__("stacked", mixtures[0].means, mixtures[0].std, device=device)
        self.mixtures = [m.to(device) for m in mixtures]
        sizes = [len(m.means) for m in self.mixtures]
        padded = torch.zeros(len(mixtures), max(sizes), 2, device=device)
        shifts = [m.center if standardize else torch.zeros(2, device=device) for m in self.mixtures]
        scales = [m.scale if standardize else 1.0 for m in self.mixtures]
        for j, m in enumerate(self.mixtures):
            padded[j, :sizes[j]] = (m.means - shifts[j]) / scales[j]
        self.member_means = padded
        self.member_sizes = torch.tensor(sizes, device=device, dtype=torch.float32)
        self.member_stds = torch.tensor([m.std / s for m, s in zip(self.mixtures, scales)], device=device)
        self.member_units = torch.tensor(units, device=device)
        self.name = "stacked(" + ",".join(m.name for m in self.mixtures) + ")"

    @property
    def members(self) -> int:
        return len(self.mixtures)

    @property
    def shape(self) -> tuple[int, ...]:
        return (2 * self.members,)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"expected a positive int n; got {n!r}")
        uniform = torch.rand(n, self.members, generator=generator, device=self.device)
        modes = (uniform * self.member_sizes).long()  # each member's mode, uniform over its K
        means = self.member_means[torch.arange(self.members, device=self.device), modes]  # (n, S, 2)
        noise = torch.randn(n, self.members, 2, generator=generator, device=self.device)
        standardised = means + self.member_stds[:, None] * noise
        return (standardised * self.member_units[:, None]).reshape(n, -1)

    def to(self, device) -> StackedMixtures:
        return StackedMixtures(self.mixtures, device=device, units=self.units, standardize=self.standardize)

    def __repr__(self) -> str:
        return f"StackedMixtures({[m.name for m in self.mixtures]})"


def gan(mixtures: Sequence[GaussianMixture2D], **overrides) -> tuple[GAN, StackedMixtures]:
    """One `GAN` whose S members are `make("gan", mixtures[j], **overrides)`, and its data.

    `overrides` are the recipe's keys (`GAN_POINTS_RECIPE`: hidden, lr, betas, lr_schedule,
    r1_weight (γ, standardised units; a list gives one γ per member, all > 0), ema, pack,
    batch_size). Seed first with
    `seed_everything`: members get different initial weights from one stream, like S runs
    with different seeds. Train with `fit(algo, data, steps)`; read samples with
    `member_samples`.

    Taught in: chapter 3, "Making it sharp" (many seeds at once).
    """
    recipe = dict(GAN_POINTS_RECIPE)
    unknown = sorted(set(overrides) - set(recipe))
    if unknown:
        raise ValueError(f"unknown recipe keys {unknown}; expected some of {sorted(recipe)}")
    recipe.update(overrides)
    if not recipe["standardize"]:
        raise ValueError("ensemble.gan always trains standardised members (as make('gan') does by default); "
                         "standardize=False is not supported here")
    gammas = recipe["r1_weight"]
    if isinstance(gammas, (list, tuple)):
        if len(gammas) != len(mixtures) or min(gammas) <= 0:
            raise ValueError(f"expected one γ > 0 per member ({len(mixtures)}); got {list(gammas)}. "
                             "Train γ = 0 members in an ensemble of their own.")
        r1_weight = max(gammas)
        units = [math.sqrt(r1_weight / gamma) for gamma in gammas]
    else:
        r1_weight, units = float(gammas), None
    stacked = StackedMixtures(mixtures, units=units)
    members, pack, latent_dim = stacked.members, recipe["pack"], 2
    unit = torch.tensor(stacked.units).repeat_interleave(2)  # per column of a stacked batch
    generator = nn.Sequential(ensemble_mlp(members, latent_dim, 2, recipe["hidden"]), Rescale(unit))
    discriminator = nn.Sequential(Rescale(1.0 / unit.repeat(pack)),
                                  ensemble_mlp(members, 2, 1, recipe["hidden"], pack=pack))
    algo = GAN(generator, discriminator, latent_dim * members, lr_g=recipe["lr"], lr_d=recipe["lr"],
               betas=recipe["betas"], r1_weight=r1_weight, ema=recipe["ema"], pack=pack,
               lr_schedule=recipe["lr_schedule"]).to(stacked.device)
    for optimizer in algo.optimizers.values():
        for group in optimizer.param_groups:
            group["eps"] /= members  # each loss is 1/S × the sum of the members' losses
    algo.batch_size = recipe["batch_size"]
    return algo, stacked


class EnsembleJointDiscriminator(nn.Module):
    """BiGAN's D(x, z) for S members: member j scores its own (x_j, z_j) pair → (n, S) logits."""

    def __init__(self, members: int, data_features: int, latent_dim: int, hidden: Sequence[int],
                 negative_slope: float = 0.2):
        super().__init__()
        self.members, self.data_features, self.latent_dim = members, data_features, latent_dim
        layers: list[nn.Module] = []
        width = data_features + latent_dim
        for size in hidden:
            layers += [EnsembleLinear(members, width, size), nn.LeakyReLU(negative_slope)]
            width = size
        layers += [EnsembleLinear(members, width, 1), FromMembers()]
        self.head = nn.Sequential(*layers)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        n = x.shape[0]
        pairs = torch.cat([x.reshape(n, self.members, -1), z.reshape(n, self.members, -1)], dim=2)
        return self.head(pairs.transpose(0, 1))


#: The make() arguments `joint` accepts besides the recipe's keys (the AEGAN family's switches).
JOINT_SWITCHES = ("latent_critic", "reconstruction_weight", "latent_reconstruction_weight",
                  "adversarial_reconstructions")


def joint(method: str, mixtures: Sequence[GaussianMixture2D], **overrides):
    """One AEGAN or BiGAN whose S members are `make(method, mixtures[j], **overrides)`, and its data.

    `overrides`: the recipe's keys (hidden, lr, betas, lr_schedule, batch_size) and, for
    "aegan", `latent_critic` (True/False), `reconstruction_weight` λ (standardised units, as in
    make), `latent_reconstruction_weight` μ and `adversarial_reconstructions`. The members work
    in standardised units, so λ needs no conversion here; every loss is a mean over members, so
    each optimizer's ε is divided by S (see the module docstring). `tests/test_ensemble.py`
    checks that a member takes a single run's steps.

    Taught in: chapter 6, "The protocol" (how the comparison can run on a GPU).
    """
    if method not in ("aegan", "bigan"):
        raise ValueError(f"expected method 'aegan' or 'bigan'; got {method!r} (for 'gan' use ensemble.gan)")
    recipe = {key: GAN_POINTS_RECIPE[key] for key in ("hidden", "lr", "betas", "lr_schedule", "batch_size")}
    switches = {"latent_critic": True, "reconstruction_weight": 10.0, "latent_reconstruction_weight": 1.0,
                "adversarial_reconstructions": False} if method == "aegan" else {}
    unknown = sorted(set(overrides) - set(recipe) - set(switches))
    if unknown:
        raise ValueError(f"unknown keys {unknown} for ensemble.joint({method!r}); expected some of "
                         f"{sorted(recipe) + sorted(switches)}")
    for key, value in overrides.items():
        (recipe if key in recipe else switches)[key] = value
    stacked = StackedMixtures(mixtures)
    members, latent_dim, hidden = stacked.members, 2, recipe["hidden"]
    encoder = ensemble_mlp(members, 2, latent_dim, hidden)
    generator = ensemble_mlp(members, latent_dim, 2, hidden)
    common = dict(lr_g=recipe["lr"], lr_d=recipe["lr"], betas=recipe["betas"], lr_schedule=recipe["lr_schedule"])
    if method == "aegan":
        critic = ensemble_mlp(members, latent_dim, 1, hidden) if switches.pop("latent_critic") else None
        algo = AEGAN(encoder, generator, ensemble_mlp(members, 2, 1, hidden), latent_dim * members,
                     latent_discriminator=critic, **switches, **common)
    else:
        discriminator = EnsembleJointDiscriminator(members, 2, latent_dim, hidden)
        algo = BiGAN(encoder, generator, discriminator, latent_dim * members, **common)
    algo = algo.to(stacked.device)
    for optimizer in algo.optimizers.values():
        for group in optimizer.param_groups:
            group["eps"] /= members  # each loss is 1/S × the sum of the members' losses
    algo.batch_size = recipe["batch_size"]
    return algo, stacked


def member_samples(algo, stacked: StackedMixtures, n: int, generator: torch.Generator | None = None,
                   averaged: bool = True) -> list[Tensor]:
    """n samples of each member, in its mixture's data units: a list of S tensors (n, 2).

    `averaged` picks a GAN's averaged generator (when it has one); other algorithms have none.
    """
    drawn = algo.sample(n, generator=generator, averaged=averaged) if isinstance(algo, GAN) else \
        algo.sample(n, generator=generator)
    samples = drawn.reshape(n, stacked.members, 2)
    members = [samples[:, j] / stacked.units[j] for j in range(stacked.members)]
    if not stacked.standardize:
        return members
    return [points * m.scale + m.center for points, m in zip(members, stacked.mixtures)]
