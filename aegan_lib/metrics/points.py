"""Sample quality on the 2D mixtures: modes covered, the high-quality fraction, KL to uniform.

The VEEGAN/PacGAN protocol (`mode_coverage`), a `fit` callback that records it along training
(`TrainingTrace`), and the sanity rows every table is read against (`sanity_scores`).

Taught in: chapter 3, "Measuring mode collapse".
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..data import GaussianMixture2D
from ..runtime import evaluating


__all__ = [
    "kl_to_uniform", "mode_coverage", "TrainingTrace", "sanity_scores", "true_sample_quality"
]


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p̂ ‖ uniform) = Σ_k p̂_k log(K p̂_k) of a histogram of counts over K bins, in nats.

    0 when the counts are equal, log K when one bin holds everything; empty bins add 0.
    Used for the nearest-mode histogram (`mode_coverage`) and the predicted classes (`image_quality`).

    Taught in: chapter 3, "Measuring mode collapse"; chapter 4, "Measuring image quality".
    """
    p = counts.double() / counts.sum()
    kl = float(torch.where(p > 0, p * torch.log(p * len(p)), torch.zeros_like(p)).sum())
    return max(kl, 0.0)  # rounding can give -1e-17 for a uniform histogram


def mode_coverage(samples: Tensor, mixture: GaussianMixture2D, threshold_stds: float = 3.0) -> dict:
    """Score 2D samples against the mixture they should come from.

    Each sample is assigned its nearest mode mean. It is *high quality* when that distance is
    at most `threshold_stds`·σ. A mode is *covered* when it is the nearest mode of at least one
    high-quality sample. KL is KL(p̂ ‖ uniform) of the nearest-mode histogram of all samples,
    Σ_k p̂_k log(K p̂_k): 0 when samples spread evenly, log K when all sit at one mode.

    `kl_high_quality` is the same KL over the high-quality samples only: the "reverse KL"
    column of PacGAN's tables (Lin et al. 2018), which ignores samples between the modes.

    True samples score every mode and ≈ 98.9% high quality (1 − e^(−4.5) for a 2D Gaussian
    within 3σ); the protocol draws 2500 samples.

    Returns:
        {"modes": int, "high_quality": float in [0, 1], "kl": float, "kl_high_quality": float
        (nan without high-quality samples), "counts": list[int]}.
    """
    if not isinstance(mixture, GaussianMixture2D):
        raise TypeError(f"expected a GaussianMixture2D (data.ring() or data.grid()); got {type(mixture).__name__}")
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"expected samples shaped (n, 2) with n > 0; got {tuple(samples.shape)}")
    samples = samples.detach().to(device=mixture.device, dtype=torch.float32)
    if not torch.isfinite(samples).all():
        raise ValueError("samples contain NaN or Inf; the generator diverged")
    distances = torch.cdist(samples, mixture.means)
    nearest_distance, nearest = distances.min(dim=1)
    high_quality = nearest_distance <= threshold_stds * mixture.std
    modes = len(mixture.means)
    covered = torch.unique(nearest[high_quality])
    counts = torch.bincount(nearest, minlength=modes)
    high_quality_counts = torch.bincount(nearest[high_quality], minlength=modes)
    return {
        "modes": int(len(covered)),
        "high_quality": float(high_quality.float().mean()),
        "kl": kl_to_uniform(counts),
        "kl_high_quality": kl_to_uniform(high_quality_counts) if len(covered) else float("nan"),
        "counts": [int(c) for c in counts.tolist()],
    }


class TrainingTrace:
    """A `fit` callback that follows a 2D GAN: mode coverage along training, and snapshots.

    Every call (every `callback_every` steps of `fit`) scores `samples` generator samples
    drawn with a noise stream seeded by the step (so measuring never moves training's own
    random streams); at the steps in `snapshot_steps` it also keeps G(fixed_noise). Call
    `trace.snapshot(algo, 0)` before training for the starting picture. `state_dict()` is
    tensors and lists only: save it with `torch.save`, load with `weights_only=True`.

    Taught in: chapter 3, "A GAN that converges".
    """

    def __init__(self, mixture: GaussianMixture2D, fixed_noise: Tensor, snapshot_steps=(), samples: int = 2500):
        self.mixture, self.fixed_noise, self.samples = mixture, fixed_noise, samples
        self.snapshot_steps = set(snapshot_steps)
        self.curve: dict[str, list] = {"step": [], "modes": [], "high_quality": [], "kl": []}
        self.snapshots: dict[int, Tensor] = {}

    def snapshot(self, algo, step: int) -> None:
        net = algo.generator_ema if getattr(algo, "generator_ema", None) is not None else algo.generator
        with evaluating(net):
            self.snapshots[step] = net(self.fixed_noise).detach().cpu()

    def __call__(self, algo, step: int) -> None:
        noise_stream = torch.Generator(device=algo.device).manual_seed(10_000 + step)
        scores = mode_coverage(algo.sample(self.samples, generator=noise_stream), self.mixture)
        for key in ("modes", "high_quality", "kl"):
            self.curve[key].append(scores[key])
        self.curve["step"].append(step)
        if step in self.snapshot_steps:
            self.snapshot(algo, step)

    def state_dict(self) -> dict:
        return {"curve": self.curve, "snapshots": {str(k): v for k, v in self.snapshots.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.curve = {key: list(values) for key, values in state["curve"].items()}
        self.snapshots = {int(k): v for k, v in state["snapshots"].items()}


def sanity_scores(mixture: GaussianMixture2D, seeds=range(10), samples: int = 2500) -> dict:
    """What `mode_coverage` gives four reference "generators", averaged over seeds.

    - "real": samples of the mixture itself (the ceiling);
    - "uniform": uniform noise over the means' bounding box widened by 3σ;
    - "blurred": real samples plus N(0, (3σ)²) noise;
    - "narrow": real samples pulled halfway to their nearest mode (the data's spread halved).

    Uniform noise "covers" most grid modes by chance at a few percent HQ; blurred data covers
    every mode at ~36% HQ; narrow data scores a higher HQ than the data itself (1 − e^(−18),
    all but certain), so HQ cannot tell a sharp generator from one too narrow: above the real
    row is not better. Print them beside any 2D table: they show what the mode count alone
    cannot separate. Returns {name: {"modes", "high_quality", "kl", "kl_high_quality"}} (means).

    Taught in: chapter 3, "Ten held-out seeds, sanity rows and published numbers".
    """
    means = mixture.means.cpu()
    low, high = means.min(0).values - 3 * mixture.std, means.max(0).values + 3 * mixture.std
    rows: dict[str, list[dict]] = {"real": [], "uniform": [], "blurred": [], "narrow": []}
    for seed in seeds:
        stream = torch.Generator().manual_seed(seed)
        real = mixture.to("cpu").sample(samples, generator=stream)
        uniform = low + (high - low) * torch.rand(samples, 2, generator=stream)
        blurred = real + 3 * mixture.std * torch.randn(samples, 2, generator=stream)
        nearest_mean = means[torch.cdist(real, means).argmin(dim=1)]
        narrow = nearest_mean + 0.5 * (real - nearest_mean)
        for name, points in (("real", real), ("uniform", uniform), ("blurred", blurred), ("narrow", narrow)):
            rows[name].append(mode_coverage(points, mixture))
    keys = ("modes", "high_quality", "kl", "kl_high_quality")
    return {name: {key: round(sum(float(r[key]) for r in scores) / len(scores), 4) for key in keys}
            for name, scores in rows.items()}


def true_sample_quality() -> float:
    """The expected high-quality fraction of real samples: P(‖ε‖ ≤ 3σ) = 1 − e^(−4.5) in 2D."""
    return 1.0 - math.exp(-4.5)


# ============================================================================ images
# Offline image-quality metrics for digits and MNIST. A small classifier, trained once on the
# dataset's training split, supplies penultimate-layer features (for a Fréchet distance and
# improved precision/recall) and predicted labels (for classes covered and KL to uniform).
# Taught in: chapter 4, "Measuring image quality".
