"""PacGAN's own 2D recipe (Lin et al. 2018, Table 1), trained for many seeds at once.

Settings read from the authors' code (github.com/fjxmlzn/PacGAN, synthetic_data_experiments:
config.py, pacgan_task.py): generator 2 → 4 × 400 (Linear without bias, BatchNorm, ReLU) → 2
with 2-d N(0, I) noise; discriminator 3 maxout layers (200 units, 5 pieces) → 1 logit, input
m·2 for packing m; weights N(0, 0.02²), biases 0; Adam lr 1e-4, β = (0.8, 0.999); batches of
100 D inputs (so 100·m samples); a fixed training set of 100,000 points; 400 epochs = 400k
steps; data in its own units (not standardised). Evaluation as theirs: 2500 samples, HQ within
3σ, a mode covered by ≥ 1 HQ sample. Two differences, said in the results file: their
update is one simultaneous step of D and G per batch (Blocks' GradientDescent over both), ours
alternates (`GAN.step`); their real packs are resampled with replacement, ours are consecutive
rows of a shuffled epoch.

    python bench/pacgan_recipe.py --seeds 10 --steps 400000 --device cuda   # their budget
    python bench/pacgan_recipe.py --seeds 2 --steps 200 --seconds 60        # a smoke test

`--seconds` stops at the first measurement after that much time and records how far it got.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep  # noqa: E402

import aegan_lib as ag  # noqa: E402
from aegan_lib import ensemble  # noqa: E402
from aegan_lib.algos import GAN  # noqa: E402

TRAINING_POINTS = 100_000


class TimeUp(Exception):
    """Raised from the measuring callback when the time budget is spent."""


def generator(members: int) -> nn.Sequential:
    layers: list[nn.Module] = [ensemble.ToMembers(members)]
    width = 2
    for _ in range(4):
        layers += [ensemble.EnsembleLinear(members, width, 400, bias=False),
                   ensemble.EnsembleBatchNorm(members, 400), nn.ReLU()]
        width = 400
    layers += [ensemble.EnsembleLinear(members, width, 2), ensemble.FromMembers()]
    return nn.Sequential(*layers)


def discriminator(members: int, pack: int) -> nn.Sequential:
    layers: list[nn.Module] = [ensemble.ToMembers(members, pack)]
    width = 2 * pack
    for _ in range(3):
        layers += [ensemble.EnsembleLinear(members, width, 200 * 5), ensemble.Maxout(5)]
        width = 200
    layers += [ensemble.EnsembleLinear(members, width, 1), ensemble.FromMembers()]
    return nn.Sequential(*layers)


def initialise(net: nn.Module) -> None:
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, ensemble.EnsembleLinear):
                module.weight.normal_(0.0, 0.02)
                if module.bias is not None:
                    module.bias.zero_()


def run(pack: int, seeds: int, steps: int, seconds: float, device: str, out: Path) -> dict:
    members = [{"dataset": d, "seed": s} for d in sweep.MIXTURES for s in range(seeds)]
    mixtures = [sweep.MIXTURES[m["dataset"]](device=device) for m in members]
    ag.seed_everything(500 + pack)
    stream = torch.Generator(device=device).manual_seed(600 + pack)
    stacked = ensemble.StackedMixtures(mixtures, standardize=False)  # their data: own units
    points = stacked.sample(TRAINING_POINTS, generator=stream)  # the fixed training set
    S = len(members)
    gen, dis = generator(S).to(device), discriminator(S, pack).to(device)
    initialise(gen)
    initialise(dis)
    algo = GAN(gen, dis, 2 * S, lr_g=1e-4, lr_d=1e-4, betas=(0.8, 0.999), pack=pack)
    for optimizer in algo.optimizers.values():
        for group in optimizer.param_groups:
            group["eps"] /= S  # see aegan_lib.ensemble: each loss is 1/S × the members' sum

    curve, started = [], time.time()

    def measure(algo, step):
        row = {"step": step, "seconds": round(time.time() - started, 1), "members": []}
        noise_stream = torch.Generator(device=device).manual_seed(2333)
        samples = ensemble.member_samples(algo, stacked, sweep.SAMPLES, generator=noise_stream)
        for j in range(S):
            row["members"].append({"raw": sweep.score_points(samples[j], mixtures[j])})
        curve.append(row)
        if time.time() - started > seconds:
            raise TimeUp

    try:
        ag.fit(algo, points, steps=steps, batch_size=100 * pack, seed=pack, data_seed=pack, progress=False,
               log_every=1000, callback=measure, callback_every=min(2000, steps))
        finished = True
    except TimeUp:
        finished = False
    result = {"name": f"pacgan-recipe-pack{pack}", "pack": pack, "members": members,
              "steps_asked": steps, "steps_done": curve[-1]["step"], "finished": finished,
              "curve": curve, "final": curve[-1], "wall_seconds": round(time.time() - started, 1),
              "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
              "code": sweep.code_version(),
              "differences": ["alternating D then G updates (theirs: one simultaneous update)",
                              "real packs: consecutive rows of a shuffled epoch (theirs: resampled)",
                              "samples drawn with BatchNorm in eval mode (running statistics)"]}
    sweep._write_json(out / f"pacgan_recipe_pack{pack}.json", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=400_000)
    parser.add_argument("--seconds", type=float, default=float("inf"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=sweep.ROOT / "results" / "sharp_gans")
    args = parser.parse_args()
    for pack in args.pack:
        result = run(pack, args.seeds, args.steps, args.seconds, args.device, args.out)
        final = result["final"]["members"]
        for dataset in sweep.MIXTURES:
            scores = [m["raw"] for m, member in zip(final, result["members"]) if member["dataset"] == dataset]
            print(f"pack={pack} {dataset}: steps {result['steps_done']}, modes "
                  f"{sum(s['modes'] for s in scores) / len(scores):.1f}, HQ "
                  f"{100 * sum(s['high_quality'] for s in scores) / len(scores):.1f}%")


if __name__ == "__main__":
    main()
