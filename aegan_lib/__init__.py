"""aegan_lib: autoencoders meet GANs — the small, tested PyTorch library behind the book.

Every chapter of the book builds an idea in plain PyTorch first and then switches to the
piece of this package that does the same; each docstring names the chapter that teaches it.
"""

__version__ = "0.1.0"

from . import algos, checkpoint, comparison, data, ensemble, losses, metrics, nets, stats, viz, widgets  # noqa: E402
from .runtime import budget_for, evaluating, pick_device, print_config, resolve_profile, seed_everything  # noqa: E402
from .train import NonFiniteLossError, fit  # noqa: E402

__all__ = [
    "__version__",
    "algos",
    "budget_for",
    "checkpoint",
    "comparison",
    "data",
    "ensemble",
    "evaluating",
    "fit",
    "losses",
    "metrics",
    "nets",
    "NonFiniteLossError",
    "pick_device",
    "print_config",
    "resolve_profile",
    "seed_everything",
    "stats",
    "viz",
    "widgets",
]
