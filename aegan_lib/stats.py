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

__all__ = ["RESAMPLES", "bootstrap_ci", "summarize", "paired_differences", "excludes_zero", "verdict",
           "format_difference", "gap_to_line", "gap_to_trend"]


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


def verdict(summary: Mapping, better: str = "higher") -> str:
    """What a difference's 95% interval says of the claim that the arm is better.

    "supported" when the interval lies wholly on the better side of 0 (above it when `better`
    is "higher", below it when "lower", as for FD), "contradicted" when it lies wholly on the
    other side, "not shown" otherwise: this comparison cannot tell, which is not "no".

    Taught in: chapter 7, "How a verdict is read" (and chapter 6's tests on new seeds).
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"expected better='higher' or 'lower' (which side of 0 the claim is on); got {better!r}")
    low, high = summary["ci"]
    improves, worsens = (low > 0, high < 0) if better == "higher" else (high < 0, low > 0)
    return "supported" if improves else "contradicted" if worsens else "not shown"


def format_difference(summary: Mapping, scale: float = 1.0, digits: int = 2, counts: bool = True) -> str:
    """A summarised difference as one line of text: "+1.23 [+0.45, +2.01] * (4/1/0)".

    The mean and its 95% interval, scaled (100 for percentages) and signed, a star where the
    interval excludes 0 (`excludes_zero`) and, with `counts`, the seeds where the arm is
    higher/lower/equal (a `paired_differences` summary has them).

    Taught in: chapter 6, "Reading a comparison".
    """
    low, high = summary["ci"]
    text = f"{summary['mean'] * scale:+.{digits}f} [{low * scale:+.{digits}f}, {high * scale:+.{digits}f}]"
    if excludes_zero(summary):
        text += " *"
    if counts:
        missing = [key for key in ("higher", "lower", "equal") if key not in summary]
        if missing:
            raise ValueError(f"expected a paired_differences summary with higher/lower/equal counts; "
                             f"this one lacks {missing} (pass counts=False for a plain summary)")
        text += f" ({summary['higher']}/{summary['lower']}/{summary['equal']})"
    return text


def _points(x: Mapping[int, float], y: Mapping[int, float], what: str) -> tuple[list[int], list[float], list[float]]:
    if set(x) != set(y):
        raise ValueError(f"expected the same seeds in both metrics of {what}; got {sorted(x)} and {sorted(y)}")
    seeds = sorted(x)
    return (seeds, _as_floats([x[s] for s in seeds], f"{what}'s first metric"),
            _as_floats([y[s] for s in seeds], f"{what}'s second metric"))


def _gaps(xs: list[float], ys: list[float], a: float, b: float) -> list[float]:
    return [value - (a + b * at) for at, value in zip(xs, ys)]


def gap_to_line(x: Mapping[int, float], y: Mapping[int, float], intercept: float, slope: float,
                confidence: float = 0.95) -> dict:
    """How far each seed lies above a given line: gap = y − (a + b·x), summarised (`summarize`).

    The line is fixed (a frozen one, written down before the seeds ran), so the interval
    resamples the seeds' gaps only. Also counts the seeds above, below and on the line.
    `gap_to_trend` is the same gap to a line fitted to a baseline's seeds.

    Taught in: chapter 6, "The grid" (the confirmation on new seeds).
    """
    seeds, xs, ys = _points(x, y, "the seeds")
    a, b = _as_floats([intercept, slope], "the line's intercept and slope")
    gaps = _gaps(xs, ys, a, b)
    return {**summarize(gaps, confidence), "seeds": seeds, "gaps": gaps, "higher": sum(g > 0 for g in gaps),
            "lower": sum(g < 0 for g in gaps), "equal": sum(g == 0 for g in gaps)}


def gap_to_trend(arm_x: Mapping[int, float], arm_y: Mapping[int, float], baseline_x: Mapping[int, float],
                 baseline_y: Mapping[int, float], confidence: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = 0) -> dict:
    """How far an arm's seeds lie above the baseline's trend line: gap = y − (a + b·x).

    (a, b) is the least-squares line through the baseline's seeds (x, y) — on the grid, HQ
    against modes, where a GAN's seeds that cover more modes are less sharp. A positive mean
    gap says the arm is sharper than the baseline *at the same coverage*, which a plain
    difference of means cannot say when the two arms cover different numbers of modes.

    The interval is a percentile bootstrap that resamples both sets of seeds and refits the
    line each time, so it carries the line's own uncertainty (resamples whose x values are all
    equal have no line and are skipped). `within_range` says whether every arm seed's x lies
    inside the baseline's x range (outside it the line is extrapolated). The seeds of the two
    arms need not match: this is not a paired comparison.

    Taught in: chapter 6, "The grid" (modes against sharpness, seed by seed).
    """
    seeds, x, y = _points(arm_x, arm_y, "the arm")
    _, base_x, base_y = _points(baseline_x, baseline_y, "the baseline")
    if len(base_x) < 3 or max(base_x) == min(base_x):
        raise ValueError("expected at least 3 baseline seeds with different x values to fit a line; "
                         f"got x = {base_x}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"expected a confidence in (0, 1), e.g. 0.95; got {confidence!r}")

    def fit(bx: torch.Tensor, by: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Least squares along the last dimension: slope = cov(x, y) / var(x).
        dx, dy = bx - bx.mean(-1, keepdim=True), by - by.mean(-1, keepdim=True)
        slope = (dx * dy).sum(-1) / (dx * dx).sum(-1)
        return by.mean(-1) - slope * bx.mean(-1), slope

    bx, by = torch.tensor(base_x, dtype=torch.float64), torch.tensor(base_y, dtype=torch.float64)
    ax, ay = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    intercept, slope = fit(bx, by)
    gaps = _gaps(x, y, float(intercept), float(slope))  # gap_to_line's gaps, without its bootstrap
    stream = torch.Generator().manual_seed(seed)
    base_picks = torch.randint(len(base_x), (resamples, len(base_x)), generator=stream)
    arm_picks = torch.randint(len(x), (resamples, len(x)), generator=stream)
    intercepts, slopes = fit(bx[base_picks], by[base_picks])
    means = (ay[arm_picks] - (intercepts[:, None] + slopes[:, None] * ax[arm_picks])).mean(dim=1)
    means = means[torch.isfinite(means)]  # a resample with one x value has no line
    tail = (1.0 - confidence) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64)).tolist()
    return {"n": len(gaps), "mean": statistics.fmean(gaps), "ci": (low, high), "median": statistics.median(gaps),
            "seeds": seeds, "gaps": gaps, "higher": sum(g > 0 for g in gaps), "lower": sum(g < 0 for g in gaps),
            "equal": sum(g == 0 for g in gaps), "intercept": float(intercept), "slope": float(slope),
            "within_range": min(base_x) <= min(x) and max(x) <= max(base_x)}
