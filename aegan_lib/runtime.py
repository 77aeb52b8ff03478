"""Seeding, device choice, profiles and evaluation mode: the one-call set-up every chapter uses.

Taught in: chapter 1, "Set-up".
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

PROFILES = ("quick", "full")


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
    return profile


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode under `torch.no_grad()`, then restore each one's previous mode.

    Sampling and metrics run inside it, so BatchNorm and Dropout behave as at test time and no
    graph is kept, without silently leaving a net in eval mode for the next training step.
    """
    previous = [module.training for module in modules]
    try:
        for module in modules:
            module.eval()
        with torch.no_grad():
            yield
    finally:
        for module, was_training in zip(modules, previous):
            module.train(was_training)
