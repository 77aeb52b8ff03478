"""Statistics for comparing training runs over seeds: means with bootstrap intervals, paired differences.

Ten seeds of a GAN are ten draws from a wide distribution (one collapsed run moves a mean a
lot), so every comparison in the book reports the mean with a 95% bootstrap interval, the
median, and the per-seed differences against the baseline with their own interval.

Taught in: chapter 6, "Reading a comparison".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

import torch

__all__ = ["RESAMPLES", "bootstrap_ci", "summarize", "paired_differences", "excludes_zero"]


#: Resamples per interval: the interval's ends move by well under 1% of its width between calls.
RESAMPLES = 10_000


def _as_floats(values: Sequence[float], what: str) -> list[float]:
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"expected {what} as a sequence of numbers; got {values!r}") from None
    if not numbers:
        raise ValueError(f"expected at least one value for {what}; got none")
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"expected finite numbers for {what}; got {numbers}")
    return numbers


def bootstrap_ci(values: Sequence[float], confidence: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean.

    Draw `resamples` samples of n values with replacement, take each one's mean, and return
    the (1 − c)/2 and (1 + c)/2 quantiles of those means. Seeded, so a notebook prints the
    same interval every run. With one value the interval is that value.

    Taught in: chapter 6, "Reading a comparison".
    """
    numbers = _as_floats(values, "the values")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"expected a confidence in (0, 1), e.g. 0.95; got {confidence!r}")
    data = torch.tensor(numbers, dtype=torch.float64)
    stream = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(numbers), (resamples, len(numbers)), generator=stream)
    means = data[picks].mean(dim=1)
    tail = (1.0 - confidence) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64)).tolist()
    return low, high


def summarize(values: Sequence[float], confidence: float = 0.95) -> dict:
    """n, mean, its bootstrap interval (`bootstrap_ci`), median, standard deviation, min, max.

    Taught in: chapter 6, "Reading a comparison".
    """
    numbers = _as_floats(values, "the values")
    low, high = bootstrap_ci(numbers, confidence)
    return {"n": len(numbers), "mean": statistics.fmean(numbers), "ci": (low, high),
            "median": statistics.median(numbers), "std": statistics.stdev(numbers) if len(numbers) > 1 else 0.0,
            "min": min(numbers), "max": max(numbers)}


def paired_differences(arm: Mapping[int, float], baseline: Mapping[int, float], confidence: float = 0.95) -> dict:
    """arm − baseline seed by seed, summarised (`summarize`), over the seeds both have.

    Also counts the seeds where the arm is higher, lower, or equal (ties are ties, not losses).

    Taught in: chapter 6, "Reading a comparison".
    """
    seeds = sorted(set(arm) & set(baseline))
    if not seeds:
        raise ValueError(f"no seed in common: arm has {sorted(arm)}, baseline has {sorted(baseline)}")
    differences = [float(arm[s]) - float(baseline[s]) for s in seeds]
    return {**summarize(differences, confidence), "seeds": seeds, "differences": differences,
            "higher": sum(d > 0 for d in differences), "lower": sum(d < 0 for d in differences),
            "equal": sum(d == 0 for d in differences)}


def excludes_zero(summary: Mapping) -> bool:
    """True when a summary's interval lies wholly above or wholly below 0."""
    low, high = summary["ci"]
    return low > 0 or high < 0
