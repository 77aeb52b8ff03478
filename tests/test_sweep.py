"""bench/sweep.py and bench/sharp_gans.py: a sweep unit writes one self-describing results file,
a re-run skips it, and the recipe search's selection rule does what RULE says."""

from __future__ import annotations

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import sharp_gans  # noqa: E402
import sweep  # noqa: E402

TINY_UNIT = {"name": "tiny", "phase": "search", "steps": 20, "seed": 0, "evaluate_every": 10,
             "recipe": {"hidden": [8], "batch_size": 16, "lr": 1e-3, "betas": [0.5, 0.9],
                        "lr_schedule": "linear", "pack": 1, "ema": 0.9},
             "members": [{"dataset": "ring", "seed": 0, "r1_weight": 0.1},
                         {"dataset": "grid", "seed": 0, "r1_weight": 1.0}]}


def test_a_unit_writes_its_results_and_a_rerun_skips_it(tmp_path):
    result = sweep.run_unit(TINY_UNIT, tmp_path)
    path = tmp_path / "runs" / "tiny.json"
    assert path.read_text() == json.dumps(result, indent=1)  # (NaN ≠ NaN, so compare the text)
    assert [row["step"] for row in result["curve"]] == [10, 20]
    member = result["final"]["members"][1]
    assert set(member) == {"raw", "averaged"}
    assert set(member["raw"]) == {"modes", "high_quality", "kl", "kl_high_quality"}
    assert result["code"]["source_sha256"] and result["members"] == TINY_UNIT["members"]
    assert not (tmp_path / "checkpoints" / "tiny.pt").exists()  # a finished unit leaves no checkpoint
    modified = path.stat().st_mtime_ns
    assert json.dumps(sweep.run_unit(TINY_UNIT, tmp_path)) == json.dumps(result)
    assert path.stat().st_mtime_ns == modified
    assert json.dumps(sweep.load_runs(tmp_path, "search")) == json.dumps([result])


def _table(scores):
    """(pack, γ, averaged) → per dataset lists, from {key: (ring modes, ring hq, grid modes, grid hq)}."""
    return {key: {"ring": {"modes": [rm], "high_quality": [rh]}, "grid": {"modes": [gm], "high_quality": [gh]}}
            for key, (rm, rh, gm, gh) in scores.items()}


def test_the_rule_wants_sharpness_first_then_coverage_then_simplicity():
    table = _table({(1, 0.0, False): (6, 0.95, 15, 0.90),   # sharp, drops modes
                    (1, 0.1, False): (8, 0.93, 25, 0.75),   # every mode, not sharp enough
                    (1, 0.01, False): (8, 0.90, 22, 0.86),  # sharp enough, more modes: wins
                    (1, 0.01, True): (8, 0.91, 22, 0.86)})  # tied on coverage, higher HQ but averaged...
    assert sharp_gans.choose(table, 1) == (1, 0.01, True)  # ...HQ breaks the tie before simplicity
    table[(1, 0.01, True)]["ring"]["high_quality"] = [0.90]
    assert sharp_gans.choose(table, 1) == (1, 0.01, False)  # equal HQ: the simpler one
    nobody_sharp = _table({(2, 0.0, False): (8, 0.8, 20, 0.5), (2, 0.1, False): (8, 0.8, 25, 0.6)})
    assert sharp_gans.choose(nobody_sharp, 2) == (2, 0.1, False)  # rule 3: (C + HQ) / 2


def test_search_units_cover_every_candidate_once():
    units = sharp_gans.search_units(steps=10)
    seen = {(u["recipe"]["pack"], m["r1_weight"], m["dataset"], m["seed"]) for u in units for m in u["members"]}
    assert len(seen) == sum(len(u["members"]) for u in units)
    assert len(seen) == 2 * (len(sharp_gans.GAMMAS) + 1) * 2 * len(sharp_gans.DEV_SEEDS)
    assert not {m["seed"] for u in units for m in u["members"]} & set(sharp_gans.HELDOUT_SEEDS)


def test_the_committed_table_holds_ten_heldout_seeds_per_arm():
    path = Path(__file__).resolve().parents[1] / "results" / "sharp_gans" / "heldout_table.json"
    table = json.loads(path.read_text())
    assert table["heldout_seeds"] == list(range(100, 110))
    for arm in table["arms"].values():
        for dataset in ("ring", "grid"):
            assert arm[dataset]["seeds"] == table["heldout_seeds"]
    packaged = Path(sweep.ROOT / "aegan_lib" / "assets" / "sharp_gans.json")
    assert json.loads(packaged.read_text()) == table, "the package's copy is stale: run sharp_gans.py table"


def test_pacgan_recipe_runs_at_a_tiny_budget(tmp_path):
    import pacgan_recipe

    result = pacgan_recipe.run(pack=2, seeds=1, steps=4, seconds=float("inf"), device="cpu", out=tmp_path)
    assert result["finished"] and result["steps_done"] == 4 and len(result["members"]) == 2
    assert (tmp_path / "pacgan_recipe_pack2.json").exists()
    generator, discriminator = pacgan_recipe.generator(3), pacgan_recipe.discriminator(3, pack=2)
    norms = [m for m in generator.modules() if isinstance(m, pacgan_recipe.ensemble.EnsembleBatchNorm)]
    maxouts = [m for m in discriminator.modules() if isinstance(m, pacgan_recipe.ensemble.Maxout)]
    assert len(norms) == 4 and [m.pieces for m in maxouts] == [5, 5, 5]
    # Their sizes: 4 hidden layers of 400 (no bias before BatchNorm), maxout 200 units × 5 pieces.
    per_member = (2 * 400 + 3 * 400 * 400 + 400 * 2 + 2) + 4 * 2 * 400
    assert sum(p.numel() for p in generator.parameters()) == 3 * per_member
