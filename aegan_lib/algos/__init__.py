"""Algorithm objects: one class per method, each with a readable `step(x) -> dict`.

Taught in: chapter 1 (AE), chapter 2 (GAN), chapter 3 (LatentGAN), chapter 4 (AEGAN, BiGAN);
chapter 5 compares them.
"""

from .ae import AE
from .aegan import AEGAN
from .base import Algorithm
from .bigan import BiGAN, JointDiscriminator
from .gan import GAN
from .latent_gan import LatentGAN
from .factory import make

__all__ = ["AE", "AEGAN", "Algorithm", "BiGAN", "GAN", "JointDiscriminator", "LatentGAN", "make"]
