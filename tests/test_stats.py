"""The statistics behind every comparison table (chapter 6, "Reading a comparison")."""

from __future__ import annotations

import json
import random
import statistics

import pytest
import torch

from aegan_lib import comparison, stats


def test_bootstrap_ci_is_the_percentile_interval_of_resampled_means():
    """The formula of chapter 6, computed by hand with the same random picks."""
    values = [3.0, 7.0, 7.5, 9.0, 12.0, 4.0]
    low, high = stats.bootstrap_ci(values, resamples=2000, seed=3)
    picks = torch.randint(len(values), (2000, len(values)), generator=torch.Generator().manual_seed(3))
    means = sorted(statistics.fmean(values[i] for i in row) for row in picks.tolist())
    # linear interpolation between order statistics, as torch.quantile does
    def quantile(q):
        position = q * (len(means) - 1)
        below = int(position)
        return means[below] + (position - below) * (means[min(below + 1, len(means) - 1)] - means[below])
    assert low == pytest.approx(quantile(0.025)) and high == pytest.approx(quantile(0.975))
    assert low < statistics.fmean(values) < high


def test_bootstrap_ci_covers_the_true_mean_about_as_often_as_it_says():
    """Over 400 samples of 10 normal draws, a 90% interval holds the mean 80-97% of the time."""
    rng = random.Random(0)
    hits = 0
    for trial in range(400):
        sample = [rng.gauss(5.0, 2.0) for _ in range(10)]
        low, high = stats.bootstrap_ci(sample, confidence=0.9, resamples=1000, seed=trial)
        hits += low <= 5.0 <= high
    # the percentile bootstrap is a little narrow at n = 10; it must still be close to 90%
    assert 0.80 <= hits / 400 <= 0.97


def test_intervals_narrow_with_more_seeds_and_collapse_on_constants():
    rng = random.Random(1)
    few = [rng.gauss(0, 1) for _ in range(5)]
    many = few + [rng.gauss(0, 1) for _ in range(95)]
    width = lambda v: stats.bootstrap_ci(v)[1] - stats.bootstrap_ci(v)[0]  # noqa: E731
    assert width(many) < width(few)
    assert stats.bootstrap_ci([2.5] * 7) == (2.5, 2.5)
    assert stats.bootstrap_ci([4.0]) == (4.0, 4.0)


def test_summary_and_paired_differences_count_ties_as_ties():
    summary = stats.summarize([1.0, 2.0, 3.0, 10.0])
    assert summary["mean"] == 4.0 and summary["median"] == 2.5 and summary["n"] == 4
    paired = stats.paired_differences({1: 5.0, 2: 3.0, 3: 4.0, 9: 1.0}, {1: 4.0, 2: 3.0, 3: 6.0})
    assert paired["seeds"] == [1, 2, 3] and paired["differences"] == [1.0, 0.0, -2.0]
    assert (paired["higher"], paired["lower"], paired["equal"]) == (1, 1, 1)
    assert not stats.excludes_zero(paired)
    assert stats.excludes_zero(stats.paired_differences({1: 2.0, 2: 3.0}, {1: 1.0, 2: 1.5}))


def test_format_difference_signs_stars_and_counts_a_paired_difference():
    clear = stats.paired_differences({1: 0.30, 2: 0.40}, {1: 0.10, 2: 0.15})
    assert stats.format_difference(clear, scale=100, digits=1) == "+22.5 [+20.0, +25.0] * (2/0/0)"
    unclear = stats.paired_differences({1: 5.0, 2: 3.0, 3: 4.0}, {1: 4.0, 2: 3.0, 3: 6.0})
    assert stats.format_difference(unclear, digits=1, counts=False) == "-0.3 [-2.0, +1.0]"
    with pytest.raises(ValueError, match="higher/lower/equal"):
        stats.format_difference(stats.summarize([1.0, 2.0]))


@pytest.mark.parametrize("bad, message", [([], "at least one value"), (["a"], "sequence of numbers"),
                                          ([1.0, float("nan")], "finite numbers")])
def test_bad_values_get_a_clear_error(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        stats.summarize(bad)
    with pytest.raises(ValueError, match="confidence in"):
        stats.bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="no seed in common"):
        stats.paired_differences({1: 1.0}, {2: 1.0})


def _results(tmp_path):
    runs = {}
    for arm, offset in (("gan", 0.0), ("recon", 2.0)):
        for budget in ("steps", "time"):
            for seed in (100, 101, 102):
                curve = [{"step": s, "seconds": s / 100, "modes": offset + seed - 100 + s / 1000} for s in (1000, 2000)]
                runs[f"heldout/{arm}/{budget}/seed{seed}"] = {
                    "arm": arm, "budget": budget, "phase": "heldout", "seed": seed, "steps": 2000,
                    "final": curve[-1], "curve": curve}
    results = {"dataset": "grid", "protocol": {}, "arms": {"gan": {"label": "plain GAN"},
                                                             "recon": {"label": "GAN + recon"}}, "runs": runs}
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(results))
    return path


def test_the_reader_gives_tables_paired_differences_and_curves(tmp_path):
    grid = comparison.load(path=_results(tmp_path))
    assert grid.values("recon", "modes") == {100: 4.0, 101: 5.0, 102: 6.0}
    assert grid.summary("recon", "modes")["mean"] == 5.0
    paired = grid.paired("recon", "modes", budget="time")
    assert paired["differences"] == [2.0, 2.0, 2.0] and paired["ci"] == (2.0, 2.0)
    curve = grid.curve("gan", "modes", x="seconds")
    assert curve["x"] == [10.0, 20.0] and curve["median"] == [2.0, 3.0] and curve["seeds"] == 3
    assert grid.runs("gan", "time") == grid.runs("gan", "steps")  # the GAN's time budget is its steps


def test_describe_lists_the_held_out_runs_their_cpu_time_and_each_arms_budgets(tmp_path):
    grid = comparison.load(path=_results(tmp_path))  # 2 arms × 2 budgets × 3 seeds, 20 s each
    text = grid.describe(width=60)
    assert text.startswith("grid   12 held-out runs; CPU time of all its runs 0.1 core-hours\n")
    assert "arms (budgets): gan (steps/time), recon (steps/time)" in text
    assert all(len(line) <= 60 for line in text.splitlines()[1:])


def test_an_arm_still_being_run_is_left_out_of_tables(tmp_path):
    results = json.loads(_results(tmp_path).read_text())
    results["protocol"] = {"heldout_seeds": [100, 101, 102]}
    del results["runs"]["heldout/recon/time/seed102"]  # two of three seeds done at equal time
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(results))
    grid = comparison.load(path=path)
    assert grid.arms_with_runs("steps") == ["gan", "recon"]
    assert grid.arms_with_runs("time") == ["gan"]
    assert grid.arms_with_runs("time", complete=False) == ["gan", "recon"]
    assert "GAN + recon" not in grid.table({"modes": "modes"}, budget="time")


def test_the_reader_refuses_what_it_cannot_read(tmp_path):
    grid = comparison.load(path=_results(tmp_path))
    with pytest.raises(ValueError, match="unknown arm 'vae'"):
        grid.runs("vae")
    with pytest.raises(ValueError, match="no metric 'fd'"):
        grid.values("gan", "fd")
    with pytest.raises(FileNotFoundError, match="no packaged comparison for 'moons'"):
        comparison.load("moons")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a comparison results file"):
        comparison.load(path=tmp_path / "bad.json")


def test_tables_show_means_intervals_medians_and_paired_counts(tmp_path):
    grid = comparison.load(path=_results(tmp_path))
    table = grid.table({"modes": "modes"}).splitlines()
    assert table[0].startswith("| arm | seeds | steps | modes: mean [95% CI] (median)")
    assert table[3] == "| GAN + recon | 3 | 2,000 | 5.00 [4.00, 6.00] (5.00) |"
    paired = grid.paired_table({"modes": "modes"}).splitlines()
    assert paired[2] == "| GAN + recon | +2.00 [+2.00, +2.00] * (3/0/0) |"  # * : the CI excludes 0
    # One cell, for tables of other shapes (chapter 4 pairs other arms): scaled, other digits.
    assert grid.paired_cell("recon", "modes", scale=10, digits=1) == "+20.0 [+20.0, +20.0] * (3/0/0)"
    assert grid.paired_cell("gan", "modes", baseline="recon").startswith("-2.00 [-2.00, -2.00] * (0/3/0)")


def test_the_budget_table_puts_each_arm_at_equal_steps_above_the_arm_at_equal_time(tmp_path):
    """Chapter 6's equal-time table: per arm, its difference to the plain GAN at the GAN's steps,
    then at the GAN's seconds (here half the steps, one mode lower on every seed)."""
    results = json.loads(_results(tmp_path).read_text())
    for seed in (100, 101, 102):
        run = results["runs"][f"heldout/recon/time/seed{seed}"]
        run["steps"], run["final"] = 1000, {**run["final"], "modes": seed - 100 + 1.0}
    path = tmp_path / "budgets.json"
    path.write_text(json.dumps(results))
    table = comparison.load(path=path).budget_table({"modes": "modes"}, digits=1).splitlines()
    assert table[0] == "| arm − plain GAN | budget (steps) | modes: mean [95% CI] (higher/lower/equal) |"
    assert table[2] == "| GAN + recon | equal steps (2,000) | +2.0 [+2.0, +2.0] * (3/0/0) |"
    assert table[3] == "|  | equal time (1,000) | -1.0 [-1.0, -1.0] * (0/3/0) |"
    assert len(table) == 4  # the plain GAN is the baseline, not a row


@pytest.mark.parametrize("dataset", ["ring", "grid", "digits"])
def test_the_packaged_comparison_is_a_faithful_snapshot_of_the_results_file(dataset):
    """The package ships results/compare/<dataset>.json as of its last `compare.py package`:
    every packaged run is in the results file with the same scores and curve (the file may
    have grown since), and the protocol, rule and λ are the same."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    results = json.loads((root / "results" / "compare" / f"{dataset}.json").read_text())
    shipped = comparison.load(dataset).results
    for key in ("protocol", "rule", "chosen", "timing"):
        assert shipped[key] == results[key], key
    assert shipped["runs"], "the package holds no runs"
    for key, run in shipped["runs"].items():
        assert results["runs"][key]["final"] == run["final"] and results["runs"][key]["curve"] == run["curve"], key


def test_gap_to_trend_is_the_distance_above_the_baselines_least_squares_line():
    """gap = y − (a + b·x) with (a, b) the least-squares line of the baseline (chapter 6)."""
    rng = random.Random(2)
    base_x = {s: float(rng.randint(5, 25)) for s in range(10)}
    base_y = {s: 1.0 - 0.01 * x + rng.gauss(0, 0.01) for s, x in base_x.items()}
    arm_x = {100 + s: float(rng.randint(10, 20)) for s in range(6)}
    arm_y = {s: 1.05 - 0.01 * x + rng.gauss(0, 0.01) for s, x in arm_x.items()}
    gap = stats.gap_to_trend(arm_x, arm_y, base_x, base_y)
    line = statistics.linear_regression([base_x[s] for s in range(10)], [base_y[s] for s in range(10)])
    expected = [arm_y[s] - (line.intercept + line.slope * arm_x[s]) for s in sorted(arm_x)]
    assert gap["gaps"] == pytest.approx(expected) and gap["seeds"] == sorted(arm_x)
    assert gap["slope"] == pytest.approx(line.slope) and gap["intercept"] == pytest.approx(line.intercept)
    assert gap["mean"] == pytest.approx(statistics.fmean(expected))
    assert gap["within_range"] and gap["ci"][0] < gap["mean"] < gap["ci"][1]
    assert 0.0 < gap["ci"][0] and gap["higher"] > gap["lower"]  # the arm sits 0.05 above


def test_gap_to_trend_is_exact_on_a_line_and_near_zero_for_the_baselines_own_kind():
    base_x = {s: float(s) for s in range(8)}
    on_line = {s: 2.0 - 0.5 * x for s, x in base_x.items()}
    shifted = stats.gap_to_trend({1: 3.0, 2: 6.0}, {1: 2.0 - 1.5 + 3.0, 2: 2.0 - 3.0 + 3.0}, base_x, on_line)
    assert shifted["gaps"] == pytest.approx([3.0, 3.0])
    assert shifted["ci"] == pytest.approx((3.0, 3.0))  # every refitted line is the same line
    rng = random.Random(4)
    draw = lambda: {s: (x := float(rng.randint(5, 25)), 1.0 - 0.01 * x + rng.gauss(0, 0.01)) for s in range(10)}  # noqa: E731
    base, twin = draw(), draw()
    same = stats.gap_to_trend({s: p[0] for s, p in twin.items()}, {s: p[1] for s, p in twin.items()},
                              {s: p[0] for s, p in base.items()}, {s: p[1] for s, p in base.items()})
    assert same["ci"][0] < 0 < same["ci"][1]
    far = stats.gap_to_trend({1: 40.0}, {1: 0.5}, base_x, on_line)
    assert not far["within_range"]


@pytest.mark.parametrize("arm_x, arm_y, base_x, base_y, message", [
    ({1: 1.0}, {2: 1.0}, {0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.0, 1: 2.0, 2: 3.0}, "the same seeds"),
    ({1: 1.0}, {1: 1.0}, {0: 1.0, 1: 2.0}, {0: 1.0, 1: 2.0}, "at least 3 baseline seeds"),
    ({1: 1.0}, {1: 1.0}, {0: 2.0, 1: 2.0, 2: 2.0}, {0: 1.0, 1: 2.0, 2: 3.0}, "different x values"),
    ({1: "a"}, {1: 1.0}, {0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.0, 1: 2.0, 2: 3.0}, "sequence of numbers"),
])
def test_gap_to_trend_says_what_it_expected(arm_x, arm_y, base_x, base_y, message):
    with pytest.raises((ValueError, TypeError), match=message):
        stats.gap_to_trend(arm_x, arm_y, base_x, base_y)


def test_gap_to_line_measures_against_a_frozen_line_and_agrees_with_gap_to_trend():
    x, y = {7: 10.0, 8: 20.0, 9: 15.0}, {7: 0.95, 8: 0.88, 9: 0.90}
    gap = stats.gap_to_line(x, y, intercept=1.0, slope=-0.01)
    assert gap["gaps"] == pytest.approx([0.05, 0.08, 0.05]) and gap["seeds"] == [7, 8, 9]
    assert gap["mean"] == pytest.approx(0.06) and gap["higher"] == 3 and gap["lower"] == 0
    assert gap["ci"] == pytest.approx(stats.bootstrap_ci(gap["gaps"]))  # only the seeds are resampled
    rng = random.Random(5)
    base_x = {s: float(rng.randint(5, 25)) for s in range(10)}
    base_y = {s: 1.0 - 0.01 * v + rng.gauss(0, 0.01) for s, v in base_x.items()}
    trend = stats.gap_to_trend(x, y, base_x, base_y)
    frozen = stats.gap_to_line(x, y, trend["intercept"], trend["slope"])
    assert frozen["gaps"] == pytest.approx(trend["gaps"]) and frozen["mean"] == pytest.approx(trend["mean"])
    with pytest.raises(ValueError, match="same seeds"):
        stats.gap_to_line({1: 1.0}, {2: 1.0}, 1.0, 0.0)
    with pytest.raises(ValueError, match="intercept and slope"):
        stats.gap_to_line(x, y, float("nan"), 0.0)


def _confirmation(tmp_path, hq_above_line):
    """A confirmation study's file: GAN + recon on seeds 110-119, the line frozen in it."""
    runs = {}
    for i, seed in enumerate(range(110, 120)):
        modes = 15.0 + i
        final = {"step": 2000, "modes": modes, "high_quality": 1.0 - 0.01 * modes + hq_above_line[i]}
        runs[f"heldout/recon/steps/seed{seed}"] = {"arm": "recon", "budget": "steps", "phase": "heldout",
                                                   "seed": seed, "steps": 2000, "final": final, "curve": [final]}
    results = {"dataset": "grid", "study": "confirm", "rule": "confirmed if ...",
               "protocol": {"heldout_seeds": list(range(110, 120))},
               "confirms": {"arm": "recon", "metric_x": "modes", "metric_y": "high_quality",
                            "line": {"intercept": 1.0, "slope": -0.01}},
               "arms": {"recon": {"label": "GAN + recon"}}, "runs": runs}
    path = tmp_path / "grid_confirm.json"
    path.write_text(json.dumps(results))
    return path


def test_a_confirmation_applies_its_rule_to_the_frozen_line(tmp_path):
    """Confirmed: the mean gap's interval above 0 and at least 8 of 10 seeds above the line."""
    above = comparison.load(path=_confirmation(tmp_path, [0.05, 0.07, 0.06, 0.04, 0.08, 0.05, 0.06, 0.07, 0.05, 0.06]))
    result = above.confirmation()
    assert result["confirmed"] and result["higher"] == 10 and result["mean"] == pytest.approx(0.059)
    assert result["rule"] == "confirmed if ..." and result["line"] == {"intercept": 1.0, "slope": -0.01}
    # Above on average, but on only 7 seeds: the interval is above 0 and the count says no.
    seven = comparison.load(path=_confirmation(tmp_path, [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, -0.01, -0.01, -0.01]))
    assert stats.excludes_zero(seven.confirmation()) and not seven.confirmation()["confirmed"]
    # Every seed above, by too little and too unevenly for the interval to clear 0: no.
    spread = comparison.load(path=_confirmation(tmp_path, [0.001] * 8 + [-0.3, -0.3]))
    assert spread.confirmation()["higher"] == 8 and not spread.confirmation()["confirmed"]


def test_a_confirmation_refuses_a_file_that_is_not_one_or_is_not_finished(tmp_path):
    with pytest.raises(ValueError, match="not a confirmation study"):
        comparison.load(path=_results(tmp_path)).confirmation()
    path = _confirmation(tmp_path, [0.05] * 10)
    results = json.loads(path.read_text())
    del results["runs"]["heldout/recon/steps/seed119"]
    path.write_text(json.dumps(results))
    with pytest.raises(ValueError, match="applies to all its seeds"):
        comparison.load(path=path).confirmation()


def _paired_study(tmp_path, gains):
    """A confirmation study with a further test: recon − placebo in modes on seeds 110-119."""
    path = _confirmation(tmp_path, [0.05] * 10)
    results = json.loads(path.read_text())
    for seed, gain in zip(range(110, 120), gains):
        modes = results["runs"][f"heldout/recon/steps/seed{seed}"]["final"]["modes"] - gain
        final = {"step": 2000, "modes": modes, "high_quality": 0.9}
        results["runs"][f"heldout/placebo/steps/seed{seed}"] = {
            "arm": "placebo", "budget": "steps", "phase": "heldout", "seed": seed, "steps": 2000,
            "final": final, "curve": [final]}
    results["arms"]["placebo"] = {"label": "placebo"}
    results["coverage"] = {"arm": "recon", "baseline": "placebo", "metric": "modes", "rule": "supported if ..."}
    path.write_text(json.dumps(results))
    return path


@pytest.mark.parametrize("gains, verdict", [
    ([2, 3, 1, 2, 4, 2, 3, 1, 2, 3], "supported"),
    ([-2, -3, -1, -2, -4, -2, -3, -1, -2, -3], "contradicted"),
    ([3, -2, 1, -4, 2, 0, -1, 3, -3, 1], "not shown"),
])
def test_a_paired_test_gives_its_rules_verdict_from_the_paired_interval(tmp_path, gains, verdict):
    result = comparison.load(path=_paired_study(tmp_path, gains)).paired_test("coverage")
    assert result["verdict"] == verdict and result["mean"] == pytest.approx(statistics.fmean(gains))
    assert (result["arm"], result["baseline"], result["metric"]) == ("recon", "placebo", "modes")
    assert result["rule"] == "supported if ..." and result["n"] == 10


def test_a_paired_test_refuses_an_unknown_name_or_missing_seeds(tmp_path):
    path = _paired_study(tmp_path, [1] * 10)
    with pytest.raises(ValueError, match=r"no pre-registered paired test 'joint'; it has \['coverage'\]"):
        comparison.load(path=path).paired_test("joint")
    with pytest.raises(ValueError, match="no pre-registered paired test 'confirms'"):
        comparison.load(path=path).paired_test("confirms")  # the line test has no paired form
    results = json.loads(path.read_text())
    del results["runs"]["heldout/placebo/steps/seed113"]
    path.write_text(json.dumps(results))
    with pytest.raises(ValueError, match="'placebo' has runs for"):
        comparison.load(path=path).paired_test("coverage")


def test_core_hours_count_a_resumed_runs_whole_training_clock(tmp_path):
    grid = comparison.load(path=_results(tmp_path))  # 12 runs, each 20 s on its training clock
    assert grid.core_hours() == pytest.approx(12 * 20 / 3600)
    for run in grid.results["runs"].values():
        run["wall_seconds"] = 30.0  # wall time includes scoring: it counts where it is larger
    assert grid.core_hours() == pytest.approx(12 * 30 / 3600)
    first = next(iter(grid.results["runs"].values()))
    first["wall_seconds"] = 5.0  # resumed: only its last stretch was timed
    assert grid.core_hours() == pytest.approx((11 * 30 + 20) / 3600)
    first["wall_seconds"], first["curve"] = None, [{"step": 2000, "modes": 1.0}]  # imported, no clock
    assert grid.core_hours() == pytest.approx(11 * 30 / 3600)
    second = list(grid.results["runs"].values())[1]
    second["device"] = "cuda"  # a GPU run is not CPU time, whatever its clock says
    assert grid.core_hours() == pytest.approx(10 * 30 / 3600)


def test_verdict_reads_an_interval_on_the_claimed_side_of_zero():
    above, below, across = ({"ci": ci} for ci in ((0.1, 0.5), (-0.5, -0.1), (-0.1, 0.5)))
    assert [stats.verdict(s) for s in (above, below, across)] == ["supported", "contradicted", "not shown"]
    # A lower FD is better: the same intervals read the other way round.
    assert [stats.verdict(s, "lower") for s in (above, below, across)] == ["contradicted", "supported", "not shown"]
    assert stats.verdict({"ci": (0.0, 0.5)}) == "not shown"  # touching 0 is not excluding it
    with pytest.raises(ValueError, match="better='higher' or 'lower'"):
        stats.verdict(above, "bigger")
