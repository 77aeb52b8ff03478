"""bench/compare.py, the comparison harness behind chapter 6, at a toy budget: a single run and
an ensemble member record the same scores in the same form, and a run resumes from its
checkpoint with the same curve it would have had."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import compare  # noqa: E402


def _job(arm: str, seed: int, steps: int = 40) -> dict:
    return {"key": f"test/{arm}/steps/seed{seed}", "phase": "test", "dataset": "ring", "arm": arm,
            "seed": seed, "budget": "steps", "steps": steps, "evaluate_every": 20,
            "reconstruction_weight": 10.0 if arm in compare.WITH_LAMBDA else None}


@pytest.fixture
def out(tmp_path, monkeypatch):
    (tmp_path / "checkpoints").mkdir()
    monkeypatch.setattr(compare, "OUT", tmp_path)
    return tmp_path


def test_single_runs_and_ensemble_members_record_the_same_scores(out):
    single = compare.run_one(_job("recon", 0))
    members = compare.run_ensemble([_job("recon", 0), _job("recon", 1)])
    rows = [single["curve"], *(member["curve"] for member in members)]
    for curve in rows:
        assert [row["step"] for row in curve] == [20, 40]
        assert set(curve[-1]) == {"step", "seconds", "modes", "high_quality", "kl"}
        assert 0 <= curve[-1]["modes"] <= 8 and 0.0 <= curve[-1]["high_quality"] <= 1.0
    assert single["final"] == single["curve"][-1] and single["wall_seconds"] > 0
    assert members[1]["ensemble"]["member"] == 1
    assert not list((out / "checkpoints").iterdir()), "a finished run leaves its checkpoint behind"


def test_a_stopped_run_resumes_with_the_curve_it_would_have_had(out, monkeypatch):
    whole = compare.run_one(_job("gan", 3))
    real_fit = compare.ag.fit

    def stop_after_first_checkpoint(*args, callback, **kwargs):
        def measure_then_stop(algo, step):  # step 20 is checkpointed and scored, then a Ctrl-C
            callback(algo, step)
            raise KeyboardInterrupt

        real_fit(*args, callback=measure_then_stop, **kwargs)

    monkeypatch.setattr(compare.ag, "fit", stop_after_first_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        compare.run_one(_job("gan", 3))
    assert (out / "checkpoints" / "test__gan__steps__seed3.pt").exists()
    before = json.loads((out / "checkpoints" / "test__gan__steps__seed3.partial.json").read_text())["curve"]
    monkeypatch.setattr(compare.ag, "fit", real_fit)
    resumed = compare.run_one(_job("gan", 3))
    assert resumed["curve"][0] == before[0], "the resumed run started over (its first row was measured again)"
    def scores(curve):  # the training clock differs between runs; the scores must not
        return [{k: v for k, v in row.items() if k != "seconds"} for row in curve]

    assert scores(resumed["curve"]) == scores(whole["curve"])


def test_the_comparison_scores_points_with_the_sweeps_scorer_less_one_key():
    mixture = compare.ag.data.ring(device="cpu")
    points = mixture.sample(500, generator=compare.torch.Generator().manual_seed(0))
    full = compare.sweep.score_points(points, mixture)
    assert compare.score_points(points, mixture) == {key: full[key] for key in ("modes", "high_quality", "kl")}
    assert full["modes"] == 8 and 0.9 < full["high_quality"] <= 1.0  # real samples score as real


def test_the_package_ships_only_arms_whose_held_out_seeds_are_all_done():
    def run(phase, arm, budget, seed):
        return {"phase": phase, "arm": arm, "budget": budget, "seed": seed}

    results = {"dataset": "ring", "protocol": {"heldout_seeds": [100, 101]}, "runs": {
        "a": run("heldout", "gan", "steps", 100), "b": run("heldout", "gan", "steps", 101),
        "c": run("heldout", "bigan", "steps", 100),  # one of two seeds: not yet an arm
        "d": run("heldout", "gan", "time", 101),  # the same arm at the other budget: its own group
        "e": run("dev", "recon", "steps", 0)}}  # development runs always ship
    assert sorted(compare.finished_runs(results)) == ["a", "b", "e"]


def test_a_confirmation_study_freezes_its_line_and_lives_in_its_own_file(out, monkeypatch):
    """CONFIRM_RULE's file: new seeds as its held-out seeds, the plain GAN's line fitted before
    any run and stored, saved beside (never over) the main file, packaged only when complete."""
    main = {"dataset": "grid", "protocol": compare.PROTOCOL["grid"], "chosen": {"reconstruction_weight": 10.0},
            "timing": {"ms_per_step": {}}, "runs": {}}
    for seed, (modes, hq) in zip(range(100, 110), [(8, .96), (10, .94), (12, .92), (14, .90), (16, .88),
                                                   (18, .86), (20, .84), (22, .82), (24, .80), (25, .79)]):
        main["runs"][f"heldout/gan/steps/seed{seed}"] = {
            "phase": "heldout", "arm": "gan", "budget": "steps", "seed": seed,
            "final": {"modes": modes, "high_quality": hq}}
    (out / "grid.json").write_text(json.dumps(main))
    study = compare.confirmation("grid")
    assert study["protocol"]["heldout_seeds"] == compare.CONFIRM["grid"]["seeds"]
    assert study["confirms"]["line"]["slope"] == pytest.approx(-0.01, abs=1e-3)
    assert study["rule"] == compare.CONFIRM_RULE and study["chosen"] == main["chosen"]
    compare.save(study)
    assert json.loads((out / "grid.json").read_text()) == main, "the study overwrote the main file"
    assert json.loads((out / "grid_confirm.json").read_text())["confirms"] == study["confirms"]
    assert compare.confirmation("grid")["confirms"]["when"] == study["confirms"]["when"]
    study["runs"]["heldout/recon/steps/seed110"] = {"phase": "heldout", "arm": "recon", "budget": "steps",
                                                    "seed": 110, "final": {"modes": 20, "high_quality": .9}}
    compare.save(study)
    root = out / "package"
    (root / "aegan_lib" / "assets").mkdir(parents=True)
    monkeypatch.setattr(compare, "ROOT", root)
    compare.package("grid", "confirm")
    assert not (root / "aegan_lib" / "assets" / "compare_grid_confirm.json").exists(), \
        "a study with one of its ten seeds done was packaged"
    with pytest.raises(SystemExit, match="no confirmation study"):
        compare.confirmation("ring")
    # The further tests (PAIRED_TESTS) are in the file from the start; one missing from a file
    # written before it existed is added once, before its arm's first run, and never rewritten.
    assert study["coverage"]["rule"] == compare.COVERAGE_RULE and study["coverage"]["baseline"] == "placebo"
    assert study["joint"]["rule"] == compare.JOINT_RULE and study["joint"]["arm"] == "latent_recon"
    older = json.loads((out / "grid_confirm.json").read_text())
    del older["joint"]
    (out / "grid_confirm.json").write_text(json.dumps(older))
    added = compare.confirmation("grid")["joint"]
    on_disk = json.loads((out / "grid_confirm.json").read_text())
    assert on_disk["joint"] == added and on_disk["coverage"] == study["coverage"]
    assert compare.confirmation("grid")["joint"]["when"] == added["when"]
    monkeypatch.setattr("sys.argv", ["compare.py", "confirm", "--dataset", "grid", "--arms", "gan"])
    with pytest.raises(SystemExit, match="runs 'recon', 'placebo', 'latent_recon'"):
        compare.main()
