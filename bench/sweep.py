"""Run many 2D GAN configurations × seeds, resumably, on every core or one GPU: the book's sweeps.

A *unit* is one `aegan_lib.ensemble.gan` model: S members, each a (mixture, seed, γ) triple,
trained together by one `fit`. Every unit writes its own results file, `<out>/runs/<name>.json`
(config, members, per-member metrics of the raw and the averaged generator along training,
wall time, device, code version); a unit whose file exists is skipped, and one that stopped
half-way resumes from its checkpoint (`<out>/checkpoints/`, not committed). So a sweep is
re-run with the same command after a crash, and units run in parallel processes with joblib
(`jobs`): on a CPU one unit per core, on a GPU several units share it (each is launch-bound).

For a cluster, switch joblib's backend (`joblib.parallel_config(backend="dask")` or Ray's):
the units and their files stay the same.

Used by `bench/sharp_gans.py` (chapter 3) and read back with `load_runs`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

import torch

import aegan_lib as ag
from aegan_lib import ensemble, metrics

ROOT = Path(__file__).resolve().parents[1]
MIXTURES = {"ring": ag.data.ring, "grid": ag.data.grid}
SAMPLES = 2500  # the VEEGAN/PacGAN protocol


def code_version() -> dict:
    """The library version and a hash of its source, so a results file names the code it ran."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "aegan_lib").rglob("*.py")):
        digest.update(path.read_bytes())
    return {"aegan_lib": ag.__version__, "source_sha256": digest.hexdigest()[:16], "torch": str(torch.__version__)}


def _write_json(path: Path, payload: dict) -> None:
    """Atomic: a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(path.suffix + ".tmp")
    temp.write_text(json.dumps(payload, indent=1))
    os.replace(temp, path)


SCORE_KEYS = ("modes", "high_quality", "kl", "kl_high_quality")


def score_points(points: torch.Tensor, mixture, keys: tuple = SCORE_KEYS) -> dict:
    """The 2D scores a results file records (VEEGAN/PacGAN protocol), rounded to 5 places.

    The one 2D scorer of bench/: the sweeps record every key, the comparison harness the
    first three (the keys its results files have always held).
    """
    result = metrics.mode_coverage(points, mixture)
    return {key: result[key] if key == "modes" else round(float(result[key]), 5) for key in keys}


def evaluate(algo, stacked, members: list[dict], step: int) -> dict:
    """2500 samples of every member, from the raw and (if any) the averaged generator.

    The noise comes from a generator of its own, seeded by the step: measuring never moves
    the training noise stream, and a resumed run measures the same way.
    """
    row = {"step": step, "members": []}
    variants = ["raw"] + (["averaged"] if algo.generator_ema is not None else [])
    samples = {}
    for variant in variants:
        noise_stream = torch.Generator(device=algo.device).manual_seed(2024 + step)
        samples[variant] = ensemble.member_samples(algo, stacked, SAMPLES, generator=noise_stream,
                                                   averaged=variant == "averaged")
    for j, member in enumerate(members):
        mixture = stacked.mixtures[j]
        row["members"].append({variant: score_points(samples[variant][j], mixture) for variant in variants})
    return row


def run_unit(unit: dict, out: Path, device: str = "cpu", threads: int = 1) -> dict:
    """Train one unit to its `steps` (resuming if it stopped) and write its results file."""
    torch.set_num_threads(threads)
    path = out / "runs" / f"{unit['name']}.json"
    if path.exists():
        return json.loads(path.read_text())
    members = unit["members"]
    recipe = dict(unit["recipe"])
    gammas = [member["r1_weight"] for member in members]
    recipe["r1_weight"] = gammas[0] if len(set(gammas)) == 1 else gammas
    if "hidden" in recipe:
        recipe["hidden"] = tuple(recipe["hidden"])
    if "betas" in recipe:
        recipe["betas"] = tuple(recipe["betas"])
    mixtures = [MIXTURES[member["dataset"]](device=device) for member in members]
    ag.seed_everything(unit["seed"])
    algo, stacked = ensemble.gan(mixtures, **recipe)

    partial_path = out / "runs" / f"{unit['name']}.partial.json"
    curve = json.loads(partial_path.read_text())["curve"] if partial_path.exists() else []
    timing = {"started": time.time(), "steps_timed": 0, "seconds_timed": 0.0, "last": None}

    def measure(algo, step):
        now = time.time()
        if timing["last"] is not None:
            timing["steps_timed"] += step - timing["last"][0]
            timing["seconds_timed"] += now - timing["last"][1]
        nonlocal curve
        curve = [row for row in curve if row["step"] < step] + [evaluate(algo, stacked, members, step)]
        _write_json(partial_path, {"curve": curve})
        timing["last"] = (step, time.time())  # evaluation time is not training time

    checkpoint = out / "checkpoints" / f"{unit['name']}.pt"
    # data_seed=seed: the sweeps in results/ were run before fit's independent data stream.
    ag.fit(algo, stacked, steps=unit["steps"], seed=unit["seed"], data_seed=unit["seed"], checkpoint=checkpoint,
           checkpoint_every=unit.get("checkpoint_every", 2000), progress=False, log_every=500,
           callback=measure, callback_every=unit.get("evaluate_every", 1000))
    result = {
        **unit, "curve": curve, "final": curve[-1],
        "ms_per_step": round(1000 * timing["seconds_timed"] / max(timing["steps_timed"], 1), 3),
        "wall_seconds": round(time.time() - timing["started"], 1),
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
        "code": code_version(),
    }
    _write_json(path, result)
    remove_run_files(checkpoint, partial_path)
    return result


def remove_run_files(checkpoint: Path, *others: Path) -> None:
    """Once a run's result is written: its checkpoint, the one `fit` kept before it
    (`<name>.previous.pt`, see aegan_lib.checkpoint) and any other files it resumed from."""
    for path in (checkpoint, ag.checkpoint.previous_path(checkpoint), *others):
        path.unlink(missing_ok=True)


def run_units(units: list[dict], out: Path, device: str = "cpu", jobs: int = 1) -> list[dict]:
    """Run units in `jobs` processes (joblib/loky; one torch thread each), skipping finished ones.

    jobs=1 runs them in turn in this process with torch's own thread count (every core).
    """
    if jobs == 1:
        threads = torch.get_num_threads()  # run_unit sets it; keep the caller's setting
        return [run_unit(unit, out, device, threads=threads) for unit in units]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=jobs, backend="loky")(delayed(run_unit)(unit, out, device) for unit in units)


def load_runs(out: Path, phase: str | None = None) -> list[dict]:
    """Every finished unit's results (optionally of one phase), in name order."""
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))
            if not p.name.endswith(".partial.json")]
    return [run for run in runs if phase is None or run["phase"] == phase]


def member_table(runs: list[dict], variant_of=lambda run: "raw") -> list[dict]:
    """One row per (unit, member): its labels and final metrics, flat."""
    rows = []
    for run in runs:
        for member, scores in zip(run["members"], run["final"]["members"]):
            variant = variant_of(run)
            rows.append({"unit": run["name"], **member, **{k: v for k, v in run["recipe"].items()},
                         "variant": variant, **scores[variant]})
    return rows
