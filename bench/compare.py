"""The comparison harness (chapter 6): arms × seeds × budgets → one results file per dataset.

Does the autoencoder help a converged GAN? Every arm is built by `aegan_lib.algos.make` with
the same networks and the same recipe (chapter 3's on 2D points), trained by `aegan_lib.fit`
for a budget, and scored along the way. One results file per dataset,
`results/compare/<dataset>.json`, holds everything needed to read it: the protocol, the rule
that chooses λ (written here before any held-out run), the code version, the time per step of
every arm, and every run (arm, seed, budget, config, final scores, learning curve in steps and
seconds, wall time). It is rewritten atomically after each run; a run that stopped half-way
resumes from its checkpoint (`results/compare/checkpoints/`, not committed), so after a crash
the same command continues. `aegan_lib.comparison` reads the file (CIs, paired differences).

    python bench/compare.py timing  --dataset grid     # ms/step of every arm, interleaved, one process
    python bench/compare.py dev     --dataset grid     # development seeds: the λ candidates of "GAN + recon"
    python bench/compare.py select  --dataset grid     # RULE → the chosen λ, stored in the file
    python bench/compare.py heldout --dataset grid --arms gan,recon --budgets steps,time
    python bench/compare.py import  --dataset grid     # chapter 3's GPU runs of gan / pacgan2 (same recipe)
    python bench/compare.py confirm --dataset grid     # new seeds for a post-hoc finding (CONFIRM_RULE),
                                                     # then PAIRED_TESTS against the placebo on them
    python bench/compare.py package                    # copy the results files into aegan_lib/assets/
    options: --jobs 2 (processes, one torch thread each), --device cpu|cuda

Budgets: "steps" gives every arm the plain GAN's number of steps; "time" gives every arm the
plain GAN's training time, as steps = round(T · t_gan / t_arm) from the interleaved timing
(measured once, stored in the file; with a decaying learning rate a shorter run is its own run,
not a prefix of a longer one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep  # noqa: E402  (code_version, atomic writes, the 2D scorer)

import aegan_lib as ag  # noqa: E402
from aegan_lib import ensemble, nets  # noqa: E402
from aegan_lib.algos import make  # noqa: E402
from aegan_lib.algos.latent_gan import CodeMixture  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "compare"

# The arms: name → (method, make() overrides, label). λ (reconstruction_weight) is filled in
# from the development phase for every arm that has a reconstruction term.
ARMS = {
    "gan": ("gan", {}, "plain GAN"),
    "pacgan2": ("gan", {"pack": 2}, "PacGAN2 (packing, no autoencoder)"),
    "placebo": ("aegan", {"reconstruction_weight": 0.0, "latent_discriminator": None,
                          "latent_reconstruction_weight": 0.0}, "placebo (joint loop, λ = 0)"),
    "latent_gan": ("latent_gan", {}, "latent GAN (a GAN on codes E(x), decoded)"),
    "recon": ("aegan", {"latent_discriminator": None, "latent_reconstruction_weight": 0.0},
              "GAN + recon (MRGAN's form)"),
    "latent_critic": ("aegan", {"latent_reconstruction_weight": 0.0}, "+ latent critic"),
    "latent_recon": ("aegan", {"latent_reconstruction_weight": 1.0}, "+ latent recon (μ = 1)"),
    "lazarou": ("aegan", {"latent_reconstruction_weight": 1.0, "adversarial_reconstructions": True},
                "+ critics see reconstructions (Lazarou)"),
    "bigan": ("bigan", {}, "BiGAN / ALI"),
    # Not trained on its own: scored at the end of every latent-GAN run, from its autoencoder.
    "code_mixture": ("latent_gan", {}, "Gaussian mixture on codes E(x), decoded (no GAN)"),
}
SCORED_FROM = {"code_mixture": "latent_gan"}
WITH_LAMBDA = ("recon", "latent_critic", "latent_recon", "lazarou")

PROTOCOL = {
    # 2D: chapter 3's budget (the recipe converges there: 93.9% HQ on the ring), scored by the
    # VEEGAN/PacGAN protocol (2500 samples, 3σ) every 1000 steps.
    "ring": {"steps": 20_000, "evaluate_every": 1000, "dev_seeds": [0, 1], "heldout_seeds": list(range(100, 110))},
    "grid": {"steps": 20_000, "evaluate_every": 1000, "dev_seeds": [0, 1], "heldout_seeds": list(range(100, 110))},
    # Digits: make()'s digits settings (batch 64, Adam 2e-4), scored by image_quality on as many
    # samples as test images every 1000 steps.
    "digits": {"steps": 5_000, "evaluate_every": 1000, "dev_seeds": [0, 1], "heldout_seeds": list(range(100, 105))},
}
LAMBDAS = [1.0, 10.0]  # the candidates; on points in standardised units (make() converts)

# Written before any held-out run; `select` applies it mechanically.
RULE = """\
lambda (the weight of ||x - G(E(x))||^2) is chosen once per dataset, for "GAN + recon", among
{1, 10}, on the development seeds at the "steps" budget, and shared by every arm with a
reconstruction term. 2D: the higher mean of (modes/K + HQ)/2 wins; within 0.02 the smaller
lambda wins (closer to the plain GAN). Digits: the lower mean FD wins; within 5% the smaller
lambda wins. Nothing else is tuned: every other setting is make()'s for the dataset. Held-out
seeds (ring/grid 100-109, digits 100-104) are run only after the choice is stored.
"""

# A finding made after the held-out runs is an observation until new seeds confirm it. Each
# confirmation study is its own results file (results/compare/<dataset>_confirm.json, packaged
# as compare_<dataset>_confirm.json) whose "held-out" seeds are new ones; its rule is written
# before any of its runs.
CONFIRM = {"grid": {"arm": "recon", "baseline": "placebo", "seeds": list(range(110, 120))}}
CONFIRM_RULE = """\
Written on 2026-11-28, before any run of this file. Chapter 6 found, after the held-out runs
(seeds 100-109), that GAN + recon's grid seeds lie above the least-squares line of HQ on modes
through the plain GAN's seeds (the plain GAN trades about one HQ point per mode; GAN + recon's
gap was +7.1 points [+5.5, +8.5], above on 10 of 10). Here GAN + recon is trained on new seeds
110-119: the grid, the "steps" budget, the lambda stored in grid.json, nothing else changed.
Each seed's gap is HQ - (a + b * modes), with the line (a, b) frozen in this file's "confirms"
entry: fitted to the plain GAN's held-out seeds 100-109 in grid.json (stats.gap_to_trend). The
finding is confirmed if the 95% bootstrap interval of the mean gap lies wholly above 0 and at
least 8 of the 10 new seeds lie above the line; otherwise it is not confirmed. Either way the
mean gap and its interval are reported.
"""

# Further tests on the same new seeds: arm - baseline, paired by seed, each rule added to the
# study's file before any run of its arm (the baseline's runs may be shared between tests).
COVERAGE_RULE = """\
Written on 2026-12-07, after GAN + recon's runs on seeds 110-119 were done and read (chapter 6's
trade-off confirmation) and before any placebo run on them. Against the placebo, the stricter
baseline, chapter 6 found GAN + recon's gain in grid modes on seeds 100-109 to be +3.8 [-0.3,
+8.0]: not separated from 0. Here the placebo (the joint loop with lambda = 0 and no latent
terms) is trained on seeds 110-119: the grid, the "steps" budget, nothing else changed. The test:
GAN + recon - placebo in modes covered, paired by seed, on seeds 110-119 alone. The gain is
supported if its 95% bootstrap interval lies wholly above 0, contradicted if wholly below 0, and
not shown otherwise. Reported besides, not tested: the same difference over seeds 100-119
pooled, and the difference in HQ.
"""
JOINT_RULE = """\
Written on 2026-12-07, before any run of the "latent_recon" arm on seeds 110-119, and after the
placebo's runs on them (COVERAGE_RULE) were done and read. On seeds 100-109, chapter 5's joint
loop with every latent term ("+ latent recon (mu = 1)": the reconstruction, the latent critic
and the latent reconstruction) covered +7.1 [+3.6, +10.5] more grid modes than the placebo, HQ
-0.6 points [-3.7, +2.3]; that comparison was read after those runs, and GAN + recon's gain of
the same kind (+3.8 on seeds 100-109) was +0.5 on the new seeds. Here the latent_recon arm is
trained on seeds 110-119: the grid, the "steps" budget, the lambda stored in grid.json, nothing
else changed. The test: latent_recon - placebo in modes covered, paired by seed, on seeds
110-119 alone. The gain is supported if its 95% bootstrap interval lies wholly above 0,
contradicted if wholly below 0, and not shown otherwise. Reported besides, not tested: the
difference in HQ, and both differences over seeds 100-119 pooled.
"""
CRITIC_RULE = """\
Written on 2026-12-07 (session 21), before any run of the "latent_critic" arm on seeds 110-119,
after the placebo's, GAN + recon's and latent_recon's runs on them were done and read (JOINT_RULE
was supported: +5.5 [+3.1, +7.7] modes). Which latent term carries those modes? On seeds 100-109
the joint loop with the reconstruction and the latent critic but no latent reconstruction
("+ latent critic") covered +6.0 [+2.4, +9.4] more grid modes than the placebo (7 of 10 seeds
higher), HQ -0.8 points [-4.0, +2.4]; read after those runs. Here the latent_critic arm is
trained on seeds 110-119: the grid, the "steps" budget, the lambda stored in grid.json, nothing
else changed. The test: latent_critic - placebo in modes covered, paired by seed, on seeds
110-119 alone. The gain is supported if its 95% bootstrap interval lies wholly above 0,
contradicted if wholly below 0, and not shown otherwise. Reported besides, not tested: the
difference in HQ, latent_recon - latent_critic in modes on the same seeds (what the latent
reconstruction adds), and the differences over seeds 100-119 pooled.
"""
# name -> (the arm tested against the study's baseline, its rule); in the order they were written.
PAIRED_TESTS = {"grid": {"coverage": ("recon", COVERAGE_RULE), "joint": ("latent_recon", JOINT_RULE),
                         "critic": ("latent_critic", CRITIC_RULE)}}


def results_path(dataset: str, study: str | None = None) -> Path:
    return OUT / (f"{dataset}_{study}.json" if study else f"{dataset}.json")


def load(dataset: str) -> dict:
    path = results_path(dataset)
    if path.exists():
        return json.loads(path.read_text())
    return {"dataset": dataset, "protocol": PROTOCOL[dataset], "rule": RULE,
            "arms": {name: {"method": method, "overrides": _plain(overrides), "label": label}
                     for name, (method, overrides, label) in ARMS.items()},
            "timing": None, "chosen": None, "runs": {}}


def _plain(overrides: dict) -> dict:
    return {key: ("none" if value is None else value) for key, value in overrides.items()}


def build(arm: str, data, reconstruction_weight: float | None):
    method, overrides, _ = ARMS[arm]
    overrides = dict(overrides)
    if arm in WITH_LAMBDA:
        overrides["reconstruction_weight"] = reconstruction_weight
    return make(method, data, **overrides)


COMPARE_SCORE_KEYS = ("modes", "high_quality", "kl")


def score_points(points, mixture) -> dict:
    """The 2D scores a comparison run records: sweep's scorer, without `kl_high_quality`."""
    return sweep.score_points(points, mixture, COMPARE_SCORE_KEYS)


def score(algo, data, step: int) -> dict:
    """The dataset's metrics on fresh samples; the noise stream is seeded by the step only."""
    device = algo.device if hasattr(algo, "device") else nets.device_of(algo.decoder)
    sampler = torch.Generator(device=device).manual_seed(2024 + step)
    if isinstance(data, ag.data.GaussianMixture2D):
        return score_points(algo.sample(2500, generator=sampler), data)
    result = ag.metrics.image_quality(algo.sample(len(data.test), generator=sampler), data)
    return {key: round(float(result[key]), 5) for key in
            ("fd", "fd_floor", "precision", "recall", "classes", "kl")}


def run_one(job: dict, device: str = "cpu") -> dict:
    """Train one arm on one seed for its budget, scoring along the way; resumes from a checkpoint.

    The curve and the training clock so far are kept beside the checkpoint, so a resumed run
    continues both (its rows after the checkpoint's step are measured again).
    """
    torch.set_num_threads(1)
    data = ag.data.load(job["dataset"], device)
    ag.seed_everything(job["seed"])
    algo = build(job["arm"], data, job["reconstruction_weight"])
    name = job["key"].replace("/", "__")
    checkpoint, partial = OUT / "checkpoints" / f"{name}.pt", OUT / "checkpoints" / f"{name}.partial.json"
    curve = json.loads(partial.read_text())["curve"] if partial.exists() and checkpoint.exists() else []
    clock = {"since": time.perf_counter()}

    def measure(algo, step):
        previous = [row for row in curve if row["step"] < step]
        trained = (previous[-1]["seconds"] if previous else 0.0) + time.perf_counter() - clock["since"]
        curve[:] = previous + [{"step": step, "seconds": round(trained, 2), **score(algo, data, step)}]
        sweep._write_json(partial, {"curve": curve})
        clock["since"] = time.perf_counter()  # scoring is not training time

    # A resumed run's wall time counts its training before the stop too (its clock in the curve).
    started = time.perf_counter() - (curve[-1]["seconds"] if curve else 0.0)
    # data_seed=seed: the comparison's protocol was started before fit drew the data stream
    # from a seed of its own (data.stream_seed); every run of it keeps that rule.
    ag.fit(algo, data, steps=job["steps"], seed=job["seed"], data_seed=job["seed"], checkpoint=checkpoint,
           checkpoint_every=job["evaluate_every"], progress=False, log_every=500,
           callback=measure, callback_every=job["evaluate_every"])
    if not curve or curve[-1]["step"] != job["steps"]:
        measure(algo, job["steps"])
    sweep.remove_run_files(checkpoint, partial)
    run = {**job, "config": json.loads(json.dumps(algo.config, default=str)), "final": curve[-1],
           "curve": curve, "wall_seconds": round(time.perf_counter() - started, 1), "device": device}
    if job["seed"] == PROTOCOL[job["dataset"]]["heldout_seeds"][0]:
        run["pictures"] = pictures(algo, data)
    if job["arm"] == "latent_gan":
        # The rival without a GAN: a Gaussian mixture on the same autoencoder's codes.
        mixture = CodeMixture.fit(algo.encoder, algo.decoder, _training_data(data), seed=job["seed"])
        final = {"step": job["steps"], **score(mixture, data, job["steps"]), "components": mixture.components}
        key = job["key"].replace("/latent_gan/", "/code_mixture/")
        extra = {**job, "key": key, "arm": "code_mixture", "config": {"components": mixture.components},
                 "final": final, "curve": [final], "wall_seconds": None, "device": device}
        if "pictures" in run:
            extra["pictures"] = {"samples": pictures(mixture, data)["samples"]}
        run["extra_runs"] = [extra]
    return run


def pictures(algo, data) -> dict:
    """What the chapter draws for one seed: samples from fixed noise and, for arms with an
    encoder, the codes E(x) of real data (2D: 1000 points; digits: 40 images, 500 codes)."""
    points = isinstance(data, ag.data.GaussianMixture2D)
    device = data.device if points else data.test.x.device
    real = data.sample(1000, generator=torch.Generator(device=device).manual_seed(7)) if points else data.test.x[:500]
    samples = algo.sample(1000 if points else 40, generator=torch.Generator(device=device).manual_seed(8))
    result = {"samples": _rounded(samples.flatten(1))}
    if hasattr(algo, "encode"):
        result["codes"] = _rounded(algo.encode(real))
    return result


def run_ensemble(jobs: list[dict], device: str = "cpu") -> list[dict]:
    """Train one arm's seeds as the members of one model (`aegan_lib.ensemble`); one run per member.

    For a GPU, where one small run leaves the device idle and S members cost about one run
    (chapter 3's measurement). A member takes a single run's steps (tests/test_ensemble.py) but its
    initial weights come from one stream for all members, so its "seed" labels the member, and the
    run records the ensemble it came from. Resumes from a checkpoint like `run_one`.
    """
    first = jobs[0]
    arm, dataset, steps = first["arm"], first["dataset"], first["steps"]
    if any((job["arm"], job["budget"], job["steps"], job["reconstruction_weight"]) !=
           (arm, first["budget"], steps, first["reconstruction_weight"]) for job in jobs):
        raise ValueError("an ensemble holds one arm at one budget and one λ")
    method, overrides, _ = ARMS[arm]
    mixture = ag.data.load(dataset, device)
    mixtures = [mixture] * len(jobs)
    if method == "gan":
        algo, stacked = ensemble.gan(mixtures, pack=overrides.get("pack", 1))
    elif method == "aegan":
        algo, stacked = ensemble.joint("aegan", mixtures, latent_critic="latent_discriminator" not in overrides,
                                       reconstruction_weight=overrides.get("reconstruction_weight", first["reconstruction_weight"]),
                                       latent_reconstruction_weight=overrides["latent_reconstruction_weight"],
                                       adversarial_reconstructions=overrides.get("adversarial_reconstructions", False))
    elif method == "bigan":
        algo, stacked = ensemble.joint("bigan", mixtures)
    else:
        raise ValueError(f"arm {arm!r} ({method}) has no ensemble form; run it with run_one")
    name = f"ensemble__{first['phase']}__{arm}__{first['budget']}__{dataset}__lambda{first['reconstruction_weight']}__" + \
        "-".join(str(job["seed"]) for job in jobs)
    checkpoint, partial = OUT / "checkpoints" / f"{name}.pt", OUT / "checkpoints" / f"{name}.partial.json"
    curves = json.loads(partial.read_text())["curves"] if partial.exists() and checkpoint.exists() else [[] for _ in jobs]
    clock = {"since": time.perf_counter()}

    def measure(algo, step):
        stream = torch.Generator(device=device).manual_seed(2024 + step)
        samples = ensemble.member_samples(algo, stacked, 2500, generator=stream)
        for curve, points in zip(curves, samples):
            previous = [row for row in curve if row["step"] < step]
            trained = (previous[-1]["seconds"] if previous else 0.0) + time.perf_counter() - clock["since"]
            curve[:] = previous + [{"step": step, "seconds": round(trained, 2), **score_points(points, mixture)}]
        sweep._write_json(partial, {"curves": curves})
        clock["since"] = time.perf_counter()

    ag.seed_everything(first["seed"])
    started = time.perf_counter()
    ag.fit(algo, stacked, steps=steps, seed=first["seed"], data_seed=first["seed"], checkpoint=checkpoint,
           checkpoint_every=first["evaluate_every"], progress=False, log_every=500,
           callback=measure, callback_every=first["evaluate_every"])
    if curves[0][-1]["step"] != steps:
        measure(algo, steps)
    wall = round(time.perf_counter() - started, 1)
    runs = []
    for j, (job, curve) in enumerate(zip(jobs, curves)):
        run = {**job, "config": json.loads(json.dumps(algo.config, default=str)), "final": curve[-1], "curve": curve,
               "wall_seconds": None, "device": device,
               "ensemble": {"unit": name, "members": len(jobs), "member": j, "wall_seconds": wall}}
        if job["seed"] == PROTOCOL[dataset]["heldout_seeds"][0]:
            generator = torch.Generator(device=device).manual_seed(8)
            run["pictures"] = {"samples": _rounded(ensemble.member_samples(algo, stacked, 1000, generator=generator)[j])}
            if hasattr(algo, "encode"):
                real = mixture.sample(1000, generator=torch.Generator(device=device).manual_seed(7))
                standardised = ((real - mixture.center) / mixture.scale).repeat(1, len(jobs))
                run["pictures"]["codes"] = _rounded(algo.encode(standardised).reshape(1000, len(jobs), 2)[:, j])
        runs.append(run)
    sweep.remove_run_files(checkpoint, partial)
    return runs


def _rounded(tensor) -> list:
    return [[round(v, 3) for v in row] for row in tensor.detach().cpu().tolist()]


def _training_data(data):
    """What the mixture is fitted to: the training split, or 20,000 fresh points of a 2D mixture."""
    if isinstance(data, ag.data.GaussianMixture2D):
        return data.sample(20_000, generator=torch.Generator(device=data.device).manual_seed(0))
    return data.train.x


def save(results: dict) -> None:
    results["arms"] = {name: {"method": method, "overrides": _plain(overrides), "label": label}
                       for name, (method, overrides, label) in ARMS.items()}
    results["code"] = sweep.code_version()
    sweep._write_json(results_path(results["dataset"], results.get("study")), results)


def run_jobs(results: dict, jobs: list[dict], workers: int, device: str, as_ensembles: bool = False) -> None:
    """Run the jobs not yet in the file, `workers` processes at a time, saving after each.

    as_ensembles: the missing seeds of each (arm, budget) train as one `run_ensemble` model
    (arms without an ensemble form, the latent GAN, still run one by one).
    """
    todo = [job for job in jobs if job["key"] not in results["runs"]]
    print(f"{results['dataset']}: {len(jobs) - len(todo)} of {len(jobs)} runs done; running {len(todo)}", flush=True)
    tasks = [(run_one, job) for job in todo]
    if as_ensembles:
        groups: dict[tuple, list[dict]] = {}
        for job in todo:
            if ARMS[job["arm"]][0] != "latent_gan":
                groups.setdefault((job["arm"], job["budget"], job["reconstruction_weight"]), []).append(job)
        tasks = [(run_one, job) for job in todo if ARMS[job["arm"]][0] == "latent_gan"] + \
                [(run_ensemble, group) for group in groups.values()]
    if workers == 1:
        finished = (task(argument, device) for task, argument in tasks)
    else:
        from joblib import Parallel, delayed
        finished = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")(
            delayed(task)(argument, device) for task, argument in tasks)
    for result in finished:  # this process is the file's only writer
        for run in result if isinstance(result, list) else [result]:
            for extra in run.pop("extra_runs", []):
                results["runs"][extra["key"]] = extra
            results["runs"][run["key"]] = run
            final = {k: v for k, v in run["final"].items() if k not in ("step", "seconds")}
            print(f"  {run['key']}: {final}", flush=True)
        save(results)


def job(dataset: str, phase: str, arm: str, seed: int, budget: str, results: dict, lam: float | None) -> dict:
    protocol = PROTOCOL[dataset]
    steps = protocol["steps"]
    if budget == "time":
        timing = results["timing"]
        if timing is None:
            raise SystemExit(f"run `python bench/compare.py timing --dataset {dataset}` first")
        steps = int(round(steps * timing["ms_per_step"]["gan"] / timing["ms_per_step"][arm]))
    lam = lam if arm in WITH_LAMBDA else None
    tag = f"lambda={lam:g}/" if lam is not None else ""
    return {"key": f"{phase}/{arm}/{budget}/{tag}seed{seed}", "phase": phase, "dataset": dataset, "arm": arm,
            "seed": seed, "budget": budget, "steps": steps, "evaluate_every": protocol["evaluate_every"],
            "reconstruction_weight": lam}


def timing(dataset: str, rounds: int = 5, steps: int = 40) -> dict:
    """ms per step of every arm, interleaved in one process with one thread; the median round counts."""
    torch.set_num_threads(1)
    data = ag.data.load(dataset)
    algos = {}
    for arm in ARMS:
        if arm in SCORED_FROM:
            continue
        ag.seed_everything(0)
        algos[arm] = build(arm, data, LAMBDAS[0])
    # The latent GAN has two phases of different cost: time its GAN phase too, weigh them below.
    ag.seed_everything(0)
    algos["latent_gan:gan_phase"] = build("latent_gan", data, None)
    algos["latent_gan:gan_phase"].steps_done = algos["latent_gan:gan_phase"].pretrain_steps
    stream = {arm: ag.data.BatchStream(data, algo.batch_size, seed=0) for arm, algo in algos.items()}
    per_arm = {arm: [] for arm in algos}
    for round_ in range(rounds + 1):
        for arm, algo in algos.items():
            batch = stream[arm].next()
            for _ in range(5):
                algo.step(batch)
            start = time.perf_counter()
            for _ in range(steps):
                algo.step(stream[arm].next())
            if round_:  # round 0 is a warm-up
                per_arm[arm].append(1000 * (time.perf_counter() - start) / steps)
    ms = {arm: statistics.median(values) for arm, values in per_arm.items()}
    pretrain, total = algos["latent_gan"].pretrain_steps, PROTOCOL[dataset]["steps"]
    ms["latent_gan"] = (pretrain * ms["latent_gan"] + (total - pretrain) * ms.pop("latent_gan:gan_phase")) / total
    ms = {arm: round(value, 3) for arm, value in ms.items()}
    del algos["latent_gan:gan_phase"]
    params = {arm: sum(p.numel() for p in algo.parameters() if p.requires_grad) for arm, algo in algos.items()}
    return {"ms_per_step": ms, "relative": {arm: round(ms[arm] / ms["gan"], 3) for arm in ms},
            "parameters": params, "threads": 1, "rounds": rounds, "steps_per_round": steps,
            "cpu": sweep.platform.processor() or "cpu", "when": time.strftime("%Y-%m-%d %H:%M")}


def select(results: dict) -> dict:
    """RULE, applied to the development runs of "GAN + recon"."""
    dataset = results["dataset"]
    scores = {}
    for lam in LAMBDAS:
        runs = [run for run in results["runs"].values()
                if run["phase"] == "dev" and run["arm"] == "recon" and run["reconstruction_weight"] == lam]
        if len(runs) != len(PROTOCOL[dataset]["dev_seeds"]):
            raise SystemExit(f"λ={lam}: {len(runs)} development runs, expected {len(PROTOCOL[dataset]['dev_seeds'])}")
        if dataset == "digits":
            scores[lam] = statistics.mean(run["final"]["fd"] for run in runs)
        else:
            modes = len(ag.data.load(dataset).means)
            scores[lam] = statistics.mean((run["final"]["modes"] / modes + run["final"]["high_quality"]) / 2
                                          for run in runs)
    ordered = sorted(LAMBDAS)
    if dataset == "digits":
        best = min(scores.values())
        chosen = next(lam for lam in ordered if scores[lam] <= best * 1.05)
    else:
        best = max(scores.values())
        chosen = next(lam for lam in ordered if scores[lam] >= best - 0.02)
    return {"reconstruction_weight": chosen, "scores": {f"{lam:g}": round(s, 4) for lam, s in scores.items()},
            "when": time.strftime("%Y-%m-%d %H:%M")}


def import_gpu(results: dict) -> dict:
    """Chapter 3's held-out GPU runs of make("gan") and pack=2 (same recipe, seeds 100-109) as runs.

    Each was one member of an `ensemble.gan` model; tests/test_ensemble.py shows a member takes
    exactly the steps of a `make("gan")` run. Their curves have no seconds (the ensemble's time is
    shared); they enter the "steps" budget only.
    """
    dataset = results["dataset"]
    sources = {"gan": "heldout-gan.json", "pacgan2": "heldout-gan-pack2.json"}
    for arm, name in sources.items():
        unit = json.loads((ROOT / "results" / "sharp_gans" / "runs" / name).read_text())
        for j, member in enumerate(unit["members"]):
            if member["dataset"] != dataset:
                continue
            curve = [{"step": row["step"], **{k: row["members"][j]["raw"][k] for k in ("modes", "high_quality", "kl")}}
                     for row in unit["curve"]]
            key = f"heldout/{arm}/steps/seed{member['seed']}"
            results["runs"][key] = {
                "key": key, "phase": "heldout", "dataset": dataset, "arm": arm, "seed": member["seed"],
                "budget": "steps", "steps": unit["steps"], "evaluate_every": 1000, "reconstruction_weight": None,
                "config": unit["recipe"], "final": curve[-1], "curve": curve, "wall_seconds": None,
                "device": unit["device"], "source": f"results/sharp_gans/runs/{name} (member {j}, ensemble of "
                                                     f"{len(unit['members'])}, {unit['code']['source_sha256']})"}
    return results


def confirmation(dataset: str) -> dict:
    """The confirmation study's results file (CONFIRM_RULE), created on first use.

    It copies the main file's timing and chosen λ, and freezes the plain GAN's line (fitted to
    the main file's held-out runs) before any of its own runs, so that nothing about the test
    can move once they start.
    """
    if dataset not in CONFIRM:
        raise SystemExit(f"no confirmation study for {dataset!r}; there is one for {sorted(CONFIRM)}")
    path = results_path(dataset, "confirm")
    if path.exists():
        results = json.loads(path.read_text())
        missing = [name for name in PAIRED_TESTS.get(dataset, {}) if name not in results]
        for name in missing:  # each written once, before its arm's first run; never rewritten
            results[name] = paired_test(dataset, name)
        if missing:
            save(results)
        return results
    main = load(dataset)
    if main["chosen"] is None:
        raise SystemExit(f"run `python bench/compare.py select --dataset {dataset}` first (RULE)")
    gan = {run["seed"]: run["final"] for run in main["runs"].values()
           if run["phase"] == "heldout" and run["arm"] == "gan"}
    if set(gan) != set(PROTOCOL[dataset]["heldout_seeds"]):
        raise SystemExit(f"the plain GAN's held-out runs are not all in {results_path(dataset)}")
    # The least-squares line stats.gap_to_trend fits (tests/test_stats.py ties the two); no
    # interval is needed to freeze it.
    seeds = sorted(gan)
    line = statistics.linear_regression([gan[s]["modes"] for s in seeds], [gan[s]["high_quality"] for s in seeds])
    study = CONFIRM[dataset]
    return {"dataset": dataset, "study": "confirm", "rule": CONFIRM_RULE,
            "protocol": {**PROTOCOL[dataset], "dev_seeds": [], "heldout_seeds": study["seeds"]},
            "confirms": {"arm": study["arm"], "metric_x": "modes", "metric_y": "high_quality",
                         "baseline": "gan", "baseline_seeds": sorted(gan),
                         "line": {"intercept": line.intercept, "slope": line.slope},
                         "when": time.strftime("%Y-%m-%d %H:%M")},
            **{name: paired_test(dataset, name) for name in PAIRED_TESTS.get(dataset, {})},
            "arms": {}, "timing": main["timing"], "chosen": main["chosen"], "runs": {}}


def paired_test(dataset: str, name: str) -> dict:
    """One of the study's further tests (PAIRED_TESTS): its arm against the study's baseline, as
    `aegan_lib.comparison.Comparison.paired_test` reads it."""
    arm, rule = PAIRED_TESTS[dataset][name]
    return {"arm": arm, "baseline": CONFIRM[dataset]["baseline"], "metric": "modes", "rule": rule,
            "when": time.strftime("%Y-%m-%d %H:%M")}


def finished_runs(results: dict) -> dict:
    """The runs of the file without the held-out runs of any (arm, budget) still missing seeds."""
    heldout = set(results["protocol"]["heldout_seeds"])
    seeds: dict[tuple, set] = {}
    for run in results["runs"].values():
        if run["phase"] == "heldout":
            seeds.setdefault((run["arm"], run["budget"]), set()).add(run["seed"])
    unfinished = {group for group, done in seeds.items() if done != heldout}
    for arm, budget in sorted(unfinished):
        name = results["dataset"] + (f" ({results['study']} study)" if "study" in results else "")
        print(f"{name}: not packaged, {arm} at equal {budget}: "
              f"{len(seeds[arm, budget])} of {len(heldout)} held-out seeds done")
    return {key: run for key, run in results["runs"].items()
            if run["phase"] != "heldout" or (run["arm"], run["budget"]) not in unfinished}


def package(dataset: str, study: str | None = None) -> None:
    """The results file as the library ships it: compact, without what no chapter draws (the
    pictures of "time" runs, the digits' codes). `tests/test_stats.py` checks it is a faithful
    subset of the results file.

    Only finished arms ship: an (arm, budget) whose held-out seeds are not all done stays in the
    results file and out of the package, so a chapter never reads an arm from half its seeds.
    """
    results = json.loads(results_path(dataset, study).read_text()) if study else load(dataset)
    results["runs"] = finished_runs(results)
    if study and not results["runs"]:
        return  # nothing finished: a study ships only when all its seeds are done
    for run in results["runs"].values():
        pictures = run.get("pictures")
        if pictures is None:
            continue
        if run["budget"] == "time":
            del run["pictures"]
        elif dataset == "digits":
            pictures.pop("codes", None)
    name = f"{dataset}_{study}" if study else dataset
    path = ROOT / "aegan_lib" / "assets" / f"compare_{name}.json"
    path.write_text(json.dumps(results, separators=(",", ":")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["timing", "dev", "select", "heldout", "import", "confirm", "package"])
    parser.add_argument("--dataset", choices=list(PROTOCOL), default="grid")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--budgets", default="steps,time")
    parser.add_argument("--seeds", default=None, help="comma-separated; default: the phase's seeds")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--copy-from", default=None, help="timing: reuse another dataset's (same nets and batch)")
    parser.add_argument("--ensemble", action="store_true",
                        help="train each arm's missing seeds as one model (aegan_lib.ensemble): for a GPU")
    args = parser.parse_args()
    if args.phase == "package":
        for dataset in PROTOCOL:
            for study in (None, "confirm"):
                if results_path(dataset, study).exists():
                    package(dataset, study)
        return
    if args.phase == "confirm":
        results = confirmation(args.dataset)
        study = CONFIRM[args.dataset]
        lam = results["chosen"]["reconstruction_weight"]
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else study["seeds"]
        # The study's arm, the baseline its further tests pair with, then those tests' arms.
        allowed = list(dict.fromkeys([study["arm"], study["baseline"]]
                                     + [arm for arm, _ in PAIRED_TESTS.get(args.dataset, {}).values()]))
        arms = allowed if args.arms == parser.get_default("arms") else args.arms.split(",")
        if set(arms) - set(allowed):
            raise SystemExit(f"the confirmation study runs {', '.join(map(repr, allowed))}; got {arms}")
        jobs = [job(args.dataset, "heldout", arm, seed, "steps", results, lam) for arm in arms for seed in seeds]
        run_jobs(results, jobs, args.jobs, args.device, as_ensembles=args.ensemble)
        return
    results = load(args.dataset)
    if args.phase == "timing" and args.copy_from:
        # The ring and the grid train the same nets on the same batch shapes: one timing serves both.
        results["timing"] = {**load(args.copy_from)["timing"], "copied_from": args.copy_from}
        save(results)
    elif args.phase == "timing":
        results["timing"] = timing(args.dataset)
        print(json.dumps(results["timing"], indent=1))
        save(results)
    elif args.phase == "select":
        chosen, stored = select(results), results["chosen"]
        if stored is None:
            results["chosen"] = chosen
            save(results)
        elif (stored["reconstruction_weight"], stored["scores"]) != (chosen["reconstruction_weight"], chosen["scores"]):
            raise SystemExit(f"the stored choice {stored} differs from the rule's {chosen}; a choice is never "
                             "changed once held-out runs may depend on it")
        print(results["chosen"])
    elif args.phase == "import":
        save(import_gpu(results))
    elif args.phase == "dev":
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else PROTOCOL[args.dataset]["dev_seeds"]
        jobs = [job(args.dataset, "dev", "recon", seed, "steps", results, lam) for lam in LAMBDAS for seed in seeds]
        run_jobs(results, jobs, args.jobs, args.device, as_ensembles=args.ensemble)
    else:
        if results["chosen"] is None:
            raise SystemExit(f"run `python bench/compare.py select --dataset {args.dataset}` first (RULE)")
        lam = results["chosen"]["reconstruction_weight"]
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else PROTOCOL[args.dataset]["heldout_seeds"]
        jobs = [job(args.dataset, "heldout", arm, seed, budget, results, lam)
                for arm in args.arms.split(",") if arm not in SCORED_FROM for budget in args.budgets.split(",")
                if not (budget == "time" and arm == "gan") for seed in seeds]
        run_jobs(results, jobs, args.jobs, args.device, as_ensembles=args.ensemble)


if __name__ == "__main__":
    main()
