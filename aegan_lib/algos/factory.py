"""`make(method, data)`: an algorithm with default networks sized from the data, on its device.

The one place that says "a GAN for the ring is built like this". Chapters that compare methods
loop over names; everything else builds its nets by hand. "aegan" builds the full joint loop
(latent critic and latent reconstruction); chapter 6 compares it with every other arm
(`bench/compare.py`).

Taught in: chapter 5, "One call per method".
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import nets
from ..data import GaussianMixture2D, training_tensor
from .ae import AE
from .aegan import AEGAN
from .base import Algorithm
from .bigan import BiGAN, JointDiscriminator
from .gan import GAN
from .latent_gan import LatentGAN

__all__ = [
    "METHODS", "NET_DEFAULTS", "METHOD_DEFAULTS", "KIND_DEFAULTS", "GAN_POINTS_RECIPE",
    "AEGAN_LATENT_CRITIC", "NET_NAMES", "SIZE_KEYS", "RUN_KEYS", "USED_SIZES", "data_kind",
    "data_scale", "make"
]


METHODS = ("ae", "gan", "latent_gan", "aegan", "bigan")

# Network sizes per kind of data. "points": 2D mixtures; "small_images": 8×8 digits (MLPs);
# "images": 28×28 and up (the convnets of aegan_lib.nets; `hidden` only sizes the MLP parts).
# 2D points get a 2D code: an encoder of 2D data can only fill a 2D slice of a larger code space,
# so a latent critic could never be satisfied there.
NET_DEFAULTS = {
    "points": {"latent_dim": 2, "noise_dim": 2, "generator_hidden": (128, 256),
               "discriminator_hidden": (256, 128), "encoder_hidden": (256, 128),
               "latent_discriminator_hidden": (128, 128)},
    "small_images": {"latent_dim": 16, "noise_dim": 16, "generator_hidden": (128, 256),
                     "discriminator_hidden": (256, 128), "encoder_hidden": (256, 128),
                     "latent_discriminator_hidden": (128, 128)},
    "images": {"latent_dim": 32, "noise_dim": 32, "generator_hidden": (128, 256),
               "discriminator_hidden": (256, 128), "encoder_hidden": (256, 128),
               "latent_discriminator_hidden": (256, 256)},
}

# Constructor defaults per method (keyword arguments of the class), for every kind of data.
METHOD_DEFAULTS = {
    "ae": {"lr": 1e-3, "reconstruction": "mse", "noise_std": 0.0},
    "gan": {"betas": (0.5, 0.999), "loss": "nonsaturating", "lr_schedule": "constant"},
    "latent_gan": {"pretrain_steps": 2000, "lr_ae": 1e-3, "lr_g": 2e-4, "lr_d": 2e-4,
                   "betas": (0.5, 0.999), "loss": "nonsaturating", "lr_schedule": "constant"},
    # The full joint loop: a latent critic (AEGAN_LATENT_CRITIC) and a latent reconstruction
    # with μ = 1; the critics do not see reconstructions. Chapter 6's comparison measures each
    # term against the plain GAN (bench/compare.py); no default was chosen on its held-out seeds.
    "aegan": {"latent_reconstruction_weight": 1.0, "adversarial_reconstructions": False,
              "betas": (0.5, 0.999), "loss": "nonsaturating", "lr_schedule": "constant"},
    # BiGAN / ALI: not searched yet; the learning rate of "gan"/"aegan" for the kind of data.
    "bigan": {"betas": (0.5, 0.999), "loss": "nonsaturating", "lr_schedule": "constant"},
}
# Per kind of data, for "gan", "aegan" and "bigan": the Adam learning rate of every net (lr_g =
# lr_d; on 2D points the recipe's overrides it) and the AEGAN's λ, the weight of ‖x − G(E(x))‖²
# (a mean over the numbers of one example; standardised units on 2D points). λ is the one chapter
# 4's rule chose on development seeds ("chosen" in results/compare/<dataset>.json; a test ties
# them); the digits' rate, 2e-4, was steadier than 1e-3 in the book's first exploration.
KIND_DEFAULTS = {
    "points": {"lr": 1e-3, "reconstruction_weight": 10.0},
    "small_images": {"lr": 2e-4, "reconstruction_weight": 10.0},
    "images": {"lr": 2e-4, "reconstruction_weight": 10.0},
}
# make("gan") on 2D points: the recipe chapter 3's search chose on development seeds
# (bench/sharp_gans.py, results/sharp_gans/recipe.json; a test ties the two). Three 256-wide
# LeakyReLU layers for G and D, standardised data, batch 256, Adam 1e-3 with β = (0.5, 0.9)
# decayed linearly to 0 over the run, and the levers the search kept. r1_weight is γ in
# standardised units: make() passes γ·scale² to GAN, whose penalty is taken in data units
# (∇ in data units is ∇ in standardised units / scale), so one γ fits the ring and the grid.
GAN_POINTS_RECIPE = {"hidden": (256, 256, 256), "batch_size": 256, "lr": 1e-3, "betas": (0.5, 0.9),
                     "lr_schedule": "linear", "r1_weight": 0.0, "ema": None, "pack": 1,
                     "standardize": True}

# Whether make("aegan", ...) builds a latent discriminator when none is passed.
AEGAN_LATENT_CRITIC = True

NET_NAMES = {"ae": ("encoder", "decoder"),
             "gan": ("generator", "discriminator"),
             "latent_gan": ("encoder", "decoder", "generator", "discriminator"),
             "aegan": ("encoder", "generator", "discriminator", "latent_discriminator"),
             "bigan": ("encoder", "generator", "discriminator")}
SIZE_KEYS = ("latent_dim", "noise_dim", "hidden", "generator_hidden", "discriminator_hidden",
             "encoder_hidden", "latent_discriminator_hidden")
# Overrides that are neither sizes nor constructor arguments: fit's default batch size, and
# whether 2D nets work in standardised units (`nets.standardizing`).
RUN_KEYS = ("batch_size", "standardize")
# The network sizes each method's nets read: any other size override would do nothing.
USED_SIZES = {
    "ae": ("latent_dim", "hidden", "encoder_hidden", "generator_hidden"),
    "gan": ("latent_dim", "hidden", "generator_hidden", "discriminator_hidden"),
    "latent_gan": SIZE_KEYS,
    "aegan": ("latent_dim", "hidden", "generator_hidden", "discriminator_hidden", "encoder_hidden",
              "latent_discriminator_hidden"),
    "bigan": ("latent_dim", "hidden", "generator_hidden", "discriminator_hidden", "encoder_hidden"),
}


def data_kind(data) -> tuple[str, tuple[int, ...], torch.device]:
    """("points" | "small_images" | "images", per-sample shape, device) of a dataset or tensor."""
    source = training_tensor(data)  # raises, saying what it expected, for anything else
    if isinstance(source, GaussianMixture2D):
        return "points", (2,), source.device
    shape = tuple(source.shape[1:])
    if len(shape) == 1:
        return "points", shape, source.device
    kind = "images" if nets.uses_convnets(shape) else "small_images"
    return kind, shape, source.device


def data_scale(data) -> tuple[Tensor, Tensor]:
    """(scale, shift) per feature that standardise 2D points: a mixture's own, or a tensor's.

    Taught in: chapter 3, "Making it sharp" (standardised data).
    """
    if isinstance(data, GaussianMixture2D):
        return torch.full((2,), data.scale), data.center.cpu()
    points = training_tensor(data).detach().float().cpu()
    return points.std(dim=0).clamp_min(1e-6), points.mean(dim=0)


def make(method: str, data, **overrides) -> Algorithm:
    """Build `method` ("ae", "gan", "latent_gan", "aegan" or "bigan") with default nets sized from `data`.

    The nets are created on the data's device (seed first with `aegan_lib.seed_everything` for
    reproducible weights). `overrides` are either constructor keyword arguments of the class
    (e.g. `lr_g=1e-3`, `reconstruction_weight=2.0`), network sizes (`latent_dim`, `noise_dim`,
    `hidden` for every MLP, or `generator_hidden`, `discriminator_hidden`, `encoder_hidden`,
    `latent_discriminator_hidden`), run settings (`batch_size`, `fit`'s default for this
    object; `standardize` for 2D points), or ready-made nets by role (`generator=...`). For
    "aegan", `latent_discriminator=None` switches the latent critic off.

    "gan" on 2D points follows `GAN_POINTS_RECIPE` (chapter 3's search); its levers are
    overrides too: `make("gan", data.grid(), pack=2, r1_weight=0.0, ema=0.999)`. Other vectors
    (a table of D features) get the same recipe with a code of max(2, min(32, D // 2)) numbers
    and batches no larger than the table. An override the method does not use (`noise_dim` for
    "gan", `encoder_hidden` for "gan") is an error, not silently ignored.

    Example: `algo = make("aegan", data.grid(), reconstruction_weight=0.5); fit(algo, data.grid(), steps=5000)`.

    Taught in: chapter 5, "One call per method".
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    kind, shape, device = data_kind(data)
    sizes = dict(NET_DEFAULTS[kind])
    kwargs = dict(METHOD_DEFAULTS[method])
    run = {"batch_size": None, "standardize": False}
    if kind == "points" and shape != (2,):
        # A table of D features: a code that fits D (not the mixtures' 2-d one); the rest of
        # the recipe (standardised MLPs, Adam 1e-3 decayed to 0) is chapter 3's, not searched
        # for D != 2.
        sizes["latent_dim"] = sizes["noise_dim"] = max(2, min(32, shape[0] // 2))
    if method in ("gan", "aegan", "bigan"):
        kwargs["lr_g"] = kwargs["lr_d"] = KIND_DEFAULTS[kind]["lr"]
    if method == "aegan":
        kwargs["reconstruction_weight"] = KIND_DEFAULTS[kind]["reconstruction_weight"]
    if method == "gan":
        kwargs.update({"r1_weight": 0.0, "ema": None, "pack": 1})
    if kind == "points":
        # Every method on 2D points trains with chapter 3's recipe: the same widths for every
        # MLP, the same optimizer, schedule, batch and standardised units (chapter 6 compares them).
        recipe = GAN_POINTS_RECIPE
        for name in SIZE_KEYS:
            if name.endswith("_hidden"):
                sizes[name] = recipe["hidden"]
        rates = {"latent_gan": ("lr_ae", "lr_g", "lr_d"), "ae": ("lr",)}.get(method, ("lr_g", "lr_d"))
        kwargs.update({rate: recipe["lr"] for rate in rates})
        if method != "ae":
            kwargs.update(betas=recipe["betas"], lr_schedule=recipe["lr_schedule"])
        if method == "gan":
            kwargs.update(r1_weight=recipe["r1_weight"], ema=recipe["ema"], pack=recipe["pack"])
        rows = _rows(data)
        batch = recipe["batch_size"] if rows is None else min(recipe["batch_size"], rows)
        run.update(batch_size=batch, standardize=recipe["standardize"])
    given_nets: dict[str, nn.Module | None] = {}
    ineffective = sorted(set(overrides) & (set(SIZE_KEYS) - set(USED_SIZES[method])))
    if ineffective:
        raise ValueError(f"make({method!r}) got {ineffective}, which {method!r} does not use (its nets read "
                         f"{list(USED_SIZES[method])}); leave them out")
    allowed = set(USED_SIZES[method]) | set(kwargs) | set(NET_NAMES[method]) | set(RUN_KEYS)
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"make({method!r}) got unknown overrides {unknown}; expected constructor arguments "
                         f"{sorted(kwargs)}, network sizes {list(USED_SIZES[method])}, run settings "
                         f"{list(RUN_KEYS)} or nets {list(NET_NAMES[method])}")
    if "standardize" in overrides and kind != "points":
        raise ValueError(f"standardize applies to vectors (e.g. 2D points); got {kind} data")
    for key, value in overrides.items():
        if key in RUN_KEYS:
            run[key] = value
        elif key == "hidden":
            for name in SIZE_KEYS:
                if name.endswith("_hidden"):
                    sizes[name] = tuple(value)
        elif key in SIZE_KEYS:
            sizes[key] = tuple(value) if key.endswith("_hidden") else value
        elif key in NET_NAMES[method]:
            given_nets[key] = value
        else:
            kwargs[key] = value

    def net(role: str, build):
        if role in given_nets:
            built = given_nets[role]
        else:
            built = build()
        return built.to(device) if built is not None else None

    latent_dim = sizes["latent_dim"]
    # Standardised units (`nets.standardizing`): nets that read data standardise their input,
    # nets that write data map standardised outputs back. Loss weights are given in standardised
    # units, so make() converts them to the data's: R1's γ·s² (∇ₓ scales as 1/s) and the
    # reconstruction's λ/s² (‖x − x̂‖² scales as s²). One γ or λ then means the same on ring and grid.
    scale = data_scale(data) if run["standardize"] and kind == "points" else None
    mean_square_scale = float(scale[0].pow(2).mean()) if scale is not None else 1.0

    def reading(built: nn.Module) -> nn.Module:  # a net whose input is data
        return nets.standardizing(built, *scale, role="discriminator") if scale is not None else built

    def writing(built: nn.Module) -> nn.Module:  # a net whose output is data
        return nets.standardizing(built, *scale, role="generator") if scale is not None else built

    if method == "ae":
        encoder = net("encoder", lambda: reading(nets.encoder(shape, latent_dim, sizes["encoder_hidden"])))
        output = "logits" if kwargs["reconstruction"] == "bce" else None
        decoder = net("decoder", lambda: writing(nets.decoder(latent_dim, shape, sizes["generator_hidden"], output)))
        return _with_batch_size(AE(encoder, decoder, **kwargs), run["batch_size"])
    if method == "gan":
        pack = kwargs["pack"]
        packed_shape = (pack * shape[0], *shape[1:])  # D scores `pack` samples side by side

        def build_discriminator():
            built = nets.discriminator(packed_shape, sizes["discriminator_hidden"])
            if scale is None:
                return built
            # One standardisation per packed sample: the scale and shift repeat `pack` times.
            return nets.standardizing(built, scale[0].repeat(pack), scale[1].repeat(pack),
                                      role="discriminator")

        kwargs["r1_weight"] = kwargs["r1_weight"] * mean_square_scale
        generator = net("generator", lambda: writing(nets.generator(latent_dim, shape, sizes["generator_hidden"])))
        discriminator = net("discriminator", build_discriminator)
        return _with_batch_size(GAN(generator, discriminator, latent_dim, **kwargs), run["batch_size"])
    if method in ("aegan", "bigan"):
        encoder = net("encoder", lambda: reading(nets.encoder(shape, latent_dim, sizes["encoder_hidden"])))
        generator = net("generator", lambda: writing(nets.generator(latent_dim, shape, sizes["generator_hidden"])))
    if method == "aegan":
        kwargs["reconstruction_weight"] = kwargs["reconstruction_weight"] / mean_square_scale
        discriminator = net("discriminator", lambda: reading(nets.discriminator(shape, sizes["discriminator_hidden"])))
        latent_discriminator = net("latent_discriminator", lambda: nets.discriminator(
            (latent_dim,), sizes["latent_discriminator_hidden"]) if AEGAN_LATENT_CRITIC else None)
        return _with_batch_size(AEGAN(encoder, generator, discriminator, latent_dim,
                                      latent_discriminator=latent_discriminator, **kwargs), run["batch_size"])
    if method == "bigan":
        def build_joint_discriminator():
            built = JointDiscriminator(shape, latent_dim, sizes["discriminator_hidden"])
            built.data_features = reading(built.data_features)  # standardise x; z is already N(0, I)
            return built

        discriminator = net("discriminator", build_joint_discriminator)
        return _with_batch_size(BiGAN(encoder, generator, discriminator, latent_dim, **kwargs), run["batch_size"])
    # "latent_gan": an autoencoder, then a GAN on its codes (noise_dim → latent_dim).
    noise_dim = sizes["noise_dim"]
    encoder = net("encoder", lambda: reading(nets.encoder(shape, latent_dim, sizes["encoder_hidden"])))
    decoder = net("decoder", lambda: writing(nets.decoder(latent_dim, shape, sizes["generator_hidden"])))
    generator = net("generator", lambda: nets.generator(noise_dim, (latent_dim,), sizes["generator_hidden"]))
    discriminator = net("discriminator", lambda: nets.discriminator((latent_dim,),
                                                                    sizes["latent_discriminator_hidden"]))
    return _with_batch_size(LatentGAN(encoder, decoder, generator, discriminator, latent_dim, noise_dim, **kwargs),
                            run["batch_size"])


def _rows(data) -> int | None:
    """The number of training rows of a tensor or split (None for an endless mixture)."""
    source = training_tensor(data)
    return None if isinstance(source, GaussianMixture2D) else len(source)


def _with_batch_size(algo: Algorithm, batch_size: int | None) -> Algorithm:
    """Set the batch size `fit` uses by default for this object (None keeps the class default)."""
    if batch_size is not None:
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"expected a positive int batch_size; got {batch_size!r}")
        algo.batch_size = batch_size
    return algo
