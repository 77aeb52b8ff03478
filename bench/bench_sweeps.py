"""How fast does a sweep run? Two ratios against a reference run in the same process.

    python bench/bench_sweeps.py cores      # joblib over every core vs one process, seeds in turn
    python bench/bench_sweeps.py ensemble   # S seeds as one model vs one seed (GPU: target S=10 ≤ 2×)

`cores`: the same R runs of make("gan", data.ring()) (its recipe, `steps` each), first one
after the other in this process (torch using every core), then one run per core in joblib
worker processes with one thread each. Prints wall times and their ratio (target ≥ 1.8× on
2 cores). `ensemble`: ms per step of `aegan_lib.ensemble.gan` with S = 1, 10, 20, 40 members
(the chapter's recipe), measured after a warm-up, interleaved, median of rounds.
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
from aegan_lib.algos import make  # noqa: E402


def one_run(seed: int, steps: int, threads: int | None = None) -> float:
    if threads is not None:
        torch.set_num_threads(threads)
    ring = ag.data.ring()
    ag.seed_everything(seed)
    algo = make("gan", ring)
    ag.fit(algo, ring, steps=steps, seed=seed, progress=False, log_every=steps)
    return ag.metrics.mode_coverage(algo.sample(2500), ring)["high_quality"]


def cores(runs: int, steps: int) -> None:
    from joblib import Parallel, delayed

    jobs = os.cpu_count() or 1
    started = time.perf_counter()
    in_turn = [one_run(seed, steps) for seed in range(runs)]
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    parallel_results = Parallel(n_jobs=jobs, backend="loky")(
        delayed(one_run)(seed, steps, 1) for seed in range(runs))
    parallel = time.perf_counter() - started
    same = [round(a, 4) for a in in_turn] == [round(b, 4) for b in parallel_results]
    print(f"{runs} runs × {steps} steps of make('gan', ring); torch {torch.__version__}, {jobs} cores")
    print(f"one process, runs in turn ({torch.get_num_threads()} threads): {sequential:.1f} s")
    print(f"joblib, {jobs} processes × 1 thread: {parallel:.1f} s (startup included)")
    print(f"speed-up: {sequential / parallel:.2f}×; same results run by run: {same}")


def ms_per_step(members: int, device: str, steps: int) -> float:
    ag.seed_everything(0)
    algo, stacked = ensemble.gan([ag.data.grid(device=device)] * members)
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


def ensemble_speed(device: str, steps: int, rounds: int, sizes: list[int]) -> None:
    times = {size: [] for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            times[size].append(ms_per_step(size, device, steps))
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
    print(f"ensemble.gan, grid recipe (3×256, batch 256, R1), {device}: {name}; median of {rounds} rounds")
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
    args = parser.parse_args()
    if args.mode == "cores":
        cores(args.runs, args.steps)
    else:
        ensemble_speed(args.device, args.steps, args.rounds, args.sizes)


if __name__ == "__main__":
    main()
