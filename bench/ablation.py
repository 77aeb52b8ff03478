"""Chapter 4's ablation: what each term of the joint AE-GAN loss buys, measured over seeds.

Configurations (the same generator and image discriminator everywhere, from
`aegan_lib.algos.make`, trained by `aegan_lib.fit(algo, data, steps=5000)` at fit's default
batch size of 64):

- `gan`            plain GAN (`make("gan", data)`);
- `gan_recon`      + reconstruction λ·‖x − G(E(x))‖² (an encoder E, no latent critic);
- `latent_critic`  + a latent discriminator matching E(x) to the prior N(0, I);
- `latent_recon`   + latent reconstruction μ·‖z − E(G(z))‖²;
- `aegan_lazarou`  + the image critic also sees G(E(x)) and the latent critic E(G(z)) as fakes
                   (the full AEGAN of Lazarou 2020).

λ, the nets and the learning rates are make()'s defaults for each dataset.

Each runs on the ring and the grid (10 seeds; `mode_coverage` on 2500 samples) and on the 8×8
digits (5 seeds; `image_quality` on as many samples as test images, 359). Variants: a λ sweep on
the grid (3 seeds) and on the digits (2 seeds), and a larger code (latent_dim 8) on the grid. The
seed post's FAQ ("an extra model, more computation") is answered with parameter counts and
the time per step of every configuration relative to the plain GAN, timed in one process.

Results go to results/ablation.json, rewritten atomically after every run; a second call skips
the runs already there (so an interrupted run resumes). Usage, from the repository root:

    .venv/bin/python bench/ablation.py                  # everything: 144 runs, ≈ 25-30 min on 2 idle CPU cores
    .venv/bin/python bench/ablation.py --retime         # only re-measure time per step (≈ 2.5 min)
    .venv/bin/python bench/ablation.py --quick          # 300 steps, 1 seed: a smoke test
    .venv/bin/python bench/ablation.py --only grid/gan,ring    # runs whose key starts so
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aegan_lib as ag  # noqa: E402
from aegan_lib.algos import make  # noqa: E402
from aegan_lib.algos.factory import PRE_RECIPE_GAN_POINTS, data_kind  # noqa: E402

STEPS = 5000
SEEDS = {"ring": 10, "grid": 10, "digits": 5}
MU = 1.0                # μ of the latent-reconstruction configurations (λ: make()'s default per dataset)
SAMPLES_2D = 2500       # the VEEGAN/PacGAN protocol

# name → the AEGAN switches (None: the plain GAN class). One dict literal: the chapter loops over it.
# λ and the nets are make()'s defaults for the data, the same for every configuration.
CONFIGS = {
    "gan": None,
    "gan_recon": {"latent_critic": False, "latent_reconstruction_weight": 0.0, "adversarial_reconstructions": False},
    "latent_critic": {"latent_critic": True, "latent_reconstruction_weight": 0.0, "adversarial_reconstructions": False},
    "latent_recon": {"latent_critic": True, "latent_reconstruction_weight": MU, "adversarial_reconstructions": False},
    "aegan_lazarou": {"latent_critic": True, "latent_reconstruction_weight": MU, "adversarial_reconstructions": True},
}
LABELS = {"gan": "plain GAN", "gan_recon": "GAN + recon (λ)", "latent_critic": "+ latent critic",
          "latent_recon": "+ latent recon (μ)", "aegan_lazarou": "+ critics see reconstructions (Lazarou)"}

# Variants: (dataset, configuration, overrides of make(), seeds). The λ sweeps and the code size.
VARIANTS = (
    [("grid", "latent_critic", {"reconstruction_weight": lam}, 3) for lam in (0.0, 1.0, 100.0)]
    + [("digits", "latent_critic", {"reconstruction_weight": lam}, 2) for lam in (1.0, 30.0)]
    + [("grid", config, {"latent_dim": 8}, 3) for config in ("gan", "latent_critic")]
)


def build(config: str, data, overrides: dict | None = None):
    """`make(...)` for a configuration name; `overrides` are extra make() arguments (a variant)."""
    switches = CONFIGS[config]
    if switches is None:
        # The ablation predates chapter 2's recipe: its plain GAN has the AEGAN's nets and schedule.
        before = PRE_RECIPE_GAN_POINTS if data_kind(data)[0] == "points" else {}
        return make("gan", data, **{**before, **(overrides or {})})
    kwargs = {key: value for key, value in switches.items() if key != "latent_critic"}
    if not switches["latent_critic"]:
        kwargs["latent_discriminator"] = None
    return make("aegan", data, **kwargs, **(overrides or {}))


def variant_key(dataset: str, config: str, overrides: dict) -> str:
    return f"{dataset}/{config}/" + ",".join(f"{key}={value:g}" for key, value in sorted(overrides.items()))


def plan(quick: bool) -> list[dict]:
    """Every run as a dict: key, dataset, config, seed, overrides; the main runs first, then the variants."""
    seeds = {name: (1 if quick else count) for name, count in SEEDS.items()}
    runs = []
    for seed in range(max(seeds.values())):
        for dataset in ("ring", "grid", "digits"):
            if seed >= seeds[dataset]:
                continue
            for config in CONFIGS:
                runs.append({"key": f"{dataset}/{config}/seed{seed}", "dataset": dataset,
                             "config": config, "seed": seed, "overrides": {}})
    for dataset, config, overrides, count in VARIANTS:
        for seed in range(1 if quick else count):
            runs.append({"key": f"{variant_key(dataset, config, overrides)}/seed{seed}", "dataset": dataset,
                         "config": config, "seed": seed, "overrides": overrides})
    return runs


def evaluate(algo, data, seed: int) -> dict:
    sampler = torch.Generator(device=algo.device).manual_seed(10_000 + seed)
    if isinstance(data, ag.data.GaussianMixture2D):
        scores = ag.metrics.mode_coverage(algo.sample(SAMPLES_2D, generator=sampler), data)
        return {"modes": scores["modes"], "high_quality": scores["high_quality"], "kl": scores["kl"]}
    scores = ag.metrics.image_quality(algo.sample(len(data.test), generator=sampler), data)
    return {key: float(value) for key, value in scores.items() if isinstance(value, (int, float))}


def train_one(run: dict, steps: int) -> dict:
    """One run in a worker process (one thread): seed, make, fit, evaluate."""
    torch.set_num_threads(1)
    data = ag.data.load(run["dataset"])
    ag.seed_everything(run["seed"])
    algo = build(run["config"], data, run["overrides"])
    start = time.perf_counter()
    ag.fit(algo, data, steps=steps, seed=run["seed"], progress=False)
    seconds = time.perf_counter() - start
    return {**run, "steps": steps, "seconds": round(seconds, 1), "metrics": evaluate(algo, data, run["seed"]),
            "config_dict": algo.config}


def time_per_step(datasets, steps: int, rounds: int) -> dict:
    """ms per training step of every configuration, interleaved in this process; the fastest round counts."""
    torch.set_num_threads(1)
    timings = {}
    for dataset in datasets:
        data = ag.data.load(dataset)
        source = ag.data.training_tensor(data)
        algos = {}
        for config in CONFIGS:
            ag.seed_everything(0)
            algos[config] = build(config, data)
        batches = [ag.data.BatchStream(source, 64, seed=0).next() for _ in range(1)] * steps
        best = {config: math.inf for config in CONFIGS}
        for _ in range(rounds):
            for config, algo in algos.items():
                for batch in batches[:20]:  # warm-up
                    algo.step(batch)
                start = time.perf_counter()
                for batch in batches:
                    algo.step(batch)
                best[config] = min(best[config], (time.perf_counter() - start) / steps * 1000)
        timings[dataset] = {config: {"ms_per_step": round(ms, 3),
                                     "extra_vs_gan_percent": round(100 * (ms / best["gan"] - 1), 1)}
                            for config, ms in best.items()}
    return timings


def parameter_counts(datasets) -> dict:
    counts = {}
    for dataset in datasets:
        data = ag.data.load(dataset)
        counts[dataset] = {}
        for config in CONFIGS:
            algo = build(config, data)
            total = ag.nets.count_parameters(algo)
            counts[dataset][config] = {
                "total": total,
                "generator": ag.nets.count_parameters(algo.generator),
                "discriminator": ag.nets.count_parameters(algo.discriminator),
                "encoder": ag.nets.count_parameters(algo.encoder) if hasattr(algo, "encoder") else 0,
                "latent_discriminator": (ag.nets.count_parameters(algo.latent_discriminator)
                                         if getattr(algo, "latent_discriminator", None) is not None else 0),
            }
        gan_total = counts[dataset]["gan"]["total"]
        for config in CONFIGS:
            counts[dataset][config]["extra_vs_gan"] = counts[dataset][config]["total"] - gan_total
    return counts


def mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def summarise(runs: dict) -> dict:
    """group ("grid/latent_critic", "grid/latent_critic/lambda=0.1") → metric → mean, std, n, values."""
    groups: dict[str, list[dict]] = {}
    for key, run in sorted(runs.items()):
        groups.setdefault(key.rsplit("/seed", 1)[0], []).append(run)
    summary = {}
    for group, members in groups.items():
        metrics = {name for run in members for name in run["metrics"]}
        summary[group] = {name: mean_std([run["metrics"][name] for run in members if name in run["metrics"]])
                          for name in sorted(metrics)}
        summary[group]["seconds"] = mean_std([run["seconds"] for run in members])
    return summary


def score_2d(summary: dict, config: str) -> float | None:
    """Ranking used to pick the best configuration: mean over ring and grid of (modes/K + high quality) / 2."""
    parts = []
    for dataset, modes in (("ring", 8), ("grid", 25)):
        group = summary.get(f"{dataset}/{config}")
        if group is None:
            return None
        parts.append((group["modes"]["mean"] / modes + group["high_quality"]["mean"]) / 2)
    return sum(parts) / len(parts)


def best_configuration(summary: dict) -> dict | None:
    scores = {config: score_2d(summary, config) for config in CONFIGS if CONFIGS[config] is not None}
    scores = {config: score for config, score in scores.items() if score is not None}
    if not scores:
        return None
    best = max(scores, key=scores.get)
    return {"config": best, "switches": CONFIGS[best], "score_2d": scores,
            "rule": "highest mean over ring and grid of (modes covered / K + high-quality fraction) / 2"}


def write_atomic(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(handle, "w") as file:
        json.dump(results, file, indent=1, sort_keys=False)
        file.write("\n")
    os.chmod(temp, 0o644)  # mkstemp makes the file private; a results file is for everyone to read
    os.replace(temp, path)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 steps, 1 seed, to results/ablation_quick.json")
    parser.add_argument("--only", default="", help="comma-separated prefixes of run keys, e.g. grid/gan,ring")
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each (default 2)")
    parser.add_argument("--out", default=None, help="results file (default results/ablation.json)")
    parser.add_argument("--skip-timing", action="store_true", help="do not measure time per step")
    parser.add_argument("--retime", action="store_true", help="only (re)measure time per step, then stop")
    args = parser.parse_args()

    steps = 300 if args.quick else STEPS
    path = Path(args.out) if args.out else ROOT / "results" / ("ablation_quick.json" if args.quick else "ablation.json")
    results = json.loads(path.read_text()) if path.exists() else {}
    if results and results.get("steps") != steps:
        sys.exit(f"{path} holds {results.get('steps')}-step runs, not {steps}: use another --out")
    results.update({
        "command": "python bench/ablation.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "aegan_lib": ag.__version__, "python": platform.python_version(),
        "cpu": cpu_name(), "cpu_count": os.cpu_count(), "workers": args.workers, "threads_per_worker": 1,
        "steps": steps, "batch_size": 64, "samples_2d": SAMPLES_2D, "samples_images": "as many as the test split (359 digits)",
        "mu": MU, "configs": CONFIGS, "labels": LABELS,
        "variants": [{"key": variant_key(d, c, o), "dataset": d, "config": c, "overrides": o,
                      "seeds": 1 if args.quick else n} for d, c, o, n in VARIANTS],
        "default_lambda": {name: make("aegan", ag.data.load(name)).config["reconstruction_weight"]
                           for name in ("ring", "grid", "digits")},
        "kind_defaults": ag.algos.factory.KIND_DEFAULTS,
        "net_defaults": {kind: {k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()}
                         for kind, sizes in ag.algos.factory.NET_DEFAULTS.items()},
        "method_defaults": {m: {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
                            for m, d in ag.algos.factory.METHOD_DEFAULTS.items()},
        "aegan_latent_critic_default": ag.algos.factory.AEGAN_LATENT_CRITIC,
    })
    results.setdefault("runs", {})
    datasets = ("ring", "grid", "digits")
    results["parameters"] = parameter_counts(datasets)
    if not args.skip_timing and ("timing" not in results or args.quick or args.retime):
        print("timing one step of every configuration ...", flush=True)
        rounds, steps_timed = (7 if args.retime else 3), (50 if args.quick else 300)
        results["timing"] = time_per_step(datasets, steps=steps_timed, rounds=rounds)
        results["timing_protocol"] = (f"one process, one thread, batch 64, the same batch every step; configurations "
                                      f"interleaved, {rounds} rounds of {steps_timed} steps, the fastest round counts")
    write_atomic(results, path)
    if args.retime:
        print(json.dumps(results["timing"], indent=1))
        return

    prefixes = [p for p in args.only.split(",") if p]
    todo = [run for run in plan(args.quick)
            if run["key"] not in results["runs"] and (not prefixes or any(run["key"].startswith(p) for p in prefixes))]
    print(f"{len(todo)} runs to do, {len(results['runs'])} already in {path.name}", flush=True)
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.workers, maxtasksperchild=8) as pool:
        jobs = [pool.apply_async(train_one, (run, steps)) for run in todo]
        for done, job in enumerate(jobs, start=1):
            run = job.get()
            key = run.pop("key")
            results["runs"][key] = run
            results["summary"] = summarise(results["runs"])
            results["best"] = best_configuration(results["summary"])
            write_atomic(results, path)
            metrics = ", ".join(f"{k} {v:.3g}" for k, v in run["metrics"].items())
            print(f"[{done}/{len(todo)}] {key}: {metrics} ({run['seconds']:.0f} s)", flush=True)
    results["summary"] = summarise(results["runs"])
    results["best"] = best_configuration(results["summary"])
    results["last_invocation_seconds"] = round(time.perf_counter() - started, 1)
    results.setdefault("invocations", []).append({
        "command": results["command"], "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "runs": len(todo), "wall_seconds": results["last_invocation_seconds"]})
    write_atomic(results, path)
    print(f"done in {results['last_invocation_seconds']:.0f} s; results in {path}", flush=True)


if __name__ == "__main__":
    main()
