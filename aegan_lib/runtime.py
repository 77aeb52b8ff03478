"""Seeding, device choice, profiles and evaluation mode: the one-call set-up every chapter uses.

Taught in: chapter 1, "Set-up".
"""

from __future__ import annotations

import contextlib
import os
import random
import warnings
from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch import nn

__all__ = [
    "PROFILES", "BUDGET_SCALES", "seed_everything", "pick_device", "resolve_profile",
    "budget_scale", "budget_for", "print_config", "evaluating",
]


PROFILES = ("quick", "full")
#: "book": the budgets the chapters are written for. "smoke": every step count cut to at most
#: SMOKE_STEPS and MNIST replaced by the offline 5,000-image subset, so a profile's whole code
#: path (nets, data, metrics, figures) runs in minutes on a CPU. Its numbers mean nothing.
BUDGET_SCALES = ("book", "smoke")
SMOKE_STEPS = 20


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device) with one integer."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"expected a non-negative int seed; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def pick_device(prefer: str | None = None) -> torch.device:
    """The fastest device available: CUDA, then Apple's MPS, then the CPU.

    `prefer` forces a device ("cpu", "cuda", "cuda:1", "mps") and fails loudly if it is absent.
    """
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"asked for {prefer!r} but torch sees no CUDA device")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"asked for {prefer!r} but MPS is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_profile(profile: str | None = None) -> str:
    """Turn a notebook's PROFILE ("auto", "quick" or "full") into "quick" or "full".

    "auto" (the default, also read from $AEGAN_PROFILE) means "full" when CUDA is available
    and "quick" otherwise. "quick" is CPU-sized (digits, 2D mixtures, short budgets: what CI
    runs and the committed outputs show); "full" is MNIST-sized with GPU budgets.
    """
    if profile is None:
        profile = os.environ.get("AEGAN_PROFILE", "auto")
    profile = profile.strip().lower()
    if profile == "auto":
        return "full" if torch.cuda.is_available() else "quick"
    if profile not in PROFILES:
        raise ValueError(f"expected PROFILE to be 'auto', 'quick' or 'full'; got {profile!r}")
    if profile == "full" and budget_scale() == "book" and not (
            torch.cuda.is_available() or torch.backends.mps.is_available()):
        warnings.warn(FULL_PROFILE_ON_A_CPU, stacklevel=2)
    return profile


def budget_scale() -> str:
    """The budget scale $AEGAN_BUDGET asks for: "book" (unset or empty) or "smoke"."""
    scale = os.environ.get("AEGAN_BUDGET", "").strip().lower() or "book"
    if scale not in BUDGET_SCALES:
        raise ValueError(f"expected AEGAN_BUDGET to be unset, 'book' or 'smoke'; got {scale!r}")
    return scale


def budget_for(budgets: dict, profile: str, scale: str | None = None) -> dict:
    """A chapter's budget for `profile` ("quick"/"full"), at the scale $AEGAN_BUDGET asks for.

    `budgets` maps each profile to a plain dict. At the "book" scale (the default) that dict is
    returned as it is. At "smoke", a copy in which every integer under a key ending in "steps"
    is at most SMOKE_STEPS and the dataset name "mnist" is "mnist_5k" (offline; see
    `data.mnist_5k`): the chapter's code runs end to end, its claims are not expected to hold.

    Taught in: chapter 1, "Set-up".
    """
    if profile not in budgets:
        raise ValueError(f"no budget for profile {profile!r}; the chapter defines {', '.join(map(repr, budgets))}")
    scale = budget_scale() if scale is None else scale
    if scale not in BUDGET_SCALES:
        raise ValueError(f"expected scale 'book' or 'smoke'; got {scale!r}")
    budget = dict(budgets[profile])
    if scale == "book":
        return budget
    for key, value in budget.items():
        if key.endswith("steps") and isinstance(value, int) and not isinstance(value, bool):
            budget[key] = min(value, SMOKE_STEPS)
        elif value == "mnist":
            budget[key] = "mnist_5k"
    return budget


def print_config(name: str, config: Mapping) -> None:
    """Print a configuration one setting per line under its name (a dict is too wide for one).

    Taught in: chapter 2, where `make("gan")`'s settings are first shown.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"expected a mapping of settings (such as an algorithm's .config); "
                        f"got {type(config).__name__}")
    print(f"{name}:")
    for key, value in config.items():
        print(f"  {key} = {value!r}")


# Measured with bench/bench_full_profile.py on a 2-core CPU (results/bench_full_profile_cpu.txt):
# the 28×28 joint loop (make("aegan", mnist)) at batch 128.
_CPU_MS_PER_JOINT_STEP = 250
FULL_PROFILE_ON_A_CPU = (
    "PROFILE='full' is sized for a GPU (MNIST at 28×28, convnets, up to 10,000 steps per model) "
    f"and no GPU is visible. On a 2-core CPU one step of chapter 5's joint loop took about "
    f"{_CPU_MS_PER_JOINT_STEP} ms, so its 10,000 steps alone take about "
    f"{_CPU_MS_PER_JOINT_STEP * 10_000 / 60_000:.0f} minutes, and a chapter an hour or more; a GPU "
    "runs a chapter in minutes. Use PROFILE = 'quick' on a CPU, or switch the runtime to a GPU "
    "(Colab: Runtime → Change runtime type) and run the notebook again."
)


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode under `torch.no_grad()`, then restore each one's previous mode.

    Sampling and metrics run inside it, so BatchNorm and Dropout behave as at test time and no
    graph is kept, without silently leaving a net in eval mode for the next training step.
    """
    # Every submodule's own mode: a net may hold a frozen part in eval mode inside a training
    # one (a LatentGAN's autoencoder), and `module.train(True)` would wake it up.
    previous = [(sub, sub.training) for module in modules for sub in module.modules()]
    try:
        for module in modules:
            module.eval()
        with torch.no_grad():
            yield
    finally:
        for sub, was_training in previous:
            sub.training = was_training
