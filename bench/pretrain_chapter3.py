"""Train the GANs chapter 3 loads instead of training live (20,000 steps each, ~7 min on a CPU core).

The notebook makes the same calls — `seed_everything(0)`, `make("gan", data, **levers)`, then
`fit(algo, data, steps=20_000, seed=0, checkpoint=..., callback=trace, callback_every=1000)`
with `trace = metrics.TrainingTrace(data, FIXED_NOISE, SNAPSHOTS)` — so with these files in
place `fit` finds the run finished and returns at once, and the trace file holds what the
callback recorded; with `RETRAIN = True` the notebook trains them itself.
Writes aegan_lib/assets/chapter3_<name>.pt and chapter3_<name>_trace.pt (package data).
The shipped files were trained before `fit` drew the data stream from a seed of its own
(`data.stream_seed`): their config has no data seed, so `fit` resumes them with the batch stream
seeded by `seed`, as they were made; a new run of this script uses the current rule.

    python bench/pretrain_chapter3.py            # all
    python bench/pretrain_chapter3.py grid_r1    # one
    python bench/pretrain_chapter3.py --upgrade  # rewrite the shipped files in checkpoint format 2

`--upgrade` turns a format-1 file (no checksum, no fingerprints) into format 2 without training:
it rebuilds the run's config as `fit` now writes it (`train.run_config`), checks that every key
the old config had is unchanged (the data's name and shape included), and saves the same
weights, optimizer states, RNG states and history under it.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import torch

import aegan_lib as ag

ASSETS = Path(ag.__file__).parent / "assets"
STEPS = 20_000
SNAPSHOTS = (0, 2000, 5000, 20_000)
# name → (dataset, make() overrides): the default recipe on each mixture. (The R1 option with
# batches of 1024 costs about 7× a default step on a CPU: its runs live in results/sharp_gans.)
RUNS = {"ring": ("ring", {}), "grid": ("grid", {})}


def fixed_noise() -> torch.Tensor:
    """The chapter's fixed noise batch for 2D generators (2-d noise, 1000 points)."""
    return torch.randn(1000, 2, generator=torch.Generator().manual_seed(1234))


def upgrade(name: str) -> None:
    dataset, levers = RUNS[name]
    data = ag.data.load(dataset)
    ag.seed_everything(0)
    algo = ag.algos.make("gan", data, **levers)
    path = ASSETS / f"chapter3_{name}.pt"
    content = path.read_bytes()
    if content.startswith(b"aegan_lib checkpoint"):
        print(f"{name}: already format {ag.checkpoint.FORMAT_VERSION}")
        return
    state = torch.load(io.BytesIO(content), weights_only=True)
    assert state["format"] == 1, state["format"]
    config = ag.train.run_config(algo, data, algo.batch_size, seed=0, steps=STEPS)
    old = dict(state["config"])
    old_data = old.pop("data")
    differing = [key for key, value in old.items() if config.get(key) != value]
    if differing or {k: config["data"][k] for k in old_data} != old_data:
        raise SystemExit(f"{name}: the shipped run's config differs from this recipe at {differing}")
    state.update(format=ag.checkpoint.FORMAT_VERSION, config=config, changes=[])
    ag.checkpoint.save(state, path, keep_previous=False)
    print(f"{name}: upgraded to format {ag.checkpoint.FORMAT_VERSION} (step {state['step']})")


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    for name in names or list(RUNS):
        dataset, levers = RUNS[name]
        data = ag.data.load(dataset)
        ag.seed_everything(0)
        algo = ag.algos.make("gan", data, **levers)
        trace = ag.metrics.TrainingTrace(data, fixed_noise(), SNAPSHOTS)
        trace.snapshot(algo, 0)
        started = time.time()
        ag.fit(algo, data, steps=STEPS, seed=0, checkpoint=ASSETS / f"chapter3_{name}.pt",
               checkpoint_every=2000, progress=False, callback=trace, callback_every=1000)
        torch.save(trace.state_dict(), ASSETS / f"chapter3_{name}_trace.pt")
        print(f"{name}: {time.time() - started:.0f} s, {trace.curve['modes'][-1]} modes, "
              f"{100 * trace.curve['high_quality'][-1]:.1f}% HQ", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--upgrade"]:
        for run in sys.argv[2:] or list(RUNS):
            upgrade(run)
    else:
        main(sys.argv[1:])
