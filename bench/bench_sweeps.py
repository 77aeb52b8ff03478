"""How fast does a sweep run? Two ratios against a reference run in the same process.

    python bench/bench_sweeps.py cores      # joblib over every core vs one process, seeds in turn
    python bench/bench_sweeps.py ensemble   # S seeds as one model vs one seed (GPU: target S=10 ≤ 2×)
    python bench/bench_sweeps.py ensemble --method aegan   # the same for chapter 6's joint loop

`cores`: R seeds of the chapter's ring recipe, `steps` steps each — first one after the other
in this process (torch using every core), then the way bench/sweep.py runs a sweep: the seeds
split into one unit per core, each unit an ensemble of its seeds, units in joblib worker
processes with one thread each. Prints both wall times and their ratio (target ≥ 1.8× on 2
cores). `ensemble`: ms per step of `aegan_lib.ensemble.gan` with S = 1, 10, 20, 40 members
(the chapter's recipe), measured after a warm-up, interleaved, median of rounds; `--method aegan`
measures `ensemble.joint("aegan")` instead, as chapter 6's "+ latent critic" arm runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aegan_lib as ag  # noqa: E402
from aegan_lib import ensemble  # noqa: E402


def cores(runs: int, steps: int) -> None:
    """R seeds in turn (one unit each, this process, every core's threads) against the sweep's way:
    the seeds batched into one unit per core (ensembles), units in joblib workers (1 thread)."""
    import tempfile

    import sweep
    from sharp_gans import BASE

    jobs = os.cpu_count() or 1
    recipe = {**BASE, "pack": 1, "ema": None}

    def unit(name, seeds):
        return {"name": name, "phase": "bench", "steps": steps, "seed": seeds[0], "evaluate_every": steps,
                "recipe": recipe, "members": [{"dataset": "ring", "seed": s, "r1_weight": 0.0} for s in seeds]}

    in_turn = [unit(f"seed-{seed}", [seed]) for seed in range(runs)]
    per_core = [list(range(runs))[j::jobs] for j in range(jobs)]
    batched = [unit(f"core-{j}", seeds) for j, seeds in enumerate(per_core) if seeds]
    times = {}
    all_threads = torch.get_num_threads()
    for label, units, n_jobs, threads in (("in turn", in_turn, 1, all_threads), ("in turn, 1 thread", in_turn, 1, 1),
                                          ("sweep", batched, jobs, None)):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            if threads is not None:
                torch.set_num_threads(threads)
            sweep.run_units(units, Path(folder), "cpu", jobs=n_jobs)
            torch.set_num_threads(all_threads)
            times[label] = time.perf_counter() - started
    print(f"{runs} seeds × {steps} steps of the ring recipe; torch {torch.__version__}, {jobs} cores")
    print(f"one process, one seed after another ({all_threads} threads): {times['in turn']:.1f} s; "
          f"with 1 thread: {times['in turn, 1 thread']:.1f} s")
    print(f"sweep.run_units: {len(batched)} units of {len(per_core[0])} seeds as one model each, "
          f"{jobs} joblib processes × 1 thread: {times['sweep']:.1f} s (worker start-up included)")
    print(f"speed-up: {times['in turn'] / times['sweep']:.2f}× ({times['in turn, 1 thread'] / times['sweep']:.2f}× "
          "against the one-thread process)")


def ms_per_step(members: int, device: str, steps: int, method: str = "gan") -> float:
    ag.seed_everything(0)
    mixtures = [ag.data.grid(device=device)] * members
    if method == "gan":
        algo, stacked = ensemble.gan(mixtures)
    else:  # chapter 6's "+ latent critic": λ = 10, a latent critic, no latent reconstruction
        algo, stacked = ensemble.joint("aegan", mixtures, latent_critic=True, reconstruction_weight=10.0,
                                       latent_reconstruction_weight=0.0)
    stream = ag.data.BatchStream(stacked, algo.batch_size, seed=0)
    for _ in range(20):  # warm-up: allocator, kernels, cuBLAS handles
        algo.step(stream.next())
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        algo.step(stream.next())
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - started) / steps


def ensemble_speed(device: str, steps: int, rounds: int, sizes: list[int], method: str = "gan") -> None:
    times = {size: [] for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            times[size].append(ms_per_step(size, device, steps, method))
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
    model = "ensemble.gan" if method == "gan" else 'ensemble.joint("aegan"), + latent critic'
    print(f"{model}, grid recipe (3×256, batch 256), {device}: {name}; median of {rounds} rounds")
    base = statistics.median(times[sizes[0]])
    for size in sizes:
        median = statistics.median(times[size])
        print(f"S = {size:3d}: {median:7.2f} ms/step = {median / base:5.2f}× one seed "
              f"({median / size:.2f} ms per seed-step)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["cores", "ensemble"])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 20, 40])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--method", choices=["gan", "aegan"], default="gan", help="ensemble: which model")
    args = parser.parse_args()
    if args.mode == "cores":
        cores(args.runs, args.steps)
    else:
        ensemble_speed(args.device, args.steps, args.rounds, args.sizes, args.method)


if __name__ == "__main__":
    main()
