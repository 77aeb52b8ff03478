"""Algorithm objects: one class per method, each with a readable `step(x) -> dict`.

Taught in: chapter 1 (AE), chapter 2 (GAN).
"""

from .ae import AE
from .base import Algorithm
from .gan import GAN

__all__ = ["AE", "Algorithm", "GAN"]
