"""Algorithm objects: one class per method, each with a readable `step(x) -> dict`.

Taught in: chapter 1 (AE), chapters 2 and 3 (GAN), chapter 4 (LatentGAN), chapter 5 (AEGAN, BiGAN);
chapter 6 compares them.
"""

from .ae import AE
from .aegan import AEGAN
from .base import Algorithm
from .bigan import BiGAN, JointDiscriminator
from .gan import GAN
from .latent_gan import LatentGAN
from .factory import make

__all__ = ["AE", "AEGAN", "Algorithm", "BiGAN", "GAN", "JointDiscriminator", "LatentGAN", "make"]
