"""Read a comparison's results file: arms × seeds × budgets, as tables with intervals and curves.

The files are written by the book's harness (`bench/compare.py`, one per dataset) and ship
with the package (`aegan_lib/assets/compare_<dataset>.json`), so a notebook opened alone on
Colab reads them without the repository. Each file describes itself: the protocol, the rule
that chose λ (written before the held-out runs), the code version, the time per step of every
arm, and every run with its config, final scores and learning curve.

    >>> grid = comparison.load("grid")
    >>> grid.summary("recon", "modes")            # mean, 95% bootstrap CI, median over held-out seeds
    >>> grid.paired("recon", "modes")             # recon − plain GAN, seed by seed, with its CI
    >>> grid.curve("recon", "high_quality", x="seconds")
    >>> comparison.load("grid_confirm").paired_test("coverage")   # a pre-registered test's verdict

Taught in: chapter 6, "Reading a comparison".
"""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path

from . import stats

__all__ = ["ASSETS", "BUDGETS", "Comparison", "load"]


ASSETS = Path(__file__).parent / "assets"
BUDGETS = ("steps", "time")


class Comparison:
    """One dataset's results file. `budget` is "steps" (the GAN's steps) or "time" (its seconds)."""

    def __init__(self, results: dict, source: str = "?"):
        for key in ("dataset", "protocol", "arms", "runs"):
            if key not in results:
                raise ValueError(f"{source} is not a comparison results file: it has no {key!r} entry")
        self.results, self.source = results, source
        self.dataset = results["dataset"]
        self.protocol, self.rule = results["protocol"], results.get("rule", "")
        self.chosen, self.timing, self.code = results.get("chosen"), results.get("timing"), results.get("code")
        self.labels = {name: arm["label"] for name, arm in results["arms"].items()}

    def __repr__(self) -> str:
        return f"Comparison({self.dataset!r}, {len(self.results['runs'])} runs, from {self.source})"

    def describe(self, width: int = 79) -> str:
        """What the file holds, for a reader: its held-out runs, their CPU time
        (`core_hours`), and each arm with the budgets it was run at, wrapped at `width`.

        Taught in: chapter 6, "The protocol".
        """
        heldout = [run for run in self.results["runs"].values() if run["phase"] == "heldout"]
        budgets: dict[str, set] = {}
        for run in heldout:
            budgets.setdefault(run["arm"], set()).add(run["budget"])
        arms = ", ".join(f"{arm} ({'/'.join(sorted(done))})" for arm, done in budgets.items())
        indent = " " * 7
        return (f"{self.dataset:6s} {len(heldout)} held-out runs; CPU time of all its runs "
                f"{self.core_hours():.1f} core-hours\n"
                + textwrap.fill(arms, width=width, initial_indent=indent + "arms (budgets): ",
                                subsequent_indent=indent))

    def runs(self, arm: str, budget: str = "steps", phase: str = "heldout") -> list[dict]:
        """The finished runs of one arm, by seed. The plain GAN's "time" budget is its "steps" one."""
        if arm not in self.labels:
            raise ValueError(f"unknown arm {arm!r}; this file has {list(self.labels)}")
        if budget not in BUDGETS:
            raise ValueError(f"expected budget in {BUDGETS}; got {budget!r}")
        if arm == "gan":
            budget = "steps"
        found = [run for run in self.results["runs"].values()
                 if run["arm"] == arm and run["budget"] == budget and run["phase"] == phase]
        return sorted(found, key=lambda run: run["seed"])

    def arms_with_runs(self, budget: str = "steps", complete: bool = True) -> list[str]:
        """The arms with held-out runs at this budget, in the file's order: by default only those
        with a run for every held-out seed of the protocol, so that an arm still being run (a
        few seeds in) never shows in a table as if it were done."""
        seeds = set(self.protocol.get("heldout_seeds", []))
        return [arm for arm in self.labels if self.runs(arm, budget)
                and (not complete or {run["seed"] for run in self.runs(arm, budget)} >= seeds)]

    def values(self, arm: str, metric: str, budget: str = "steps") -> dict[int, float]:
        """seed → the final value of `metric` (e.g. "modes", "high_quality", "fd", "recall")."""
        runs = self.runs(arm, budget)
        if runs and metric not in runs[0]["final"]:
            raise ValueError(f"no metric {metric!r} in {self.dataset}'s runs; they have "
                             f"{[k for k in runs[0]['final'] if k not in ('step', 'seconds')]}")
        return {run["seed"]: float(run["final"][metric]) for run in runs}

    def summary(self, arm: str, metric: str, budget: str = "steps") -> dict:
        """`stats.summarize` of the arm's held-out values: n, mean, ci, median, std, min, max."""
        values = self.values(arm, metric, budget)
        if not values:
            raise ValueError(f"arm {arm!r} has no held-out runs at the {budget!r} budget on {self.dataset}")
        return stats.summarize(list(values.values()))

    def paired(self, arm: str, metric: str, budget: str = "steps", baseline: str = "gan") -> dict:
        """`stats.paired_differences`: arm − baseline per seed (the baseline at its own budget)."""
        return stats.paired_differences(self.values(arm, metric, budget), self.values(baseline, metric, "steps"))

    def curve(self, arm: str, metric: str, budget: str = "steps", x: str = "step") -> dict:
        """The learning curve over seeds: x ("step" or "seconds", the mean over seeds at each
        evaluation), and the median, lowest and highest value of `metric` there."""
        runs = [run for run in self.runs(arm, budget) if all(x in row for row in run["curve"])]
        if not runs:
            raise ValueError(f"arm {arm!r} has no {budget!r} runs with {x!r} in their curves on {self.dataset}")
        length = min(len(run["curve"]) for run in runs)
        rows = list(zip(*(run["curve"][:length] for run in runs)))
        return {"x": [statistics.fmean(row[x] for row in at) for at in rows],
                "median": [statistics.median(row[metric] for row in at) for at in rows],
                "low": [min(row[metric] for row in at) for at in rows],
                "high": [max(row[metric] for row in at) for at in rows], "seeds": len(runs)}

    def table(self, metrics: dict[str, str], budget: str = "steps", arms: list[str] | None = None,
              scale: dict[str, float] | None = None, digits: int = 2) -> str:
        """A Markdown table, one row per arm: each metric's mean [95% CI] and median over seeds.

        `metrics` maps a metric to its column title; `scale` multiplies a metric (100 for %).
        """
        arms = arms if arms is not None else self.arms_with_runs(budget)
        scale = scale or {}
        header = "| arm | seeds | steps | " + " | ".join(f"{title}: mean [95% CI] (median)" for title in metrics.values()) + " |"
        lines = [header, "|" + "---|" * (3 + len(metrics))]
        for arm in arms:
            cells = []
            for metric in metrics:
                summary = self.summary(arm, metric, budget)
                k = scale.get(metric, 1.0)
                low, high = summary["ci"]
                cells.append(f"{summary['mean'] * k:.{digits}f} [{low * k:.{digits}f}, {high * k:.{digits}f}] "
                             f"({summary['median'] * k:.{digits}f})")
            lines.append(f"| {self.labels[arm]} | {summary['n']} | {self.steps(arm, budget):,} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def paired_table(self, metrics: dict[str, str], budget: str = "steps", arms: list[str] | None = None,
                     scale: dict[str, float] | None = None, digits: int = 2, baseline: str = "gan") -> str:
        """A Markdown table of arm − baseline per seed: mean [95% CI] and higher/lower/equal counts."""
        arms = [arm for arm in (arms if arms is not None else self.arms_with_runs(budget)) if arm != baseline]
        scale = scale or {}
        header = f"| arm − {self.labels[baseline]} | {_difference_titles(metrics)} |"
        lines = [header, "|" + "---|" * (1 + len(metrics))]
        for arm in arms:
            cells = [self.paired_cell(arm, metric, budget, baseline, scale.get(metric, 1.0), digits)
                     for metric in metrics]
            lines.append(f"| {self.labels[arm]} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def budget_table(self, metrics: dict[str, str], arms: list[str] | None = None,
                     scale: dict[str, float] | None = None, digits: int = 2, baseline: str = "gan") -> str:
        """A Markdown table of arm − baseline per seed at both budgets, two rows per arm: the arm
        given the baseline's steps, then given its seconds (with the steps that buys), so that
        "better per step" and "better per second" sit side by side. The baseline is always at
        its own steps. By default the arms finished at equal time.

        Taught in: chapter 6, "Equal time".
        """
        arms = [arm for arm in (arms if arms is not None else self.arms_with_runs("time")) if arm != baseline]
        scale = scale or {}
        header = f"| arm − {self.labels[baseline]} | budget (steps) | {_difference_titles(metrics)} |"
        lines = [header, "|" + "---|" * (2 + len(metrics))]
        for arm in arms:
            for budget, name in (("steps", "equal steps"), ("time", "equal time")):
                cells = [self.paired_cell(arm, metric, budget, baseline, scale.get(metric, 1.0), digits)
                         for metric in metrics]
                label = self.labels[arm] if budget == "steps" else ""
                lines.append(f"| {label} | {name} ({self.steps(arm, budget):,}) | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def paired_cell(self, arm: str, metric: str, budget: str = "steps", baseline: str = "gan",
                    scale: float = 1.0, digits: int = 2) -> str:
        """One cell of `paired_table`: "+1.23 [+0.45, +2.01] * (4/1/0)" for arm − baseline.

        The mean per-seed difference, its 95% bootstrap interval (starred where it excludes 0)
        and the seeds where the arm is higher/lower/equal.

        Taught in: chapter 6, "Reading a comparison".
        """
        return stats.format_difference(self.paired(arm, metric, budget, baseline), scale, digits)

    def core_hours(self) -> float:
        """The CPU time of every run in the file, in core-hours (each run had one thread).

        A run's time is its wall time; a run resumed after a stop recorded only its last stretch
        as wall time in files written before 2026-11-28, so its training clock (the curve's last
        "seconds", which continues across stops) counts where it is larger. Runs trained on a GPU
        or as ensemble members (whose clock is the whole ensemble's) are not CPU core time and
        count 0.
        """
        seconds = 0.0
        for run in self.results["runs"].values():
            if not str(run.get("device", "cpu")).startswith("cpu") or "ensemble" in run:
                continue
            clock = run["curve"][-1].get("seconds") if run.get("curve") else None
            seconds += max(run.get("wall_seconds") or 0.0, clock or 0.0)
        return seconds / 3600

    def confirmation(self, seeds_above: int = 8) -> dict:
        """The pre-registered test of a confirmation study (a file of `bench/compare.py
        confirm`): each new seed's gap to the line frozen in the file before the seeds ran,
        `stats.gap_to_line`, and whether the file's rule holds — the 95% interval of the mean
        gap wholly above 0 and at least `seeds_above` of the new seeds above the line.

        Returns the gaps' summary with "confirmed" (bool), "line" and "rule" (its text).

        Taught in: chapter 6, "The grid" (the confirmation on new seeds).
        """
        test = self.results.get("confirms")
        if test is None:
            raise ValueError(f"{self.source} is not a confirmation study: it has no 'confirms' entry "
                             "(written by `bench/compare.py confirm`)")
        x, y = (self.values(test["arm"], test[key]) for key in ("metric_x", "metric_y"))
        expected = set(self.protocol["heldout_seeds"])
        if set(x) != expected:
            raise ValueError(f"the confirmation's rule applies to all its seeds {sorted(expected)}; "
                             f"{self.source} has runs for {sorted(x)}")
        line = test["line"]
        gap = stats.gap_to_line(x, y, line["intercept"], line["slope"])
        confirmed = gap["ci"][0] > 0 and gap["higher"] >= seeds_above
        return {**gap, "confirmed": confirmed, "line": line, "arm": test["arm"], "rule": self.rule}

    def paired_test(self, name: str) -> dict:
        """A pre-registered paired test of a confirmation study (`bench/compare.py`'s
        PAIRED_TESTS, each written into the file before its arm ran): arm − baseline in one
        metric, paired by seed over all the study's seeds (`stats.paired_differences`), and the
        verdict of its rule (`stats.verdict`) — "supported" if the 95% interval lies wholly above
        0, "contradicted" if wholly below, "not shown" otherwise.

        Returns the paired summary with "verdict" and the test's "arm", "baseline", "metric"
        and "rule" (its text).

        Taught in: chapter 6, "The grid" (the tests on new seeds).
        """
        fields = ("arm", "baseline", "metric", "rule")
        tests = [key for key, entry in self.results.items() if isinstance(entry, dict) and set(fields) <= set(entry)]
        if name not in tests:
            raise ValueError(f"{self.source} has no pre-registered paired test {name!r}; it has {tests}")
        test = self.results[name]
        expected = set(self.protocol["heldout_seeds"])
        for arm in (test["arm"], test["baseline"]):
            done = set(self.values(arm, test["metric"]))
            if done != expected:
                raise ValueError(f"the test {name!r} applies to all the study's seeds {sorted(expected)}; "
                                 f"{arm!r} has runs for {sorted(done)}")
        paired = self.paired(test["arm"], test["metric"], baseline=test["baseline"])
        return {**paired, "verdict": stats.verdict(paired), **{key: test[key] for key in fields}}

    def steps(self, arm: str, budget: str) -> int:
        """The number of steps the arm trains for at a budget."""
        runs = self.runs(arm, budget)
        if not runs:
            raise ValueError(f"arm {arm!r} has no {budget!r} runs on {self.dataset}")
        return runs[0]["steps"]


def _difference_titles(metrics: dict[str, str]) -> str:
    """The column titles of a table of paired differences, one per metric."""
    return " | ".join(f"{title}: mean [95% CI] (higher/lower/equal)" for title in metrics.values())


def load(dataset: str | None = None, path: str | Path | None = None) -> Comparison:
    """The packaged results of `dataset` ("ring", "grid", "digits"), or a results file at `path`.

    Taught in: chapter 6, "Reading a comparison".
    """
    if path is None:
        if dataset is None:
            raise ValueError("expected a dataset name (e.g. 'grid') or a path to a results file")
        path = ASSETS / f"compare_{dataset}.json"
        if not path.exists():
            shipped = sorted(p.stem.removeprefix("compare_") for p in ASSETS.glob("compare_*.json"))
            raise FileNotFoundError(f"no packaged comparison for {dataset!r}; the package ships {shipped}")
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); expected a results file of bench/compare.py") from None
    return Comparison(results, source=str(path))
